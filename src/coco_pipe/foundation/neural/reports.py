"""What a trained NeuralDecoder tells the tracker: per-epoch history, model card,
checkpoint manifest, failure diagnostics and the fold's :class:`FoldReport` (learning
curves, saved checkpoint or adapter folder, ``neural.*`` / ``adapt.*`` params).

Examples
--------
>>> report = est.tracking_report(workdir)  # doctest: +SKIP
>>> sorted(kind for kind, _ in report.artifacts)  # doctest: +SKIP
['checkpoints', 'diagnostics', 'model_card', 'plots', 'training_history']
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .assembly import head_pooling
from .persistence import FORMAT, MODEL_FILE, library_versions, write_json

logger = logging.getLogger(__name__)

__all__ = ["NeuralTrainable", "ReportsMixin"]


@runtime_checkable
class NeuralTrainable(Protocol):
    """What a trained neural estimator tells the tracker and the reports."""

    def get_training_history(self) -> list[dict[str, Any]]:
        """One dict per epoch: train/val loss, metrics, lr, grad norm, seconds."""
        ...

    def get_checkpoint_manifest(self) -> dict[str, Any]:
        """Checkpoint policy, saved paths, best epoch and monitored value."""
        ...

    def get_model_card_info(self) -> dict[str, Any]:
        """Architecture, parameter counts, train mode, weights, input shape, precision."""
        ...

    def get_failure_diagnostics(self) -> dict[str, Any]:
        """Non-finite detection (step, kind), gradient-norm statistics, skipped steps."""
        ...

    def get_artifact_metadata(self) -> dict[str, Any]:
        """What the saved artifacts are and how to load them."""
        ...


def _load_summary(src) -> dict[str, Any] | None:
    """Counts and layout of the backbone's load report (model card)."""
    report = getattr(src, "load_report", None)
    if report is None:
        return None
    return {"layout": report.layout, "n_loaded": report.n_loaded, "n_fresh": report.n_fresh,
            "n_ignored": report.n_ignored, "seed": report.seed}  # fmt: skip


