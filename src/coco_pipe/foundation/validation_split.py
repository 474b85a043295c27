"""The early-stopping validation split, carved from a training partition (never the test
side): grouped when groups are given, else stratified (classification) or shuffled.

Examples
--------
>>> import numpy as np
>>> tr, va = validation_split(np.array([0, 1] * 10), None, 0.2, seed=0)
>>> len(tr), len(va)
(16, 4)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["validation_split"]


def validation_split(
    y: np.ndarray,
    groups: np.ndarray | None,
    fraction: float,
    seed: int,
    task: str = "classification",
    max_tries: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve an early-stopping validation split from a training partition.

    Parameters
    ----------
    y : ndarray (n,)
        Targets of the training partition.
    groups : ndarray (n,) or None
        Group labels (e.g. subjects): whole groups go to one side (``GroupShuffleSplit``).
        Without groups the split is stratified (classification) or shuffled.
    fraction : float
        Share held out for validation.
    seed : int
    task : {"classification", "regression"}
    max_tries : int
        Grouped splits are redrawn until both sides hold every class.

    Returns
    -------
    train_idx, val_idx : ndarray of int

    Raises
    ------
    ValueError
        Fewer than 2 groups, a class with too few windows, or no grouped split that
        leaves every class on both sides.
    """
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

    y = np.asarray(y)
    n = len(y)
    if n < 2:
        raise ValueError(
            f"the training partition has {n} window(s); at least 2 are needed for a validation split"
        )
    classification = task == "classification"
    classes, counts = np.unique(y, return_counts=True) if classification else (None, None)
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(
                f"groups has {len(groups)} entries but the training partition has {n} windows"
            )
        uniq = np.unique(groups)
        if len(uniq) < 2:
            raise ValueError(
                f"the grouped validation split needs at least 2 groups in the training partition, "
                f"got {len(uniq)} ({uniq.tolist()}); the validation group would leave the training "
                "side empty (lower validation_fraction or use more groups)"
            )
        splitter = GroupShuffleSplit(n_splits=max_tries, test_size=fraction, random_state=seed)
        for train_idx, val_idx in splitter.split(np.zeros(n), y, groups):
            if len(train_idx) == 0 or len(val_idx) == 0:
                continue
            if not classification:
                return train_idx, val_idx
            if len(np.unique(y[train_idx])) == len(classes) and len(np.unique(y[val_idx])) == len(
                classes
            ):
                return train_idx, val_idx
        missing_info = ", ".join(
            f"{g!r}: {sorted(np.unique(y[groups == g]).tolist())}" for g in uniq[:10]
        )
        raise ValueError(
            f"no grouped validation split (validation_fraction={fraction}, {len(uniq)} groups) leaves "
            f"every class {classes.tolist()} on both the training and the validation side after "
            f"{max_tries} draws; classes per group: {missing_info}"
        )
    if classification:
        small = classes[counts < 2]
        if len(small):
            raise ValueError(
                f"class(es) {small.tolist()} have fewer than 2 windows in the training partition; a "
                "stratified validation split would leave them empty on one side"
            )
        n_val = max(math.ceil(fraction * n), len(classes))
        if n - n_val < len(classes):
            raise ValueError(
                f"validation_fraction={fraction} of {n} windows cannot hold every one of the "
                f"{len(classes)} classes on both sides; give more windows or change the fraction"
            )
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        return next(splitter.split(np.zeros(n), y))
    splitter = ShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    return next(splitter.split(np.zeros(n)))
