"""The allowlists of the safe loader."""

from __future__ import annotations

import sys

import pytest

from coco_pipe.decoding.logged_model.files import UnsafeModelError, check_name
from coco_pipe.decoding.logged_model.trust import (
    check_input,
    check_model_kwargs,
    trusted_skops_types,
)


def test_estimators_of_the_allowed_packages_are_trusted():
    names = [
        "sklearn.pipeline.Pipeline", "mne.decoding.transformer.Vectorizer",
        "pyriemann.tangentspace.TangentSpace", "coco_pipe.decoding.baselines.CSPLDA",
        "sklearn.feature_selection._mutual_info.mutual_info_classif", "functools.partial",
    ]  # fmt: skip
    assert trusted_skops_types(names, "m") == names


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("builtins.eval", "package 'builtins' is not allowed"),
        ("os.system", "package 'os' is not allowed"),
        ("subprocess.Popen", "package 'subprocess' is not allowed"),
        ("numpy.memmap", "package 'numpy' is not allowed"),
        ("sklearn.utils.validation.check_array", "neither a scikit-learn estimator class"),
        ("sklearn.datasets.fetch_openml", "neither a scikit-learn estimator class"),
        ("coco_pipe.cli.main", "neither a scikit-learn estimator class"),
        ("coco_pipe.__main__.x", "not a plain module path"),
        ("sklearn.nope.Nothing", "cannot be imported"),
    ],
)
def test_anything_else_is_refused_with_the_reason(name, why):
    with pytest.raises(UnsafeModelError, match=why):
        trusted_skops_types([name], "m")


def test_refused_names_are_not_imported():
    sys.modules.pop("coco_pipe.__main__", None)
    with pytest.raises(UnsafeModelError):
        trusted_skops_types(["coco_pipe.__main__.x"], "m")
    assert "coco_pipe.__main__" not in sys.modules  # importing it would run the CLI


@pytest.mark.parametrize("name", ["..", "a/..", "/abs", "", "a//b", "~x", ".hidden"])
def test_names_must_be_plain(name):
    with pytest.raises(UnsafeModelError, match="not a plain relative name"):
        check_name(name, "files")


def test_input_and_kwargs_are_typed():
    ok = check_input({"n_channels": 2, "n_times": 8, "sfreq": 100.0, "ch_names": ["C3", "C4"]}, "in")
    assert ok["ch_names"] == ["C3", "C4"]
    with pytest.raises(UnsafeModelError, match="n_channels must be an integer"):
        check_input({"n_channels": "2", "n_times": 8}, "in")
    with pytest.raises(UnsafeModelError, match="2 names for 3 channels"):
        check_input({"n_channels": 3, "n_times": 8, "ch_names": ["a", "b"]}, "in")
    assert check_model_kwargs({"n_layer": 1, "dims": [2, 3]}, "kw") == {"n_layer": 1, "dims": [2, 3]}
    with pytest.raises(UnsafeModelError, match="plain values"):
        check_model_kwargs({"act": {"nested": "dict"}}, "kw")
