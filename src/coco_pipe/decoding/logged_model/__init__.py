"""Fold models as MLflow Models: written, logged, and loaded back safely.

- :mod:`.pyfunc`: the MLflow Model folder (pyfunc flavour through the installed
  ``coco_pipe.decoding.logged_model.pyfunc`` loader, signature, input example, requirements;
  scikit-learn flavour for scikit-learn models) and ``_load_pyfunc``.
- :mod:`.write` / :mod:`.read`: the model files of each kind and their safe loader.
- :mod:`.trust`: the allowlists every value read back passes; :mod:`.files`: names, digests.
- :mod:`.log`: ``tracking.log_models`` (all / best / none) for the experiment loop.

Submodules are imported on first use, so the experiment loop pays nothing until it logs.

Examples
--------
>>> import mlflow                                                     # doctest: +SKIP
>>> mlflow.pyfunc.load_model(f"models:/{model_id}").predict(X[:4])   # doctest: +SKIP
"""

from __future__ import annotations

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "files": ["UnsafeModelError"],
        "log": ["best_fold_index", "log_best_fold_models", "log_fold_model", "upload_model_folder"],
        "pyfunc": ["PyfuncDecoder", "save_mlflow_model"],
        "read": ["load_model_folder"],
    },
)
