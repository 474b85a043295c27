"""The ``coco-pipe`` command (also behind the MLproject entry points).

Every command imports what it needs when it runs, so ``coco-pipe --help`` answers at once.

Examples
--------
.. code-block:: bash

    coco-pipe run projects/quickstart/config.yaml
    coco-pipe run projects/quickstart/config.yaml --backend joblib --n-jobs 2 --resume
    coco-pipe sync coco-pipe-spool
    coco-pipe results RUN_ID --format csv --output results/
    coco-pipe promote RUN_ID --model csp_lda --fold best --name mi-decoder
    coco-pipe embed projects/quickstart/config.yaml
    coco-pipe models
    coco-pipe cache info
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger("coco_pipe")


def _truthy(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def apply_smoke(cfg):
    """Shrink an experiment config for CI: small data, 2 folds, 1 epoch, 2 trials."""
    from .decoding.configs import DataConfig

    data = cfg.data or DataConfig()
    if data.source == "synthetic":
        params = dict(data.params)
        params["n_subjects"] = min(int(params.get("n_subjects", 4)), 4)
        params["n_epochs_per_class"] = min(int(params.get("n_epochs_per_class", 12)), 12)
        data = data.model_copy(update={"params": params})
    n_splits = min(cfg.cv.n_splits, 2)
    models = {}
    for name, m in cfg.models.items():
        if m.kind == "neural":
            optim = m.optim.model_copy(update={"epochs": 1, "batch_size": min(m.optim.batch_size, 16)})
            m = m.model_copy(update={"optim": optim, "early_stopping_patience": None,
                                     **_small_backbone(m.model_key, m.weights, m.model_kwargs)})
        elif m.kind == "frozen_backbone":
            b = m.backbone
            m = m.model_copy(update={"backbone": b.model_copy(update=_small_backbone(
                b.model_key, b.weights, b.model_kwargs))})
        models[name] = m
    tuning = cfg.tuning.model_copy(update={"n_trials": min(cfg.tuning.n_trials, 2)})
    return cfg.model_copy(update={
        "data": data, "cv": cfg.cv.model_copy(update={"n_splits": n_splits}),
        "models": models, "tuning": tuning,
    })


def _small_backbone(model_key: str, weights: str, model_kwargs: dict) -> dict:
    """Smoke mode: a small architecture (the spec's test size) with random weights. The
    run says so: random weights are warned about and tagged weights=random-init."""
    from .foundation.specs import ESTIMATOR_SPECS

    spec = ESTIMATOR_SPECS.get(model_key)
    if spec is None:  # a scratch network: already small and random-init
        return {}
    if weights != "random":
        logger.warning("smoke mode: %s uses a small random-init backbone instead of %r", model_key, weights)
    return {"weights": "random", "model_kwargs": {**spec.small_kwargs, **model_kwargs}}


def load_data(cfg) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Load the data named by ``cfg.data`` as ``(X, y, metadata, extra kwargs)``."""
    import numpy as np
    import pandas as pd

    from .decoding.configs import DataConfig

    data = cfg.data or DataConfig()
    if data.source == "synthetic":
        from .datasets import make_motor_imagery

        epochs = make_motor_imagery(**data.params, return_epochs=True)
        y = epochs.metadata[data.y_column].to_numpy() if data.y_column else None
        return epochs, y, epochs.metadata, {}
    if data.source in ("moabb", "bids", "raw"):
        loaded = load_recordings(data)
        kwargs = loaded.run_kwargs()
        y = loaded.metadata[data.y_column].to_numpy() if data.y_column else kwargs["y"]
        return kwargs["X"], y, kwargs["sample_metadata"], {
            "sfreq": kwargs["sfreq"], "ch_names": kwargs["ch_names"]}
    path = Path(data.path)
    if not path.exists():
        raise FileNotFoundError(f"data.path {str(path)!r} does not exist")
    if data.source == "epochs":
        import mne

        epochs = mne.read_epochs(path, preload=True, verbose="error")
        y = epochs.metadata[data.y_column].to_numpy() if data.y_column else None
        return epochs, y, epochs.metadata, {}
    arrays = np.load(path, allow_pickle=False)
    meta = pd.read_csv(data.metadata_path) if data.metadata_path else None
    y = arrays["y"] if "y" in arrays else meta[data.y_column].to_numpy()
    extra = {}
    if "sfreq" in arrays:
        extra["sfreq"] = float(arrays["sfreq"])
    if "ch_names" in arrays:
        extra["ch_names"] = [str(c) for c in arrays["ch_names"]]
    return arrays["X"], y, meta, extra


def load_recordings(data):
    """The ``moabb`` / ``bids`` / ``raw`` sources of a :class:`DataConfig` through the
    loaders of :mod:`coco_pipe.datasets` (an :class:`~coco_pipe.datasets.EpochArrays`)."""
    from . import datasets

    epoching = data.epoching.model_dump()
    if data.source == "moabb":
        return datasets.load_moabb(
            unit=epoching["unit"], scale=epoching["scale"], **data.moabb.model_dump()
        )
    if data.source == "bids" and not Path(data.path).exists():
        raise FileNotFoundError(f"data.path {data.path!r} (the BIDS root) does not exist")
    if data.source == "bids":
        section = data.bids.model_dump() if data.bids else {}
        return datasets.load_bids(data.path, **section, **epoching)
    section = data.raw.model_dump() if data.raw else {}
    return datasets.load_raw(data.path, **section, **epoching)


def with_data_path(cfg, path: str | None):
    """``cfg`` with ``data.path`` replaced (the ``--data-path`` option / MLproject
    parameter ``data_path``); an empty path leaves it as it is."""
    if not path:
        return cfg
    if cfg.data is None or cfg.data.source == "synthetic":
        raise ValueError("--data-path needs a config whose data.source reads files "
                         "(epochs, arrays, bids or raw)")
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"path": path})})


