"""Benchmark: one experiment of 3 models x 5 folds run sequentially, with joblib (2 local
worker processes) and on a local Ray cluster (2 CPUs); wall times printed as ratios.

The models are classical pipelines with seconds of work per fold (tangent-space logistic
regression, CSP + LDA, logistic regression on the flattened windows), on synthetic motor
imagery of 5 subjects. Every backend gets the same scores (checked here too).

Besides the wall times it prints where the time of a parallel run goes:

- *fold compute*: the sum over folds of their fit + predict seconds (``fit_seconds`` and
  ``predict_seconds`` of the fold runs), and its half, the ideal wall time on 2 workers;
- *the rest*: worker start-up (Python + coco-pipe imports in each new process, a Ray
  cluster's start), the driver's tracking writes (run creation, the spool's replay into
  SQLite, model runs, statistics, plots) and the data handed to workers once.

Run::

    python benchmarks/parallel.py            # about 10 minutes on a 2-core machine
    python benchmarks/parallel.py --epochs-per-class 40   # less work per fold

The second joblib and Ray runs reuse the worker processes of the first (joblib's reusable
loky pool, Ray's worker pool): their difference to the first is the workers' start-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import mlflow
import pandas as pd

from coco_pipe import Experiment
from coco_pipe.datasets import make_motor_imagery
from coco_pipe.decoding.configs import ExperimentConfig


def config(uri: str, backend: str) -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "models": {
            "tangent": {"estimator": "TangentSpace_LR"},
            "csp": {"estimator": "CSP_LDA"},
            "logreg": {"estimator": "LogisticRegression", "params": {"max_iter": 2000, "C": 0.01}},
        },
        "cv": {"strategy": "group_kfold", "n_splits": 5, "group_key": "Subject"},
        "tracking": {"tracking_uri": uri, "experiment_name": f"bench-{backend}", "log_plots": False},
        "chance": {"dummy": False},
        "execution": {"backend": backend, "n_jobs": 2, "cpus_per_fold": 1},
        "verbose": False,
        "on_error": "raise",
    })  # fmt: skip


def fold_seconds(res) -> float:
    client = mlflow.tracking.MlflowClient(res.tracking_uri)
    total = 0.0
    for run_id in res.get_fold_runs().RunId:
        m = client.get_run(run_id).data.metrics
        total += m.get("fit_seconds", 0.0) + m.get("predict_seconds", 0.0)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=5)
    parser.add_argument("--epochs-per-class", type=int, default=120)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    X, y, meta, info = make_motor_imagery(n_subjects=args.n_subjects,
                                       n_epochs_per_class=args.epochs_per_class, sfreq=250.0,
                                       tmax=2.0, random_state=0, return_epochs=False)  # fmt: skip
    print(f"data: {X.shape}, {os.cpu_count()} CPUs; 3 models x 5 folds")
    rows, scores = [], {}
    runs = [("sequential", "sequential"), ("joblib", "joblib (cold workers)"),
            ("joblib", "joblib (warm workers)"), ("ray", "ray (cold workers)"),
            ("ray", "ray (warm workers)")]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        for i, (backend, label) in enumerate(runs):
            ray_start = 0.0
            if label == "ray (cold workers)":
                import ray

                t0 = time.perf_counter()
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                ray_start = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = Experiment(config(f"sqlite:///{tmp}/{i}.db", backend)).run(
                X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
            wall = time.perf_counter() - t0
            scores[label] = res.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).reset_index(drop=True)
            rows.append({"run": label, "workers": 1 if backend == "sequential" else 2, "wall_s": wall,
                         "cluster_start_s": ray_start, "fold_compute_s": fold_seconds(res)})  # fmt: skip
        import ray

        ray.shutdown()
    for label in scores:
        pd.testing.assert_frame_equal(scores[label], scores["sequential"], check_exact=True)
    table = pd.DataFrame(rows).set_index("run")
    seq = table.loc["sequential", "wall_s"]
    table["speed-up"] = seq / table["wall_s"]
    table["speed-up incl. cluster start"] = seq / (table["wall_s"] + table["cluster_start_s"])
    table["ideal_s"] = table["fold_compute_s"] / table["workers"]  # fold compute over the workers
    table["rest_s (start-up, tracking, data)"] = table["wall_s"] - table["ideal_s"]
    with pd.option_context("display.width", 250, "display.max_columns", 20,
                           "display.float_format", "{:.2f}".format):  # fmt: skip
        print(table.to_string())
    print("scores: identical on every backend")


if __name__ == "__main__":
    main()
