"""The Hugging Face backend: foundation backbones as transformers models.

``backend="hugging_face"`` loads a backbone with the transformers toolchain
(``AutoConfig`` / ``AutoModel.from_pretrained(repo_or_dir, revision=...,
quantization_config=BitsAndBytesConfig(...), dtype=..., trust_remote_code=...)``)
and returns the same :class:`~coco_pipe.foundation.backbones.Backbone`
as the braindecode backend, so :class:`BackboneEmbedder` and ``NeuralDecoder`` run one
loop over two loaders.

Every backbone of :data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS` has a
transformers form that works offline: :class:`CocoPipeEEGConfig` /
:class:`CocoPipeEEGModel` (``model_type="coco_pipe_eeg"``, registered with the Auto
classes) wrap the braindecode architecture, built exactly as the braindecode backend
builds it (``architecture.build_model`` and ``FoundationBackboneModule``), and return
pooled features ``(batch, emb_dim)``. ``save_pretrained`` writes ``config.json`` +
``model.safetensors``; :func:`export_to_hf` turns a braindecode backbone into such a
folder.

Weight sources of :func:`build_hf_backbone`:

- a folder written by ``CocoPipeEEGModel.save_pretrained`` / :func:`export_to_hf`;
- a hub repository id (``"org/name"``, ``"org/name@revision"``) or
  ``weights="pretrained"`` (the spec row's ``hub_repo``), read through the Hugging
  Face cache (offline with ``HF_HUB_OFFLINE=1``). A snapshot holding a
  ``coco_pipe_eeg`` config is loaded by ``AutoModel``; one published with its own
  modeling code (``auto_map`` in ``config.json``, e.g. REVE's ``brain-bzh/reve-base``)
  needs ``trust_remote_code=True``: ``AutoModel`` runs that code to load the
  checkpoint, and its weights are carried into the braindecode architecture (the same
  keys braindecode's ``from_pretrained`` reads); a braindecode checkpoint (plain
  ``config.json`` + weights) is converted;
- a braindecode checkpoint folder or a state-dict file (converted);
- ``"random"``: random initialisation (warns; tagged ``weights=random-init``).

A repository that is not in the cache while offline stops the build, before any
compute, with :class:`HFCheckpointNotAvailableError` naming the repository, the
revision and how to prefetch it.

4-bit loading: ``quantization`` (``QuantizationConfig`` or a dict) becomes a
``BitsAndBytesConfig(load_in_4bit=True, ...)`` passed to ``from_pretrained``;
transformers 5.24 with bitsandbytes 0.50.2 quantises on CPU as well as CUDA, so the
base ``nn.Linear`` layers are ``bitsandbytes.nn.Linear4bit`` with packed 4-bit weights.
As in :func:`~coco_pipe.foundation.peft_utils.quantize_linear_layers`,
``nn.MultiheadAttention``'s ``out_proj`` stays in full precision (transformers only
replaces exact ``nn.Linear`` instances; that module reads ``out_proj.weight`` directly).

Examples
--------
>>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
>>> from coco_pipe.foundation.backbones import build_backbone
>>> kw = ESTIMATOR_SPECS["cbramod"].small_kwargs
>>> bb = build_backbone("cbramod", weights="random", sfreq=200.0, ch_names=None,
...                     n_channels=3, n_times=400, model_kwargs=kw)  # doctest: +SKIP
>>> folder = export_to_hf(bb, "cbramod-hf")  # doctest: +SKIP
>>> hb = build_hf_backbone("cbramod", weights=str(folder), sfreq=200.0, ch_names=None,
...                        n_channels=3, n_times=400)  # doctest: +SKIP
>>> hb.emb_dim == bb.emb_dim  # doctest: +SKIP
True
"""

from .config import MODEL_TYPE, CocoPipeEEGConfig, hf_config_from_backbone
from .export import export_to_hf
from .loading import build_hf_backbone
from .model import CocoPipeEEGModel
from .sources import HFCheckpointNotAvailableError, HFWeightsSource

__all__ = [
    "MODEL_TYPE",
    "CocoPipeEEGConfig",
    "CocoPipeEEGModel",
    "HFCheckpointNotAvailableError",
    "HFWeightsSource",
    "build_hf_backbone",
    "export_to_hf",
    "hf_config_from_backbone",
]
