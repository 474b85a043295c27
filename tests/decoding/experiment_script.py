"""An experiment run as its own process (for kill, stop and outage tests).

    python experiment_script.py URI FITS_LOG SPOOL [--resume] [--timeout S] [--sleep S]

Its model ``count`` is a log-power logistic regression that appends the training groups of
every fit to FITS_LOG (one line per fit) and sleeps ``--sleep`` seconds per fit; the
``chance`` model is added as usual. On success it prints the result's tables as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class CountingLogReg(ClassifierMixin, BaseEstimator):
    """Logs each fit's training groups to ``log``; sleeps $COCO_PIPE_TEST_SLEEP seconds (not
    a parameter: a resumed run may sleep less and keep the same config)."""

    def __init__(self, log=""):
        self.log = log

    def fit(self, X, y, groups=None):
        time.sleep(float(os.environ.get("COCO_PIPE_TEST_SLEEP", "0")))
        feats = np.log(np.asarray(X, np.float64).var(axis=2) + 1e-30)
        self.clf_ = LogisticRegression(max_iter=500).fit(feats, y)
        self.classes_ = self.clf_.classes_
        with open(self.log, "a") as fh:
            fh.write(",".join(sorted(set(map(str, groups)))) + "\n")
        return self

    def predict(self, X):
        return self.clf_.predict(np.log(np.asarray(X, np.float64).var(axis=2) + 1e-30))

    def predict_proba(self, X):
        return self.clf_.predict_proba(np.log(np.asarray(X, np.float64).var(axis=2) + 1e-30))


def tables(res) -> dict:
    return {
        "scores": res.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).reset_index(drop=True).to_json(),
        "predictions": res.get_predictions().sort_values(["Model", "Fold", "SampleIndex"]).reset_index(drop=True).to_json(),
        "summary": res.summary().to_json(),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("fits_log")
    parser.add_argument("spool")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    os.environ["COCO_PIPE_TEST_SLEEP"] = str(args.sleep)

    from coco_pipe import Experiment
    from coco_pipe.datasets import make_motor_imagery
    from coco_pipe.decoding import registry

    registry.classical_names()
    registry.CLASSICAL_REGISTRY["CountingLogReg"] = registry.ClassicalEntry(
        "CountingLogReg", CountingLogReg, ("classification",), True)
    X, y, meta, _ = make_motor_imagery(n_subjects=5, n_epochs_per_class=8, sfreq=100.0, tmax=1.0,
                                       random_state=0, return_epochs=False)
    cfg = {
        "models": {"count": {"estimator": "CountingLogReg",
                             "params": {"log": args.fits_log}}},
        "cv": {"strategy": "group_kfold", "n_splits": 5, "group_key": "Subject"},
        "tracking": {"tracking_uri": args.uri, "experiment_name": "killed", "log_plots": False,
                     "timeout_s": args.timeout, "spool_dir": args.spool},
        "verbose": False,
    }
    res = Experiment(cfg).run(X, y, meta, resume=args.resume)
    print(json.dumps(tables(res)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
