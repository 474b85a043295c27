"""The field's evaluation protocols as named splitters: within-subject (MOABB's
within-session when sessions are given), cross-session, cross-subject and few-shot.

Each protocol draws its folds from the subject (and session) of every trial, so a fold
always knows which subject it tests. ``split(y, subjects, sessions)`` yields
``(train_idx, test_idx)`` like a scikit-learn splitter; folds come in subject order
(sorted labels), then session, then fold.

Examples
--------
>>> import numpy as np
>>> y = np.tile([0, 1], 8)
>>> subjects = np.repeat([1, 2], 8)
>>> folds = list(CrossSubject().split(y, subjects))
>>> [sorted(set(subjects[te])) for _, te in folds]
[[1], [2]]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

__all__ = ["WithinSubject", "CrossSession", "CrossSubject", "FewShot", "make_protocol"]

Fold = tuple[np.ndarray, np.ndarray]


def _blocks(labels: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """``(label, indices)`` per distinct label, in sorted label order."""
    values = np.asarray(labels)
    return [(v.item() if isinstance(v, np.generic) else v, np.flatnonzero(values == v))
            for v in np.unique(values)]


def _need_subjects(subjects: np.ndarray, protocol: str, minimum: int) -> None:
    n = len(np.unique(subjects))
    if n < minimum:
        raise ValueError(
            f"cv.strategy={protocol!r} needs at least {minimum} subjects in the column named "
            f"by cv.group_key, got {n}"
        )


def _check_sessions(sessions: np.ndarray | None, n: int, protocol: str) -> np.ndarray:
    if sessions is None:
        raise ValueError(
            f"cv.strategy={protocol!r} needs sessions: set cv.session_key to a metadata column"
        )
    sessions = np.asarray(sessions)
    if len(sessions) != n:
        raise ValueError(f"sessions has {len(sessions)} entries but y has {n}; they must match")
    return sessions


@dataclass(frozen=True)
class WithinSubject:
    """``n_splits``-fold CV inside each subject (stratified for classification), or
    inside each subject x session when sessions are given (MOABB's
    ``WithinSessionEvaluation``). Training and test trials of a fold come from one
    subject (and session)."""

    n_splits: int = 5
    shuffle: bool = True
    random_state: int | None = None
    task: str = "classification"
    name: ClassVar[str] = "within_subject"

    def split(self, y, subjects, sessions=None) -> Iterator[Fold]:
        y, subjects = np.asarray(y), np.asarray(subjects)
        if sessions is not None:
            sessions = _check_sessions(sessions, len(y), self.name)
        for subject, rows in _blocks(subjects):
            parts = [(None, rows)] if sessions is None else [
                (s, rows[idx]) for s, idx in _blocks(sessions[rows])
            ]
            for session, block in parts:
                where = f"subject {subject!r}" + ("" if session is None else f", session {session!r}")
                yield from self._kfold(y, block, where)

    def _kfold(self, y: np.ndarray, block: np.ndarray, where: str) -> Iterator[Fold]:
        rs = self.random_state if self.shuffle else None
        if self.task == "classification":
            classes, counts = np.unique(y[block], return_counts=True)
            if len(classes) < 2 or counts.min() < self.n_splits:
                raise ValueError(
                    f"within_subject: {where} has class counts "
                    f"{dict(zip(classes.tolist(), counts.tolist(), strict=True))}; each class "
                    f"needs at least cv.n_splits={self.n_splits} trials (lower n_splits)"
                )
            splitter = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=rs)
        else:
            if len(block) < self.n_splits:
                raise ValueError(f"within_subject: {where} has {len(block)} trials, fewer than "
                                 f"cv.n_splits={self.n_splits}")
            splitter = KFold(self.n_splits, shuffle=self.shuffle, random_state=rs)
        for tr, te in splitter.split(np.zeros((len(block), 1)), y[block]):
            yield block[tr], block[te]


@dataclass(frozen=True)
class CrossSession:
    """Inside each subject, leave one session out (MOABB's ``CrossSessionEvaluation``):
    train on the subject's other sessions, test on the held-out one."""

    name: ClassVar[str] = "cross_session"

    def split(self, y, subjects, sessions=None) -> Iterator[Fold]:
        subjects = np.asarray(subjects)
        sessions = _check_sessions(sessions, len(subjects), self.name)
        single = [s for s, rows in _blocks(subjects) if len(np.unique(sessions[rows])) < 2]
        if single:
            raise ValueError(
                f"cross_session: subject(s) {[str(s) for s in single]} have a single session "
                f"(column named by cv.session_key); leave them out or use within_subject"
            )
        for _, rows in _blocks(subjects):
            for _, idx in _blocks(sessions[rows]):
                test = rows[idx]
                yield np.setdiff1d(rows, test), test


@dataclass(frozen=True)
class CrossSubject:
    """Leave one subject out (MOABB's ``CrossSubjectEvaluation``; the folds of
    ``leave_one_group_out`` on the subject column)."""

    name: ClassVar[str] = "cross_subject"

    def split(self, y, subjects, sessions=None) -> Iterator[Fold]:
        subjects = np.asarray(subjects)
        _need_subjects(subjects, self.name, 2)
        everything = np.arange(len(subjects))
        for _, test in _blocks(subjects):
            yield np.setdiff1d(everything, test), test


@dataclass(frozen=True)
class FewShot:
    """Per target subject: train on every other subject plus ``n_shots`` labelled trials
    per class of the target (the calibration set), test on the target's other trials.
    The calibration trials are drawn at random (``shuffle=True``) or are the first
    ``n_shots`` of each class in trial order (``shuffle=False``); they are never tested."""

    n_shots: int = 5
    shuffle: bool = True
    random_state: int | None = None
    name: ClassVar[str] = "few_shot"

    def split(self, y, subjects, sessions=None) -> Iterator[Fold]:
        y, subjects = np.asarray(y), np.asarray(subjects)
        _need_subjects(subjects, self.name, 2)
        rng = np.random.RandomState(self.random_state)
        everything = np.arange(len(y))
        for subject, rows in _blocks(subjects):
            shots = []
            for cls, idx in _blocks(y[rows]):
                if len(idx) <= self.n_shots:
                    raise ValueError(
                        f"few_shot: subject {subject!r} has {len(idx)} trial(s) of class {cls!r}; "
                        f"cv.n_shots={self.n_shots} of them go to training and at least one must "
                        "stay for testing (lower n_shots)"
                    )
                pick = rng.choice(idx, self.n_shots, replace=False) if self.shuffle else idx[: self.n_shots]
                shots.append(rows[np.sort(pick)])
            shots = np.concatenate(shots)
            others = np.setdiff1d(everything, rows)
            yield np.sort(np.concatenate([others, shots])), np.setdiff1d(rows, shots)


def make_protocol(cv, task: str, random_state: int | None):
    """The protocol object of a ``CVConfig`` whose strategy is a protocol.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import CVConfig
    >>> make_protocol(CVConfig(strategy="few_shot", n_shots=3), "classification", 0).n_shots
    3
    """
    rs = random_state if cv.shuffle else None
    if cv.strategy == "within_subject":
        return WithinSubject(cv.n_splits, cv.shuffle, rs, task)
    if cv.strategy == "cross_session":
        return CrossSession()
    if cv.strategy == "cross_subject":
        return CrossSubject()
    if cv.strategy == "few_shot":
        if task != "classification":
            raise ValueError("cv.strategy='few_shot' draws n_shots trials per class: it needs "
                             "task='classification'")
        return FewShot(cv.n_shots, cv.shuffle, rs)
    raise ValueError(f"cv.strategy={cv.strategy!r} is not a protocol")
