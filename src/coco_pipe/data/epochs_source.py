"""EpochsSource: the windows of an ``mne.Epochs`` read from its recording on demand.

With ``preload=False`` MNE keeps the raw file open and cuts epochs when asked; a source
asks for one chunk of epochs at a time (``get_data(item=...)``), so the recording is
never loaded whole. Bad epochs are dropped first (``drop_bad``, a streaming pass), so
window positions stay fixed. MNE pickles such an object with its file references, so a
worker process reopens the file instead of receiving the data.

Examples
--------
>>> epochs = mne.Epochs(raw, events, preload=False)                  # doctest: +SKIP
>>> EpochsSource(epochs).take([0, 5]).shape                          # doctest: +SKIP
(2, 60, 301)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .source import WindowSource


class EpochsSource(WindowSource):
    """The windows of an ``mne.Epochs`` (all its channels, in volts).

    Parameters
    ----------
    epochs : mne.BaseEpochs
        Usually read with ``preload=False``; its bad epochs are dropped here.
    """

    def __init__(self, epochs: Any):
        epochs.drop_bad(verbose=False)
        n_times = len(epochs.times)
        super().__init__((len(epochs), len(epochs.ch_names), n_times), np.float64)
        self.epochs = epochs

    def _read(self, rows: np.ndarray) -> np.ndarray:
        return self.epochs.get_data(item=rows, verbose=False)


__all__ = ["EpochsSource"]
