"""The transformers model wrapping a braindecode foundation architecture, registered with
``AutoConfig`` / ``AutoModel`` on import.

Examples
--------
>>> from transformers import AutoConfig
>>> AutoConfig.for_model("coco_pipe_eeg").model_type
'coco_pipe_eeg'
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers import initialization as hf_init
from transformers.modeling_utils import local_torch_dtype

from ..architecture import (
    FoundationBackboneModule,
    build_model,
    check_pooling,
    get_spec,
    model_class,
)
from .config import MODEL_TYPE, CocoPipeEEGConfig, ConfigPlan


class CocoPipeEEGModel(PreTrainedModel):
    """transformers model wrapping a braindecode foundation architecture: ``(B, C, T) -> (B, emb_dim)``.

    Built exactly as the braindecode backend builds it: the braindecode model (head
    removed) is ``backbone.model``, features are pulled out and pooled by
    :class:`~coco_pipe.foundation.backbones.FoundationBackboneModule`.
    ``forward`` returns the pooled features as a tensor (float of the input's dtype),
    so the module drops into the same embedding and training loops.

    The model is instantiated on the CPU, not on transformers' meta device:
    braindecode constructors compute buffers (positional tables, channel maps) that a
    meta-device build would leave empty, and braindecode initialises its own
    parameters, so transformers' generic ``_init_weights`` is not applied.

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> cfg = CocoPipeEEGConfig(model_key="cbramod", braindecode_class="CBraMod", n_chans=3,
    ...     n_times=400, sfreq=200.0, chs_info=[{"ch_name": f"c{i}", "kind": "eeg"} for i in range(3)],
    ...     model_kwargs=dict(ESTIMATOR_SPECS["cbramod"].small_kwargs))  # doctest: +SKIP
    >>> CocoPipeEEGModel(cfg)(torch.zeros(2, 3, 400)).shape  # doctest: +SKIP
    torch.Size([2, 200])
    """

    config_class = CocoPipeEEGConfig
    base_model_prefix = "coco_pipe_eeg"
    main_input_name = "x"
    _no_split_modules: list[str] = []

    def __init__(self, config: CocoPipeEEGConfig) -> None:
        super().__init__(config)
        spec = get_spec(config.model_key)
        check_pooling(spec, config.pooling)
        cls_name = model_class(spec).__name__
        if config.braindecode_class and config.braindecode_class != cls_name:
            raise ValueError(
                f"{MODEL_TYPE} config names braindecode_class={config.braindecode_class!r} but model_key="
                f"{config.model_key!r} builds {cls_name!r}"
            )
        plan = ConfigPlan.from_config(config)
        model = build_model(spec, plan, dict(config.model_kwargs or {}))
        self.backbone = FoundationBackboneModule(model, spec, plan, config.pooling)
        self.post_init()

    @classmethod
    def get_init_context(cls, dtype, is_quantized, _is_ds_init_called, allow_all_kernels=None):
        """Build on the CPU (not the meta device): braindecode computes buffers in ``__init__``."""
        return [local_torch_dtype(dtype, cls.__name__), hf_init.no_tie_weights()]

    def _init_weights(self, module: nn.Module) -> None:
        """No-op: braindecode constructors initialise their own parameters."""

    def _move_missing_keys_from_meta_to_device(
        self, missing_keys, device_map, device_mesh, hf_quantizer
    ) -> None:
        """Nothing is on the meta device (see :meth:`get_init_context`); keep computed buffers."""
        still_meta = [
            k for k in missing_keys if self.get_parameter_or_buffer(k).device.type == "meta"
        ]
        if still_meta:  # missing keys are refused by build_hf_backbone anyway
            raise ValueError(
                f"{MODEL_TYPE}: tensors missing from the checkpoint: {sorted(still_meta)[:8]}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of adapted windows ``x`` (B, n_chans, n_times) -> (B, emb_dim)."""
        dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), x.dtype)
        return self.backbone(x.to(dtype)).to(x.dtype)


def new_model(config: CocoPipeEEGConfig) -> CocoPipeEEGModel:
    """A randomly initialised :class:`CocoPipeEEGModel` for ``config`` (braindecode's
    construction warnings silenced)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"braindecode\..*")
        return CocoPipeEEGModel(config)


def _register() -> None:
    try:
        AutoConfig.register(MODEL_TYPE, CocoPipeEEGConfig, exist_ok=True)
        AutoModel.register(CocoPipeEEGConfig, CocoPipeEEGModel, exist_ok=True)
    except TypeError:  # pragma: no cover - older transformers without exist_ok
        AutoConfig.register(MODEL_TYPE, CocoPipeEEGConfig)
        AutoModel.register(CocoPipeEEGConfig, CocoPipeEEGModel)


_register()


__all__ = ["CocoPipeEEGModel", "new_model"]
