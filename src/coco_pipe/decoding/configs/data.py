"""Where the command line gets its data: the built-in synthetic set or a file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import StrictConfig


class DataConfig(StrictConfig):
    """Data for ``coco-pipe run`` / ``mlflow run`` (the Python API takes arrays or Epochs).

    ``source``:
    - ``synthetic``: :func:`coco_pipe.datasets.make_motor_imagery` with ``params``;
    - ``epochs``: an MNE ``-epo.fif`` file at ``path`` (labels from ``y_column`` of its
      metadata, else its event names);
    - ``arrays``: an ``.npz`` with ``X`` (n, ch, t), ``y``, optional ``sfreq``,
      ``ch_names``, and a CSV of metadata at ``metadata_path``.
    """

    source: Literal["synthetic", "epochs", "arrays"] = Field(
        "synthetic", description="Data source."
    )
    path: str | None = Field(None, description="File for source=epochs (.fif) or arrays (.npz).")
    metadata_path: str | None = Field(None, description="CSV metadata for source=arrays.")
    y_column: str | None = Field(None, description="Metadata column holding the targets.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Arguments of make_motor_imagery."
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
    def _path_for_files(self) -> DataConfig:
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"data.path is required for data.source={self.source!r}")
        return self
