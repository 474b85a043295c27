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
  (``model.safetensors`` and/or ``pytorch_model.bin``, sharded ``*.index.json`` too);
- a state-dict file: ``.safetensors``, or ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt``
  read with ``torch.load(weights_only=True)``.

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
from .files import WEIGHT_SUFFIXES, load_state_dict_file
from .hub import hub_cache_dir, hub_offline
from .loading import HEAD_MODULE_NAMES, load_weights_into
from .resolve import normalize_weights_arg, resolve_weights
from .saving import replace_directory_atomically, save_pretrained
from .source import WeightsNotAvailableError, WeightsSource

__all__ = [
    "HEAD_MODULE_NAMES",
    "WEIGHT_SUFFIXES",
    "WeightsNotAvailableError",
    "WeightsSource",
    "hub_cache_dir",
    "hub_offline",
    "load_state_dict_file",
    "load_weights_into",
    "normalize_weights_arg",
    "replace_directory_atomically",
    "resolve_weights",
    "save_pretrained",
    "state_dict_digest",
]
