"""Outer and inner CV splits: every strategy partitions the data, grouped strategies never
put a group on both sides, stratified ones keep the class balance, and settings the data
cannot satisfy are errors before anything is fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import model_selection as ms

from coco_pipe.data import validate_inputs
from coco_pipe.decoding.configs import CVConfig
from coco_pipe.decoding.splits import inner_splits, make_splits, make_splitter

N_GROUPS, PER_GROUP = 6, 12


def _data(task="classification", n_groups=N_GROUPS, per_group=PER_GROUP, group_key="Subject"):
    rng = np.random.default_rng(0)
    n = n_groups * per_group
    y = np.tile([0, 0, 1], n // 3) if task == "classification" else rng.normal(size=n)
    meta = pd.DataFrame({"Subject": np.repeat([f"s{i}" for i in range(n_groups)], per_group)})
    return validate_inputs(rng.normal(size=(n, 3)), y, meta, task=task, group_key=group_key)


def _check_partition(splits, n):
    for train, test in splits:
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == n
    tested = np.concatenate([te for _, te in splits])
    assert sorted(tested) == list(range(n))  # every window is tested exactly once


@pytest.mark.parametrize(
    ("strategy", "n_splits", "expected"),
    [("group_kfold", 3, 3), ("stratified_group_kfold", 3, 3), ("leave_one_group_out", 3, N_GROUPS)],
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_grouped_strategies_never_split_a_group(strategy, n_splits, expected, shuffle):
    data = _data()
    cv = CVConfig(strategy=strategy, n_splits=n_splits, group_key="Subject", shuffle=shuffle)
    splits = make_splits(cv, data, random_state=0)
    assert len(splits) == expected
    _check_partition(splits, len(data.y))
    for train, test in splits:
        assert not set(data.groups[train]) & set(data.groups[test])
    if strategy == "leave_one_group_out":
        assert sorted(len(set(data.groups[te])) for _, te in splits) == [1] * N_GROUPS


@pytest.mark.parametrize("strategy", ["stratified", "stratified_group_kfold"])
def test_stratified_strategies_keep_the_class_balance(strategy):
    data = _data()
    splits = make_splits(CVConfig(strategy=strategy, n_splits=3, group_key="Subject"), data, 0)
    overall = np.mean(data.y == 1)
    for _, test in splits:
        assert np.mean(data.y[test] == 1) == pytest.approx(overall, abs=0.05)


@pytest.mark.parametrize("strategy", ["kfold", "stratified"])
@pytest.mark.parametrize("n_splits", [2, 4, 6])
def test_ungrouped_strategies_give_n_splits(strategy, n_splits):
    data = _data()
    splits = make_splits(CVConfig(strategy=strategy, n_splits=n_splits), data, 0)
    assert len(splits) == n_splits
    _check_partition(splits, len(data.y))
    sizes = [len(te) for _, te in splits]
    assert max(sizes) - min(sizes) <= 1


def test_shuffle_uses_the_seed():
    data = _data()
    cv = CVConfig(strategy="kfold", n_splits=3, shuffle=True)
    a, b = make_splits(cv, data, 0), make_splits(cv, data, 0)
    c = make_splits(cv, data, 1)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    seeded = make_splits(CVConfig(strategy="kfold", n_splits=3, shuffle=True, random_state=1), data, 0)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(seeded, c, strict=True))
    plain = make_splits(CVConfig(strategy="kfold", n_splits=3, shuffle=False), data, 0)
    assert np.array_equal(plain[0][1], np.arange(len(data.y) // 3))  # no shuffle: contiguous


def test_regression_falls_back_to_unstratified():
    data = _data(task="regression")
    assert len(make_splits(CVConfig(strategy="stratified", n_splits=3), data, 0)) == 3
    grouped = make_splits(
        CVConfig(strategy="stratified_group_kfold", n_splits=3, group_key="Subject"), data, 0
    )
    for train, test in grouped:
        assert not set(data.groups[train]) & set(data.groups[test])


def test_settings_the_data_cannot_satisfy_are_errors():
    data = _data()
    with pytest.raises(ValueError, match="only 6 group"):
        make_splits(CVConfig(strategy="group_kfold", n_splits=7, group_key="Subject"), data, 0)
    ungrouped = _data(group_key=None)  # validated without a group column
    with pytest.raises(ValueError, match="needs groups: set cv.group_key"):
        make_splits(CVConfig(strategy="group_kfold", n_splits=3, group_key="Subject"), ungrouped, 0)
    with pytest.raises(ValueError, match="cv.group_key is required for strategy='group_kfold'"):
        CVConfig(strategy="group_kfold", n_splits=3)
    with pytest.raises(ValueError, match="larger than the number of windows"):
        make_splits(CVConfig(strategy="kfold", n_splits=73), data, 0)
    with pytest.raises(ValueError, match="smallest class has 24"):
        make_splits(CVConfig(strategy="stratified", n_splits=25), data, 0)
    one = _data(n_groups=1)
    with pytest.raises(ValueError, match="at least 2 groups"):
        make_splits(CVConfig(strategy="leave_one_group_out", group_key="Subject"), one, 0)
    y = data.y.copy()
    y[data.groups == "s0"] = 2  # class 2 lives in one subject: absent from its fold's training
    only_one = validate_inputs(data.X, y, data.metadata, group_key="Subject")
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] absent from the training partition"):
        make_splits(CVConfig(strategy="group_kfold", n_splits=3, group_key="Subject"), only_one, 0)


def test_make_splitter_names():
    assert isinstance(make_splitter("stratified", 3, False, None), ms.StratifiedKFold)
    assert isinstance(make_splitter("kfold", 3, True, 0), ms.KFold)
    assert isinstance(make_splitter("group_kfold", 3, False, None), ms.GroupKFold)
    assert isinstance(make_splitter("stratified_group_kfold", 3, False, None), ms.StratifiedGroupKFold)
    assert isinstance(make_splitter("leave_one_group_out", 3, False, None), ms.LeaveOneGroupOut)
    with pytest.raises(ValueError, match="unknown cv.strategy 'bogus'"):
        make_splitter("bogus", 3, False, None)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_inner_splits_are_grouped_like_the_outer_cv(task):
    data = _data(task=task)
    inner = inner_splits(data.y, data.groups, 3, task, random_state=0)
    assert len(inner) == 3
    _check_partition(inner, len(data.y))
    for train, test in inner:
        assert not set(data.groups[train]) & set(data.groups[test])
    capped = inner_splits(data.y[:24], data.groups[:24], 5, task, random_state=0)
    assert len(capped) == 2  # at most one split per group
    with pytest.raises(ValueError, match="at least 2 groups in the training partition, got 1"):
        inner_splits(data.y[:12], data.groups[:12], 3, task, random_state=0)


def test_inner_splits_without_groups_stratify():
    data = _data(group_key=None)
    inner = inner_splits(data.y, None, 4, "classification", random_state=0)
    assert len(inner) == 4
    _check_partition(inner, len(data.y))
    for _, test in inner:
        assert np.mean(data.y[test] == 1) == pytest.approx(1 / 3, abs=0.05)
