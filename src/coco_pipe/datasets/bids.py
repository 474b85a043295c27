"""The ``bids`` source: a BIDS root read with mne-bids; each recording's ``events.tsv``
(read as annotations by ``mne_bids.read_raw_bids``) is cut into epochs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .epoching import EpochArrays, Recording, epochs_from_raw, parse_label, stack_recordings
from .raw import read_events

__all__ = ["BIDS_EXTENSIONS", "load_bids"]

#: Recording formats looked for (BIDS EEG/iEEG/MEG data files).
BIDS_EXTENSIONS: tuple[str, ...] = (".vhdr", ".edf", ".bdf", ".set", ".fif")


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, (str, int)) else list(value)
    return [f"{v:02d}" if isinstance(v, int) else str(v) for v in values]


def load_bids(
    root: str | Path,
    *,
    subjects: Sequence[str | int] | None = None,
    sessions: Sequence[str] | None = None,
    task: str | None = None,
    runs: Sequence[str | int] | None = None,
    datatype: str = "eeg",
    extensions: Sequence[str] | None = None,
    **epoching: Any,
) -> EpochArrays:
    """Epochs of the recordings of a BIDS root that match the given entities.

    Parameters
    ----------
    root : path
        The BIDS root (holds ``dataset_description.json`` and ``sub-*`` folders).
    subjects, sessions, runs : list, optional
        BIDS labels (``"01"``; an int ``1`` means ``"01"``). None: all.
    task : str, optional
        BIDS task label. None: all tasks.
    datatype : str
        ``eeg``, ``meg`` or ``ieeg``.
    extensions : list of str, optional
        Recording formats to read (default :data:`BIDS_EXTENSIONS`).
    **epoching
        Keyword arguments of :func:`~coco_pipe.datasets.epoching.epochs_from_raw`
        (``event_id`` maps ``trial_type`` values to codes; None: every trial type).

    Returns
    -------
    EpochArrays
        Metadata ``Subject`` (an int when the label is all digits), ``session`` (``"0"``
        without a session entity), ``run`` (``"0"`` without a run entity), ``task``, ``file``.

    Examples
    --------
    >>> data = load_bids("ds003478", task="rest", tmin=0.0, tmax=2.0)  # doctest: +SKIP
    """
    import mne_bids

    root = Path(root)
    if not (root / "dataset_description.json").exists():
        raise FileNotFoundError(
            f"data.path {str(root)!r} is not a BIDS root (no dataset_description.json)"
        )
    paths = mne_bids.find_matching_paths(
        root, subjects=_as_list(subjects), sessions=_as_list(sessions),
        tasks=_as_list(task), runs=_as_list(runs), datatypes=datatype, suffixes=datatype,
        extensions=list(extensions or BIDS_EXTENSIONS),
    )
    if not paths:
        found = mne_bids.get_entity_vals(root, "subject")
        raise ValueError(
            f"no {datatype} recording in {str(root)!r} matches subjects={subjects}, "
            f"sessions={sessions}, task={task}, runs={runs} (subjects present: {found})"
        )
    recordings = []
    for bids_path in sorted(paths, key=lambda p: str(p.fpath)):
        raw = mne_bids.read_raw_bids(bids_path, verbose="error")
        events, event_id = read_events(raw, bids_path.fpath, "annotations",
                                       epoching.get("event_id"), None)
        X, y, sfreq, ch_names, _ = epochs_from_raw(
            raw, events, **{**epoching, "event_id": event_id},
            source=str(bids_path.fpath),
        )
        meta = {
            "Subject": parse_label(bids_path.subject),
            "session": str(bids_path.session or "0"),
            "run": str(bids_path.run or "0"),
            "task": bids_path.task,
            "file": str(bids_path.fpath),
        }
        recordings.append(Recording(X, y, sfreq, ch_names, meta, str(bids_path.fpath)))
    return stack_recordings(recordings, f"BIDS root {root}")
