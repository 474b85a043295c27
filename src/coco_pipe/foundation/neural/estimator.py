"""NeuralDecoder: the scikit-learn estimator that trains a backbone (frozen, full, LoRA,
QLoRA) or a scratch network with a head, once per outer fold.

Its hyperparameters are the fields of
:class:`~coco_pipe.decoding.configs.NeuralFineTuneConfig`, one constructor parameter
each; the sub-configs (``optim``, ``lora``, ``head``, ``quantization``, ``device``,
``checkpoints``) are nested parameters (``set_params(optim__lr=1e-4)``,
``GridSearchCV(est, {"optim__lr": [...]})``). ``__init__`` only stores them; ``fit``
validates them once, through ``NeuralFineTuneConfig``, into ``config_``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from ...data import DataInfo, as_windows
from ...decoding.configs.base import StrictConfig
from ...decoding.configs.neural import (
    CheckpointConfig,
    DeviceConfig,
    HeadConfig,
    LoRAConfig,
    NeuralFineTuneConfig,
    OptimConfig,
    QuantizationConfig,
)
from ..placement import make_placement, seeded_rng
from .assembly import assemble, build_source, check_buildable, count_params
from .inference import forward_batches, frozen_embeddings
from .persistence import PersistenceMixin
from .reports import ReportsMixin

logger = logging.getLogger(__name__)

__all__ = ["NeuralDecoder"]

#: parameters whose default depends on the model kind: None lets the config choose
#: (scratch networks: weights='random', train_mode='full')
_KIND_DEFAULTS = ("weights", "train_mode")
_SUBCONFIGS = ("head", "lora", "quantization", "device", "checkpoints", "optim")


class NeuralDecoder(ReportsMixin, PersistenceMixin, ClassifierMixin, BaseEstimator):
    """Train a foundation backbone (frozen/full/LoRA/QLoRA) or a scratch net with a head.

    ================  ======================================================================
    train_mode        what is trained
    ================  ======================================================================
    ``frozen``        the head only; with ``precompute_embeddings`` the backbone embeds
                      every window once (through the disk cache with ``cache_embeddings``)
                      and the head trains on the embeddings.
    ``full``          backbone and head (optional layer-wise lr decay); scratch networks
                      (``eegnet``, ``shallow_fbcsp``, ``deep4``, ``eegconformer``) always.
    ``lora``          LoRA adapters (peft) on the spec's target modules, plus the head.
    ``qlora``         as ``lora``, on a backbone whose ``nn.Linear`` layers are 4-bit
                      (bitsandbytes ``Linear4bit``, NF4/FP4); adapters stay in fp32.
    ================  ======================================================================

    The early-stopping validation split is carved from the training partition (grouped
    by ``groups``). A diverging run (NaN/Inf) stops, is reported as failed through
    :meth:`tracking_report` and never crashes ``fit``; ``predict`` on it raises.

    Parameters
    ----------
    model_key : str
        A foundation model (``ESTIMATOR_SPECS``) or a scratch network.
    backend, weights, revision, input_kind, train_mode, pooling, head, lora, quantization, \
