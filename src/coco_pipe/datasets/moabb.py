"""The ``moabb`` source: a MOABB dataset and paradigm, through MOABB's own ``get_data``.

MOABB finds the data in its local data folder (``MNE_DATA`` / ``MNE_DATASETS_*_PATH``) and
downloads what is missing; on a machine without network that download fails with MOABB's
own error, which is passed on unchanged. Install with ``pip install moabb``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .epoching import EpochArrays, check_amplitude, volts_factor

__all__ = ["resolve_moabb", "load_moabb"]


def _import_moabb():
    try:
        import moabb.datasets
        import moabb.paradigms
    except ImportError as exc:  # pragma: no cover - moabb is a declared dependency
        raise ImportError("data.source='moabb' needs MOABB: pip install moabb") from exc
    return moabb.datasets, moabb.paradigms


def resolve_moabb(kind: str, value: Any, params: Mapping[str, Any] | None) -> Any:
    """A MOABB dataset (``kind="dataset"``) or paradigm (``kind="paradigm"``) from its
    class name in ``moabb.datasets`` / ``moabb.paradigms`` (or an instance, returned as is).

    Examples
    --------
    >>> resolve_moabb("paradigm", "SSVEP", {"n_classes": 3}).n_classes  # doctest: +SKIP
    3
    """
    datasets, paradigms = _import_moabb()
    if not isinstance(value, str):
        if params:
            raise ValueError(f"{kind}_params are only used when {kind} is given by name")
        return value
    module = datasets if kind == "dataset" else paradigms
    cls = getattr(module, value, None)
    if not isinstance(cls, type):
        names = sorted(n for n in dir(module) if n[:1].isupper() and isinstance(getattr(module, n), type))
        raise ValueError(
            f"moabb {kind} {value!r} is not a class of moabb.{kind}s; known: {', '.join(names)}"
        )
    return cls(**dict(params or {}))


def load_moabb(
    dataset: str | Any,
    paradigm: str | Any,
    *,
    subjects: Sequence[int] | None = None,
    dataset_params: Mapping[str, Any] | None = None,
    paradigm_params: Mapping[str, Any] | None = None,
    unit: str = "V",
    scale: float = 1.0,
) -> EpochArrays:
    """Epochs of a MOABB dataset under a MOABB paradigm (``paradigm.get_data``).

    Parameters
    ----------
    dataset : str or moabb dataset
        Class name in ``moabb.datasets`` (``"Kalunga2016"``, ``"BNCI2014_001"``,
        ``"FakeDataset"``...) or an instance.
    paradigm : str or moabb paradigm
        Class name in ``moabb.paradigms`` (``"SSVEP"``, ``"MotorImagery"``, ``"P300"``...)
        or an instance. The paradigm does the filtering, interval and resampling.
    subjects : list of int, optional
        Subjects to load (None: all of the dataset).
    dataset_params, paradigm_params : dict, optional
        Constructor arguments when ``dataset`` / ``paradigm`` are names.
    unit, scale : see :func:`~coco_pipe.datasets.epoching.epochs_from_raw`
        MOABB hands some datasets out in other units than volts (Kalunga2016: mV).

    Returns
    -------
    EpochArrays
        ``y`` are MOABB's labels; metadata has ``Subject``, ``session``, ``run`` (MOABB's
        ``subject``, ``session``, ``run``) and ``dataset`` (the dataset's code).

    Examples
    --------
    >>> data = load_moabb("FakeDataset", "FakeSSVEPParadigm",
    ...                   dataset_params={"paradigm": "ssvep", "n_subjects": 2})  # doctest: +SKIP
    """
    factor = volts_factor(unit, scale)
    ds = resolve_moabb("dataset", dataset, dataset_params)
    pdm = resolve_moabb("paradigm", paradigm, paradigm_params)
    if not pdm.is_valid(ds):
        raise ValueError(
            f"moabb paradigm {type(pdm).__name__} does not apply to dataset {ds.code} "
            f"(paradigm {getattr(ds, 'paradigm', '?')!r}); choose a paradigm of that kind"
        )
    if subjects is not None:
        unknown = sorted(set(subjects) - set(ds.subject_list))
        if unknown:
            raise ValueError(f"subjects {unknown} are not in {ds.code} (subjects: {ds.subject_list})")
    epochs, labels, meta = pdm.get_data(ds, subjects=list(subjects) if subjects else None,
                                        return_epochs=True)
    X = (epochs.get_data(copy=False) * factor).astype(np.float32)
    check_amplitude(X, f"moabb dataset {ds.code}")
    metadata = meta.rename(columns={"subject": "Subject"}).reset_index(drop=True)
    metadata["session"] = metadata["session"].astype(str)
    metadata["run"] = metadata["run"].astype(str)
    metadata["dataset"] = ds.code
    return EpochArrays(
        X=X,
        y=np.asarray(labels).astype(str),
        metadata=metadata,
        sfreq=float(epochs.info["sfreq"]),
        ch_names=list(epochs.ch_names),
    )
