"""Kalunga2016 ("SSVEP Exo", CC0): the layout of its published raw files and how MOABB
cuts them, so ``load_kalunga2016(path)`` gives the epochs of MOABB's SSVEP benchmark.

12 subjects, 8 occipital channels, 256 Hz; classes ``rest`` and LEDs flickering at
``13Hz``, ``17Hz``, ``21Hz``; each run (``subjectNN/record-[date]_raw.fif`` with its
``record-[date]-eve.fif``) is one session. The files hold millivolts (1000x too large
for volts), hence ``unit="mV"``. Reference: E. K. Kalunga, S. Chevallier, Q. Barthélemy
et al., *Online SSVEP-based BCI using Riemannian geometry*, Neurocomputing 2016.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .epoching import EpochArrays
from .raw import load_raw

__all__ = ["KALUNGA2016_EVENT_ID", "KALUNGA2016_EPOCHING", "KALUNGA2016_FREQS", "load_kalunga2016"]

#: Event codes of the ``-eve.fif`` files (3 is 21 Hz and 4 is 17 Hz).
KALUNGA2016_EVENT_ID: dict[str, int] = {"rest": 1, "13Hz": 2, "21Hz": 3, "17Hz": 4}
#: Stimulation frequencies (Hz).
KALUNGA2016_FREQS: tuple[float, ...] = (13.0, 17.0, 21.0)
#: MOABB's SSVEP interval (2-4 s after the cue), a 1-45 Hz band-pass, millivolts.
KALUNGA2016_EPOCHING: dict[str, Any] = {
    "event_id": KALUNGA2016_EVENT_ID, "tmin": 2.0, "tmax": 4.0, "l_freq": 1.0, "h_freq": 45.0,
    "unit": "mV",
}


def load_kalunga2016(
    path: str | Path, *, subjects: Sequence[int] | None = None, **epoching: Any
) -> EpochArrays:
    """The Kalunga2016 epochs from its raw files (``path``: the data set folder or its
    ``raw/`` folder); ``epoching`` overrides :data:`KALUNGA2016_EPOCHING`.

    Examples
    --------
    >>> data = load_kalunga2016("../shared/data/kalunga2016")  # doctest: +SKIP
    >>> data.X.shape, data.metadata.Subject.nunique()          # doctest: +SKIP
    ((864, 8, 512), 12)
    """
    path = Path(path)
    if (path / "raw").is_dir():
        path = path / "raw"
    return load_raw(path, events="{stem}-eve.fif", subjects=subjects,
                    **{**KALUNGA2016_EPOCHING, **epoching})
