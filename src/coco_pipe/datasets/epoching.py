"""Continuous recordings cut into epochs, as MOABB's paradigms do, and the value every
real-data loader returns (:class:`EpochArrays`).

The steps of :func:`epochs_from_raw`, in MOABB's order: pick channels; band-pass the
*continuous* signal (IIR Butterworth, order 4, zero-phase: MNE's ``method="iir"``, what
MOABB's paradigms use); cut ``[tmin, tmax)`` seconds around each event kept by
``event_id`` (``tmax`` excluded, so a 2 s interval at 256 Hz is 512 samples); resample the
epochs; scale to volts (``unit`` / ``scale``: some published files are not in volts, e.g.
Kalunga2016's are in millivolts).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "UNIT_SCALE",
    "EpochArrays",
    "Recording",
    "epochs_from_raw",
    "stack_recordings",
    "parse_label",
    "check_amplitude",
    "volts_factor",
]

#: Multiplier that turns values stored in a unit into volts.
UNIT_SCALE: dict[str, float] = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "nV": 1e-9}

# A median per-channel standard deviation outside this range (volts) is not scalp EEG.
_PLAUSIBLE_SD_V = (1e-8, 1e-3)
METADATA_COLUMNS = ("Subject", "session", "run")


@dataclass(frozen=True)
class EpochArrays:
    """Epochs of real recordings, as :meth:`Experiment.run` takes them.

    Attributes
    ----------
    X : ndarray, float32, shape (n_epochs, n_channels, n_times)
        Volts.
    y : ndarray, shape (n_epochs,)
        Class names (event names).
    metadata : DataFrame
        One row per epoch, with at least ``Subject``, ``session`` and ``run``.
    sfreq : float
    ch_names : list of str

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> meta = pd.DataFrame({"Subject": [1, 1], "session": ["0", "0"], "run": ["0", "0"]})
    >>> data = EpochArrays(np.zeros((2, 1, 4), "float32"), np.array(["a", "b"]), meta,
    ...                    100.0, ["Cz"])
    >>> sorted(data.run_kwargs())
    ['X', 'ch_names', 'sample_metadata', 'sfreq', 'y']
    >>> # Experiment(cfg).run(**data.run_kwargs())
    """

    X: np.ndarray
    y: np.ndarray
    metadata: pd.DataFrame
    sfreq: float
    ch_names: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`coco_pipe.decoding.Experiment.run`."""
        return {
            "X": self.X,
            "y": self.y,
            "sample_metadata": self.metadata,
            "sfreq": self.sfreq,
            "ch_names": list(self.ch_names),
        }

    def to_epochs(self):
        """The same data as an ``mne.EpochsArray`` (EEG channels, metadata attached,
        event names as ``event_id``)."""
        import mne

        names = sorted(map(str, np.unique(self.y)))
        event_id = {name: k + 1 for k, name in enumerate(names)}
        events = np.column_stack(
            [np.arange(len(self.y)), np.zeros(len(self.y), int), [event_id[str(v)] for v in self.y]]
        )
        info = mne.create_info(list(self.ch_names), self.sfreq, "eeg")
        return mne.EpochsArray(self.X, info, events, event_id=event_id,
                               metadata=self.metadata.reset_index(drop=True), verbose="error")


@dataclass(frozen=True)
class Recording:
    """One recording's epochs before stacking: arrays plus the metadata it adds."""

    X: np.ndarray
    y: np.ndarray
    sfreq: float
    ch_names: list[str]
    metadata: dict[str, Any]
    source: str


def volts_factor(unit: str, scale: float = 1.0) -> float:
    """The factor that turns stored values in ``unit`` (times ``scale``) into volts.

    >>> volts_factor("mV")
    0.001
    """
    if unit not in UNIT_SCALE:
        raise ValueError(f"unit={unit!r} is not one of {sorted(UNIT_SCALE)} (the unit the "
                         "stored values are in)")
    return UNIT_SCALE[unit] * scale


def parse_label(value: Any) -> Any:
    """A subject/session label from a file name or BIDS entity: ``"01"`` -> ``1``; other
    strings unchanged (MOABB numbers its subjects)."""
    if isinstance(value, str) and re.fullmatch(r"\d+", value):
        return int(value)
    return value


def _iir_filter(raw, l_freq, h_freq):
    if l_freq is None and h_freq is None:
        return raw
    return raw.filter(l_freq, h_freq, method="iir", verbose="error")


def check_amplitude(X: np.ndarray, what: str) -> float:
    """Warn when epochs (volts) are implausible for scalp EEG; returns the median
    per-channel standard deviation."""
    sd = float(np.median(X.std(axis=-1))) if X.size else 0.0
    low, high = _PLAUSIBLE_SD_V
    if sd > high or (0 < sd < low):
        warnings.warn(
            f"{what}: the median standard deviation of the epochs is {sd:.3g} V, outside "
            f"{low:g}-{high:g} V, the range of scalp EEG in volts; if the files are not in "
            "volts, declare their unit (e.g. unit='mV') or a scale factor",
            UserWarning,
            stacklevel=3,
        )
    return sd


