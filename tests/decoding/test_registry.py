"""The classical estimator registry: names, lookups, errors with close-name hints."""

from __future__ import annotations

import pytest
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.linear_model import LogisticRegression

from coco_pipe.decoding import registry
from coco_pipe.decoding.baselines import BASELINES
from coco_pipe.decoding.configs import ClassicalModelConfig
from coco_pipe.decoding.registry import (
    check_classical_config,
    classical_names,
    get_classical,
    register_classical,
)


def test_names_hold_scikit_learn_estimators_and_baselines():
    names = classical_names()
    assert names == sorted(names)
    for name in ("LogisticRegression", "SVC", "Ridge", "DummyClassifier", "DummyRegressor"):
        assert name in names
    assert {row[0] for row in BASELINES} <= set(names)


def test_every_entry_builds_an_estimator_of_its_task():
    for name in classical_names():
        entry = get_classical(name)
        est = entry.factory()
        assert isinstance(est, BaseEstimator), name
        assert entry.tasks in (("classification",), ("regression",)), name
        if entry.tasks == ("classification",):
            assert is_classifier(est), name
        else:
            assert is_regressor(est), name
    baselines = {row[0] for row in BASELINES}
    assert {n for n in classical_names() if get_classical(n).consumes_epochs} == baselines
    assert get_classical("CSP_LDA").description.startswith("Band-pass")


def test_unknown_name_lists_close_names():
    with pytest.raises(ValueError, match=r"unknown estimator 'LogisticRegresion'; did you mean LogisticRegression"):
        get_classical("LogisticRegresion")
    with pytest.raises(ValueError, match=r"unknown estimator 'xyz' \(known: .*CSP_LDA.*\)"):
        get_classical("xyz")
    with pytest.raises(ValueError, match="did you mean LogisticRegression"):
        ClassicalModelConfig(estimator="LogisticRegresion")


def test_unknown_param_lists_close_names():
    check_classical_config("SVC", {"C": 1.0, "kernel": "rbf"})
    with pytest.raises(ValueError, match=r"unknown parameter 'kernal' for estimator 'SVC'; did you mean kernel"):
        check_classical_config("SVC", {"kernal": "rbf"})
    with pytest.raises(ValueError, match=r"unknown parameter 'zzz' for estimator 'Ridge' \(valid: .*alpha"):
        check_classical_config("Ridge", {"zzz": 1})
    with pytest.raises(ValueError, match=r"unknown parameter 'CC'.*did you mean C"):
        ClassicalModelConfig(estimator="LogisticRegression", params={"CC": 1.0})


def test_register_classical_adds_a_name(monkeypatch):
    classical_names()
    monkeypatch.setattr(registry, "CLASSICAL_REGISTRY", dict(registry.CLASSICAL_REGISTRY))
    register_classical("MyLR", LogisticRegression, description="mine", consumes_epochs=False)
    entry = get_classical("MyLR")
    assert (entry.name, entry.tasks, entry.consumes_epochs, entry.description) == (
        "MyLR", ("classification",), False, "mine")  # fmt: skip
    assert "MyLR" in classical_names()
    assert ClassicalModelConfig(estimator="MyLR", params={"C": 0.5}).params == {"C": 0.5}
