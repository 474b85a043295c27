"""Data sets: the built-in SYNTHETIC EEG with a planted, documented effect, and loaders of
real recordings (MOABB datasets, BIDS roots, raw files, braindecode windows datasets) that
return :class:`EpochArrays` (``Experiment(cfg).run(**data.run_kwargs())``).

>>> from coco_pipe.datasets import load_default
>>> epochs = load_default()  # 6 subjects x 60 epochs, 19 channels, 250 Hz, 4 s
"""

from .bids import load_bids
from .epoching import UNIT_SCALE, EpochArrays, epochs_from_raw
from .kalunga import load_kalunga2016
from .moabb import load_moabb
from .raw import find_raw_files, load_raw
from .synthetic import CLASS_NAMES, DEFAULT_CH_NAMES, load_default, make_motor_imagery
from .windows import from_braindecode

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_CH_NAMES",
    "UNIT_SCALE",
    "EpochArrays",
    "epochs_from_raw",
    "find_raw_files",
    "from_braindecode",
    "load_bids",
    "load_default",
    "load_kalunga2016",
    "load_moabb",
    "load_raw",
    "make_motor_imagery",
]