class ReportsMixin:
    """The :class:`NeuralTrainable` getters and ``tracking_report`` of NeuralDecoder."""

    def get_training_history(self) -> list[dict[str, Any]]:
        """One dict per epoch (epoch, train_loss, val_loss, val_balanced_accuracy, lr,
        grad_norm, skipped_steps, train_seconds, seconds)."""
        return [dict(r) for r in getattr(self, "history_", [])]

    def get_checkpoint_manifest(self) -> dict[str, Any]:
        """Checkpoint policy, best epoch and value, the epoch whose weights the model holds,
        and the paths written by :meth:`save` / :meth:`tracking_report`."""
        from ..training import monitor_mode

        cfg = self._current_config()
        hist = getattr(self, "history_", [])
        return {
            "policy": cfg.checkpoints.save,
            "monitor": cfg.checkpoints.monitor,
            "mode": monitor_mode(cfg.checkpoints.monitor),
            "best_epoch": getattr(self, "best_epoch_", None),
            "best_value": getattr(self, "best_value_", None),
            "last_epoch": hist[-1]["epoch"] if hist else None,
            "weights_epoch": getattr(self, "weights_epoch_", None),
            "format": "safetensors",
            "paths": list(getattr(self, "_saved_paths", [])),
        }

    def get_model_card_info(self) -> dict[str, Any]:
        """Architecture, parameter counts and fraction trained, train mode, weights source,
        input shape, precision and device."""
        cfg = self._current_config()
        src = getattr(self, "_source", None)
        total = getattr(self, "n_params_", None)
        trainable = getattr(self, "n_trainable_params_", None)
        card: dict[str, Any] = {
            "model_key": cfg.model_key,
            "display_name": src.display_name if src else None,
            "architecture": src.architecture if src else None,
            "scratch": bool(src.scratch) if src else None,
            "train_mode": cfg.train_mode,
            "head": "native" if (src and src.scratch) else cfg.head.kind,
            "pooling": None if (src is None or src.scratch) else head_pooling(cfg, src.spec),
            "total_params": total,
            "trainable_params": trainable,
            "trainable_fraction": (trainable / total) if total else None,
            "weights": dict(src.weights_tags) if src else {"weights": cfg.weights},
            "weights_digest": src.weights_digest if src else None,
            "weights_load": _load_summary(src),
            "license": None if (src is None or src.scratch) else src.spec.license,
            "input_shape": {
                "n_channels": getattr(self, "n_channels_in_", None),
                "n_times": getattr(self, "n_times_in_", None),
                "sfreq": getattr(self, "sfreq_", self.sfreq),
            },
            "adaptation": src.adapter.as_params() if src else {},
            "precision": cfg.device.precision,
            "device": getattr(self, "device_", None),
            "task": self.task,
            "n_outputs": getattr(self, "n_outputs_", None),
            "classes": self.classes_.tolist() if hasattr(self, "classes_") else None,
            "seed": getattr(self, "seed_", None),
            "epochs_trained": len(getattr(self, "history_", [])),
            "best_epoch": getattr(self, "best_epoch_", None),
            "libraries": library_versions(),
        }
        if cfg.train_mode in ("lora", "qlora"):
            card["lora"] = {"r": cfg.lora.r, "alpha": cfg.lora.alpha, "dropout": cfg.lora.dropout,
                            "layers": list(getattr(self, "_lora_layers", []))}  # fmt: skip
        if cfg.train_mode == "qlora":
            from ..peft_utils import count_quantized_layers

            card["quantization"] = {
                "quant_type": cfg.quantization.quant_type, "double_quant": cfg.quantization.double_quant,
                "compute_dtype": cfg.quantization.compute_dtype,
                "n_4bit_layers": count_quantized_layers(self.network_) if hasattr(self, "network_") else 0,
            }  # fmt: skip
        return card

    def get_failure_diagnostics(self) -> dict[str, Any]:
        """Whether training failed and why, non-finite events (kind, epoch, step), skipped
        steps, gradient-norm statistics and non-finite input windows."""
        diag = dict(getattr(self, "_train_diag", {}))
        diag.update(getattr(self, "_input_diag", {}))
        diag["failed"] = bool(getattr(self, "failed_", False))
        diag["failure_reason"] = getattr(self, "failure_reason_", "")
        return diag

    def get_artifact_metadata(self) -> dict[str, Any]:
        """Artifact types this estimator logs and how to load the saved model."""
        cfg = self._current_config()
        weights_type = "adapter" if cfg.train_mode in ("lora", "qlora") else "checkpoints"
        return {
            "format": FORMAT,
            "model_file": MODEL_FILE,
            "weights_artifact": weights_type if cfg.checkpoints.save != "none" else None,
            "artifact_types": [weights_type, "training_history", "plots", "model_card", "diagnostics"],
            "adapter_format": "peft (adapter_config.json + adapter_model.safetensors)"
            if weights_type == "adapter" else None,
            "loader": "coco_pipe.foundation.neural.NeuralDecoder.load(directory)",
            "model_key": cfg.model_key,
            "train_mode": cfg.train_mode,
            "weights": dict(self._source.weights_tags) if hasattr(self, "_source") else {},
        }  # fmt: skip

    def _report_artifacts(self, workdir: Path, hist: list[dict], card: dict, diag: dict):
        import pandas as pd

        cfg = self.config_
        artifacts: list[tuple[str, Path]] = []
        if hist:
            csv = workdir / "training_history.csv"
            pd.DataFrame(hist).to_csv(csv, index=False)
            artifacts.append(("training_history", csv))
            png = workdir / "learning_curves.png"
            try:
                from ...reporting.plots import plot_learning_curves

                plot_learning_curves(pd.DataFrame(hist), png)
                artifacts.append(("plots", png))
            except Exception as err:  # a plot never fails a fold
                logger.warning("learning-curve plot failed: %s", err)
        artifacts.append(("model_card", write_json(workdir / "model_card.json", card)))
        report = getattr(self._source, "load_report", None)
        if report is not None:
            artifacts.append(("weights", report.write(workdir / "load_report.json")))
        artifacts.append(("diagnostics", write_json(workdir / "failure_diagnostics.json", diag)))
        if not self.failed_ and cfg.checkpoints.save != "none":
            kind = "adapter" if cfg.train_mode in ("lora", "qlora") else "checkpoints"
            folder = self.save(workdir / f"{cfg.model_key}-{cfg.train_mode}")
            write_json(folder / "checkpoint_manifest.json", self.get_checkpoint_manifest())
            artifacts.append((kind, folder))
        return artifacts

    def tracking_report(self, workdir: Path):
        """Everything to log on the fold's run: per-epoch metrics, history CSV, learning
        curve PNG, model card JSON, failure diagnostics and the checkpoint or adapter
        folder; ``failed=True`` when training diverged.

        Examples
        --------
        >>> est.fit(X, y).tracking_report(tmp_path).params["neural.train_mode"]  # doctest: +SKIP
        'full'
        """
        from ...tracking.report import FoldReport

        self._check_is_fitted()
        cfg = self.config_
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        report = FoldReport()
        hist = self.get_training_history()
        for row in hist:
            for key, value in row.items():
                if key == "epoch" or not isinstance(value, int | float):
                    continue
                name = "epoch_seconds" if key == "seconds" else key
                if math.isfinite(float(value)):
                    report.step_metrics.append((name, float(value), int(row["epoch"])))
        card = self.get_model_card_info()
        diag = self.get_failure_diagnostics()
        report.artifacts = self._report_artifacts(workdir, hist, card, diag)
        src = self._source
        params: dict[str, Any] = {
            "neural.train_mode": cfg.train_mode,
            "neural.architecture": card["architecture"],
            "neural.total_params": card["total_params"],
            "neural.trainable_params": card["trainable_params"],
            "neural.precision": cfg.device.precision,
            "neural.device": card["device"],
            "neural.seed": card["seed"],
            "neural.n_train": getattr(self, "n_train_", None),
            "neural.n_val": getattr(self, "n_val_", None),
            "weights.source": src.weights_tags.get("weights.source") or src.weights_tags.get("weights"),
        }  # fmt: skip
        for key, value in src.adapter.as_params().items():
            params[key if key.startswith("adapt.") else f"adapt.{key}"] = value
        if src.load_report is not None:
            params.update(src.load_report.as_params())
        if src.amplitude is not None:
            params.update(src.amplitude.as_params())
        if cfg.train_mode in ("lora", "qlora"):
            params["neural.lora_layers"] = len(self._lora_layers)
        if cfg.train_mode == "qlora":
            params["neural.n_4bit_layers"] = card.get("quantization", {}).get("n_4bit_layers")
        report.params = {k: v for k, v in params.items() if v is not None}
        metrics: dict[str, float] = {
            "epochs_trained": float(len(hist)),
            "skipped_steps": float(diag.get("skipped_steps", 0) or 0),
        }
        if card["trainable_fraction"] is not None:
            metrics["trainable_fraction"] = float(card["trainable_fraction"])
        if self.best_epoch_ is not None:
            metrics["best_epoch"] = float(self.best_epoch_)
            if self.best_value_ is not None and math.isfinite(self.best_value_):
                metrics[f"best_{cfg.checkpoints.monitor}"] = float(self.best_value_)
        for key, value in self.cache_stats_.items():
            metrics[f"cache.{key}"] = float(value)
        report.metrics = metrics
        report.tags = dict(src.weights_tags)
        if src.random_weights:
            report.tags["weights"] = "random-init"
        if src.amplitude is not None:
            report.tags.update(src.amplitude.as_tags())
        if card["license"] is not None:
            report.tags["backbone.license"] = card["license"]
        if self.failed_:
            report.failed = True
            report.failure_reason = self.failure_reason_
        return report
