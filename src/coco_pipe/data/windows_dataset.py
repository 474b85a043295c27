"""WindowsDatasetSource: the windows of a braindecode windows dataset, read one window
at a time through its own ``__getitem__`` (preloaded or lazy, with its transforms).

A ``BaseConcatDataset`` from ``create_windows_from_events`` /
``create_fixed_length_windows`` holds MNE objects; with ``preload=False`` they read
from the recordings, so nothing is loaded until a chunk of windows is asked for.
Channels of type ``misc`` (braindecode's target channels) are left out when the windows
carry them, as :func:`dataset_info` names them.

Examples
--------
>>> src = WindowsDatasetSource(windows_dataset)                      # doctest: +SKIP
>>> src.shape                                                        # doctest: +SKIP
(288, 22, 1000)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .source import WindowSource


def is_windows_dataset(X: Any) -> bool:
    """Whether ``X`` looks like a braindecode ``BaseConcatDataset`` of windows."""
    return hasattr(X, "datasets") and callable(getattr(X, "get_metadata", None))


def _info(dataset: Any):
    for attr in ("windows", "raw"):
        obj = getattr(dataset, attr, None)
        if obj is not None:
            return obj.info
    raise ValueError(
        f"{type(dataset).__name__} carries neither .windows nor .raw, so its sampling rate "
        "and channel names are unknown; build it with braindecode's windowing functions"
    )


def dataset_info(windows_dataset: Any) -> tuple[float, list[str], list[int]]:
    """``(sfreq, ch_names, picks)`` of the data channels, the same in every sub-dataset;
    ``picks`` index the (non-``misc``) channels in the stored window."""
    subsets = list(getattr(windows_dataset, "datasets", []))
    if not subsets:
        raise ValueError(
            "expected a braindecode BaseConcatDataset of windows with at least one "
            f"sub-dataset, got {type(windows_dataset).__name__}"
        )
    first = _info(subsets[0])
    for ds in subsets[1:]:
        info = _info(ds)
        if info.ch_names != first.ch_names or float(info["sfreq"]) != float(first["sfreq"]):
            raise ValueError(
                f"sub-dataset {dict(ds.description)} has channels {info.ch_names} at "
                f"{info['sfreq']} Hz, the first has {first.ch_names} at {first['sfreq']} Hz; "
                "all must agree"
            )
    types = first.get_channel_types()
    picks = [i for i, t in enumerate(types) if t != "misc"]
    return float(first["sfreq"]), [first.ch_names[i] for i in picks], picks


class WindowsDatasetSource(WindowSource):
    """Windows of a braindecode windows dataset (``dataset[i][0]``), data channels only.

    Parameters
    ----------
    windows_dataset : braindecode.datasets.BaseConcatDataset
    scale : float, optional
        E.g. ``1e6`` for microvolts (braindecode keeps MNE's volts).
    """

    def __init__(self, windows_dataset: Any, scale: float | None = None):
        _, self.ch_names, picks = dataset_info(windows_dataset)
        first = np.asarray(windows_dataset[0][0])
        n_stored = first.shape[0]
        # windows without their misc channels already (WindowsDataset) or with them
        self.picks = None if n_stored == len(picks) else np.asarray(picks)
        shape = (len(windows_dataset), len(picks), first.shape[1])
        super().__init__(shape, first.dtype, scale)
        self.windows_dataset = windows_dataset

    def _read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.source_dtype)
        for j, i in enumerate(rows.tolist()):
            window = np.asarray(self.windows_dataset[i][0])
            out[j] = window if self.picks is None else window[self.picks]
        return out


__all__ = ["WindowsDatasetSource", "dataset_info", "is_windows_dataset"]