def cmd_run(args) -> int:
    import pandas as pd

    from .decoding import Experiment, ExperimentConfig

    cfg = ExperimentConfig.from_yaml(args.config)
    cfg = with_data_path(cfg, args.data_path)
    if _truthy(args.smoke):
        cfg = apply_smoke(cfg)
    if args.tracking_uri:
        cfg = cfg.model_copy(update={"tracking": cfg.tracking.model_copy(update={"tracking_uri": args.tracking_uri})})
    if args.quiet:
        cfg = cfg.model_copy(update={"verbose": False})
    cfg = apply_execution_flags(cfg, args)
    X, y, meta, extra = load_data(cfg)
    resume = _resume_value(args.resume)
    result = Experiment(cfg).run(X, y, sample_metadata=meta, resume=resume, **extra)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(result.summary().to_string(index=False))
    print(f"parent run: {result.run_id}")
    print(f"tracking uri: {result.tracking_uri}")
    from .tracking.client import open_client

    experiment_id = open_client(result.tracking_uri).get_run(result.run_id).info.experiment_id
    print(f"compare the models: {ui_hint(result.tracking_uri, experiment_id)}")
    return exit_status(result)


def ui_hint(tracking_uri: str, experiment_id: str) -> str:
    """Where MLflow's UI shows an experiment's model runs side by side. MLflow 3's UI opens
    in its GenAI view unless told ``workflowType=machine_learning``.

    Examples
    --------
    >>> ui_hint("http://127.0.0.1:5000", "3")
    'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning'
    >>> ui_hint("sqlite:///mlflow.db", "1")
    '`mlflow ui --backend-store-uri sqlite:///mlflow.db`, then http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning'
    """
    page = f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/") + page
    return f"`mlflow ui --backend-store-uri {tracking_uri}`, then http://127.0.0.1:5000{page}"


def _resume_value(value: str | None) -> bool | str:
    """``--resume`` alone (or true/false from MLproject) or ``--resume RUN_ID``."""
    if value is None or str(value).strip().lower() in {"", "0", "false", "no", "off"}:
        return False
    return True if str(value).strip().lower() in {"1", "true", "yes", "on"} else str(value)


def apply_execution_flags(cfg, args):
    """``--backend``, ``--n-jobs`` and ``--ray-address`` override ``execution``."""
    update = {k: v for k, v in (("backend", args.backend), ("n_jobs", args.n_jobs),
                                ("ray_address", args.ray_address)) if v is not None}  # fmt: skip
    if not update:
        return cfg
    execution = cfg.execution.model_validate({**cfg.execution.model_dump(), **update})
    return cfg.model_copy(update={"execution": execution})


