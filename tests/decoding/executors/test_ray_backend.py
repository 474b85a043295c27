"""The Ray backend on a local cluster (num_cpus=2): the sequential scores, and a worker
killed mid-fold leaves its fold FAILED while the experiment finishes. One cluster for the
module (starting Ray costs seconds)."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from cases import killer_config, run_mixed, scores_table

from coco_pipe import Experiment
from coco_pipe.decoding.configs import ExecutionConfig
from coco_pipe.decoding.executors.ray_backend import RayExecutor

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs, started the way the backend starts one."""
    ray.shutdown()
    executor = RayExecutor(ExecutionConfig(backend="ray"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env=executor.local_runtime_env())  # fmt: skip
    yield
    ray.shutdown()


def test_ray_gives_the_sequential_scores(small_epochs, tracking_uri, sequential_scores, ray_cluster):
    res = run_mixed(small_epochs, tracking_uri, backend="ray", cpus_per_fold=1)
    pd.testing.assert_frame_equal(scores_table(res), sequential_scores, check_exact=True)
    assert set(res.get_fold_runs().Status) == {"FINISHED"}
    assert ray.is_initialized()  # a cluster it joined is left running


def test_ray_killed_worker_leaves_its_fold_failed(small_epochs, tracking_uri, killer, ray_cluster):
    X, y, meta, _ = small_epochs
    cfg = killer_config(tracking_uri, killer, times=5, backend="ray", max_retries=0)
    res = Experiment(cfg).run(X, y, meta)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    assert client.get_run(res.run_id).info.status == "FINISHED"
    assert len(res.get_fold_runs()) == 10
    failed = res.failed_folds()
    assert failed[["Model", "TestGroups", "Status"]].values.tolist() == [["victim", "sub-03", "FAILED"]]
    assert "worker process died" in failed.Failure.item()
    assert len(list(killer.glob("kill-*"))) == 1  # Ray did not retry it (max_retries=0)
