"""Core configs: cross-validation, tracking, classical models, the experiment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from .base import StrictConfig
from .classical import ClassicalModelConfig
from .data import DataConfig
from .execution import ExecutionConfig
from .foundation import FrozenBackboneDecoderConfig
from .neural import NeuralFineTuneConfig
from .tuning import TuningConfig

CVStrategy = Literal[
    "stratified",
    "kfold",
    "group_kfold",
    "stratified_group_kfold",
    "leave_one_group_out",
    "within_subject",
    "cross_session",
    "cross_subject",
    "few_shot",
]
#: The field's evaluation protocols (folds drawn per subject; see decoding.protocols).
PROTOCOLS = ("within_subject", "cross_session", "cross_subject", "few_shot")


class CVConfig(StrictConfig):
    """Outer cross-validation: a scikit-learn splitter or one of the field's protocols.

    Protocols (folds know their subject, and results report mean +- sd over subjects):

    - ``within_subject``: ``n_splits``-fold CV inside each subject (stratified); with
      ``session_key``, inside each subject x session (MOABB's within-session evaluation);
    - ``cross_session``: inside each subject, leave one session out;
    - ``cross_subject``: leave one subject out (same folds as ``leave_one_group_out``);
    - ``few_shot``: per target subject, train on the other subjects plus ``n_shots``
      labelled trials per class of the target, test on the target's other trials.

    ``group_key`` is the subject column for the protocols (default ``Subject``).

    Examples
    --------
    >>> CVConfig(strategy="stratified_group_kfold", n_splits=5, group_key="Subject").group_key
    'Subject'
    >>> CVConfig(strategy="cross_session").session_key
    'session'
    """

    strategy: CVStrategy = Field(
        "stratified",
        description="Splitter: stratified, kfold, group_kfold, stratified_group_kfold, "
        "leave_one_group_out, or a protocol: within_subject, cross_session, cross_subject, "
        "few_shot.",
    )
    n_splits: int = Field(
        5,
        ge=2,
        description="Number of outer folds; for within_subject the folds per subject "
        "(ignored by leave_one_group_out, cross_session, cross_subject and few_shot).",
    )
    group_key: str | None = Field(
        None,
        description="Column of sample_metadata holding the groups (e.g. 'Subject'). "
        "Required by the group strategies; the subject column of the protocols (default "
        "'Subject'); also groups validation splits and inner CV.",
    )
    session_key: str | None = Field(
        None,
        description="Column of sample_metadata holding the session: cross_session leaves "
        "one out (default 'session'); within_subject then folds inside each session; every "
        "strategy reports each fold's test sessions.",
    )
    n_shots: int = Field(
        5, ge=1, description="few_shot: labelled trials per class of the target subject."
    )
    shuffle: bool = Field(
        True, description="Shuffle before splitting (where the splitter supports it)."
    )
    random_state: int | None = Field(
        None, description="Seed of the splitter; None uses the experiment's random_state."
    )

    @model_validator(mode="after")
    def _group_key_for_group_strategies(self) -> CVConfig:
        if self.strategy in PROTOCOLS:
            if self.group_key is None:
                object.__setattr__(self, "group_key", "Subject")
            if self.strategy == "cross_session" and self.session_key is None:
                object.__setattr__(self, "session_key", "session")
        elif "group" in self.strategy and not self.group_key:
            raise ValueError(
                f"cv.group_key is required for strategy={self.strategy!r} (e.g. 'Subject')"
            )
        return self


class TrackingConfig(StrictConfig):
    """Where and under which names runs are recorded in MLflow."""

    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI. None: $MLFLOW_TRACKING_URI, else "
        "'sqlite:///mlflow.db' with artifacts in ./mlruns (MLflow's own default: `mlflow run` and "
        "`mlflow ui` in the same folder use the same store).",
    )
    experiment_name: str = Field("coco-pipe", description="MLflow experiment name.")
    run_name: str | None = Field(None, description="Name of the parent run (default: generated).")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags on the parent run.")
    log_predictions: bool = Field(
        True, description="Log each fold's predictions as a table artifact."
    )
    log_plots: bool = Field(
        True, description="Log PNG plots (confusion matrices, fold scores, ROC, learning curves)."
    )
    log_models: Literal["all", "best", "none"] = Field(
        "all",
        description="Log fitted fold models as MLflow Models (pyfunc, loadable with "
        "mlflow.pyfunc.load_model and promotable): 'all' folds, only the 'best' fold of each "
        "model (highest first metric, after the loop; ties: lowest fold), or 'none'.",
    )
    log_embeddings_max_mb: float = Field(
        50.0, ge=0, description="Log the cached embeddings an experiment used on the parent run when "
        "they take at most this many MB (0: never); the cache manifest is always logged."
    )
    timeout_s: float = Field(
        120.0,
        ge=3,
        le=3600,
        description="Longest wait for a tracking server that does not answer (HTTP timeout and "
        "retries together); then the experiment stops with an error naming the URI and the "
        "spool, and nothing computed is lost.",
    )
    spool_dir: str | None = Field(
        None,
        description="Folder where each fold's results are written before they are sent to the "
        "tracking store (replayed by the next run or `coco-pipe sync`). None: "
        "$COCO_PIPE_SPOOL_DIR, else ./coco-pipe-spool.",
    )


def _model_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "kind" in value:
            return value["kind"]
        if "backbone" in value:
            return "frozen_backbone"
        if "model_key" in value or "train_mode" in value:
            return "neural"
        return "classical"
    return getattr(value, "kind", "classical")


ModelConfig = Annotated[
    Annotated[ClassicalModelConfig, Tag("classical")]
    | Annotated[FrozenBackboneDecoderConfig, Tag("frozen_backbone")]
    | Annotated[NeuralFineTuneConfig, Tag("neural")],
    Discriminator(_model_kind),
]


class ChanceConfig(StrictConfig):
    """Chance level and significance reported beside the models."""

    dummy: bool = Field(
        True, description="Add a DummyClassifier / DummyRegressor as the chance model 'chance'."
    )
    n_permutations: int = Field(0, ge=0, description="Permutation test of the best model (0: off).")
    comparison_test: Literal["corrected_ttest", "wilcoxon"] = Field(
        "corrected_ttest",
        description="Pairwise test across folds in summary(): Nadeau-Bengio corrected "
        "resampled t-test (default) or Wilcoxon signed-rank.",
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level of the pairwise tests.")


class ExperimentConfig(StrictConfig):
    """One experiment: data task, models, metrics, outer CV and tracking.

    Examples
    --------
    >>> cfg = ExperimentConfig(
    ...     task="classification",
    ...     models={"logreg": ClassicalModelConfig(estimator="LogisticRegression")},
    ...     cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
    ... )
    >>> cfg.metrics
    ['balanced_accuracy', 'accuracy', 'roc_auc', 'f1_macro']
    """

    task: Literal["classification", "regression"] = Field(
        "classification", description="Target type."
    )
    models: dict[str, ModelConfig] = Field(..., description="Model name -> model config.")
    metrics: list[str] | None = Field(None, description="Metric names; default per task.")
    cv: CVConfig = Field(default_factory=CVConfig, description="Outer cross-validation.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="MLflow tracking.")
    tuning: TuningConfig = Field(
        default_factory=TuningConfig, description="Optuna tuning inside folds."
    )
    chance: ChanceConfig = Field(
        default_factory=ChanceConfig, description="Chance level and tests."
    )
    data: DataConfig | None = Field(
        None, description="Data for the command line (coco-pipe run / mlflow run)."
    )
    execution: ExecutionConfig = Field(
        default_factory=ExecutionConfig,
        description="Where the (model, fold) tasks run: sequential, joblib or ray.",
    )
    random_state: int = Field(42, description="Seed for splits, estimators and training.")
    on_error: Literal["continue", "raise"] = Field(
        "continue",
        description="A fold that fails is recorded as FAILED and the others go on ('continue'), "
        "or the error propagates ('raise').",
    )
    verbose: bool = Field(True, description="Progress bars and info logging.")

    @field_validator("models")
    @classmethod
    def _non_empty(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError("models must name at least one model")
        for name in v:
            if not name or any(c in name for c in "/ .:"):
                raise ValueError(
                    f"model name {name!r} must be non-empty and contain no '/', ' ', '.' or ':'"
                )
        return v

    @model_validator(mode="after")
    def _metrics_known(self) -> ExperimentConfig:
        from ..metrics import default_metrics, resolve_metrics

        if self.metrics is None:
            object.__setattr__(self, "metrics", default_metrics(self.task))
        resolve_metrics(self.metrics, self.task)
        return self