def exit_status(result) -> int:
    """1 (and the models named on stderr) when a model has no successful fold, else 0."""
    failed = result.models_without_success()
    if not failed:
        return 0
    print(f"coco-pipe: error: no fold of model(s) {', '.join(failed)} succeeded; their errors:",
          file=sys.stderr)  # fmt: skip
    folds = result.failed_folds()
    for _, row in folds[folds.Model.isin(failed)].iterrows():
        print(f"  {row.Model} fold {row.Fold}: {row.Failure or row.Status}", file=sys.stderr)
    return 1


def cmd_sync(args) -> int:
    """Replay the spool's records into their tracking stores."""
    from .decoding.logged_model import upload_model_folder
    from .tracking import Tracker
    from .tracking.spool import Spool, read_record

    spool = Spool(args.spool, upload_model=upload_model_folder)
    pending = spool.pending()
    if not pending:
        print(f"nothing to replay in {spool.root}")
        return 0
    uris = sorted({args.tracking_uri or read_record(p)["tracking_uri"] for p in pending})
    for uri in uris:
        sent = spool.replay(Tracker(uri, timeout_s=args.timeout))
        print(f"replayed {len(sent)} run(s) into {uri}")
    return 0


def cmd_results(args) -> int:
    from .decoding import ExperimentResult

    res = ExperimentResult.from_run(args.run_id, tracking_uri=args.tracking_uri)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "summary": res.summary(),
        "scores": res.get_detailed_scores(),
        "predictions": res.get_predictions(),
        "artifacts": res.get_model_artifacts(),
        "folds": res.get_fold_runs(),
    }
    for name, table in tables.items():
        path = out / f"{name}.{args.format}"
        if args.format == "csv":
            table.to_csv(path, index=False)
        else:
            table.astype({c: str for c in table.columns if table[c].dtype == object}).to_parquet(path, index=False)
        print(path)
    return 0


def cmd_models(args) -> int:
    import pandas as pd

    from .foundation.listing import list_foundation_models

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(list_foundation_models().to_string(index=False))
    return 0


def cmd_cache(args) -> int:
    from .foundation.cache.commands import cache_info_command, cache_prune_command

    if args.cache_command == "info":
        print(cache_info_command(args.dir))
    else:
        print(cache_prune_command(args.dir, args.fingerprint, args.older_than_days))
    return 0


def cmd_promote(args) -> int:
    from .registry import promote

    data = None
    if args.fold == "refit":  # train on all of the experiment's data, named by its own config
        from .registry.refit import experiment_config
        from .tracking import RunStore

        cfg = experiment_config(RunStore(args.tracking_uri), args.run_id)
        X, y, meta, extra = load_data(cfg)
        data = {"X": X, "y": y, "sample_metadata": meta, **extra}
    version = promote(args.run_id, model=args.model, fold=args.fold, name=args.name,
                      alias=args.alias or None, tracking_uri=args.tracking_uri, data=data)  # fmt: skip
    print(f"registered models:/{args.name}/{version.version}" + (f" as @{args.alias}" if args.alias else ""))
    print(version.description)
    return 0


def cmd_embed(args) -> int:
    from .decoding.configs import ExperimentConfig
    from .decoding.embed_job import fill_cache, job_backbones

    cfg = ExperimentConfig.from_yaml(args.config)
    smoke = _truthy(args.smoke)
    if smoke:
        cfg = apply_smoke(cfg)
    backbones = job_backbones(cfg, args.model_key or None, args.weights)
    if smoke and args.model_key:
        backbones = {k: b.model_copy(update=_small_backbone(b.model_key, b.weights, b.model_kwargs))
                     for k, b in backbones.items()}  # fmt: skip
    X, y, meta, extra = load_data(cfg)
    for report in fill_cache(cfg, X, y, meta, backbones=backbones, cache_dir=args.cache_dir or None,
                             batch_size=args.batch_size, **extra):  # fmt: skip
        print(report.line())
    return 0


