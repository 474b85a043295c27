"""Where weights come from (:class:`WeightsSource`) and the error when they are missing.

Examples
--------
>>> WeightsSource("random", "random-init", None, None).is_random
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


class WeightsNotAvailableError(FileNotFoundError):
    """Pretrained weights are neither in the Hugging Face cache nor downloadable.

    Raised by :func:`resolve_weights`; the message names the repository and revision,
    the cache searched, how to prefetch it, and that ``weights="random"`` opts into
    random initialisation.

    Examples
    --------
    >>> issubclass(WeightsNotAvailableError, FileNotFoundError)
    True
    """


@dataclass(frozen=True)
class WeightsSource:
    """Where a backbone's weights come from (resolved, not yet loaded).

    Attributes
    ----------
    kind : {"hub", "local_dir", "file", "random"}
        Hugging Face repository, local checkpoint directory, state-dict file, or
        random initialisation.
    location : str
        Repository id (``"org/name"``), absolute path, or ``"random-init"``.
    revision : str or None
        For ``kind="hub"``: the commit hash of the cached snapshot actually read
        (the requested branch/tag when the commit cannot be told). None otherwise.
    resolved_path : str or None
        The local file actually read (inside the HF cache snapshot for the hub),
        None for random init.

    Examples
    --------
    >>> WeightsSource("random", "random-init", None, None).as_tags()
    {'weights.kind': 'random', 'weights.source': 'random-init', 'weights': 'random-init'}
    """

    kind: Literal["hub", "local_dir", "file", "random"]
    location: str
    revision: str | None
    resolved_path: str | None

    @property
    def is_random(self) -> bool:
        """True for random initialisation (nothing is loaded)."""
        return self.kind == "random"

    def as_tags(self) -> dict[str, str]:
        """Tags naming these weights on a tracking run.

        Returns
        -------
        dict of str to str
            ``weights.kind``; ``weights.source`` (``"<repo>@<revision>"``, a path, or
            ``"random-init"``); ``weights`` (``"pretrained"`` for the hub,
            ``"local"`` for a path, ``"random-init"``).
        """
        if self.kind == "hub":
            source = f"{self.location}@{self.revision}" if self.revision else self.location
            label = "pretrained"
        elif self.kind == "random":
            source, label = "random-init", "random-init"
        else:
            source, label = self.location, "local"
        return {"weights.kind": self.kind, "weights.source": source, "weights": label}


def spec_name(spec: Any) -> str:
    """A spec row's name for messages (its key, else display name)."""
    return repr(getattr(spec, "key", None) or getattr(spec, "display_name", None) or "this model")


__all__ = ["WeightsNotAvailableError", "WeightsSource", "spec_name"]
