"""What loading a checkpoint did: :class:`LoadReport` (loaded / fresh / ignored tensors).

Every backbone carries one (``Backbone.load_report``); estimators log it per fold as the
artifact ``weights/load_report.json`` and the params ``weights.n_loaded`` /
``weights.n_fresh``. A backbone with freshly initialised tensors outside its task head
is refused with :class:`PartialWeightsError` unless ``allow_partial_weights=True``.

Examples
--------
>>> r = LoadReport(model="Demo", source="random-init", layout="random-init",
...                loaded=[], fresh={"w": "random initialisation (seed 0)"}, seed=0)
>>> r.as_params()["weights.n_fresh"]
1
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: ``fresh`` reason of tensors the checkpoint does not hold.
NOT_IN_CHECKPOINT = "not in the checkpoint: freshly initialised"
#: Fresh tensors listed in full in a :class:`PartialWeightsError` (then a count).
N_LISTED = 50


class PartialWeightsError(ValueError):
    """A checkpoint leaves backbone tensors freshly initialised (outside the task head).

    The message lists them; ``allow_partial_weights=True`` (config, estimator or
    :func:`~coco_pipe.foundation.backbones.build_backbone`) accepts such a backbone,
    whose fresh tensors are then listed in its load report.

    Examples
    --------
    >>> issubclass(PartialWeightsError, ValueError)
    True
    """


@dataclass
class LoadReport:
    """Which tensors of a backbone came from its checkpoint, and which did not.

    Attributes
    ----------
    model : str
        Class of the model loaded into.
    source : str
        ``weights.source`` tag of the weights (hub id and commit, path, ``random-init``).
    layout : str
        How the checkpoint was read: a layout of the spec row
        (:class:`~coco_pipe.foundation.models.base.CheckpointLayout`), ``"as saved"``
        (names as the model's, after a common prefix is stripped or added) or
        ``"random-init"``.
    loaded : list of str
        The model's tensors copied from the checkpoint (its own names).
    fresh : dict of str to str
        The model's tensors left freshly initialised -> why.
    ignored : dict of str to str
        Checkpoint tensors not loaded (names as in the checkpoint) -> why.
    rebuilt : dict of str to str
        The model's buffers derived from its config (e.g. channel ids) -> why; rebuilt
        for the user's data, neither loaded nor fresh.
    files : list of str
        The files read.
    head : list of str
        The fresh tensors that belong to a task head (allowed).
    seed : int or None
        Seed of the random initialisation (the model's constructor ran under it).
    digest : str
        :func:`~coco_pipe.foundation.weights.state_dict_digest` after loading.
    """

    model: str
    source: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    fresh: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    rebuilt: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    seed: int | None = None
    digest: str = ""

    @property
    def n_loaded(self) -> int:
        """Tensors loaded from the checkpoint."""
        return len(self.loaded)

    @property
    def n_fresh(self) -> int:
        """Tensors freshly initialised (task head included)."""
        return len(self.fresh)

    @property
    def n_ignored(self) -> int:
        """Checkpoint tensors not loaded."""
        return len(self.ignored)

    def fresh_body(self) -> list[str]:
        """Fresh tensors outside the task head (what ``allow_partial_weights`` allows)."""
        head = set(self.head)
        return sorted(k for k in self.fresh if k not in head)

    def as_params(self) -> dict[str, Any]:
        """Fold-run params: ``weights.n_loaded``, ``weights.n_fresh``, ``weights.n_ignored``,
        ``weights.layout`` (and ``weights.seed`` when the model was built under one)."""
        params: dict[str, Any] = {
            "weights.n_loaded": self.n_loaded,
            "weights.n_fresh": self.n_fresh,
            "weights.n_ignored": self.n_ignored,
            "weights.layout": self.layout,
        }
        if self.seed is not None:
            params["weights.seed"] = self.seed
        return params

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with the counts)."""
        out = asdict(self)
        out.update(n_loaded=self.n_loaded, n_fresh=self.n_fresh, n_ignored=self.n_ignored)
        return out

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` (e.g. ``<workdir>/load_report.json``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
        return path

    def summary(self) -> str:
        """One line: counts and layout."""
        return (
            f"{self.model} from {self.source} ({self.layout}): {self.n_loaded} tensors loaded, "
            f"{self.n_fresh} fresh, {self.n_ignored} checkpoint tensors ignored"
            + (f", {len(self.rebuilt)} rebuilt from the config" if self.rebuilt else "")
        )

    def partial_error(self, hint: str = "") -> PartialWeightsError:
        """The error refusing this backbone (its fresh body tensors listed)."""
        body = self.fresh_body()
        shown = ", ".join(body[:N_LISTED]) + (
            f", ... (+{len(body) - N_LISTED} more)" if len(body) > N_LISTED else ""
        )
        return PartialWeightsError(
            f"checkpoint {self.source!r} leaves {len(body)} of the {self.n_loaded + len(body)} "
            f"backbone tensors of {self.model} freshly initialised (not in the checkpoint): "
            f"[{shown}]. {self.n_loaded} tensors were loaded ({self.layout})"
            + (f"; {hint}" if hint else "")
            + ". Is it a checkpoint of this architecture and size (model_kwargs)? To use the "
            "backbone partly random anyway, set allow_partial_weights=True (the fresh tensors "
            "are listed in weights/load_report.json)."
        )


__all__ = ["NOT_IN_CHECKPOINT", "LoadReport", "PartialWeightsError"]
