"""Outer (and inner) cross-validation splits, checked before anything is fitted."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn import model_selection as ms

from ..data import EpochsData
from .configs.core import PROTOCOLS


def make_splitter(strategy: str, n_splits: int, shuffle: bool, random_state: int | None):
    """The scikit-learn splitter for a CV strategy name."""
    rs = random_state if shuffle else None
    if strategy == "stratified":
        return ms.StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=rs)
    if strategy == "kfold":
        return ms.KFold(n_splits=n_splits, shuffle=shuffle, random_state=rs)
    if strategy == "group_kfold":
        if shuffle:
            return ms.GroupKFold(n_splits=n_splits, shuffle=True, random_state=rs)
        return ms.GroupKFold(n_splits=n_splits)
    if strategy == "stratified_group_kfold":
        return ms.StratifiedGroupKFold(n_splits=n_splits, shuffle=shuffle, random_state=rs)
    if strategy == "leave_one_group_out":
        return ms.LeaveOneGroupOut()
    raise ValueError(f"unknown cv.strategy {strategy!r}")


def make_splits(cv, data: EpochsData, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outer folds as ``(train_idx, test_idx)``; raises a clear error for CV settings the
    data cannot satisfy (too few groups, a class missing from a training partition).

    Examples
    --------
    >>> import numpy as np
    >>> from coco_pipe.decoding.configs import CVConfig
    >>> from coco_pipe.data import validate_inputs
    >>> d = validate_inputs(np.random.rand(20, 3), np.tile([0, 1], 10))
    >>> len(make_splits(CVConfig(strategy="stratified", n_splits=4), d, 0))
    4
    """
    n = len(data.y)
    strategy = cv.strategy
    rs = cv.random_state if cv.random_state is not None else random_state
    if strategy in PROTOCOLS:
        return _checked(_protocol_splits(cv, data, rs), data)
    if strategy == "stratified" and data.task != "classification":
        strategy = "kfold"
    if strategy == "stratified_group_kfold" and data.task != "classification":
        strategy = "group_kfold"
    grouped = "group" in strategy
    if grouped and data.groups is None:
        raise ValueError(
            f"cv.strategy={cv.strategy!r} needs groups: set cv.group_key and pass sample_metadata"
        )
    if grouped:
        n_groups = len(np.unique(data.groups))
        if strategy != "leave_one_group_out" and n_groups < cv.n_splits:
            raise ValueError(
                f"cv.n_splits={cv.n_splits} but sample_metadata[{data.group_key!r}] has only "
                f"{n_groups} group(s); use n_splits <= {n_groups}"
            )
        if strategy == "leave_one_group_out" and n_groups < 2:
            raise ValueError(f"leave_one_group_out needs at least 2 groups, got {n_groups}")
    elif cv.n_splits > n:
        raise ValueError(f"cv.n_splits={cv.n_splits} is larger than the number of windows ({n})")
    if strategy == "stratified":
        _, counts = np.unique(data.y, return_counts=True)
        if counts.min() < cv.n_splits:
            raise ValueError(
                f"cv.n_splits={cv.n_splits} but the smallest class has {counts.min()} window(s); "
                "each class needs at least n_splits members for stratified CV"
            )
    splitter = make_splitter(strategy, cv.n_splits, cv.shuffle, rs)
    dummy = np.zeros((n, 1))
    splits = [
        (np.asarray(tr), np.asarray(te))
        for tr, te in splitter.split(dummy, data.y, data.groups if grouped else None)
    ]
    return _checked(splits, data)


def _checked(splits: list[tuple[np.ndarray, np.ndarray]], data: EpochsData):
    """Raise when a class is absent from the training partition of an outer fold."""
    if data.task == "classification":
        classes = np.unique(data.y)
        for k, (tr, _) in enumerate(splits):
            missing = np.setdiff1d(classes, np.unique(data.y[tr]))
            if len(missing):
                raise ValueError(
                    f"class(es) {missing.tolist()} absent from the training partition of outer fold {k}; "
                    "use a stratified strategy, fewer splits, or more data per class"
                )
    return splits


def session_labels(cv, data: EpochsData) -> np.ndarray | None:
    """The session of every window (``metadata[cv.session_key]``), or None."""
    key = getattr(cv, "session_key", None)
    if key is None:
        return None
    if key not in data.metadata.columns:
        cols = ", ".join(map(str, data.metadata.columns)) or "none"
        raise ValueError(
            f"cv.session_key={key!r} is not a column of sample_metadata (columns: {cols})"
        )
    values = data.metadata[key].to_numpy()
    if pd.isna(values).any():
        raise ValueError(f"sample_metadata[{key!r}] has missing values")
    return values.astype(str)


def _protocol_splits(cv, data: EpochsData, random_state: int | None):
    from .protocols import make_protocol

    if data.groups is None:  # pragma: no cover - protocols always set a group_key
        raise ValueError(f"cv.strategy={cv.strategy!r} needs the subject column cv.group_key")
    protocol = make_protocol(cv, data.task, random_state)
    return [
        (np.asarray(tr), np.asarray(te))
        for tr, te in protocol.split(data.y, data.groups, session_labels(cv, data))
    ]


def fitting_view(cv, data: EpochsData) -> EpochsData:
    """The data as fitting sees it: under within_subject / cross_session a training
    partition is one subject, so its validation split and inner CV are drawn from that
    subject's own trials (no groups); otherwise the data unchanged (grouped by subject)."""
    if data.groups is None or cv.strategy not in ("within_subject", "cross_session"):
        return data
    return replace(data, groups=None)


def fold_tags(cv, data: EpochsData, test: np.ndarray) -> dict[str, str]:
    """Tags of a fold beyond its test groups: the sessions it tests (with cv.session_key)."""
    sessions = session_labels(cv, data)
    if sessions is None:
        return {}
    return {"test_sessions": ",".join(sorted(np.unique(sessions[test]).tolist()))}


def inner_splits(
    y: np.ndarray, groups: np.ndarray | None, n_splits: int, task: str, random_state: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner CV on a training partition, grouped like the outer CV when groups exist."""
    dummy = np.zeros((len(y), 1))
    if groups is not None:
        n_groups = len(np.unique(groups))
        k = min(n_splits, n_groups)
        if k < 2:
            raise ValueError(
                f"inner CV needs at least 2 groups in the training partition, got {n_groups}"
            )
        if task == "classification":
            splitter = ms.StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        else:
            splitter = ms.GroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        return [(tr, te) for tr, te in splitter.split(dummy, y, groups)]
    if task == "classification":
        splitter = ms.StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    else:
        splitter = ms.KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return [(tr, te) for tr, te in splitter.split(dummy, y)]
