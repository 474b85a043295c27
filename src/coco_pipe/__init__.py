"""coco-pipe: decode EEG/MEG with foundation-model backbones and classical estimators,
inside honest cross-validation, tracked in MLflow.

Names are resolved on first use (``lazy_loader``, as MNE and scikit-image do), so
``import coco_pipe`` and ``coco-pipe --help`` stay fast and importing one layer never
runs the code of the layers above it.

Examples
--------
>>> import coco_pipe
>>> coco_pipe.list_foundation_models()["Model"].tolist()[:2]
['bendr', 'biot']
"""

from __future__ import annotations

import lazy_loader as lazy

from . import warning_filters

__version__ = "0.1.0"
warning_filters.install()  # third-party messages that say nothing to a user (see the README)

__getattr__, __dir__, _names = lazy.attach(
    __name__,
    submod_attrs={
        "decoding": ["Experiment", "ExperimentConfig", "ExperimentResult"],
        "foundation.listing": ["list_foundation_models"],
        "registry": ["load_promoted"],
    },
)
__all__ = [*_names, "__version__"]
