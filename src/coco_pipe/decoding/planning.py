"""Planning an experiment: its (model, outer fold) tasks and the digests that identify them.

A task is everything one fold needs besides the data; it pickles, so any executor can run
it. The digests let a resumed experiment tell a fold already computed from one to compute:

- the *config digest* of each section of the experiment config that changes results
  (``task``, ``metrics``, ``cv``, ``tuning``, ``chance``, ``random_state`` and each
  model's config); tracking, execution, verbosity and the command-line data section do not
  count (moving a run to Ray or renaming its parent run keeps its folds);
- the *split digest* of a fold's train and test indices.

Examples
--------
>>> import numpy as np
>>> split_digest(np.arange(4), np.arange(4, 6)) == split_digest(np.arange(4), np.arange(4, 6))
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from .configs import ExperimentConfig

#: Sections of the experiment config that change what a fold computes.
RESULT_SECTIONS = ("task", "metrics", "cv", "tuning", "chance", "random_state")
#: Tags of a fold run that identify what it computed.
MODEL_DIGEST_TAG = "coco_pipe.model_config_digest"
SPLIT_DIGEST_TAG = "coco_pipe.split_digest"
DATA_TAG = "coco_pipe.data_fingerprint"
#: Fold-run tag holding the fold's parent-run metrics (summed on the parent), as JSON.
PARENT_METRICS_TAG = "coco_pipe.parent_metrics"
#: Tags of the parent run: the whole config's digest and its per-section digests.
CONFIG_DIGEST_TAG = "coco_pipe.config_digest"
SECTION_DIGESTS_TAG = "coco_pipe.config_digests"


def digest(value: Any) -> str:
    """A 16-hex digest of a JSON-able value (keys sorted).

    Examples
    --------
    >>> digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def section_digests(cfg: ExperimentConfig, models: dict[str, Any]) -> dict[str, str]:
    """Digest of each result-changing section of ``cfg``, one entry per model
    (``models.<name>``, the chance model included).

    Examples
    --------
    >>> from coco_pipe.decoding.prepare import as_experiment_config, model_configs
    >>> cfg = as_experiment_config({"models": {"lr": {"estimator": "LogisticRegression"}}})
    >>> sorted(section_digests(cfg, model_configs(cfg)))[:3]
    ['chance', 'cv', 'metrics']
    """
    dumped = cfg.model_dump(mode="json")
    out = {key: digest(dumped[key]) for key in RESULT_SECTIONS}
    out.update({f"models.{name}": model_digest(mcfg) for name, mcfg in models.items()})
    return out


def model_digest(model_config: Any) -> str:
    """Digest of one model's config."""
    return digest(model_config.model_dump(mode="json"))


def config_digest(sections: dict[str, str]) -> str:
    """One digest over the section digests of :func:`section_digests`."""
    return digest(sections)


def split_digest(train: np.ndarray, test: np.ndarray) -> str:
    """Digest of one fold's training and test indices (their order included).

    Examples
    --------
    >>> import numpy as np
    >>> split_digest(np.arange(4), np.arange(4, 6)) != split_digest(np.arange(5), np.arange(5, 6))
    True
    """
    h = hashlib.sha256()
    for part in (train, test):
        arr = np.ascontiguousarray(np.asarray(part, dtype=np.int64))
        h.update(str(len(arr)).encode() + b"|")
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()[:16]


def differences(mine: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """The section names whose digests differ (or exist on one side only).

    Examples
    --------
    >>> differences({"cv": "a", "models.lr": "b"}, {"cv": "a", "models.lr": "c"})
    ['models.lr']
    """
    return sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))


@dataclass
class FoldTask:
    """What one (model, outer fold) task needs besides the data (it pickles).

    Attributes
    ----------
    model : str
        Model name in the experiment config.
    config : model config
    prototype : estimator
        The unfitted estimator, built once from ``config`` and cloned by the fold.
    fold : int
    train, test : ndarray of int
        Indices of the outer fold.
    model_digest, split_digest : str
        See :func:`model_digest` and :func:`split_digest`.
    """

    model: str
    config: Any
    prototype: BaseEstimator
    fold: int
    train: np.ndarray
    test: np.ndarray
    model_digest: str = ""
    split_digest: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """``(model, fold)``."""
        return self.model, self.fold


def plan_tasks(
    models: dict[str, Any],
    prototypes: dict[str, BaseEstimator],
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> list[FoldTask]:
    """Every (model, fold) task, model by model, fold by fold.

    Examples
    --------
    >>> import numpy as np
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> splits = [(np.arange(4), np.arange(4, 6)), (np.arange(2, 6), np.arange(2))]
    >>> tasks = plan_tasks({"lr": ClassicalModelConfig()}, {"lr": None}, splits)
    >>> [t.key for t in tasks]
    [('lr', 0), ('lr', 1)]
    """
    digests = [split_digest(tr, te) for tr, te in splits]
    return [
        FoldTask(name, mcfg, prototypes[name], k, tr, te, model_digest(mcfg), digests[k])
        for name, mcfg in models.items()
        for k, (tr, te) in enumerate(splits)
    ]


__all__ = [
    "CONFIG_DIGEST_TAG",
    "DATA_TAG",
    "MODEL_DIGEST_TAG",
    "PARENT_METRICS_TAG",
    "RESULT_SECTIONS",
    "SECTION_DIGESTS_TAG",
    "SPLIT_DIGEST_TAG",
    "FoldTask",
    "config_digest",
    "differences",
    "digest",
    "model_digest",
    "plan_tasks",
    "section_digests",
    "split_digest",
]
