"""Input validation: X, y and metadata become one EpochsData value, checked once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .chunks import window_chunks
from .open import as_source, is_epochs
from .source import ArraySource, WindowSource
from .windows_dataset import dataset_info, is_windows_dataset


@dataclass(frozen=True)
class DataInfo:
    """What estimators are told about the data before fitting (no values, no labels).

    Passed to ``build_estimator`` and to the optional estimator hook
    ``check_data_info(info)`` that must raise a clear ``ValueError`` for input the
    model cannot take (before any fitting).
    """

    n_samples: int
    ndim: int
    n_channels: int | None
    n_times: int | None
    sfreq: float | None
    ch_names: tuple[str, ...] | None
    task: str
    classes: tuple[Any, ...] | None
    group_key: str | None = None
    unit: str = "V"


@dataclass
class EpochsData:
    """Validated experiment input.

    Attributes
    ----------
    X : ndarray or WindowSource, float32, (n, ch, t) or (n, features)
        An in-memory float32 array as given; anything else (a memmap, a ``.npy`` or
        zarr path, a zarr array, ``mne.Epochs``, a braindecode windows dataset, an
        array of another dtype) as a :class:`~coco_pipe.data.source.WindowSource`
        that reads (and casts) windows on demand. :meth:`windows` gives either as a
        source.
    y : ndarray (n,)
    metadata : DataFrame with n rows (RangeIndex).
    sfreq : float or None
    ch_names : list of str or None
    groups : ndarray or None, from ``metadata[group_key]``.
    unit : str, the amplitude unit of X (``"V"``, ``"mV"``, ``"uV"``, ``"nV"``).
    """

    X: np.ndarray | WindowSource
    y: np.ndarray
    metadata: pd.DataFrame
    sfreq: float | None = None
    ch_names: list[str] | None = None
    groups: np.ndarray | None = None
    group_key: str | None = None
    task: str = "classification"
    extra: dict[str, Any] = field(default_factory=dict)
    unit: str = "V"

    def windows(self, indices: Any = None) -> WindowSource:
        """The windows at ``indices`` (default: all) as a lazy source; nothing is read.

        Examples
        --------
        >>> d = validate_inputs(np.zeros((4, 2, 10)), [0, 1, 0, 1])
        >>> d.windows([3, 1]).shape
        (2, 2, 10)
        """
        source = as_source(self.X)
        return source if indices is None else source.subset(indices)

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            n_samples=len(self.y),
            ndim=self.X.ndim,
            n_channels=self.X.shape[1] if self.X.ndim == 3 else None,
            n_times=self.X.shape[2] if self.X.ndim == 3 else None,
            sfreq=self.sfreq,
            ch_names=tuple(self.ch_names) if self.ch_names is not None else None,
            task=self.task,
            classes=tuple(np.unique(self.y).tolist()) if self.task == "classification" else None,
            group_key=self.group_key,
            unit=self.unit,
        )


@dataclass(frozen=True)
class Windows:
    """What an estimator reads from its ``X``: the windows and, when ``X`` carried them
    (an ``mne.Epochs``), its sampling rate and channel names."""

    X: np.ndarray
    sfreq: float | None = None
    ch_names: tuple[str, ...] | None = None


def as_windows(X: Any) -> Windows:
    """``X`` as estimators take it: an ``mne.Epochs`` (sfreq and channel names read from
    it, data in volts) or any array-like, returned without a copy where possible.

    Every coco-pipe estimator calls this at the top of ``fit`` / ``predict`` /
    ``transform``, so ``cross_val_score(estimator, epochs, y)`` works as it does with
    MNE's own decoders.

    Examples
    --------
    >>> import numpy as np
    >>> as_windows(np.zeros((2, 3, 4))).X.shape
    (2, 3, 4)
    """
    if is_epochs(X):
        return Windows(
            X.get_data(copy=False), float(X.info["sfreq"]), tuple(X.ch_names)
        )
    if isinstance(X, list | tuple) and X and all(is_epochs(e) for e in X):
        # scikit-learn's CV indexes an Epochs into a list of one-epoch Epochs
        parts = [as_windows(e) for e in X]
        if {(p.sfreq, p.ch_names) for p in parts} != {(parts[0].sfreq, parts[0].ch_names)}:
            raise ValueError(
                "X is a list of mne.Epochs with different sfreq or channel names; give Epochs "
                "recorded alike (or one Epochs object)"
            )
        return Windows(np.concatenate([p.X for p in parts]), parts[0].sfreq, parts[0].ch_names)
    return Windows(np.asarray(X))


def non_finite_windows(X: Any) -> np.ndarray:
    """Indices of the windows of ``X`` holding NaN or Inf once cast to float32, checked
    chunk by chunk (``X``: an array or any input :func:`~coco_pipe.data.open.as_source`
    takes).

    Examples
    --------
    >>> X = np.zeros((3, 2, 4)); X[1, 0, 2] = np.nan
    >>> non_finite_windows(X).tolist()
    [1]
    """
    source = as_source(X)
    if len(source) == 0:
        return np.empty(0, dtype=np.int64)
    step = window_chunks(len(source), source.window_bytes).step
    bad = []
    for start, chunk in source.batches(batch_windows=step):  # cast to float32 chunk by chunk
        finite = np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1)
        if not finite.all():
            bad.append(start + np.flatnonzero(~finite))
    return np.concatenate(bad) if bad else np.empty(0, dtype=np.int64)


def _stored_windows(source: WindowSource) -> np.ndarray | WindowSource:
    """What :attr:`EpochsData.X` keeps: an in-memory float32 array as it is (no copy),
    anything else as its source (cast when read)."""
    if isinstance(source, ArraySource) and source.scale is None:
        array = source.array
        if type(array) is np.ndarray and array.dtype == np.float32:
            return array
    return source


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def validate_inputs(
    X: Any,
    y: Any = None,
    sample_metadata: pd.DataFrame | None = None,
    *,
    task: str = "classification",
    group_key: str | None = None,
    sfreq: float | None = None,
    ch_names: list[str] | None = None,
) -> EpochsData:
    """Check X, y and metadata once and return an :class:`EpochsData`.

    Parameters
    ----------
    X : array-like, shape (n_windows, n_channels, n_times) or (n_samples, n_features)
        An ndarray, ``np.memmap``, path to a ``.npy`` file or a zarr array, a zarr
        array, a :class:`~coco_pipe.data.source.WindowSource`, an ``mne.Epochs``
        (``preload=False`` too) or a braindecode windows dataset. Nothing is copied
        whole: validation reads (and casts to float32) one chunk at a time. With
        ``mne.Epochs`` / a windows dataset the sfreq, channel names and metadata are
        read from it.
    y : array-like, shape (n,)
        Class labels or continuous targets. With ``mne.Epochs`` and ``y=None`` the
        event names are used; with a windows dataset, its ``target`` column.
    sample_metadata : DataFrame, optional
        One row per window; ``group_key`` names its group column (e.g. ``Subject``).

    Raises
    ------
    ValueError
        Naming the array or field and what was expected.

    Examples
    --------
    >>> import numpy as np
    >>> d = validate_inputs(np.zeros((4, 2, 10)), [0, 1, 0, 1], sfreq=100.0)
    >>> d.X.shape, d.X.dtype
    ((4, 2, 10), dtype('float32'))
    """
    if is_epochs(X):
        epochs = X
        source = as_source(epochs)  # preload=False: bad epochs dropped, nothing loaded
        sfreq = float(epochs.info["sfreq"]) if sfreq is None else sfreq
        ch_names = list(epochs.ch_names) if ch_names is None else ch_names
        if sample_metadata is None and epochs.metadata is not None:
            sample_metadata = epochs.metadata
        if y is None:
            inv = {v: k for k, v in epochs.event_id.items()}
            y = np.array([inv.get(c, c) for c in epochs.events[:, 2]])
    elif is_windows_dataset(X):
        source = as_source(X)
        ds_sfreq, ds_ch_names, _ = dataset_info(X)
        sfreq = ds_sfreq if sfreq is None else sfreq
        ch_names = ds_ch_names if ch_names is None else ch_names
        ds_metadata = X.get_metadata()
        if sample_metadata is None:
            sample_metadata = ds_metadata
        if y is None:
            y = ds_metadata["target"].to_numpy()
    else:
        source = as_source(X)
    if y is None:
        raise ValueError(
            "y is required with array input: one target per window (shape (n_windows,))"
        )

    if source.ndim not in (2, 3):
        raise ValueError(
            f"X must be 3-D (n_windows, n_channels, n_times) or 2-D (n_samples, n_features); "
            f"got ndim={source.ndim} with shape {source.shape}"
        )
    dtype = source.source_dtype
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(
            f"X is complex-valued (dtype {dtype}); expected real-valued windows. Pass the part "
            "you mean to decode explicitly, e.g. np.abs(X) for an amplitude or X.real"
        )
    if not np.issubdtype(dtype, np.number) or dtype == np.bool_:
        raise ValueError(f"X must be real numbers (float or int), got dtype {dtype}")
    bad = non_finite_windows(source)
    if len(bad):
        raise ValueError(
            f"X contains NaN or Inf in {len(bad)} window(s) (first indices: {bad[:5].tolist()}); "
            "expected finite values"
        )
    X = _stored_windows(source)

    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_windows,), got shape {y.shape}")
    if y.dtype == object:
        kinds = sorted({_label_kind(v) for v in y})
        if len(kinds) > 1:
            raise ValueError(
                f"y mixes label types ({', '.join(kinds)}); expected one type for all targets, "
                "e.g. all strings (y.astype(str)) or all integers"
            )
    if np.iscomplexobj(y):
        raise ValueError(f"y is complex-valued (dtype {y.dtype}); expected real targets or labels")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} windows but y has {len(y)} targets; they must match")
    if task == "classification":
        if y.dtype.kind == "f":
            if not np.isfinite(y).all():
                raise ValueError("y contains NaN or Inf")
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise ValueError(
                    "y holds continuous values (non-integer floats) but task='classification'; "
                    "use task='regression' or give class labels"
                )
        n_classes = len(np.unique(y))
        if n_classes < 2:
            raise ValueError(f"y has {n_classes} class(es); classification needs at least 2")
    else:
        if not np.issubdtype(y.dtype, np.number):
            raise ValueError(f"task='regression' needs numeric y, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or Inf")

    if sample_metadata is None:
        metadata = pd.DataFrame(index=pd.RangeIndex(len(y)))
    else:
        if not isinstance(sample_metadata, pd.DataFrame):
            raise ValueError(
                f"sample_metadata must be a pandas DataFrame, got {type(sample_metadata).__name__}"
            )
        if len(sample_metadata) != len(y):
            raise ValueError(
                f"sample_metadata has {len(sample_metadata)} rows but X has {len(X)} windows; they must match"
            )
        metadata = sample_metadata.reset_index(drop=True)

    groups = None
    if group_key is not None:
        if group_key not in metadata.columns:
            cols = ", ".join(map(str, metadata.columns)) or "none"
            raise ValueError(
                f"cv.group_key={group_key!r} is not a column of sample_metadata (columns: {cols})"
            )
        groups = metadata[group_key].to_numpy()
        if pd.isna(groups).any():
            raise ValueError(f"sample_metadata[{group_key!r}] has missing values")

    if X.ndim == 3:
        if ch_names is not None and len(ch_names) != X.shape[1]:
            raise ValueError(f"ch_names has {len(ch_names)} names but X has {X.shape[1]} channels")
        if ch_names is not None:
            counts = pd.Series([str(c) for c in ch_names]).value_counts()
            dup = counts[counts > 1]
            if len(dup):
                raise ValueError(
                    f"ch_names has duplicated names {dup.index.tolist()}; expected one name per "
                    "channel (rename or drop the duplicates, e.g. mne's rename_channels)"
                )
        if sfreq is not None and not (sfreq > 0):
            raise ValueError(f"sfreq must be positive, got {sfreq}")

    return EpochsData(
        X=X,
        y=y,
        metadata=metadata,
        sfreq=sfreq,
        ch_names=list(ch_names) if ch_names else None,
        groups=groups,
        group_key=group_key,
        task=task,
    )
