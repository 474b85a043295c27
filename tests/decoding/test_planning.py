"""Planning: the tasks of an experiment and the digests a resume matches on."""

from __future__ import annotations

import numpy as np

from coco_pipe.decoding.planning import (
    config_digest,
    differences,
    plan_tasks,
    section_digests,
    split_digest,
)
from coco_pipe.decoding.prepare import as_experiment_config, model_configs

CFG = {"models": {"lr": {"estimator": "LogisticRegression"}},
       "cv": {"strategy": "group_kfold", "n_splits": 3, "group_key": "Subject"}}  # fmt: skip


def _sections(update: dict) -> dict:
    cfg = as_experiment_config({**CFG, **update})
    return section_digests(cfg, model_configs(cfg))


def test_digests_change_with_results_not_with_tracking_or_execution():
    base = _sections({})
    assert set(base) == {"task", "metrics", "cv", "tuning", "chance", "random_state",
                         "models.lr", "models.chance"}  # fmt: skip
    same = _sections({"tracking": {"run_name": "other", "timeout_s": 10},
                      "execution": {"backend": "joblib", "n_jobs": 2}, "verbose": False})  # fmt: skip
    assert config_digest(same) == config_digest(base)
    other = _sections({"models": {"lr": {"estimator": "LogisticRegression", "params": {"C": 2.0}}},
                       "random_state": 1})  # fmt: skip
    assert differences(base, other) == ["models.lr", "random_state"]
    assert config_digest(other) != config_digest(base)


def test_split_digest_and_tasks():
    tr, te = np.arange(6), np.arange(6, 9)
    assert split_digest(tr, te) == split_digest(tr.copy(), te.astype(np.int32))
    assert split_digest(tr, te) != split_digest(te, tr)
    assert split_digest(tr, te) != split_digest(tr[::-1], te)  # order counts
    cfg = as_experiment_config(CFG)
    models = model_configs(cfg)
    splits = [(tr, te), (te, tr)]
    tasks = plan_tasks(models, dict.fromkeys(models), splits)
    assert [t.key for t in tasks] == [("lr", 0), ("lr", 1), ("chance", 0), ("chance", 1)]
    assert tasks[0].split_digest == split_digest(tr, te) != tasks[1].split_digest
    assert tasks[0].model_digest == tasks[1].model_digest != tasks[2].model_digest
