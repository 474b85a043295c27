"""Model registry: promote a fold's model to a registered version, load it back.

This layer sits above decoding, foundation and tracking (it reads runs and rebuilds
estimators); nothing below it imports it.
"""

from .promotion import load_promoted, promote

__all__ = ["promote", "load_promoted"]
