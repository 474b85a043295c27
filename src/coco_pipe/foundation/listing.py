"""Tables of what coco-pipe can run, rendered from the spec tables (no torch import)."""

from __future__ import annotations

import pandas as pd

from .specs import ESTIMATOR_SPECS, FoundationModelSpec


def _channels(spec: FoundationModelSpec) -> str:
    mode = spec.channel_mode
    n_layout = len(spec.channel_layout) if spec.channel_layout else 0
    if mode == "any":
        return "any"
    if mode == "subset":
        return f"named subset of {n_layout}"
    if mode == "positions":
        return "any with known position"
    if mode == "interpolated":
        return f"{spec.n_chans} (interpolated)"
    if mode == "bipolar":
        return f"{spec.n_chans} bipolar (derived)"
    return mode


def _window(spec: FoundationModelSpec) -> str:
    parts = []
    if spec.patch_size:
        parts.append(
            f"patch {spec.patch_size}"
            + (f"/stride {spec.patch_stride}" if spec.patch_stride else "")
        )
    if spec.min_times:
        parts.append(f"min {spec.min_times}")
    if spec.max_times:
        parts.append(f"max {spec.max_times}")
    return ", ".join(parts)


def list_foundation_models() -> pd.DataFrame:
    """One row per foundation model of ``ESTIMATOR_SPECS``.

    Returns
    -------
    DataFrame
        Columns: Model (key), Name, Class, Hub repo, Emb. dim (mean pooling, default
        size), sfreq, Channels, Interpolation, Window (samples at sfreq), Amplitude,
        Poolings, Train modes, Backend, License (of the pretrained weights), Layouts
        (published checkpoint layouts the loader reads besides braindecode's names).

    Examples
    --------
    >>> df = list_foundation_models()
    >>> sorted(df["Model"])[:3]
    ['bendr', 'biot', 'cbramod']
    >>> {"Hub repo", "Emb. dim", "Interpolation", "License"} <= set(df.columns)
    True
    """
    rows = []
    for key, s in ESTIMATOR_SPECS.items():
        if s.channel_mode == "interpolated":
            interp = s.interpolated_class or "yes"
        elif s.channel_mode == "bipolar":
            interp = "missing electrodes only"
        else:
            interp = "no"
        amp = f"x{s.amplitude_scale:g}" + (
            f", {s.normalization}" if s.normalization != "none" else ""
        )
        rows.append(
            {
                "Model": key,
                "Name": s.display_name,
                "Class": s.braindecode_class,
                "Hub repo": s.hub_repo or "",
                "Emb. dim": s.emb_dim,
                "sfreq": s.sfreq,
                "Channels": _channels(s),
                "Interpolation": interp,
                "Window": _window(s),
                "Amplitude": amp,
                "Poolings": ", ".join(s.poolings),
                "Train modes": ", ".join(s.train_modes),
                "Backend": ", ".join(s.backends),
                "License": s.license,
                "Layouts": "; ".join(lay.name for lay in s.checkpoint_layouts) or "hub (braindecode)",
            }
        )
    return pd.DataFrame(rows)


__all__ = ["list_foundation_models"]
