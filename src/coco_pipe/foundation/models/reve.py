"""REVE (El Ouahidi et al. 2025): an EEG foundation model for any electrode setup.

REVE cuts every channel into 200-sample patches with a 20-sample overlap (stride 180 at
200 Hz), and gives each patch a 4-D Fourier positional embedding of the electrode's
(x, y, z) position and the patch's time, so that any montage with known positions can
be fed. A transformer (GEGLU feed-forward, RMSNorm) runs over all (channel x patch)
tokens. It was pretrained with masked autoencoding.

Pretraining data: more than 60,000 hours of EEG from 92 data sets and about 25,000
subjects, at 200 Hz, z-scored per channel and clipped at 15 standard deviations. The
electrode coordinates of those data sets form REVE's position bank
(``brain-bzh/reve-positions``), which braindecode downloads on first use.

In coco-pipe: positions come from REVE's bank when braindecode has it cached (never
downloaded here), else from MNE's ``standard_1005`` montage (warned: they may differ
from the pretraining coordinates). The braindecode model is built without its position
bank (positions are a buffer of the backbone module, given to ``forward(pos=...)``).

References
----------
.. [1] El Ouahidi, Y., Lys, J., Thoelke, P., Farrugia, N., Pasdeloup, B., Gripon, V.,
   Jerbi, K., & Lioi, G. (2025). REVE: A Foundation Model for EEG - Adapting to Any Setup
   with Large-Scale Pretraining on 25,000 Subjects. NeurIPS 2025.

Examples
--------
>>> SPEC.patch_size, SPEC.patch_stride, SPEC.normalization
(200, 180, 'zscore_clip')
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from .base import (
    ALL_BACKENDS,
    ALL_TRAIN_MODES,
    CheckpointLayout,
    Features,
    FoundationModel,
    FoundationModelSpec,
    as_tokens,
)

logger = logging.getLogger(__name__)

#: ``AdaptationPlan.positions_source`` of positions read from REVE's own bank.
POSITION_BANK_SOURCE = "reve:position-bank"
_BUILD_LOCK = threading.Lock()

#: ``brain-bzh/reve-base`` (the authors' transformers ``Reve`` model): names equal braindecode's,
#: plus the attention-pooling query that braindecode builds only with ``attention_pooling=True``.
HUB = CheckpointLayout(
    name="authors' transformers Reve (modeling_reve.py)",
    source="huggingface.co/brain-bzh/reve-base model.safetensors",
    markers=(r"^cls_query_token$",),
    drop=((r"^cls_query_token$", "attention-pooling query; braindecode's REVE builds it only "
           "with attention_pooling=True (coco-pipe pools itself)"),),
)  # fmt: skip

SPEC = FoundationModelSpec(
    key="reve",
    display_name="REVE",
    braindecode_class="REVE",
    interpolated_class=None,
    hub_repo="brain-bzh/reve-base",
    emb_dim=512,
    sfreq=200.0,
    n_chans=None,
    channel_layout=None,
    needs_channel_names=True,
    interpolate_channels=False,
    patch_size=200,
    min_times=200,
    max_times=None,
    default_n_times=1100,
    amplitude_scale=1.0,  # z-scored per channel anyway
    poolings=("mean", "flatten"),
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("to_qkv", "to_out"),
    small_kwargs={"embed_dim": 32, "depth": 1, "heads": 2, "head_dim": 16},
    reference=(
        "El Ouahidi et al. 2025, NeurIPS; 25,000 subjects at 200 Hz, 200-sample patches with "
        "20-sample overlap, 4-D (x, y, z, t) Fourier position embedding, z-score + clip at 15 SD."
    ),
    channel_mode="positions",
    patch_stride=180,
    normalization="zscore_clip",
    license="unknown (gated repository with the authors' data-usage terms; no licence file read)",
    checkpoint_layouts=(HUB,),
)


def cached_position_bank() -> dict[str, tuple[float, float, float]] | None:
    """REVE's pretraining electrode bank when braindecode has it cached (no download), else None.

    Read from ``reve_positions.json`` in the folder braindecode's ``RevePositionBank``
    uses: the ``REVE_POSITIONS_PATH`` or ``MNE_DATA`` MNE config, else ``~/mne_data``.

    Examples
    --------
    >>> bank = cached_position_bank()
    >>> bank is None or all(len(v) == 3 for v in bank.values())
    True
    """
    try:
        import mne

        root = (
            mne.get_config("REVE_POSITIONS_PATH")
            or mne.get_config("MNE_DATA")
            or os.path.expanduser("~/mne_data")
        )
        with open(os.path.join(root, "reve_positions.json")) as f:
            data = json.load(f)
        return {str(k): tuple(float(x) for x in v) for k, v in data.items()}
    except Exception:  # noqa: BLE001 - any problem means "not available offline"
        return None


@functools.cache
def _offline_bank_class() -> type:
    from torch import nn

    class OfflinePositionBank(nn.Module):
        """Stand-in for braindecode's RevePositionBank that never touches the network."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            import torch

            super().__init__()
            self.position_names: list[str] = []
            self.mapping: dict[str, int] = {}
            self.register_buffer("embedding", torch.zeros(0, 3), persistent=False)

        def forward(self, channel_names: list[str]):  # pragma: no cover - never called
            raise RuntimeError("positions are supplied by coco-pipe's adaptation plan")

    OfflinePositionBank.__module__ = __name__
    OfflinePositionBank.__qualname__ = "OfflinePositionBank"
    return OfflinePositionBank


def __getattr__(name: str) -> Any:
    # the class is built on first use (torch is imported then), and found here by pickle
    if name == "OfflinePositionBank":
        return _offline_bank_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def offline_construction() -> Iterator[None]:
    """Build braindecode's REVE without downloading its position bank.

    Examples
    --------
    >>> with offline_construction():  # doctest: +SKIP
    ...     model = braindecode.models.REVE(n_outputs=1, n_chans=4, n_times=800, sfreq=200.0)
    """
    import braindecode.models.reve as reve_mod

    with _BUILD_LOCK:
        original = reve_mod.RevePositionBank
        reve_mod.RevePositionBank = _offline_bank_class()
        try:
            yield
        finally:
            reve_mod.RevePositionBank = original


class REVE(FoundationModel):
    """REVE's quirks: positions from its cached bank, an offline build, positions as a
    buffer given to ``forward(pos=...)``, a warning when the bank is not cached."""

    spec = SPEC
    positions_buffer = True

    def position_bank(self):
        bank = cached_position_bank()
        return None if bank is None else (POSITION_BANK_SOURCE, bank)

    def check_plan(self, plan, weights: str) -> None:
        if plan.positions_source != POSITION_BANK_SOURCE and weights != "random":
            logger.warning(
                "REVE: braindecode's electrode position bank (reve_positions.json) is not cached, "
                "so positions come from MNE's standard_1005 montage (metres); they may differ from "
                "the coordinates REVE was pretrained with. Prefetch the bank into the folder named "
                "by the REVE_POSITIONS_PATH / MNE_DATA config (default ~/mne_data) to use it."
            )

    def constructing(self):
        return offline_construction()

    def features(self, module, x) -> Features:
        pos = module.channel_positions.unsqueeze(0).expand(x.shape[0], -1, -1)
        return as_tokens(module.model(x, pos=pos, return_features=True)["features"]), None, None


MODEL = REVE()
