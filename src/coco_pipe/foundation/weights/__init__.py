"""Where a backbone's weights come from, loading them, and naming them by digest.

A user who names a foundation model expects its pretrained weights, so
``weights="pretrained"`` (the default everywhere) resolves the spec row's Hugging Face
repository (``FoundationModelSpec.hub_repo``) through the local Hugging Face cache,
downloading it when the machine is online. Offline and not cached, it stops with
:class:`WeightsNotAvailableError`, which says how to prefetch the repository and that
``weights="random"`` opts into random initialisation. Nothing ever falls back to
random weights silently.

Accepted values of ``weights``:

- ``"pretrained"``: the spec row's ``hub_repo`` (file ``hub_filename`` when set);
- ``"random"``: no loading; :func:`load_weights_into` warns and the run is tagged
  ``weights=random-init``;
- ``"org/name"`` or ``"org/name@revision"``: another Hugging Face repository;
- a directory written by :func:`save_pretrained` or braindecode's ``save_pretrained``
  (``model.safetensors`` and/or ``pytorch_model.bin``, sharded ``*.index.json`` too), a
  folder holding the files of a several-file release of the model (BENDR's
  ``encoder.pt`` + ``contextualizer.pt``), or a folder with the spec row's
  ``hub_filename`` in a subfolder (LUNA's ``Base/LUNA_base.safetensors``);
- a state-dict file: ``.safetensors``, or ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt``
  read with ``torch.load(weights_only=True)`` (plain-data containers allowed:
  :func:`safe_globals`), in braindecode's names or in one of the model's published
  layouts (``spec.checkpoint_layouts``, renamed on loading).

:func:`load_weights` loads through the model's own ``load_state_dict`` and returns a
:class:`LoadReport` (tensors loaded, freshly initialised, ignored); a backbone left partly
random by its checkpoint is a :class:`PartialWeightsError` unless allowed.

An existing path always wins over a hub id; strings starting with ``./``, ``../``,
``/`` or ``~``, holding more than one ``/``, or ending in a weight-file suffix are
paths, and a missing path is an error naming it.

The environment is read when a function is called, not when the module is imported:
``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``), ``HF_HUB_CACHE`` (legacy
``HUGGINGFACE_HUB_CACHE``) and ``HF_HOME`` (cache in ``$HF_HOME/hub``).

Examples
--------
>>> import torch
>>> src = resolve_weights("random")
>>> src.as_tags()["weights"]
'random-init'
>>> model = torch.nn.Linear(3, 2)
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     digest = load_weights_into(model, src)
>>> digest == state_dict_digest(model)
True
"""

from .digest import state_dict_digest
from .files import WEIGHT_SUFFIXES, load_state_dict_file, safe_globals
from .hub import hub_cache_dir, hub_offline
from .loading import HEAD_MODULE_NAMES, load_weights, load_weights_into, read_checkpoint
from .report import LoadReport, PartialWeightsError
from .resolve import normalize_weights_arg, resolve_weights
from .saving import replace_directory_atomically, save_pretrained
from .source import WeightsNotAvailableError, WeightsSource

__all__ = [
    "HEAD_MODULE_NAMES",
    "WEIGHT_SUFFIXES",
    "LoadReport",
    "PartialWeightsError",
    "WeightsNotAvailableError",
    "WeightsSource",
    "hub_cache_dir",
    "hub_offline",
    "load_state_dict_file",
    "load_weights",
    "load_weights_into",
    "normalize_weights_arg",
    "read_checkpoint",
    "replace_directory_atomically",
    "resolve_weights",
    "safe_globals",
    "save_pretrained",
    "state_dict_digest",
]
