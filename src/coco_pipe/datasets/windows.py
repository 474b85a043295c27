"""A braindecode windows dataset (``create_windows_from_events`` /
``create_fixed_length_windows``) as :class:`~coco_pipe.datasets.epoching.EpochArrays`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .epoching import METADATA_COLUMNS, EpochArrays, check_amplitude, parse_label, volts_factor

__all__ = ["from_braindecode"]

_DESCRIPTION_NAMES = {"subject": "Subject"}


def _info(dataset):
    for attr in ("raw", "windows"):
        obj = getattr(dataset, attr, None)
        if obj is not None:
            return obj.info
    raise ValueError(
        f"{type(dataset).__name__} carries neither .raw nor .windows, so its sampling rate "
        "and channel names are unknown; build it with braindecode's windowing functions"
    )


def from_braindecode(
    windows_dataset, *, target_names: dict[Any, str] | None = None, unit: str = "V"
) -> EpochArrays:
    """Windows, targets and descriptions of a braindecode ``BaseConcatDataset`` of
    windows, with ``Subject`` / ``session`` / ``run`` from its description.

    Parameters
    ----------
    windows_dataset : braindecode.datasets.BaseConcatDataset
        Of ``WindowsDataset`` / ``EEGWindowsDataset`` (every sub-dataset with the same
        channels and sampling rate).
    target_names : dict, optional
        Target -> class name (braindecode stores integer codes; MOABB-made ones come with
        their ``mapping``).
    unit : {"V", "mV", "uV", "nV"}
        Unit of the windows (braindecode keeps MNE's volts).

    Returns
    -------
    EpochArrays
        Missing ``session`` / ``run`` descriptions become ``"0"``.

    Examples
    --------
    >>> from braindecode.preprocessing import create_windows_from_events  # doctest: +SKIP
    >>> data = from_braindecode(create_windows_from_events(concat_ds))    # doctest: +SKIP
    """
    factor = volts_factor(unit)
    subsets = list(getattr(windows_dataset, "datasets", []))
    if not subsets:
        raise ValueError(
            f"expected a braindecode BaseConcatDataset of windows, got {type(windows_dataset).__name__}"
        )
    metadata = windows_dataset.get_metadata().reset_index(drop=True)
    infos = [_info(ds) for ds in subsets]
    ch_names = [c for c, t in zip(infos[0].ch_names, infos[0].get_channel_types(), strict=True)
                if t != "misc"]
    sfreq = float(infos[0]["sfreq"])
    for ds, info in zip(subsets, infos, strict=True):
        names = [c for c, t in zip(info.ch_names, info.get_channel_types(), strict=True) if t != "misc"]
        if names != ch_names or float(info["sfreq"]) != sfreq:
            raise ValueError(
                f"sub-dataset {dict(ds.description)} has channels {names} at {info['sfreq']} Hz, "
                f"the first has {ch_names} at {sfreq} Hz; all must agree"
            )
    windows, targets = [], []
    for ds in subsets:
        for i in range(len(ds)):
            X, y, _ = ds[i][:3]
            windows.append(np.asarray(X, dtype=np.float32))
            targets.append(y)
    y = np.asarray(targets)
    if target_names is not None:
        y = np.array([target_names[t] for t in y.tolist()])
    metadata = metadata.rename(columns=_DESCRIPTION_NAMES)
    for col in METADATA_COLUMNS:
        if col not in metadata:
            metadata[col] = "0" if col != "Subject" else None
    if metadata["Subject"].isna().any():
        raise ValueError("the windows dataset's description has no 'subject'; add it "
                         "(description={'subject': ...}) so subject-wise protocols apply")
    metadata["Subject"] = [parse_label(str(s)) for s in metadata["Subject"]]
    metadata["session"] = metadata["session"].astype(str)
    metadata["run"] = metadata["run"].astype(str)
    X = np.stack(windows) * np.float32(factor)
    check_amplitude(X, "braindecode windows dataset")
    ordered = list(METADATA_COLUMNS) + [c for c in metadata if c not in METADATA_COLUMNS]
    return EpochArrays(X=X, y=y, metadata=metadata[ordered], sfreq=sfreq, ch_names=ch_names)
