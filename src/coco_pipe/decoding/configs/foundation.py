"""Configs for frozen foundation-model backbones (embedding extraction)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .base import StrictConfig
from .classical import ClassicalModelConfig


def _check_model_key(value: str) -> str:
    from ...foundation.specs import ESTIMATOR_SPECS

    if value not in ESTIMATOR_SPECS:
        known = ", ".join(sorted(ESTIMATOR_SPECS))
        raise ValueError(f"unknown model_key {value!r}; known foundation models: {known}")
    return value


class FoundationEmbeddingModelConfig(StrictConfig):
    """A pretrained backbone used frozen, as a feature extractor.

    Examples
    --------
    >>> FoundationEmbeddingModelConfig(model_key="labram", weights="random").pooling
    'mean'
    """

    backend: Literal["braindecode", "hugging_face"] = Field(
        "braindecode", description="Loader backend."
    )
    model_key: str = Field(
        ..., description="Row of ESTIMATOR_SPECS (see list_foundation_models())."
    )
    weights: str = Field(
        "pretrained",
        description="'pretrained' (the spec's hub repository, through the HF cache), 'random' "
        "(random init seeded by the experiment's random_state, warned and tagged), another hub "
        "repo id, a local save_pretrained directory, the folder of an authors' several-file "
        "release, or a .safetensors / .pt / .pth / .ckpt file (braindecode's names or one of the "
        "model's published layouts).",
    )
    revision: str | None = Field(
        None, description="Hub revision (branch, tag or commit) for hub weights."
    )
    pooling: Literal["mean", "cls", "flatten"] = Field(
        "mean", description="How token features become one vector."
    )
    cache_embeddings: bool = Field(
        False, description="Store embeddings in the content-addressed cache."
    )
    cache_dir: str | None = Field(
        None, description="Cache directory (default: per-user cache dir)."
    )
    batch_size: int = Field(32, ge=1, description="Windows per forward batch.")
    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu' or 'cuda[:N]'.")
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra constructor arguments of the architecture (e.g. smaller sizes).",
    )
    trust_remote_code: bool = Field(
        False, description="hugging_face backend: allow remote code checkpoints."
    )
    allow_partial_weights: bool = Field(
        False,
        description="Accept a checkpoint that leaves backbone tensors freshly initialised (they "
        "are listed in the fold's weights/load_report.json); by default that is an error "
        "listing them.",
    )

    @field_validator("model_key")
    @classmethod
    def _known_model_key(cls, value: str) -> str:
        return _check_model_key(value)


class FrozenBackboneDecoderConfig(StrictConfig):
    """Frozen backbone embeddings + a classical head, cross-validated like any estimator.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> cfg = FrozenBackboneDecoderConfig(
    ...     backbone=FoundationEmbeddingModelConfig(model_key="labram", weights="random"),
    ...     head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 1000}),
    ... )
    >>> cfg.kind
    'frozen_backbone'
    """

    kind: Literal["frozen_backbone"] = "frozen_backbone"
    backbone: FoundationEmbeddingModelConfig = Field(..., description="The frozen backbone.")
    head: ClassicalModelConfig = Field(..., description="Classical head fit on the embeddings.")
