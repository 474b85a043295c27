"""Optuna search inside one outer fold's training partition.

For every (model, outer fold) the experiment runs one Optuna study. Each trial applies
sampled values to a copy of the model config, cross-validates it on **inner splits of
the fold's training partition only** (grouped like the outer CV), and reports the
running score after each inner fold (classical models) or after each epoch (estimators
with an ``epoch_callback``, see :mod:`coco_pipe.decoding.protocol`) so that the pruner
can stop it early. The best parameters give the config that the outer fold refits on its
whole training partition and scores on its test partition.

Trials are nested MLflow runs under their fold's run. With ``tuning.storage`` set to a
database URL, several worker processes (on one or several machines) share one study per
(model, fold): each runs trials until the study holds ``n_trials`` trials in total (see
``docs/tuning.md`` and :func:`run_tuning_worker`).

Modules (imports point down this list only):

- :mod:`.worker`: :func:`run_tuning_worker`, a process that joins the shared studies;
- :mod:`.tune`: :func:`tune_model`, one study run to its budget, and :class:`TuningOutcome`;
- :mod:`.objective`: one trial (inner CV, pruning reports, the trial's tracking run);
- :mod:`.study`: samplers, pruners, storage, study identity and summaries;
- :mod:`.space`: search-space paths, checks, and applying values to a config.
"""

from .objective import ERROR_ATTR, TRIAL_ROLE, WORKER_ATTR
from .space import (
    apply_params,
    check_search_space,
    check_tuning,
    grid_from_space,
    valid_param_paths,
)
from .study import HEARTBEAT_SECONDS, IDENTITY_ATTR, SURPLUS_ATTR, default_study_name, redact_url
from .tune import TuningOutcome, tune_model
from .worker import run_tuning_worker

__all__ = [
    "TuningOutcome",
    "check_search_space",
    "check_tuning",
    "valid_param_paths",
    "apply_params",
    "grid_from_space",
    "default_study_name",
    "redact_url",
    "tune_model",
    "run_tuning_worker",
    "TRIAL_ROLE",
    "SURPLUS_ATTR",
    "WORKER_ATTR",
    "ERROR_ATTR",
    "IDENTITY_ATTR",
    "HEARTBEAT_SECONDS",
]
