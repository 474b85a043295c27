"""Where the command line gets its data: the built-in synthetic set, a file, a MOABB
dataset, a BIDS root or raw recordings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import StrictConfig

DataSource = Literal["synthetic", "epochs", "arrays", "moabb", "bids", "raw"]
Unit = Literal["V", "mV", "uV", "nV"]


class EpochingConfig(StrictConfig):
    """How continuous recordings (sources ``bids`` and ``raw``) become epochs: MOABB's
    paradigm steps (band-pass on the continuous signal, IIR Butterworth order 4,
    zero-phase; the interval ``[tmin, tmax)`` after each event; resampling; units).

    Examples
    --------
    >>> EpochingConfig(tmin=2.0, tmax=4.0, l_freq=1.0, h_freq=45.0, unit="mV").unit
    'mV'
    """

    event_id: dict[str, int] | None = Field(
        None,
        description="Class name -> event code (raw events) or annotation / trial_type name "
        "-> code; events not listed are dropped. None: every event, named by its code or "
        "annotation.",
    )
    tmin: float = Field(0.0, description="Start of the epoch, seconds after the event.")
    tmax: float | None = Field(
        None, description="End of the epoch, seconds after the event (excluded). Required."
    )
    l_freq: float | None = Field(None, gt=0, description="High-pass edge (Hz); None: none.")
    h_freq: float | None = Field(None, gt=0, description="Low-pass edge (Hz); None: none.")
    resample: float | None = Field(None, gt=0, description="Rate (Hz) of the epochs; None: the file's.")
    unit: Unit = Field(
        "V",
        description="The unit the stored values are really in; they are converted to volts "
        "(Kalunga2016's files hold millivolts: 'mV').",
    )
    scale: float = Field(1.0, gt=0, description="Extra factor applied after 'unit'.")
    picks: list[str] | None = Field(
        None, description="Channels to keep, in order; None: the EEG channels."
    )

    @model_validator(mode="after")
    def _interval(self) -> EpochingConfig:
        if self.tmax is not None and self.tmax <= self.tmin:
            raise ValueError(f"epoching.tmax={self.tmax} must be larger than tmin={self.tmin}")
        if self.l_freq and self.h_freq and self.l_freq >= self.h_freq:
            raise ValueError(
                f"epoching.l_freq={self.l_freq} must be below h_freq={self.h_freq} (a band-pass)"
            )
        return self


class MoabbSourceConfig(StrictConfig):
    """A MOABB dataset under a MOABB paradigm (``paradigm.get_data``)."""

    dataset: str = Field(..., description="Class name in moabb.datasets, e.g. 'Kalunga2016'.")
    paradigm: str = Field(..., description="Class name in moabb.paradigms, e.g. 'SSVEP'.")
    dataset_params: dict[str, Any] = Field(
        default_factory=dict, description="Arguments of the dataset class."
    )
    paradigm_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments of the paradigm (fmin, fmax, tmin, tmax, resample, n_classes...).",
    )
    subjects: list[int] | None = Field(None, description="Subjects to load; None: all.")


class BidsSourceConfig(StrictConfig):
    """Which recordings of a BIDS root (``data.path``) to read with mne-bids."""

    subjects: list[str] | None = Field(None, description="BIDS subject labels; None: all.")
    sessions: list[str] | None = Field(None, description="BIDS session labels; None: all.")
    task: str | None = Field(None, description="BIDS task label; None: all tasks.")
    runs: list[str] | None = Field(None, description="BIDS run labels; None: all.")
    datatype: Literal["eeg", "meg", "ieeg"] = Field("eeg", description="BIDS datatype.")


class RawSourceConfig(StrictConfig):
    """Raw recordings at ``data.path`` (a file, a folder or a glob) and their events."""

    events: str = Field(
        "annotations",
        description="'annotations' (the file's markers), 'stim' (a trigger channel) or an "
        "events-file template relative to each recording's folder, e.g. '{stem}-eve.fif' "
        "({stem}: the file name without extension and MNE's _raw suffix).",
    )
    stim_channel: str | None = Field(None, description="Trigger channel for events='stim'.")
    subject_pattern: str = Field(
        r"sub(?:ject)?[-_]?([A-Za-z0-9]+)",
        description="Regex on the file path; its first group is the subject (last match).",
    )
    session_pattern: str | None = Field(
        None,
        description="Regex for the session; None: each file of a subject is one session "
        "('0', '1'... in path order).",
    )
    subjects: list[int | str] | None = Field(None, description="Subjects to keep; None: all.")


class DataConfig(StrictConfig):
    """Data for ``coco-pipe run`` / ``mlflow run`` (the Python API takes arrays, Epochs or
    the loaders of :mod:`coco_pipe.datasets`).

    ``source``:
    - ``synthetic``: :func:`coco_pipe.datasets.make_motor_imagery` with ``params``;
    - ``epochs``: an MNE ``-epo.fif`` file at ``path`` (labels from ``y_column`` of its
      metadata, else its event names);
    - ``arrays``: an ``.npz`` with ``X`` (n, ch, t), ``y``, optional ``sfreq``,
      ``ch_names``, and a CSV of metadata at ``metadata_path``;
    - ``moabb``: the ``moabb`` section (:func:`coco_pipe.datasets.load_moabb`); of
      ``epoching`` only ``unit`` / ``scale`` apply (the paradigm does the rest);
    - ``bids``: the BIDS root at ``path``, ``bids`` section, cut by ``epoching``;
    - ``raw``: recordings at ``path`` (file, folder or glob), ``raw`` section, cut by
      ``epoching``.

    The real-data sources give metadata columns ``Subject``, ``session`` and ``run``.

    Examples
    --------
    >>> cfg = DataConfig(source="raw", path="../shared/data/kalunga2016/raw",
    ...                  raw={"events": "{stem}-eve.fif"},
    ...                  epoching={"tmin": 2.0, "tmax": 4.0, "unit": "mV"})
    >>> cfg.epoching.tmax
    4.0
    """

    source: DataSource = Field("synthetic", description="Data source.")
    path: str | None = Field(
        None,
        description="File for source=epochs (.fif) / arrays (.npz); the BIDS root for bids; "
        "a file, folder or glob for raw.",
    )
    metadata_path: str | None = Field(None, description="CSV metadata for source=arrays.")
    y_column: str | None = Field(None, description="Metadata column holding the targets.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Arguments of make_motor_imagery (source=synthetic)."
    )
    moabb: MoabbSourceConfig | None = Field(None, description="source=moabb: what to load.")
    bids: BidsSourceConfig | None = Field(None, description="source=bids: which recordings.")
    raw: RawSourceConfig | None = Field(None, description="source=raw: events and labels.")
    epoching: EpochingConfig = Field(
        default_factory=EpochingConfig, description="source=bids/raw: epochs from recordings."
    )
    unit: str = Field(
        "V",
        description="Unit of the amplitudes: 'V' (default), 'mV', 'uV' (or 'µV'), 'nV'. Foundation "
        "models convert to volts before their own scaling, and warn when the data do not look "
        "like EEG in this unit.",
    )

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        from ...data.units import canonical_unit

        return canonical_unit(value)

    @model_validator(mode="after")
    def _fields_for_source(self) -> DataConfig:
        src = self.source
        if src not in ("synthetic", "moabb") and not self.path:
            raise ValueError(f"data.path is required for data.source={src!r}")
        for section in ("moabb", "bids", "raw"):
            if getattr(self, section) is not None and src != section:
                raise ValueError(
                    f"data.{section} is only used with data.source={section!r}, got source={src!r}"
                )
        if src == "moabb" and self.moabb is None:
            raise ValueError(
                "data.source='moabb' needs a data.moabb section (dataset, paradigm, ...)"
            )
        if src in ("bids", "raw") and self.epoching.tmax is None:
            raise ValueError(
                f"data.source={src!r} needs data.epoching.tmax (end of each epoch, seconds "
                "after its event)"
            )
        if src == "moabb":
            set_fields = self.epoching.model_fields_set - {"unit", "scale"}
            if set_fields:
                raise ValueError(
                    f"data.epoching.{sorted(set_fields)[0]} does not apply to source='moabb': "
                    "the MOABB paradigm cuts the epochs (set data.moabb.paradigm_params)"
                )
        return self