_SMOKE_HELP = (
    "Shrink the run for a quick check: at most 4 subjects and 12 windows per class, 2 folds, "
    "1 epoch, 2 tuning trials, small random-init backbones (tagged weights=random-init). "
    "'--smoke' alone or '--smoke true|false' (as MLproject passes it)."
)
_URI_HELP = (
    "MLflow tracking URI, e.g. http://127.0.0.1:5000 or sqlite:///mlflow.db. Default: "
    "$MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the current folder (MLflow's own "
    "default, which `mlflow ui` opens)."
)
_EXAMPLES = {
    "run": """examples:
  coco-pipe run projects/quickstart/config.yaml
  coco-pipe run projects/quickstart/config.yaml --smoke --tracking-uri http://127.0.0.1:5000
  coco-pipe run projects/quickstart/config.yaml --backend joblib --n-jobs 2
  coco-pipe run projects/quickstart/config.yaml --resume        # after a kill: only unfinished folds
then look at the runs with `mlflow ui` (from the same folder) and open http://127.0.0.1:5000""",
    "sync": """examples:
  coco-pipe sync                      # the spool of $COCO_PIPE_SPOOL_DIR, else ./coco-pipe-spool
  coco-pipe sync /scratch/coco-pipe-spool --tracking-uri http://127.0.0.1:5000""",
    "results": """examples:
  coco-pipe results 3f2a9c... --output results/          # summary.csv, scores.csv, ...
  coco-pipe results 3f2a9c... --format parquet --output tables/""",
    "models": """example:
  coco-pipe models          # model key, hub repository, sfreq, channels, train modes""",
    "cache": """examples:
  coco-pipe cache info
  coco-pipe cache prune --fingerprint 1a2b3c... --dir /data/coco-cache
  coco-pipe cache prune --older-than-days 30""",
    "promote": """examples:
  coco-pipe promote 3f2a9c... --model csp_lda --name mi-decoder            # best fold
  coco-pipe promote 3f2a9c... --model cbramod_lora --fold 2 --name mi-lora
  coco-pipe promote 3f2a9c... --model logreg --fold refit --name mi-logreg
then: mlflow models serve -m models:/mi-decoder@champion --env-manager local
  or: coco_pipe.load_promoted("models:/mi-decoder@champion").predict(X)""",
    "embed": """examples:
  coco-pipe embed projects/quickstart/config.yaml          # the config's frozen backbones
  coco-pipe embed projects/labram_probe/config.yaml --model-key labram --batch-size 64""",
}


