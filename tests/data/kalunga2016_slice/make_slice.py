"""Rebuild this slice from the full Kalunga2016 data set (``../shared/data/kalunga2016``).

Kept: subjects 01 and 02, both runs of each, trials 7 to 14 of every run (2 rest, 2 x 13 Hz,
2 x 17 Hz, 2 x 21 Hz), the continuous signal cropped from 10 s before the first kept cue to
15 s after the last one. Values, sampling rate (256 Hz), channels and event codes are the
published ones, unchanged (so the 1000x unit quirk is kept too). Also written:
``reference_epochs.npz``, the rows of the full data set's ``epochs.npz`` for these trials
(what the ``raw`` source must reproduce on this slice).

Run from the repository root::

    python tests/data/kalunga2016_slice/make_slice.py ../shared/data/kalunga2016
"""

from __future__ import annotations

import sys
from pathlib import Path

import mne
import numpy as np

SUBJECTS = ("subject01", "subject02")
FIRST, LAST = 6, 14  # trial indices kept: [FIRST, LAST)
OUT = Path(__file__).resolve().parent


def main(source: Path) -> None:
    full = np.load(source / "epochs.npz", allow_pickle=False)
    keep_rows = []
    for subject in SUBJECTS:
        for raw_path in sorted((source / "raw" / subject).glob("*_raw.fif")):
            stem = raw_path.name[: -len("_raw.fif")]
            events = mne.read_events(raw_path.parent / f"{stem}-eve.fif")
            raw = mne.io.read_raw_fif(raw_path, preload=True, verbose="error")
            sfreq = raw.info["sfreq"]
            kept = events[FIRST:LAST]
            start = (kept[0, 0] - raw.first_samp) / sfreq - 10.0
            stop = (kept[-1, 0] - raw.first_samp) / sfreq + 15.0
            raw.crop(max(start, 0.0), min(stop, raw.times[-1]))
            dest = OUT / "raw" / subject
            dest.mkdir(parents=True, exist_ok=True)
            raw.save(dest / raw_path.name, overwrite=True, verbose="error")
            mne.write_events(dest / f"{stem}-eve.fif", kept, overwrite=True, verbose="error")
            rows = np.flatnonzero(full["run"] == f"{subject}/{stem}")
            keep_rows.extend(rows[FIRST:LAST].tolist())
    rows = np.asarray(keep_rows)
    np.savez_compressed(
        OUT / "reference_epochs.npz",
        X=full["X"][rows], y=full["y"][rows], subject=full["subject"][rows],
        run=full["run"][rows], sfreq=full["sfreq"], ch_names=full["ch_names"],
        tmin=full["tmin"], tmax=full["tmax"], l_freq=full["l_freq"], h_freq=full["h_freq"],
        unit_scale=full["unit_scale"],
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