device, checkpoints, optim, early_stopping_patience, validation_fraction, \
precompute_embeddings, cache_embeddings, cache_dir, seed, model_kwargs, trust_remote_code, \
allow_partial_weights, scratch_sfreq, divergence_patience
        The fields of :class:`~coco_pipe.decoding.configs.NeuralFineTuneConfig`, with its
        defaults (``weights`` / ``train_mode`` None: the config's default for the model
        kind; ``model_kwargs`` None: no extra arguments). Sub-configs may also be dicts.
    sfreq : float, optional
        Sampling rate of the windows (Hz); None reads it from an ``mne.Epochs`` X.
    ch_names : sequence of str, optional
        Channel names in data order; None reads them from an ``mne.Epochs`` X.
    task : {"classification", "regression"}
        Cross-entropy on classes, or MSE on standardised targets.
    random_state : int, optional
        Seed used when ``seed`` is None (0 when both are None); the backbone (random-init
        weights included), the head and training all run under it.
    unit : str
        Amplitude unit of the windows: ``"V"`` (default), ``"mV"``, ``"uV"``, ``"nV"``.
    quiet : bool
        No progress bar (it is also off when stderr is not a terminal).
    epoch_callback : callable, optional
        ``epoch_callback(history_row)`` after every epoch; returning True stops.

    Attributes
    ----------
    config_ : NeuralFineTuneConfig
        The validated parameters.
    classes_ : ndarray
        Class labels (classification).
    history_ : list of dict
        One row per epoch.
    failed_ : bool
        Training diverged; ``predict`` raises, :meth:`tracking_report` marks the fold failed.
    network_ : torch.nn.Module
        The trained backbone + head.

    Examples
    --------
    >>> import numpy as np
    >>> from coco_pipe.decoding.configs import OptimConfig
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 4, 128)).astype("float32"); y = np.repeat([0, 1], 20)
    >>> clf = NeuralDecoder("eegnet", scratch_sfreq=128.0, optim=OptimConfig(epochs=2),
    ...                     sfreq=128.0, quiet=True)
    >>> clf.set_params(optim__batch_size=16).get_params()["optim__batch_size"]
    16
    >>> clf.fit(X, y).predict(X[:3]).shape  # doctest: +SKIP
    (3,)
    """

    def __init__(
        self,
        model_key: str = "eegnet",
        *,
        backend: str = "braindecode",
        weights: str | None = None,
        revision: str | None = None,
        input_kind: str = "epoched",
        train_mode: str | None = None,
        pooling: str | None = None,
        head: HeadConfig | dict = HeadConfig(),
        lora: LoRAConfig | dict = LoRAConfig(),
        quantization: QuantizationConfig | dict = QuantizationConfig(),
        device: DeviceConfig | dict = DeviceConfig(),
        checkpoints: CheckpointConfig | dict = CheckpointConfig(),
        optim: OptimConfig | dict = OptimConfig(),
        early_stopping_patience: int | None = 5,
        validation_fraction: float = 0.2,
        precompute_embeddings: bool = True,
        cache_embeddings: bool = False,
        cache_dir: str | None = None,
        seed: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        trust_remote_code: bool = False,
        allow_partial_weights: bool = False,
        scratch_sfreq: float | None = None,
        divergence_patience: int = 10,
        sfreq: float | None = None,
        ch_names: list[str] | tuple[str, ...] | None = None,
        task: str = "classification",
        random_state: int | None = None,
        quiet: bool = False,
        epoch_callback=None,
        unit: str = "V",
    ):
        self.model_key = model_key
        self.backend = backend
        self.weights = weights
        self.revision = revision
        self.input_kind = input_kind
        self.train_mode = train_mode
        self.pooling = pooling
        self.head = head
        self.lora = lora
        self.quantization = quantization
        self.device = device
        self.checkpoints = checkpoints
        self.optim = optim
        self.early_stopping_patience = early_stopping_patience
        self.validation_fraction = validation_fraction
        self.precompute_embeddings = precompute_embeddings
        self.cache_embeddings = cache_embeddings
        self.cache_dir = cache_dir
        self.seed = seed
        self.model_kwargs = model_kwargs
        self.trust_remote_code = trust_remote_code
        self.allow_partial_weights = allow_partial_weights
        self.scratch_sfreq = scratch_sfreq
        self.divergence_patience = divergence_patience
        self.sfreq = sfreq
        self.ch_names = ch_names
        self.task = task
        self.random_state = random_state
        self.quiet = quiet
        self.epoch_callback = epoch_callback
        self.unit = unit

    # ----------------------------------------------------------------- parameters

    @classmethod
    def _config_fields(cls) -> tuple[str, ...]:
        """The constructor parameters that are NeuralFineTuneConfig fields."""
        return tuple(name for name in NeuralFineTuneConfig.model_fields if name != "kind")

    def set_params(self, **params) -> NeuralDecoder:
        """Set parameters; ``sub__field`` (e.g. ``optim__lr``) reaches a sub-config field
        and is validated there. The sub-config is copied first, so a config shared with
        another estimator (or the default) is never changed in place.

        Examples
        --------
        >>> est = NeuralDecoder("eegnet").set_params(optim__lr=1e-4)
        >>> est.optim.lr, NeuralDecoder("eegnet").optim.lr
        (0.0001, 0.001)
        """
        for name in {key.partition("__")[0] for key in params if "__" in key}:
            value = getattr(self, name, None)
            if name in _SUBCONFIGS and isinstance(value, StrictConfig):
                setattr(self, name, value.model_copy(deep=True))
        return super().set_params(**params)

    def _validated_config(self) -> NeuralFineTuneConfig:
        """The parameters validated through NeuralFineTuneConfig (raises naming the field)."""
        if isinstance(self.model_key, NeuralFineTuneConfig | dict):
            raise TypeError(
                "NeuralDecoder takes the fields of a NeuralFineTuneConfig as parameters, not the "
                "config: use coco_pipe.decoding.builders.build_estimator(config) or "
                "NeuralDecoder(**coco_pipe.decoding.builders.neural_decoder_params(config))"
            )
        data: dict[str, Any] = {}
        for name in self._config_fields():
            value = getattr(self, name)
            if value is None and name in _KIND_DEFAULTS:
                continue
            if name == "model_kwargs" and value is None:
                value = {}
            if isinstance(value, StrictConfig):  # unset fields keep the config's own defaults
                value = value.model_dump(exclude_unset=True)
            data[name] = value
        return NeuralFineTuneConfig.model_validate(data)

    def _current_config(self) -> NeuralFineTuneConfig:
        cfg = getattr(self, "config_", None)
        return cfg if cfg is not None else self._validated_config()

    def _seed_for(self, cfg: NeuralFineTuneConfig) -> int:
        if cfg.seed is not None:
            return int(cfg.seed)
        return int(self.random_state) if self.random_state is not None else 0

    def check_data_info(self, info: DataInfo) -> None:
        """Raise a clear ``ValueError`` / ``ImportError`` for data or settings the model
        cannot take, before any fitting (cheap: no weights are loaded).

        Examples
        --------
        >>> from coco_pipe.data import DataInfo
        >>> info = DataInfo(10, 2, None, None, None, None, "classification", (0, 1))
        >>> NeuralDecoder("eegnet").check_data_info(info)
        Traceback (most recent call last):
        ...
        ValueError: NeuralDecoder (eegnet) needs 3-D epochs (n_windows, n_channels, n_times); X is 2-D
        """
        sfreq = info.sfreq if info.sfreq is not None else self.sfreq
        ch_names = info.ch_names if info.ch_names is not None else self.ch_names
        check_buildable(
            self._validated_config(), info, sfreq=sfreq, ch_names=ch_names, unit=self.unit
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        if self.task == "regression":
            from sklearn.utils import RegressorTags

            tags.estimator_type = "regressor"
            tags.classifier_tags = None
            tags.regressor_tags = RegressorTags()
        return tags

    # ----------------------------------------------------------------- input

    def _signal(self, windows) -> tuple[float | None, tuple[str, ...] | None]:
        """sfreq and channel names: the estimator's own, else those an mne.Epochs carries."""
        sfreq, ch_names = self.sfreq, self.ch_names
        if windows.sfreq is not None:
            if sfreq is not None and not math.isclose(float(sfreq), windows.sfreq):
                raise ValueError(
                    f"sfreq={sfreq} but X (mne.Epochs) is sampled at {windows.sfreq} Hz; leave "
                    "sfreq=None to read it from the Epochs"
                )
            sfreq = windows.sfreq
        if windows.ch_names is not None:
            if ch_names is not None and tuple(ch_names) != windows.ch_names:
                raise ValueError(
                    f"ch_names={list(ch_names)} differ from the channels of X (mne.Epochs) "
                    f"{list(windows.ch_names)}; leave ch_names=None to read them from the Epochs"
                )
            ch_names = windows.ch_names
        return sfreq, tuple(ch_names) if ch_names is not None else None

    def _windows(self, X) -> np.ndarray:
        """X (array or mne.Epochs) at predict time, checked against what fit saw."""
        windows = as_windows(X)
        if windows.sfreq is not None and self.sfreq_ is not None:
            if not math.isclose(windows.sfreq, self.sfreq_):
                raise ValueError(
                    f"X (mne.Epochs) is sampled at {windows.sfreq} Hz but the decoder was fitted "
                    f"at {self.sfreq_} Hz; resample the Epochs to {self.sfreq_} Hz"
                )
        if windows.ch_names is not None and self.ch_names_ is not None:
            if windows.ch_names != self.ch_names_:
                raise ValueError(
                    f"the channels of X (mne.Epochs) {list(windows.ch_names)} differ from those "
                    f"the decoder was fitted on {list(self.ch_names_)}; pick and order them alike"
                )
        X = windows.X
        if X.ndim != 3 or X.shape[1:] != (self.n_channels_in_, self.n_times_in_):
            raise ValueError(
                f"X must have shape (n_windows, {self.n_channels_in_}, {self.n_times_in_}) as in fit; "
                f"got {X.shape}"
            )
        return X.astype(np.float32, copy=False)

    # ----------------------------------------------------------------- fitting

    def fit(self, X, y, groups=None) -> NeuralDecoder:
        """Train on (X, y); ``groups`` (one label per window) make the validation split grouped.

        Neither numpy's nor torch's global random state is changed: the seed drives a
        forked torch generator.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times), or mne.Epochs
        y : array-like, shape (n_windows,)
        groups : array-like, shape (n_windows,), optional
            E.g. subjects: whole groups go to the early-stopping validation side.

        Returns
        -------
        self
        """
        from ..training import restore_snapshot, run_training

        windows = as_windows(X)
        cfg = self._validated_config()
        sfreq, ch_names = self._signal(windows)
        X = windows.X
        if X.ndim != 3:
            raise ValueError(f"X must be 3-D (n_windows, n_channels, n_times), got shape {X.shape}")
        X = X.astype(np.float32, copy=False)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one target per window ({len(X)}), got shape {y.shape}"
            )
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        classification = self.task == "classification"
        classes = np.unique(y) if classification else None
        info = DataInfo(
            n_samples=len(y), ndim=3, n_channels=X.shape[1], n_times=X.shape[2], sfreq=sfreq,
            ch_names=ch_names, task=self.task,
            classes=tuple(classes.tolist()) if classes is not None else None,
        )  # fmt: skip
        check_buildable(cfg, info, sfreq=sfreq, ch_names=ch_names, unit=self.unit)
        if ch_names is not None and len(ch_names) != X.shape[1]:
            raise ValueError(f"ch_names has {len(ch_names)} names but X has {X.shape[1]} channels")
        seed = self._seed_for(cfg)
        if classification:
            y_t = torch.as_tensor(np.searchsorted(classes, y), dtype=torch.long)
            n_out, y_mean, y_std = len(classes), 0.0, 1.0
        else:
            yf = y.astype(np.float64)
            y_mean, y_std = float(np.mean(yf)), float(np.std(yf)) or 1.0
            y_t = torch.as_tensor((yf - y_mean) / y_std, dtype=torch.float32)
            n_out = 1
        train_idx, val_idx = self._split(cfg, y, groups, seed)
        nonfinite = ~np.isfinite(X).all(axis=(1, 2))
        input_diag = {
            "input_nonfinite_windows": int(nonfinite.sum()),
            "input_nonfinite_indices": np.flatnonzero(nonfinite)[:10].tolist(),
        }
        if nonfinite.any():
            logger.warning(
                "X has %d window(s) with NaN/Inf; training will likely diverge", nonfinite.sum()
            )
        placement = make_placement(cfg.device.device, cfg.device.precision)
        bs = max(cfg.optim.batch_size, 64)
        with seeded_rng(seed):
            t_build = time.perf_counter()
            source = build_source(
                cfg, sfreq=sfreq, ch_names=ch_names, n_channels=X.shape[1], n_times=X.shape[2],
                n_out=n_out, scale=None, X_train=X[train_idx] if not nonfinite.all() else X,
                seed=seed, unit=self.unit,
            )  # fmt: skip
            asm = assemble(cfg, source, n_out=n_out, device=placement.device)
            network = asm.network
            n_params = count_params(network)
            build_seconds = time.perf_counter() - t_build
            t_prep = time.perf_counter()
            precompute = cfg.train_mode == "frozen" and cfg.precompute_embeddings and not source.scratch
            cache_stats: dict[str, float] = {}
            if precompute:
                feats, cache_stats = frozen_embeddings(
                    network, source, X, device=placement.device, precision=placement.precision,
                    batch_size=bs, cache=cfg.cache_embeddings, cache_dir=cfg.cache_dir,
                )  # fmt: skip
                inputs, model = torch.from_numpy(feats), network.head
            else:
                inputs, model = torch.from_numpy(source.adapter.apply(X)), network
            input_seconds = time.perf_counter() - t_prep
            tr, va = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
            o = cfg.optim
            result = run_training(
                model, inputs[tr], y_t[tr], inputs[va], y_t[va], placement=placement,
                task=self.task, lr=o.lr, weight_decay=o.weight_decay, epochs=o.epochs,
                batch_size=o.batch_size, scheduler=o.scheduler, warmup_epochs=o.warmup_epochs,
                grad_clip=o.grad_clip, layer_decay=o.layer_decay if cfg.train_mode == "full" else None,
                patience=cfg.early_stopping_patience, monitor=cfg.checkpoints.monitor,
                divergence_patience=cfg.divergence_patience, seed=seed,
                progress=not self.quiet and sys.stderr.isatty(), epoch_callback=self.epoch_callback,
                desc=f"{cfg.model_key}/{cfg.train_mode}",
            )  # fmt: skip
        weights_epoch = None
        if not result.failed:
            if cfg.checkpoints.save != "last" and result.best_state is not None:
                restore_snapshot(model, result.best_state)
                weights_epoch = result.best_epoch
            else:
                weights_epoch = result.history[-1]["epoch"] if result.history else None
        network.eval()
        # fitted state, set only once training is over
        self.config_ = cfg
        self.sfreq_, self.ch_names_ = sfreq, ch_names
        if classification:
            self.classes_ = classes
        self.y_mean_, self.y_std_ = y_mean, y_std
        self.n_channels_in_, self.n_times_in_ = int(X.shape[1]), int(X.shape[2])
        self.n_outputs_ = n_out
        self.seed_ = seed
        self._adopt(asm, source, placement.device)
        self.n_params_, self.n_trainable_params_ = n_params
        self.precomputed_embeddings_ = precompute
        self.cache_stats_ = cache_stats
        self.input_seconds_ = input_seconds
        self.history_ = result.history
        self.failed_ = result.failed
        self.failure_reason_ = result.failure_reason
        self._train_diag = result.diagnostics
        self._input_diag = input_diag
        self.best_epoch_ = result.best_epoch
        self.best_value_ = result.best_value
        self.weights_epoch_ = weights_epoch
        self.n_train_, self.n_val_ = len(train_idx), len(val_idx)
        self.timings_ = {"build_seconds": build_seconds, "input_seconds": input_seconds}
        self._saved_paths: list[str] = []
        return self

    def _split(self, cfg, y, groups, seed):
        from ..validation_split import validation_split

        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ValueError(
                    f"groups has {len(groups)} entries but y has {len(y)}; they must match"
                )
        return validation_split(y, groups, cfg.validation_fraction, seed, task=self.task)

    # ----------------------------------------------------------------- inference

    def _check_is_fitted(self) -> None:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "network_")

    def _check_fitted(self) -> None:
        self._check_is_fitted()
        if self.failed_:
            raise RuntimeError(
                f"training of this NeuralDecoder failed ({self.failure_reason_}); it cannot predict. "
                "See get_failure_diagnostics()"
            )

    def _outputs(self, X) -> np.ndarray:
        """Network outputs (logits or standardised targets); reads fitted state only."""
        self._check_fitted()
        X = self._windows(X)
        cfg = self.config_
        device = torch.device(self.device_)
        precision = cfg.device.precision
        bs = max(cfg.optim.batch_size, 64)
        if self.precomputed_embeddings_:
            inputs, _ = frozen_embeddings(
                self.network_, self._source, X, device=device, precision=precision, batch_size=bs,
                cache=cfg.cache_embeddings, cache_dir=cfg.cache_dir,
            )  # fmt: skip
            model = self.network_.head
        else:
            inputs, model = self._source.adapter.apply(X), self.network_
        out = forward_batches(model, inputs, device=device, precision=precision, batch_size=bs,
                              width=self.n_outputs_)  # fmt: skip
        return out.astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_windows, n_classes), columns in ``classes_`` order."""
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for task='classification'")
        logits = self._outputs(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def decision_function(self, X) -> np.ndarray:
        """Logits (classification), shape (n_windows, n_classes)."""
        return self._outputs(X)

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or targets (regression), shape (n_windows,)."""
        out = self._outputs(X)
        if self.task == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0] * self.y_std_ + self.y_mean_

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classification) or R^2 (regression)."""
        if self.task == "regression":
            from sklearn.metrics import r2_score

            return float(r2_score(y, self.predict(X), sample_weight=sample_weight))
        return super().score(X, y, sample_weight=sample_weight)