def _command(sub, name: str, help: str):
    return sub.add_parser(name, help=help, description=help, epilog=_EXAMPLES[name],
                          formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coco-pipe",
        description="Decode EEG/MEG with foundation-model backbones and scikit-learn estimators "
        "inside cross-validation, every fold tracked in MLflow.",
        epilog="Run `coco-pipe COMMAND --help` for a command's options and examples.",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="Log INFO messages of coco-pipe (default: warnings only).")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "run", "Cross-validate the models of an experiment config (YAML) and track every fold in MLflow.")
    p.add_argument("config", help="Experiment config YAML, e.g. projects/quickstart/config.yaml.")
    p.add_argument("--smoke", nargs="?", const="true", default="false", help=_SMOKE_HELP)
    p.add_argument("--tracking-uri", default=None, help=_URI_HELP + " Overrides tracking.tracking_uri.")
    p.add_argument("--data-path", default=None,
                   help="Replace data.path of the config, e.g. ../shared/data/kalunga2016/raw "
                        "(the folder of raw recordings of a raw/bids config).")  # fmt: skip
    p.add_argument("--quiet", action="store_true",
                   help="No progress bars, no per-fold lines and no INFO messages.")
    p.add_argument("--resume", nargs="?", const="true", default=None, metavar="RUN_ID",
                   help="Continue the most recent unfinished run of this config and data (or the "
                   "parent run RUN_ID): finished folds are reused, the others run again. "
                   "'--resume' alone, '--resume true|false' (as MLproject passes it) or a run id.")  # fmt: skip
    p.add_argument("--backend", choices=["sequential", "joblib", "ray"], default=None,
                   help="Override execution.backend, e.g. --backend joblib --n-jobs 2 (folds in local "
                   "processes) or --backend ray --ray-address auto (a Ray cluster).")  # fmt: skip
    p.add_argument("--n-jobs", type=int, default=None,
                   help="Override execution.n_jobs (parallel folds), e.g. 2.")
    p.add_argument("--ray-address", default=None,
                   help="Override execution.ray_address: 'auto' or 'ray://host:10001' joins a cluster "
                   "(default: a local one).")  # fmt: skip
    p.set_defaults(func=cmd_run)

    p = _command(sub, "sync", "Replay spooled fold results (left by a tracking outage) into the tracking store.")
    p.add_argument("spool", nargs="?", default=None,
                   help="Spool folder (default: $COCO_PIPE_SPOOL_DIR, else ./coco-pipe-spool).")
    p.add_argument("--tracking-uri", default=None,
                   help="Send to this store instead of the one each record names. " + _URI_HELP)
    p.add_argument("--timeout", type=float, default=30.0,
                   help="Seconds to wait for a tracking server that does not answer (default 30).")
    p.set_defaults(func=cmd_sync)

    p = _command(sub, "results", "Write an experiment's tables, read back from the tracking store.")
    p.add_argument("run_id", help="The experiment's parent run id (printed by `coco-pipe run`).")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv",
                   help="File format of the tables summary, scores, predictions, artifacts and folds "
                        "(one file each): csv (default) or parquet.")  # fmt: skip
    p.add_argument("--output", default="results", help="Folder to write the tables to (created; default: results).")
    p.add_argument("--tracking-uri", default=None, help=_URI_HELP)
    p.set_defaults(func=cmd_results)

    p = _command(sub, "models", "List the supported foundation models (the spec table).")
    p.set_defaults(func=cmd_models)

    p = _command(sub, "cache", "Inspect or prune the embedding cache.")
    csub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    c = csub.add_parser("info", help="Size and number of entries per backbone fingerprint.")
    c.add_argument("--dir", default=None, help="Cache folder (default: $COCO_PIPE_CACHE_DIR, else the per-user cache).")
    c = csub.add_parser("prune", help="Remove entries by fingerprint and/or age (neither: empty the cache).")
    c.add_argument("--dir", default=None, help="Cache folder (default: $COCO_PIPE_CACHE_DIR, else the per-user cache).")
    c.add_argument("--fingerprint", default=None, help="Remove the entries of this backbone fingerprint (see `cache info`).")
    c.add_argument("--older-than-days", type=float, default=None, help="Remove entries not used for this many days, e.g. 30.")
    p.set_defaults(func=cmd_cache)

    p = _command(sub, "promote", "Register a model of an experiment (a fold's MLflow Model, or a refit on all the data) "
                 "in the MLflow model registry.")  # fmt: skip
    p.add_argument("run_id", help="The experiment's parent run id.")
    p.add_argument("--model", required=True, help="Model name in the experiment config, e.g. csp_lda.")
    p.add_argument("--fold", default="best",
                   help="'best' (default: the fold with the best first metric, an optimistic pick the version "
                        "says so), a fold number (e.g. 2), or 'refit' (train on all the experiment's data, "
                        "loaded from its config, as a new run).")  # fmt: skip
    p.add_argument("--name", required=True, help="Registered model name, e.g. mi-decoder.")
    p.add_argument("--alias", default="champion", help="Alias pointed at the new version (default: champion; '' for none).")
    p.add_argument("--tracking-uri", default=None, help=_URI_HELP)
    p.set_defaults(func=cmd_promote)

    p = _command(sub, "embed", "Fill the embedding cache for a config's data, so its frozen-backbone models find "
                 "every embedding cached.")  # fmt: skip
    p.add_argument("config", help="Experiment config whose data section names the data, e.g. projects/quickstart/config.yaml.")
    p.add_argument("--model-key", default=None,
                   help="Embed with this backbone (see `coco-pipe models`), e.g. cbramod; default: the backbone of "
                        "every frozen_backbone model of the config.")  # fmt: skip
    p.add_argument("--weights", default="pretrained",
                   help="Weights for --model-key: pretrained (default, the spec's hub repository), random, a hub id "
                        "or a local checkpoint.")  # fmt: skip
    p.add_argument("--cache-dir", default=None, help="Cache folder (default: the backbone's cache_dir, else $COCO_PIPE_CACHE_DIR or the per-user cache).")
    p.add_argument("--batch-size", type=int, default=None, help="Windows per forward batch, e.g. 64 (default: the backbone's).")
    p.add_argument("--smoke", nargs="?", const="true", default="false", help=_SMOKE_HELP)
    p.set_defaults(func=cmd_embed)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ConnectionError, LookupError, PermissionError) as exc:
        print(f"coco-pipe: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