def epochs_from_raw(
    raw,
    events: np.ndarray,
    *,
    event_id: Mapping[str, int] | None = None,
    tmin: float = 0.0,
    tmax: float | None = None,
    l_freq: float | None = None,
    h_freq: float | None = None,
    resample: float | None = None,
    unit: str = "V",
    scale: float = 1.0,
    picks: Sequence[str] | None = None,
    source: str = "recording",
) -> tuple[np.ndarray, np.ndarray, float, list[str], np.ndarray]:
    """Cut a continuous recording into epochs (MOABB's paradigm steps).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded or not; it is filtered in place once loaded.
    events : ndarray, shape (n_events, 3)
        MNE events (sample, previous value, code).
    event_id : dict, optional
        Class name -> event code; events with other codes are dropped. None keeps every
        code, named by its number.
    tmin, tmax : float
        Interval in seconds relative to each event, ``tmax`` excluded. ``tmax`` is required.
    l_freq, h_freq : float, optional
        Band-pass edges (Hz) applied to the continuous signal; None leaves that side open.
    resample : float, optional
        Sampling rate (Hz) of the returned epochs.
    unit : {"V", "mV", "uV", "nV"}
        The unit the stored values are really in; they are converted to volts.
    scale : float
        Extra factor applied after ``unit``.
    picks : list of str, optional
        Channel names, in order; None keeps the EEG channels (all data channels when
        there are none).
    source : str
        Name used in messages (the file).

    Returns
    -------
    X : ndarray, float32 (n, ch, t), volts
    y : ndarray of str, the class names
    sfreq : float
    ch_names : list of str
    kept : ndarray of int, the rows of ``events`` that became epochs

    Examples
    --------
    >>> import mne, numpy as np
    >>> raw = mne.io.RawArray(np.random.randn(2, 1000) * 1e-5,
    ...                       mne.create_info(["C3", "C4"], 100.0, "eeg"), verbose="error")
    >>> ev = np.array([[100, 0, 1], [400, 0, 2]])
    >>> X, y, sfreq, chs, kept = epochs_from_raw(raw, ev, event_id={"a": 1, "b": 2},
    ...                                          tmin=0.0, tmax=2.0)
    >>> X.shape, y.tolist()
    ((2, 2, 200), ['a', 'b'])
    """
    import mne

    if tmax is None:
        raise ValueError(f"{source}: tmax (end of the epoch, s after the event) is required")
    if not tmax > tmin:
        raise ValueError(f"{source}: tmax={tmax} must be larger than tmin={tmin}")
    factor = volts_factor(unit, scale)
    events = np.asarray(events, dtype=int).reshape(-1, 3)
    if event_id is None:
        event_id = {str(c): int(c) for c in np.unique(events[:, 2])}
    event_id = {str(k): int(v) for k, v in event_id.items()}
    rows = np.flatnonzero(np.isin(events[:, 2], list(event_id.values())))
    if not len(rows):
        found = sorted(np.unique(events[:, 2]).tolist())
        raise ValueError(
            f"{source}: no event has a code of event_id={event_id}; codes found: {found}"
        )
    if picks is None:
        idx = mne.pick_types(raw.info, eeg=True, exclude=[])
        picks = [raw.ch_names[i] for i in idx] if len(idx) else None
    if picks is not None:
        missing = [c for c in picks if c not in raw.ch_names]
        if missing:
            raise ValueError(f"{source}: picks {missing} are not channels of the file "
                             f"(channels: {raw.ch_names})")
        raw = raw.pick(list(picks))
    else:
        raw = raw.pick("data", exclude=[])
    raw = _iir_filter(raw.load_data(verbose="error"), l_freq, h_freq)
    sfreq = float(raw.info["sfreq"])
    present = {k: v for k, v in event_id.items() if v in set(events[rows, 2])}
    epochs = mne.Epochs(
        raw, events[rows], present, tmin=tmin, tmax=tmax - 1.0 / sfreq, baseline=None,
        proj=False, preload=True, event_repeated="drop", on_missing="ignore", verbose="error",
    )
    kept = rows[epochs.selection]
    if len(kept) < len(rows):
        logger.info("%s: %d of %d epochs fall outside the recording and are dropped",
                    source, len(rows) - len(kept), len(rows))
    if resample is not None and resample != sfreq:
        epochs = epochs.resample(resample, verbose="error")
        sfreq = float(resample)
    X = (epochs.get_data(copy=False) * factor).astype(np.float32)
    names = {v: k for k, v in present.items()}
    y = np.array([names[c] for c in epochs.events[:, 2]], dtype=object).astype(str)
    return X, y, sfreq, list(epochs.ch_names), kept


def stack_recordings(recordings: Sequence[Recording], what: str) -> EpochArrays:
    """One :class:`EpochArrays` from per-recording epochs; channels and sampling rates
    must agree (the error names the first recording that differs)."""
    recordings = [r for r in recordings if len(r.y)]
    if not recordings:
        raise ValueError(f"{what}: no epochs were cut (check event_id, tmin/tmax and the events)")
    first = recordings[0]
    for rec in recordings[1:]:
        if rec.ch_names != first.ch_names:
            raise ValueError(
                f"{rec.source} has channels {rec.ch_names} but {first.source} has "
                f"{first.ch_names}; give picks=[...] to select the same channels in every file"
            )
        if rec.sfreq != first.sfreq or rec.X.shape[-1] != first.X.shape[-1]:
            raise ValueError(
                f"{rec.source} has sfreq {rec.sfreq} Hz ({rec.X.shape[-1]} samples) but "
                f"{first.source} has {first.sfreq} Hz ({first.X.shape[-1]}); give resample=... "
                "to bring every file to one rate"
            )
    rows = []
    for rec in recordings:
        rows.extend([rec.metadata] * len(rec.y))
    metadata = pd.DataFrame(rows).reset_index(drop=True)
    ordered = [c for c in METADATA_COLUMNS if c in metadata] + [
        c for c in metadata if c not in METADATA_COLUMNS
    ]
    X = np.concatenate([r.X for r in recordings])
    check_amplitude(X, what)
    return EpochArrays(
        X=X,
        y=np.concatenate([r.y for r in recordings]),
        metadata=metadata[ordered],
        sfreq=first.sfreq,
        ch_names=list(first.ch_names),
    )
