"""The ``raw`` source: EDF / BDF / FIF / GDF / BrainVision / EEGLAB files with their events
or annotations, cut into epochs (:func:`~coco_pipe.datasets.epoching.epochs_from_raw`)."""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .epoching import EpochArrays, Recording, epochs_from_raw, parse_label, stack_recordings

logger = logging.getLogger(__name__)

__all__ = ["RAW_EXTENSIONS", "DEFAULT_SUBJECT_PATTERN", "find_raw_files", "read_events", "load_raw"]

#: File endings read by ``mne.io.read_raw`` that count as recordings.
RAW_EXTENSIONS: tuple[str, ...] = (".fif", ".fif.gz", ".edf", ".bdf", ".gdf", ".vhdr", ".set")
#: ``subjectNN``, ``sub-NN``, ``sub_NN``, ``subNN`` (the last match in the path wins).
DEFAULT_SUBJECT_PATTERN = r"sub(?:ject)?[-_]?([A-Za-z0-9]+)"
_EVENT_FILE = re.compile(r"[-_]eve\.fif(\.gz)?$")
_MNE_SUFFIX = re.compile(r"[-_](raw|eeg)$")


def _is_recording(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(RAW_EXTENSIONS) and not _EVENT_FILE.search(name)


def find_raw_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Recordings named by ``paths``: files, folders (searched recursively) or glob
    patterns; event files (``*-eve.fif``) are not recordings. Sorted, without repeats.

    Examples
    --------
    >>> find_raw_files("/no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: data path '/no/such/folder' matches no recording (...)
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            matches = [path]
        elif path.is_dir():
            matches = [p for p in path.rglob("*") if p.is_file() and _is_recording(p)]
        else:
            matches = [Path(p) for p in glob.glob(str(item), recursive=True)]
            matches = [p for p in matches if p.is_file() and _is_recording(p)]
        if not matches:
            raise FileNotFoundError(
                f"data path {str(item)!r} matches no recording (a file, a folder or a glob of "
                f"{', '.join(RAW_EXTENSIONS)} files)"
            )
        found.extend(matches)
    return sorted(dict.fromkeys(p.resolve() for p in found))


def _stem(path: Path) -> str:
    name = path.name
    for ext in sorted(RAW_EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return _MNE_SUFFIX.sub("", name)


def read_events(raw, path: Path, events: str, event_id, stim_channel):
    """Events of one recording: ``"annotations"``, ``"stim"`` (a trigger channel) or an
    events-file template relative to the recording's folder, with ``{stem}`` the file name
    without extension and MNE suffix (``record_raw.fif`` -> ``record``).

    Returns ``(events, event_id)``; ``event_id`` maps class names to codes.
    """
    import mne

    if events == "annotations":
        if not len(raw.annotations):
            raise ValueError(
                f"{path}: events='annotations' but the file has no annotations; use "
                "events='stim' (a trigger channel) or an events file template such as "
                "'{stem}-eve.fif'"
            )
        ev, found = mne.events_from_annotations(raw, event_id=event_id or "auto", verbose="error")
        return ev, (event_id or found)
    if events == "stim":
        ev = mne.find_events(raw, stim_channel=stim_channel, shortest_event=1, verbose="error")
        return ev, event_id
    target = path.parent / events.format(stem=_stem(path), name=path.name)
    if not target.exists():
        raise FileNotFoundError(
            f"events file {str(target)!r} for {path.name} does not exist (events={events!r}: "
            "a template relative to the recording's folder, '{stem}' is the file name without "
            "extension)"
        )
    return mne.read_events(target, verbose="error"), event_id


def _label(pattern: str | None, path: Path, what: str, fallback: Any) -> Any:
    if pattern is None:
        return fallback
    matches = re.findall(pattern, path.as_posix())
    if not matches:
        if fallback is not None:
            return fallback
        raise ValueError(
            f"{what}_pattern={pattern!r} does not match {path.as_posix()!r}; give a regular "
            f"expression whose first group is the {what} label"
        )
    last = matches[-1]
    return parse_label(last[0] if isinstance(last, tuple) else last)


def _subject_from_info(raw) -> Any:
    info = raw.info.get("subject_info") or {}
    value = info.get("his_id") or info.get("id")
    return parse_label(str(value)) if value not in (None, "") else None


def load_raw(
    paths: str | Path | Sequence[str | Path],
    *,
    events: str = "annotations",
    stim_channel: str | None = None,
    subject_pattern: str | None = DEFAULT_SUBJECT_PATTERN,
    session_pattern: str | None = None,
    subjects: Sequence[Any] | None = None,
    **epoching: Any,
) -> EpochArrays:
    """Read raw recordings and cut them into epochs with their subject, session and run.

    Parameters
    ----------
    paths : path, glob or list of them
        Files, folders (searched recursively) or glob patterns (see :func:`find_raw_files`).
    events : str
        ``"annotations"`` (the file's annotations, e.g. EDF+ / BrainVision markers),
        ``"stim"`` (a trigger channel) or an events-file template relative to each
        recording's folder, e.g. ``"{stem}-eve.fif"``.
    stim_channel : str, optional
        Trigger channel for ``events="stim"`` (None: MNE's default search).
    subject_pattern : str
        Regular expression on the file path whose first group is the subject (the last
        match wins; all-digit labels become ints). When it does not match, the subject
        of the file header is used.
    session_pattern : str, optional
        Same for the session. None: each file of a subject is one session, numbered
        ``"0"``, ``"1"``... in path order.
    subjects : list, optional
        Keep only these subjects.
    **epoching
        Keyword arguments of :func:`~coco_pipe.datasets.epoching.epochs_from_raw`:
        ``event_id``, ``tmin``, ``tmax``, ``l_freq``, ``h_freq``, ``resample``, ``unit``,
        ``scale``, ``picks``.

    Returns
    -------
    EpochArrays
        Metadata columns ``Subject``, ``session``, ``run`` (the file stem), ``file``.

    Examples
    --------
    >>> data = load_raw("../shared/data/kalunga2016/raw", events="{stem}-eve.fif",
    ...                 event_id={"rest": 1, "13Hz": 2, "21Hz": 3, "17Hz": 4},
    ...                 tmin=2.0, tmax=4.0, l_freq=1.0, h_freq=45.0, unit="mV")  # doctest: +SKIP
    >>> data.X.shape                                                     # doctest: +SKIP
    (864, 8, 512)
    """
    import mne

    files = find_raw_files(paths)
    recordings = []
    per_subject: dict[Any, int] = {}
    for path in files:
        raw = mne.io.read_raw(path, preload=False, verbose="error")
        subject = _label(subject_pattern, path, "subject", _subject_from_info(raw))
        if subject is None:
            raise ValueError(f"no subject for {path}: set subject_pattern to a regex that "
                             "matches the file path")
        if subjects is not None and subject not in subjects:
            continue
        index = per_subject.get(subject, 0)
        per_subject[subject] = index + 1
        session = _label(session_pattern, path, "session", None) if session_pattern else index
        ev, event_id = read_events(raw, path, events, epoching.get("event_id"), stim_channel)
        X, y, sfreq, ch_names, _ = epochs_from_raw(
            raw, ev, **{**epoching, "event_id": event_id}, source=str(path)
        )
        meta = {"Subject": subject, "session": str(session), "run": _stem(path), "file": str(path)}
        recordings.append(Recording(X, y, sfreq, ch_names, meta, str(path)))
    if subjects is not None and not recordings:
        raise ValueError(f"subjects={list(subjects)} match none of the subjects found in {paths}")
    return stack_recordings(recordings, f"raw source {paths}")
