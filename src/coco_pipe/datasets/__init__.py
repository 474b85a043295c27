"""Built-in data sets: SYNTHETIC EEG with a planted, documented effect.

>>> from coco_pipe.datasets import load_default
>>> epochs = load_default()  # 6 subjects x 60 epochs, 19 channels, 250 Hz, 4 s
"""

from .synthetic import CLASS_NAMES, DEFAULT_CH_NAMES, load_default, make_motor_imagery

__all__ = ["CLASS_NAMES", "DEFAULT_CH_NAMES", "load_default", "make_motor_imagery"]
