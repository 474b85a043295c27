"""Optuna tuning inside the outer fold's training partition: no leakage, pruning, a tuned
model beating a deliberately poor default, shared studies, nested MLflow runs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import warnings

import mlflow
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from coco_pipe import Experiment
from coco_pipe.data import validate_inputs
from coco_pipe.decoding import registry as est_mod
from coco_pipe.decoding.configs import (
    ChanceConfig,
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    ParamSpec,
    TrackingConfig,
    TuningConfig,
)
from coco_pipe.decoding.metrics import resolve_metrics
from coco_pipe.decoding.tuning import (
    SURPLUS_ATTR,
    WORKER_ATTR,
    apply_params,
    check_search_space,
    tune_model,
)

N_TRIALS = 6
N_FOLDS = 4
INNER_CV = 3

# ---------------------------------------------------------------------------------------------
# a registered classical estimator that records every row it is fit or scored on
# ---------------------------------------------------------------------------------------------
SEEN: list[tuple[str, str, frozenset]] = []  # (tag, "fit" | "predict", row digests)


def _row_keys(X) -> frozenset:
    X = np.asarray(X, dtype=np.float32)
    return frozenset(
        hashlib.blake2b(np.ascontiguousarray(r).tobytes(), digest_size=10).digest() for r in X
    )


class RecordingLogReg(ClassifierMixin, BaseEstimator):
    """Logistic regression on flattened, standardized epochs; records the rows it sees."""

    def __init__(self, tag="", C=1.0, l1_ratio=0.0, solver="lbfgs", max_iter=300):
        self.tag = tag
        self.C = C
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.max_iter = max_iter

    def fit(self, X, y):
        SEEN.append((self.tag, "fit", _row_keys(X)))
        clf = LogisticRegression(
            C=self.C, l1_ratio=self.l1_ratio, solver=self.solver, max_iter=self.max_iter
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipe_ = make_pipeline(StandardScaler(), clf).fit(
                np.asarray(X).reshape(len(X), -1), y
            )
        self.classes_ = self.pipe_.classes_
        return self

    def predict(self, X):
        SEEN.append((self.tag, "predict", _row_keys(X)))
        return self.pipe_.predict(np.asarray(X).reshape(len(X), -1))

    def predict_proba(self, X):
        SEEN.append((self.tag, "predict", _row_keys(X)))
        return self.pipe_.predict_proba(np.asarray(X).reshape(len(X), -1))


# L1 logistic regression with C far too small: every weight is exactly zero, so it predicts
# one class (balanced accuracy 0.5); C around 0.1-1 decodes the planted effect.
POOR = {"C": 1e-4, "l1_ratio": 1.0, "solver": "liblinear"}
C_SPACE = {"params.C": ParamSpec(type="float", low=1e-4, high=10.0, log=True)}


@pytest.fixture(scope="module")
def small_mi():
    """Built-in synthetic motor imagery, small: 4 subjects x 60 epochs, 19 ch x 400 samples."""
    from coco_pipe.datasets import make_motor_imagery

    return make_motor_imagery(n_subjects=4, n_epochs_per_class=30, sfreq=100.0, tmax=4.0,
                              random_state=0, return_epochs=False)  # fmt: skip


@pytest.fixture(scope="module")
def tuned_run(small_mi, tmp_path_factory):
    """One experiment shared by the leakage, tuned-beats-default and tracking tests: the
    same poor recording estimator twice, once untuned ('default') and once tuned."""
    root = tmp_path_factory.mktemp("tuned-run")
    X, y, meta, _ = small_mi
    est_mod.classical_names()  # load the built-ins before adding ours
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLFLOW_RUN_ID", raising=False)
        mp.setitem(est_mod.CLASSICAL_REGISTRY, "RecordingLogReg",
                   est_mod.ClassicalEntry("RecordingLogReg", RecordingLogReg, ("classification",), True))  # fmt: skip
        SEEN.clear()
        uri = f"sqlite:///{root}/mlruns.db"
        cfg = ExperimentConfig(
            models={
                "default": ClassicalModelConfig(estimator="RecordingLogReg", params={"tag": "default", **POOR}),
                "tuned": ClassicalModelConfig(estimator="RecordingLogReg", params={"tag": "tuned", **POOR}),
            },
            metrics=["balanced_accuracy"],
            cv=CVConfig(strategy="group_kfold", n_splits=N_FOLDS, group_key="Subject"),
            tuning=TuningConfig(enabled=True, n_trials=N_TRIALS, sampler="tpe", pruner="median",
                                n_startup_trials=2, inner_cv=INNER_CV, search_space={"tuned": C_SPACE}),
            tracking=TrackingConfig(tracking_uri=uri, experiment_name="tune", log_plots=False),
            chance=ChanceConfig(dummy=False),
            verbose=False,
            on_error="raise",
        )  # fmt: skip
        res = Experiment(cfg).run(X, y, meta)
        seen = list(SEEN)
    return res, seen, uri, X


def test_inner_tuning_never_sees_the_outer_test_partition(tuned_run):
    res, seen, _, X = tuned_run
    keys = [next(iter(_row_keys(X[i : i + 1]))) for i in range(len(X))]
    preds = res.get_predictions()
    preds = preds[preds.Model == "tuned"]
    test_rows = {k: set(g.SampleIndex) for k, g in preds.groupby("Fold")}
    assert sorted(test_rows) == list(range(N_FOLDS))
    all_rows = set(range(len(X)))
    records = [r for r in seen if r[0] == "tuned"]
    pos = 0
    for k in range(N_FOLDS):  # folds run in order: tuning calls, refit on train_k, predict test_k
        test_k = frozenset(keys[i] for i in test_rows[k])
        train_k = frozenset(keys[i] for i in all_rows - test_rows[k])
        refit = next(
            i
            for i in range(pos, len(records))
            if records[i][1] == "fit" and records[i][2] == train_k
        )
        tuning_calls = records[pos:refit]
        n_fits = sum(phase == "fit" for _, phase, _ in tuning_calls)
        assert n_fits >= INNER_CV  # at least one whole trial ran inside this fold
        for _, _, rows in tuning_calls:
            assert not rows & test_k, f"fold {k}: tuning touched {len(rows & test_k)} test rows"
            assert rows <= train_k
            assert rows != train_k  # inner splits are strict parts of the training partition
        after = [r for r in records[refit + 1 :]]
        nxt = next((i for i, r in enumerate(after) if r[1] == "fit"), len(after))
        assert after[:nxt] and all(r[2] == test_k for r in after[:nxt])  # the outer test scoring
        pos = refit + 1 + nxt
    assert pos == len(records)


def test_tuned_model_beats_poor_default(tuned_run):
    res, _, uri, _ = tuned_run
    summary = res.summary()
    ba = summary[summary.Metric == "balanced_accuracy"].set_index("Model")["Mean"]
    assert ba["default"] == pytest.approx(0.5, abs=0.02)  # the default really is poor
    assert ba["tuned"] > ba["default"] + 0.1
    client = mlflow.tracking.MlflowClient(uri)
    folds = res.get_fold_runs()
    for run_id in folds[folds.Model == "tuned"].RunId:
        assert float(client.get_run(run_id).data.params["tuning.best.params.C"]) > 1e-3


def test_trials_are_nested_runs_under_fold_runs(tuned_run):
    res, _, uri, _ = tuned_run
    client = mlflow.tracking.MlflowClient(uri)
    exp = client.get_experiment_by_name("tune")
    trials = client.search_runs(
        [exp.experiment_id], "tags.`coco_pipe.role` = 'trial'", max_results=1000
    )
    folds = res.get_fold_runs()
    tuned_folds = dict(
        zip(folds[folds.Model == "tuned"].RunId, folds[folds.Model == "tuned"].Fold, strict=True)
    )
    assert len(trials) == N_FOLDS * N_TRIALS
    by_fold: dict[str, list] = {}
    for t in trials:
        by_fold.setdefault(t.data.tags["mlflow.parentRunId"], []).append(t)
    assert set(by_fold) == set(tuned_folds)  # only tuned model's fold runs have trials
    for fold_run_id, runs in by_fold.items():
        fold_run = client.get_run(fold_run_id)
        assert fold_run.data.tags["coco_pipe.role"] == "fold"
        assert sorted(int(r.data.tags["optuna.trial_number"]) for r in runs) == list(
            range(N_TRIALS)
        )
        for r in runs:
            state = r.data.tags["trial.state"]
            assert state in {"COMPLETE", "PRUNED"}
            assert r.info.status == ("FINISHED" if state == "COMPLETE" else "KILLED")
            assert ("value" in r.data.metrics) == (state == "COMPLETE")
            assert 1e-4 <= float(r.data.params["params.C"]) <= 10
        values = [r.data.metrics["value"] for r in runs if "value" in r.data.metrics]
        params, metrics = fold_run.data.params, fold_run.data.metrics
        assert metrics["tuning.best_value"] == pytest.approx(max(values))
        assert metrics["tuning.n_trials"] == N_TRIALS
        assert metrics["tuning.n_pruned"] == sum(
            r.data.tags["trial.state"] == "PRUNED" for r in runs
        )
        best_Cs = {
            r.data.params["params.C"] for r in runs if r.data.metrics.get("value") == max(values)
        }
        assert params["tuning.best.params.C"] in best_Cs  # (trials may tie on the best value)
        arts = [a.path for a in client.list_artifacts(fold_run_id, "tuning")]
        assert arts == ["tuning/study_summary.csv"]


# ---------------------------------------------------------------------------------------------
# pruning
# ---------------------------------------------------------------------------------------------
def test_median_pruner_stops_bad_classical_trials(small_mi):
    X, y, meta, _ = small_mi
    data = validate_inputs(X, y, meta, group_key="Subject")
    train_idx = np.flatnonzero(data.groups != data.groups[0])  # one outer fold: 3 subjects
    tuning = TuningConfig(enabled=True, n_trials=10, sampler="random", pruner="median",
                          n_startup_trials=2, inner_cv=3)  # fmt: skip
    space = {"params.C": ParamSpec(type="float", low=1e-6, high=10.0, log=True)}
    cfg = ClassicalModelConfig(estimator="LogisticRegression", params=POOR)
    out = tune_model("lr", cfg, space, data=data, train_idx=train_idx, tuning=tuning,
                     metrics=resolve_metrics(["balanced_accuracy"], "classification"),
                     task="classification", tracker=None, fold_run_id=None, random_state=3,
                     info=data.info)  # fmt: skip
    states = out.study_summary.state.tolist()
    assert out.n_trials == 10 and len(states) == 10
    assert out.n_pruned > 0 and out.n_pruned == states.count("PRUNED")
    assert out.n_complete == states.count("COMPLETE") >= 2
    pruned = out.study_summary[out.study_summary.state == "PRUNED"]
    assert (
        pruned["params_params.C"] < out.best_params["params.C"]
    ).all()  # the too-small C were stopped
    assert (pruned["value"] < out.best_value).all()  # (a pruned trial's value: its last report)
    assert out.best_config.params["C"] == out.best_params["params.C"]
    assert out.best_config.params["solver"] == "liblinear"  # the rest of the config is kept


class EpochwiseLogReg(ClassifierMixin, BaseEstimator):
    """Logistic regression trained epoch by epoch with the NeuralDecoder callback contract:
    ``epoch_callback(row)`` after each epoch with ``val_loss`` / ``val_balanced_accuracy``
    measured on a split carved from the data given to ``fit``. It starts from random
    weights, so a tiny learning rate stays near chance."""

    def __init__(self, lr=0.1, epochs=8, epoch_callback=None):
        self.lr = lr
        self.epochs = epochs
        self.epoch_callback = epoch_callback

    def fit(self, X, y):
        from sklearn.metrics import balanced_accuracy_score

        X = np.asarray(X, float)
        self.classes_, t = np.unique(y, return_inverse=True)
        val = np.arange(len(y)) % 5 == 0
        w, b = np.random.default_rng(0).normal(scale=0.5, size=X.shape[1]), 0.0  # a random start
        self.epochs_run_ = 0
        for epoch in range(1, self.epochs + 1):
            p = 1 / (1 + np.exp(-(X[~val] @ w + b)))
            w -= self.lr * X[~val].T @ (p - t[~val]) / (~val).sum()
            b -= self.lr * float(np.mean(p - t[~val]))
            self.coef_, self.intercept_ = w, b
            self.epochs_run_ = epoch
            pv = np.clip(1 / (1 + np.exp(-(X[val] @ w + b))), 1e-9, 1 - 1e-9)
            row = {"epoch": epoch, "val_loss": float(-np.mean(t[val] * np.log(pv) + (1 - t[val]) * np.log(1 - pv))),
                   "val_balanced_accuracy": balanced_accuracy_score(t[val], pv > 0.5)}  # fmt: skip
            if self.epoch_callback is not None and self.epoch_callback(row) is True:
                break
        return self

    def predict(self, X):
        return self.classes_[(np.asarray(X, float) @ self.coef_ + self.intercept_ > 0).astype(int)]


def test_median_pruner_stops_bad_epoch_trained_trials(monkeypatch):
    """Per-epoch reports through ``epoch_callback`` (the NeuralDecoder contract): trials with
    a hopeless learning rate are stopped in the middle of training."""
    est_mod.classical_names()
    monkeypatch.setitem(est_mod.CLASSICAL_REGISTRY, "EpochwiseLogReg",
                        est_mod.ClassicalEntry("EpochwiseLogReg", EpochwiseLogReg, ("classification",)))  # fmt: skip
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 60)
    data = validate_inputs(rng.normal(size=(120, 10)) + 1.5 * y[:, None] * (np.arange(10) < 3), y)
    epochs, inner_cv = 8, 2
    cfg = ClassicalModelConfig(estimator="EpochwiseLogReg", params={"epochs": epochs})
    tuning = TuningConfig(enabled=True, n_trials=10, sampler="random", pruner="median",
                          n_startup_trials=2, inner_cv=inner_cv)  # fmt: skip
    space = {"params.lr": ParamSpec(type="float", low=1e-3, high=10.0, log=True)}
    out = tune_model("sgd", cfg, space, data=data, train_idx=np.arange(90), tuning=tuning,
                     metrics=resolve_metrics(["balanced_accuracy"], "classification"),
                     task="classification", tracker=None, fold_run_id=None, random_state=0,
                     info=data.info)  # fmt: skip
    assert out.n_pruned > 0
    for t in out.study.trials:
        steps = sorted(t.intermediate_values)
        if t.state.name == "COMPLETE":  # one report per epoch of every inner fold
            assert steps == list(range(inner_cv * epochs))
        else:  # stopped before the end of training
            assert t.state.name == "PRUNED" and len(steps) < inner_cv * epochs
            assert t.params["params.lr"] < out.best_params["params.lr"]


@pytest.mark.slow
def test_median_pruner_stops_bad_neural_trials():
    """The same with a real NeuralDecoder (EEGNet from scratch, CPU): slow."""
    import torch

    from coco_pipe.datasets import make_motor_imagery
    from coco_pipe.decoding.configs import DeviceConfig, NeuralFineTuneConfig, OptimConfig

    torch.set_num_threads(2)
    chs = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz"]
    X, y, meta, _ = make_motor_imagery(n_subjects=4, n_epochs_per_class=20, sfreq=100.0, tmax=1.5,
                                       effect_size=2.0, ch_names=chs, random_state=0,
                                       return_epochs=False)  # fmt: skip
    data = validate_inputs(X * 1e5, y, meta, sfreq=100.0, ch_names=chs)
    cfg = NeuralFineTuneConfig(model_key="eegnet", scratch_sfreq=100.0, early_stopping_patience=None,
                               optim=OptimConfig(epochs=5, batch_size=32), device=DeviceConfig(device="cpu"))  # fmt: skip
    tuning = TuningConfig(enabled=True, n_trials=6, sampler="random", pruner="median",
                          n_startup_trials=2, inner_cv=2)  # fmt: skip
    space = {"optim.lr": ParamSpec(type="float", low=1e-7, high=3e-2, log=True)}
    out = tune_model("net", cfg, space, data=data, train_idx=np.flatnonzero(meta.Subject != "sub-01"),
                     tuning=tuning, metrics=resolve_metrics(["balanced_accuracy"], "classification"),
                     task="classification", tracker=None, fold_run_id=None, random_state=0,
                     info=data.info)  # fmt: skip
    assert out.n_pruned > 0
    for t in out.study.trials:
        if t.state.name == "PRUNED":
            assert len(t.intermediate_values) < 2 * 5


# ---------------------------------------------------------------------------------------------
# two worker processes on one study: SQLite, and PostgreSQL (a real server, tests/servers.py)
# ---------------------------------------------------------------------------------------------
_WORKER = textwrap.dedent(
    """
    import json, pathlib, sys, time
    import numpy as np, pandas as pd
    from coco_pipe.decoding.configs import ExperimentConfig
    from coco_pipe.decoding.tuning import run_tuning_worker

    storage, me, other, n_trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 60)
    X = rng.normal(size=(120, 30)) + 0.6 * y[:, None] * (np.arange(30) < 5)
    meta = pd.DataFrame({"Subject": np.repeat(["s1", "s2", "s3", "s4"], 30)})
    cfg = ExperimentConfig(
        models={"lr": {"estimator": "LogisticRegression", "params": {"max_iter": 200}}},
        metrics=["balanced_accuracy"], cv={"strategy": "group_kfold", "n_splits": 4, "group_key": "Subject"},
        tuning={"enabled": True, "n_trials": n_trials, "sampler": "random", "pruner": "none",
                "storage": storage, "study_name": "shared", "wait_for_workers": 60,
                "search_space": {"lr": {"params.C": {"type": "float", "low": 1e-3, "high": 10, "log": True}}}},
        verbose=False,
    )
    pathlib.Path(me).touch()  # start together, so that both workers take part
    deadline = time.time() + 60
    while not pathlib.Path(other).exists() and time.time() < deadline:
        time.sleep(0.01)
    out = run_tuning_worker(cfg, X, y, meta, model="lr", fold=0)[("lr", 0)]
    print(json.dumps({"n_trials": out.n_trials, "study": out.study_name, "best": out.best_value}))
    """
)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def test_two_workers_share_one_study(tmp_path, request, backend):
    import optuna

    n_trials = 8
    if backend == "sqlite":
        storage = f"sqlite:///{tmp_path}/optuna.db"
    else:
        storage = request.getfixturevalue("postgres").create_database("two_workers")
    a, b = str(tmp_path / "ready-a"), str(tmp_path / "ready-b")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, storage, me, other, str(n_trials)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for me, other in [(a, b), (b, a)]
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert [r["n_trials"] for r in reports] == [n_trials, n_trials]
    assert reports[0]["study"] == reports[1]["study"] == "shared-lr-fold0"
    assert reports[0]["best"] == reports[1]["best"]

    study = optuna.load_study(study_name="shared-lr-fold0", storage=storage)
    trials = [t for t in study.trials if not t.user_attrs.get(SURPLUS_ATTR)]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == n_trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs[WORKER_ATTR] for t in trials}
    assert len(workers) == 2  # both processes ran trials
    assert len({t.params["params.C"] for t in trials}) == n_trials  # the workers' samplers differ


# ---------------------------------------------------------------------------------------------
# search-space validation
# ---------------------------------------------------------------------------------------------
def test_check_search_space_rejects_bad_paths_and_values():
    cfg = ClassicalModelConfig(estimator="LogisticRegression")
    check_search_space(cfg, C_SPACE)
    with pytest.raises(
        ValueError, match=r"'params\.c'.*did you mean params\.C.*valid paths: .*params\.max_iter"
    ):
        check_search_space(cfg, {"params.c": ParamSpec(type="float", low=0.1, high=1)})
    with pytest.raises(ValueError, match=r"'optim\.lr' does not address.*valid paths: .*scale"):
        check_search_space(cfg, {"optim.lr": ParamSpec(type="float", low=1e-4, high=1e-2)})
    with pytest.raises(ValueError, match=r"params\.C.*-1\.0"):  # scikit-learn rejects C <= 0
        check_search_space(cfg, {"params.C": ParamSpec(type="float", low=-1, high=1)})


def test_check_search_space_neural_and_frozen_paths():
    from coco_pipe.decoding.configs import (
        FoundationEmbeddingModelConfig,
        FrozenBackboneDecoderConfig,
        NeuralFineTuneConfig,
    )

    neural = NeuralFineTuneConfig(model_key="eegnet", weights="random", train_mode="full")
    space = {
        "optim.lr": ParamSpec(type="float", low=1e-5, high=1e-2, log=True),
        "optim.weight_decay": ParamSpec(type="float", low=0.0, high=0.1),
        "lora.r": ParamSpec(type="categorical", choices=[4, 8, 16]),
        "head.dropout": ParamSpec(type="float", low=0.0, high=0.5),
    }
    check_search_space(neural, space)
    tuned = apply_params(neural, {"optim.lr": 3e-4, "lora.r": 8})
    assert (tuned.optim.lr, tuned.lora.r, tuned.optim.epochs) == (3e-4, 8, neural.optim.epochs)
    with pytest.raises(ValueError, match=r"lora\.rank.*did you mean lora\.r\b"):
        check_search_space(neural, {"lora.rank": ParamSpec(type="int", low=2, high=8)})
    with pytest.raises(ValueError, match=r"lora\.r.*0"):  # LoRAConfig.r >= 1
        check_search_space(neural, {"lora.r": ParamSpec(type="int", low=0, high=8)})
    frozen = FrozenBackboneDecoderConfig(
        backbone=FoundationEmbeddingModelConfig(model_key="labram", weights="random"),
        head=ClassicalModelConfig(estimator="LogisticRegression"),
    )
    check_search_space(
        frozen, {"head.params.C": ParamSpec(type="float", low=1e-3, high=1, log=True)}
    )
    with pytest.raises(ValueError, match=r"'params\.C'.*did you mean head\.params\.C"):
        check_search_space(frozen, {"params.C": ParamSpec(type="float", low=1e-3, high=1)})


def test_grid_sampler_needs_a_finite_grid():
    with pytest.raises(ValueError, match=r"search_space\['m'\]\['params\.C'\].*step"):
        TuningConfig(
            sampler="grid",
            search_space={"m": {"params.C": {"type": "float", "low": 0.1, "high": 1}}},
        )
    cfg = TuningConfig(sampler="grid", search_space={"m": {
        "params.C": {"type": "float", "low": 0.5, "high": 2.0, "step": 0.5},
        "params.solver": {"type": "categorical", "choices": ["lbfgs", "liblinear"]}}})  # fmt: skip
    assert cfg.search_space["m"]["params.C"].grid_values() == [0.5, 1.0, 1.5, 2.0]


def test_grid_sampler_runs_each_point_once():
    rng = np.random.default_rng(1)
    y = np.tile([0, 1], 30)
    data = validate_inputs(rng.normal(size=(60, 6)) + y[:, None], y)
    space = {"params.C": ParamSpec(type="categorical", choices=[0.01, 0.1, 1.0])}
    tuning = TuningConfig(enabled=True, n_trials=10, sampler="grid", pruner="none", inner_cv=2)
    out = tune_model("lr", ClassicalModelConfig(), space, data=data, train_idx=np.arange(40), tuning=tuning,
                     metrics=resolve_metrics(["balanced_accuracy"], "classification"),
                     task="classification", tracker=None, fold_run_id=None, random_state=0,
                     info=data.info)  # fmt: skip
    assert out.n_trials == 3  # capped at the grid size
    assert sorted(out.study_summary["params_params.C"]) == [0.01, 0.1, 1.0]
