"""build_estimator(config) -> a scikit-learn compatible estimator.

Every model kind becomes an estimator with ``fit``/``predict`` (and ``predict_proba``
where it can), clonable with :func:`sklearn.base.clone`. The experiment loop only
talks to estimators; this module is the one place that knows the config kinds.
"""

from __future__ import annotations

import inspect
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..data import DataInfo
from .registry import get_classical


def _with_seed(est: BaseEstimator, random_state: int | None) -> BaseEstimator:
    if random_state is not None and "random_state" in est.get_params(deep=False):
        if est.get_params(deep=False)["random_state"] is None:
            est.set_params(random_state=random_state)
    return est


def build_classical(
    config, info: DataInfo | None, random_state: int | None = None
) -> BaseEstimator:
    """A ClassicalModelConfig as an estimator; 3-D input is vectorized unless the
    estimator consumes epochs. Scaling is a pipeline step, so it is fit on the
    training partition only."""
    entry = get_classical(config.estimator)
    if info is not None and info.task not in entry.tasks:
        raise ValueError(
            f"estimator {config.estimator!r} is for {'/'.join(entry.tasks)}, but task={info.task!r}"
        )
    est = _with_seed(entry.factory().set_params(**config.params), random_state)
    if info is not None and info.sfreq is not None and "sfreq" in est.get_params(deep=False):
        if est.get_params(deep=False)["sfreq"] is None:
            est.set_params(sfreq=info.sfreq)  # baselines that filter take sfreq from the data
    steps: list[tuple[str, Any]] = []
    if entry.consumes_epochs:
        if info is not None and info.ndim != 3:
            raise ValueError(
                f"estimator {config.estimator!r} needs 3-D epochs (n_windows, n_channels, n_times); "
                f"X is {info.ndim}-D"
            )
        return est
    if info is not None and info.ndim == 3:
        from mne.decoding import Vectorizer

        steps.append(("vectorize", Vectorizer()))
    if config.scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("estimator", est))
    return Pipeline(steps) if len(steps) > 1 else est


def neural_decoder_params(config) -> dict[str, Any]:
    """A NeuralFineTuneConfig as NeuralDecoder constructor arguments: one per config field
    (``kind`` aside), sub-configs as independent copies (nested parameters such as
    ``optim__lr``).

    Examples
    --------
    >>> from coco_pipe.decoding.configs import NeuralFineTuneConfig
    >>> params = neural_decoder_params(NeuralFineTuneConfig(model_key="eegnet"))
    >>> params["model_key"], params["train_mode"], params["optim"].lr
    ('eegnet', 'full', 0.001)
    """
    config = config.model_copy(deep=True)
    return {name: getattr(config, name) for name in type(config).model_fields if name != "kind"}


def build_estimator(
    config, info: DataInfo | None = None, random_state: int | None = None
) -> BaseEstimator:
    """Turn any model config into an unfitted scikit-learn compatible estimator.

    Parameters
    ----------
    config : ClassicalModelConfig | FrozenBackboneDecoderConfig | NeuralFineTuneConfig
    info : DataInfo, optional
        Shape, sfreq and channel names of the data (foundation models adapt to them).
    random_state : int, optional
        Seed given to estimators that take one.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> est = build_estimator(ClassicalModelConfig(estimator="LogisticRegression"))
    >>> type(est).__name__
    'Pipeline'
    """
    kind = getattr(config, "kind", None)
    if kind == "classical":
        return build_classical(config, info, random_state)
    if kind == "frozen_backbone":
        from ..foundation.embedder import BackboneEmbedder

        embed_info = info
        if info is not None:
            from dataclasses import replace

            embed_info = replace(info, ndim=2)  # the head sees 2-D embeddings
        head = build_classical(config.head, embed_info, random_state)
        embedder = BackboneEmbedder.from_config(config.backbone, info=info, random_state=random_state)
        if isinstance(head, Pipeline):
            return Pipeline([("embed", embedder), *head.steps])
        return Pipeline([("embed", embedder), ("estimator", head)])
    if kind == "neural":
        from ..foundation.neural import NeuralDecoder

        return NeuralDecoder(
            **neural_decoder_params(config),
            sfreq=info.sfreq if info is not None else None,
            ch_names=tuple(info.ch_names) if info is not None and info.ch_names is not None else None,
            task=info.task if info is not None else "classification",
            random_state=random_state,
            unit=getattr(info, "unit", "V") if info is not None else "V",
        )
    raise ValueError(f"unknown model config kind {kind!r}")


def iter_steps(estimator: BaseEstimator):
    """Yield the estimator and, for pipelines, each step (for hooks)."""
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            yield from iter_steps(step)
    else:
        yield estimator


def check_data_info(estimator: BaseEstimator, info: DataInfo) -> None:
    """Call each step's optional ``check_data_info(info)`` hook (raises before fitting)."""
    for step in iter_steps(estimator):
        hook = getattr(step, "check_data_info", None)
        if callable(hook):
            hook(info)


def fit_estimator(estimator: BaseEstimator, X, y, groups=None) -> BaseEstimator:
    """Fit, routing ``groups`` to the final step when its ``fit`` accepts it
    (NeuralDecoder uses it for a subject-grouped validation split)."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    accepts = "groups" in inspect.signature(final.fit).parameters
    if groups is not None and accepts:
        if isinstance(estimator, Pipeline):
            return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__groups": groups})
        return estimator.fit(X, y, groups=groups)
    return estimator.fit(X, y)


__all__ = [
    "build_classical",
    "neural_decoder_params",
    "build_estimator",
    "iter_steps",
    "check_data_info",
    "fit_estimator",
]
