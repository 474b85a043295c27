"""The field's evaluation protocols (coco_pipe.decoding.protocols) as CV strategies: what
each fold may hold, the same folds as MOABB's splitters, and results per subject (summary
over subjects, MOABB's results frame) from experiments on the real Kalunga2016 slice."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from moabb.evaluations.splitters import CrossSessionSplitter, CrossSubjectSplitter

from coco_pipe.data import validate_inputs
from coco_pipe.decoding import Experiment
from coco_pipe.decoding.configs import CVConfig
from coco_pipe.decoding.protocols import CrossSession, CrossSubject, FewShot, WithinSubject
from coco_pipe.decoding.splits import fitting_view, make_splits


@pytest.fixture(scope="module")
def trials():
    """4 subjects with 2, 2, 3 and 2 sessions, 3 classes, unequal class counts."""
    rng = np.random.default_rng(0)
    rows = []
    for subject, n_sessions in zip([1, 2, 3, 4], [2, 2, 3, 2], strict=True):
        for session in range(n_sessions):
            labels = ["a"] * 6 + ["b"] * 6 + ["c"] * (5 + subject % 2)
            for label in rng.permutation(labels):
                rows.append({"Subject": subject, "session": str(session), "y": label})
    return pd.DataFrame(rows)


def _sets(meta, idx, col):
    return set(meta[col].to_numpy()[idx].tolist())


def _pairs(meta, idx):
    return set(zip(meta.Subject.to_numpy()[idx], meta.session.to_numpy()[idx], strict=True))


def test_within_subject_folds_stay_in_one_subject(trials):
    y, subj = trials.y.to_numpy(), trials.Subject.to_numpy()
    folds = list(WithinSubject(n_splits=3, random_state=0).split(y, subj))
    assert len(folds) == 4 * 3
    for tr, te in folds:
        assert len(_sets(trials, tr, "Subject") | _sets(trials, te, "Subject")) == 1
        assert not set(tr) & set(te)
        for cls in "abc":  # stratified: every class on both sides
            assert (y[te] == cls).sum() >= 1 and (y[tr] == cls).sum() >= 1
    # every trial is tested exactly once
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested.tolist()) == list(range(len(y)))


def test_within_session_folds_stay_in_one_session(trials):
    y, subj, sess = (trials[c].to_numpy() for c in ("y", "Subject", "session"))
    folds = list(WithinSubject(n_splits=2, random_state=0).split(y, subj, sess))
    assert len(folds) == 2 * trials.groupby(["Subject", "session"]).ngroups
    for tr, te in folds:
        assert len(_pairs(trials, tr) | _pairs(trials, te)) == 1


def test_cross_session_never_shares_a_session_and_matches_moabb(trials):
    y, subj, sess = (trials[c].to_numpy() for c in ("y", "Subject", "session"))
    folds = list(CrossSession().split(y, subj, sess))
    assert len(folds) == trials.groupby(["Subject", "session"]).ngroups
    for tr, te in folds:
        assert len(_sets(trials, tr, "Subject") | _sets(trials, te, "Subject")) == 1
        assert not _sets(trials, tr, "session") & _sets(trials, te, "session")
        # training = all the subject's other sessions
        subject = _sets(trials, te, "Subject").pop()
        assert len(tr) + len(te) == (trials.Subject == subject).sum()
    moabb = list(CrossSessionSplitter().split(y, trials.rename(columns={"Subject": "subject"})))
    assert [(tr.tolist(), te.tolist()) for tr, te in folds] == [
        (sorted(tr.tolist()), sorted(te.tolist())) for tr, te in moabb]


def test_cross_subject_is_leave_one_subject_out_and_matches_moabb(trials):
    y, subj = trials.y.to_numpy(), trials.Subject.to_numpy()
    folds = list(CrossSubject().split(y, subj))
    assert [_sets(trials, te, "Subject") for _, te in folds] == [{1}, {2}, {3}, {4}]
    for tr, te in folds:
        assert not _sets(trials, tr, "Subject") & _sets(trials, te, "Subject")
        assert len(tr) + len(te) == len(y)
    moabb = CrossSubjectSplitter().split(y, trials.rename(columns={"Subject": "subject"}))
    assert [te.tolist() for _, te in folds] == [sorted(te.tolist()) for _, te in moabb]
    # the same folds as today's leave_one_group_out
    data = validate_inputs(np.zeros((len(y), 2)), y, trials, group_key="Subject")
    logo = make_splits(CVConfig(strategy="leave_one_group_out", group_key="Subject"), data, 0)
    ours = make_splits(CVConfig(strategy="cross_subject"), data, 0)
    assert [(a.tolist(), b.tolist()) for a, b in logo] == [(a.tolist(), b.tolist()) for a, b in ours]


@pytest.mark.parametrize("shuffle", [True, False])
def test_few_shot_target_trials_only_in_training_exactly_k_per_class(trials, shuffle):
    y, subj = trials.y.to_numpy(), trials.Subject.to_numpy()
    k = 3
    folds = list(FewShot(n_shots=k, shuffle=shuffle, random_state=1).split(y, subj))
    assert len(folds) == 4
    for tr, te in folds:
        target = _sets(trials, te, "Subject")
        assert len(target) == 1
        target = target.pop()
        shots = tr[subj[tr] == target]
        assert sorted(np.unique(y[shots], return_counts=True)[1].tolist()) == [k, k, k]
        assert not set(shots) & set(te)  # calibration trials are never tested
        assert set(shots) | set(te) == set(np.flatnonzero(subj == target))
        assert set(np.flatnonzero(subj != target)) <= set(tr)  # every other subject trains
        if not shuffle:  # the first k trials of each class, in trial order
            first = [np.flatnonzero((subj == target) & (y == c))[:k] for c in "abc"]
            assert sorted(shots.tolist()) == sorted(np.concatenate(first).tolist())
    again = list(FewShot(n_shots=k, shuffle=shuffle, random_state=1).split(y, subj))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(folds, again, strict=True))


def test_protocol_errors_say_what_to_change(trials):
    y, subj, sess = (trials[c].to_numpy() for c in ("y", "Subject", "session"))
    with pytest.raises(ValueError, match="single session"):
        list(CrossSession().split(y, subj, np.zeros(len(y))))
    with pytest.raises(ValueError, match="needs sessions: set cv.session_key"):
        list(CrossSession().split(y, subj))
    with pytest.raises(ValueError, match="subject 1.*at least cv.n_splits=13"):
        list(WithinSubject(n_splits=13).split(y, subj))
    with pytest.raises(ValueError, match=r"subject 2 has 10 trial\(s\) of class 'c'.*cv.n_shots=10"):
        list(FewShot(n_shots=10).split(y, subj))
    with pytest.raises(ValueError, match="at least 2 subjects"):
        list(CrossSubject().split(y, np.ones(len(y))))
    data = validate_inputs(np.zeros((len(y), 2)), y, trials, group_key="Subject")
    with pytest.raises(ValueError, match="cv.session_key='day' is not a column"):
        make_splits(CVConfig(strategy="cross_session", session_key="day"), data, 0)


def test_cv_config_defaults_for_protocols():
    assert CVConfig(strategy="within_subject").group_key == "Subject"
    assert CVConfig(strategy="within_subject").session_key is None
    cfg = CVConfig(strategy="cross_session", group_key="subject")
    assert (cfg.group_key, cfg.session_key) == ("subject", "session")
    assert CVConfig(strategy="few_shot", n_shots=2).n_shots == 2
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        CVConfig(strategy="few_shot", n_shots=0)


def test_fitting_sees_no_groups_inside_one_subject(trials):
    y = trials.y.to_numpy()
    data = validate_inputs(np.zeros((len(y), 2)), y, trials, group_key="Subject")
    for strategy in ("within_subject", "cross_session"):
        assert fitting_view(CVConfig(strategy=strategy), data).groups is None
    for strategy in ("cross_subject", "few_shot", "leave_one_group_out"):
        view = fitting_view(CVConfig(strategy=strategy, group_key="Subject"), data)
        assert view is data


# ------------------------------------------------- experiments on the real slice
def _cfg(tracking_uri, cv, models=None):
    return {
        "models": models or {"ts_lr": {"estimator": "TangentSpace_LR"}},
        "cv": cv,
        "metrics": ["balanced_accuracy", "accuracy"],
        "tracking": {"tracking_uri": tracking_uri, "experiment_name": "protocols",
                     "log_plots": False, "tags": {"dataset": "Kalunga2016-slice"}},
        "verbose": False,
        "on_error": "raise",
    }


@pytest.fixture(scope="module")
def within_session(kalunga_slice, tmp_path_factory, _template_store):
    import shutil

    path = tmp_path_factory.mktemp("store") / "mlruns.db"
    shutil.copy(_template_store, path)
    cv = {"strategy": "within_subject", "n_splits": 2, "session_key": "session"}
    return Experiment(_cfg(f"sqlite:///{path}", cv)).run(**kalunga_slice.run_kwargs())


def test_folds_carry_subject_and_session(within_session, kalunga_slice):
    folds = within_session.get_fold_runs()
    assert len(folds) == 2 * 2 * 2 * 2  # models x subjects x sessions x splits
    client = mlflow.tracking.MlflowClient(within_session.tracking_uri)
    meta = kalunga_slice.metadata
    for run_id, subject in zip(folds.RunId, folds.TestGroups, strict=True):
        tags = client.get_run(run_id).data.tags
        assert tags["test_sessions"] in {"0", "1"}
        assert subject in {"1", "2"}
        assert int(tags["n_test"]) == 4 and int(tags["n_train"]) == 4
    scores = within_session.get_subject_scores(by_session=True)
    assert set(zip(scores.Subject, scores.Session, strict=True)) == set(
        zip(meta.Subject.astype(str), meta.session, strict=True))
    assert set(scores.n_folds) == {2}


def test_summary_is_mean_and_sd_over_subjects(within_session):
    table = within_session.summary()
    per_subject = within_session.get_subject_scores()
    row = table[(table.Model == "ts_lr") & (table.Metric == "balanced_accuracy")].iloc[0]
    vals = per_subject[(per_subject.Model == "ts_lr")
                       & (per_subject.Metric == "balanced_accuracy")].Value.to_numpy()
    assert len(vals) == 2 and row.n_subjects == 2
    assert row.Mean == pytest.approx(vals.mean()) and row.Std == pytest.approx(vals.std(ddof=1))
    folds = within_session.summary(over="folds")
    assert "n_subjects" not in folds.columns
    fold_vals = within_session.get_detailed_scores()
    fold_vals = fold_vals[(fold_vals.Model == "ts_lr") & (fold_vals.Metric == "balanced_accuracy")]
    frow = folds[(folds.Model == "ts_lr") & (folds.Metric == "balanced_accuracy")].iloc[0]
    assert frow.Std == pytest.approx(fold_vals.Value.std(ddof=0))


def test_to_moabb_feeds_moabb_statistics(within_session):
    from moabb.analysis.meta_analysis import (
        compute_dataset_statistics,
        find_significant_differences,
    )
    from moabb.analysis.plotting import score_plot

    frame = within_session.to_moabb()
    assert list(frame.columns) == ["score", "time", "samples", "samples_test", "subject",
                                   "session", "channels", "n_sessions", "dataset", "pipeline"]
    assert len(frame) == 2 * 2  # ts_lr x subjects x sessions (chance left out)
    assert set(frame.pipeline) == {"ts_lr"} and set(frame.dataset) == {"Kalunga2016-slice"}
    assert set(frame.channels) == {8} and set(frame.n_sessions) == {2}
    scores = within_session.get_subject_scores(by_session=True)
    ts = scores[(scores.Model == "ts_lr") & (scores.Metric == "balanced_accuracy")]
    np.testing.assert_allclose(np.sort(frame.score), np.sort(ts.Value))
    both = within_session.to_moabb(include_chance=True)
    stats = compute_dataset_statistics(both, perm_cutoff=20)
    assert set(stats.pipe1) == {"ts_lr", "chance"} and set(stats.nsub) == {2}
    assert np.isfinite(stats.p).all()
    find_significant_differences(stats)
    fig = score_plot(both)[0]
    assert fig.axes
    with pytest.raises(ValueError, match="was not recorded"):
        within_session.to_moabb(metric="roc_auc")


@pytest.mark.parametrize("cv", [
    {"strategy": "cross_session"},
    {"strategy": "cross_subject"},
    {"strategy": "few_shot", "n_shots": 1},
], ids=lambda cv: cv["strategy"])
def test_protocols_run_on_real_data(kalunga_slice, tracking_uri, cv):
    res = Experiment(_cfg(tracking_uri, cv)).run(**kalunga_slice.run_kwargs())
    folds = res.get_fold_runs()
    assert (folds.Status == "FINISHED").all()
    n_folds = {"cross_session": 4, "cross_subject": 2, "few_shot": 2}[cv["strategy"]]
    assert len(folds) == 2 * n_folds
    if cv["strategy"] == "few_shot":  # the other subject + 1 trial per class of the target
        assert set(folds.n_train) == {16 + 4} and set(folds.n_test) == {16 - 4}
    table = res.summary()
    assert set(table.n_subjects) == {2}
    assert len(res.to_moabb()) == (4 if cv["strategy"] == "cross_session" else 2)


def test_group_kfold_has_no_per_subject_scores(kalunga_slice, tracking_uri):
    meta = kalunga_slice.metadata
    meta = meta.assign(Pair=meta.Subject.astype(str) + "-" + meta.session)  # 4 groups
    cv = {"strategy": "group_kfold", "n_splits": 2, "group_key": "Pair"}
    res = Experiment(_cfg(tracking_uri, cv)).run(kalunga_slice.X, kalunga_slice.y, meta,
                                                 sfreq=kalunga_slice.sfreq)
    assert "n_subjects" not in res.summary().columns  # folds, as before
    with pytest.raises(ValueError, match="tests subjects .*need folds that each test one"):
        res.to_moabb()


def test_neural_training_inside_one_subject(kalunga_slice, tracking_uri):
    """Within a subject the early-stopping split cannot be grouped by subject: it is drawn
    from the subject's own training trials."""
    models = {"eegnet": {"kind": "neural", "model_key": "eegnet",
                         "optim": {"epochs": 1, "batch_size": 8},
                         "early_stopping_patience": None, "validation_fraction": 0.25,
                         "device": {"device": "cpu"}}}
    cfg = _cfg(tracking_uri, {"strategy": "within_subject", "n_splits": 2}, models)
    cfg["chance"] = {"dummy": False}
    res = Experiment(cfg).run(**kalunga_slice.run_kwargs())
    folds = res.get_fold_runs()
    assert len(folds) == 4 and (folds.Status == "FINISHED").all()
