"""The transformers config of a coco-pipe backbone (``model_type="coco_pipe_eeg"``) and the
adaptation facts a model is rebuilt from.

Examples
--------
>>> cfg = CocoPipeEEGConfig(model_key="cbramod", braindecode_class="CBraMod", n_chans=3,
...                         n_times=400, sfreq=200.0,
...                         chs_info=[{"ch_name": f"c{i}", "kind": "eeg"} for i in range(3)])
>>> ConfigPlan.from_config(cfg).n_channels
3
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from transformers import PreTrainedConfig

from ..adaptation import AdaptationPlan
from ..architecture import Backbone, model_class

#: ``model_type`` of coco-pipe's transformers wrapper (``config.json``).
#: ``model_type`` of coco-pipe's transformers wrapper (``config.json``).
MODEL_TYPE = "coco_pipe_eeg"


class CocoPipeEEGConfig(PreTrainedConfig):
    """transformers config of a coco-pipe foundation backbone (``model_type="coco_pipe_eeg"``).

    Attributes
    ----------
    model_key : str
        Row of ``ESTIMATOR_SPECS``.
    braindecode_class : str
        The braindecode class built (``Interpolated*`` where the model interpolates).
    n_chans, n_times : int
        Adapted input shape (model channels, samples at ``sfreq``).
    sfreq : float
        Model sampling frequency.
    chs_info : list of dict
        ``[{"ch_name": ..., "kind": "eeg", "loc": [12 floats]}]`` (``loc`` where
        positions are used), plain JSON.
    model_kwargs : dict
        Extra constructor arguments (architecture size).
    pooling : {"mean", "cls", "flatten"}

    Examples
    --------
    >>> cfg = CocoPipeEEGConfig(model_key="cbramod", braindecode_class="CBraMod", n_chans=3,
    ...                         n_times=400, sfreq=200.0,
    ...                         chs_info=[{"ch_name": f"c{i}", "kind": "eeg"} for i in range(3)])
    >>> cfg.model_type
    'coco_pipe_eeg'
    """

    model_type = MODEL_TYPE

    model_key: str = ""
    braindecode_class: str = ""
    n_chans: int | None = None
    n_times: int | None = None
    sfreq: float | None = None
    chs_info: list | None = None
    model_kwargs: dict | None = None
    pooling: str = "mean"


@dataclass(frozen=True)
class ConfigPlan:
    """The facts of an adaptation plan a model is built from, read back from a config."""

    ch_names: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...] | None
    n_times: int
    sfreq: float

    @property
    def n_channels(self) -> int:
        return len(self.ch_names)

    def chs_info(self) -> list[dict[str, Any]]:
        return AdaptationPlan.chs_info(self)  # type: ignore[arg-type] - same attributes

    @classmethod
    def from_config(cls, config: CocoPipeEEGConfig) -> ConfigPlan:
        chs = list(config.chs_info or [])
        if not chs or config.n_times is None or config.sfreq is None:
            raise ValueError(
                f"{MODEL_TYPE} config of {config.model_key!r} needs chs_info, n_times and sfreq; got "
                f"{len(chs)} channels, n_times={config.n_times}, sfreq={config.sfreq}"
            )
        if config.n_chans is not None and int(config.n_chans) != len(chs):
            raise ValueError(
                f"config n_chans={config.n_chans} but chs_info lists {len(chs)} channels"
            )
        names = tuple(str(ch["ch_name"]) for ch in chs)
        has_loc = [ch.get("loc") is not None for ch in chs]
        positions = (
            tuple(tuple(float(v) for v in ch["loc"][:3]) for ch in chs) if all(has_loc) else None
        )
        return cls(
            ch_names=names,
            positions=positions,
            n_times=int(config.n_times),
            sfreq=float(config.sfreq),
        )


def plan_chs_json(plan: Any) -> list[dict[str, Any]]:
    out = []
    for ch in plan.chs_info():
        item: dict[str, Any] = {"ch_name": str(ch["ch_name"]), "kind": str(ch.get("kind", "eeg"))}
        if ch.get("loc") is not None:
            item["loc"] = [float(v) for v in np.asarray(ch["loc"], dtype=float).ravel()]
        out.append(item)
    return out


def hf_config_from_backbone(backbone: Backbone) -> CocoPipeEEGConfig:
    """:class:`CocoPipeEEGConfig` describing a built backbone (either backend).

    Examples
    --------
    >>> hf_config_from_backbone(bb).model_key  # doctest: +SKIP
    'cbramod'
    """
    spec, plan = backbone.spec, backbone.plan
    return config_for(spec, plan, dict(backbone.model_kwargs or {}), backbone.pooling)


def config_for(
    spec: Any, plan: Any, model_kwargs: dict[str, Any], pooling: str
) -> CocoPipeEEGConfig:
    return CocoPipeEEGConfig(
        model_key=spec.key,
        braindecode_class=model_class(spec).__name__,
        n_chans=int(plan.n_channels),
        n_times=int(plan.n_times),
        sfreq=float(plan.sfreq),
        chs_info=plan_chs_json(plan),
        model_kwargs=json.loads(json.dumps(model_kwargs, default=_json_default)),
        pooling=pooling,
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"model_kwargs value {obj!r} ({type(obj).__name__}) is not JSON-serialisable")


__all__ = ["MODEL_TYPE", "CocoPipeEEGConfig", "ConfigPlan", "config_for", "hf_config_from_backbone"]
