"""Resolving a ``weights`` argument to a :class:`WeightsSource` (a local file), before any
model is built.

Examples
--------
>>> resolve_weights("random").kind
'random'
>>> looks_like_path("./ckpt"), looks_like_path("org/name")
(True, False)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .files import DIR_WEIGHT_FILES, WEIGHT_SUFFIXES
from .hub import resolve_hub
from .source import WeightsSource, spec_name

#: A hub repository id ``org/name``.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*$")
#: ``weights`` values that mean random initialisation.
RANDOM_ALIASES = ("random", "random-init")


def looks_like_path(text: str) -> bool:
    """Whether a ``weights`` string is meant as a path (``./``, ``/``, ``~``, a weight-file
    suffix, more than one ``/``), not a hub id ``org/name``."""
    if text.startswith(("./", "../", "/", "~", ".\\", "..\\")) or "\\" in text:
        return True
    if re.match(r"^[A-Za-z]:[\\/]", text):  # windows drive
        return True
    if text.lower().endswith(WEIGHT_SUFFIXES):
        return True
    return text.split("@", 1)[0].count("/") > 1


def split_revision(text: str, revision: str | None) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; ``revision`` is used when no ``@`` is
    given, and a conflicting pair is an error."""
    repo, sep, rev = text.partition("@")
    if sep and not rev:
        raise ValueError(
            f"weights={text!r}: empty revision after '@'; expected 'org/name@revision'"
        )
    if sep and revision is not None and rev != revision:
        raise ValueError(
            f"weights={text!r} names revision {rev!r} but revision={revision!r} was also given; "
            "give the revision once"
        )
    return repo, (rev if sep else revision)


def normalize_weights_arg(weights: Any) -> str:
    """``weights`` as a stripped string (paths accepted); a clear error for anything else."""
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str) or not weights.strip():
        raise ValueError(
            f"weights={weights!r}: expected 'pretrained', 'random', a hub repository id "
            "'org/name[@revision]', a checkpoint directory or a state-dict file path"
        )
    return weights.strip()


def resolve_weights(
    weights: str | os.PathLike, *, spec: Any = None, revision: str | None = None
) -> WeightsSource:
    """Resolve a ``weights`` argument to a local file (downloading from the hub when online).

    Cheap and done before any model is built, so a wrong path or an uncached
    repository stops the run before any compute.

    Parameters
    ----------
    weights : str or path-like
        ``"pretrained"`` (the spec row's ``hub_repo``), ``"random"``, a hub repository
        id ``"org/name"`` (optionally ``"org/name@revision"``), a checkpoint directory,
        or a state-dict file (``.safetensors``, ``.pt``, ``.pth``, ``.bin``, ``.ckpt``).
    spec : FoundationModelSpec, optional
        Row of ``ESTIMATOR_SPECS``; needed for ``"pretrained"`` (``hub_repo``) and read
        for ``hub_filename`` (weight file inside the repository or directory).
    revision : str, optional
        Branch, tag or commit of a hub repository (default: ``main``).

    Returns
    -------
    WeightsSource

    Raises
    ------
    WeightsNotAvailableError
        A hub repository that is not cached and cannot be downloaded (offline).
    FileNotFoundError
        A path that does not exist, or a directory without a weight file.
    ValueError
        ``"pretrained"`` without a spec row naming a repository, a string that is
        neither a path nor a hub id, or conflicting revisions.

    Examples
    --------
    >>> resolve_weights("random").kind
    'random'
    >>> resolve_weights("./no/such/file.pt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: weights path './no/such/file.pt' does not exist ...
    """
    weights = normalize_weights_arg(weights)
    hub_filename = getattr(spec, "hub_filename", None)

    if weights in RANDOM_ALIASES:
        if revision is not None:
            raise ValueError(
                f"revision={revision!r} given with weights='random'; a revision names hub weights"
            )
        return WeightsSource("random", "random-init", None, None)

    if weights == "pretrained":
        repo = getattr(spec, "hub_repo", None) if spec is not None else None
        if spec is None:
            raise ValueError(
                "weights='pretrained' needs the model's spec row (its hub repository); "
                "pass spec=ESTIMATOR_SPECS[model_key], a hub id 'org/name', a path, or weights='random'"
            )
        if not repo:
            raise ValueError(
                f"model {spec_name(spec)} has no pretrained hub repository (spec.hub_repo is None); "
                "pass weights as a checkpoint path or hub id, or weights='random' for random init"
            )
        repo, rev = split_revision(repo, revision)
        return resolve_hub(repo, rev, hub_filename, spec)

    path = Path(weights).expanduser()
    if path.exists():
        return _resolve_path(path, hub_filename, getattr(spec, "checkpoint_layouts", ()))
    if looks_like_path(weights):
        raise FileNotFoundError(
            f"weights path {weights!r} does not exist (resolved to {str(path.absolute())!r}); "
            "expected a checkpoint directory or a state-dict file (.safetensors, .pt, .pth, .bin)"
        )
    repo, rev = split_revision(weights, revision)
    if HUB_ID.match(repo):
        return resolve_hub(repo, rev, None, spec)
    raise ValueError(
        f"weights={weights!r} is neither 'pretrained', 'random', an existing path, nor a hub "
        "repository id 'org/name[@revision]'"
    )


def _resolve_path(path: Path, hub_filename: str | None, layouts=()) -> WeightsSource:
    path = path.resolve()
    if path.is_dir():
        release = [lay for lay in layouts if lay.files]
        if not any((path / name).is_file() for name in _dir_names(hub_filename)) and any(
            all((path / rel).is_file() for rel, _ in lay.files) for lay in release
        ):
            return WeightsSource("local_dir", str(path), None, str(path))  # read as a release
        weight_file = _pick_weight_file(path, hub_filename, release)
        return WeightsSource("local_dir", str(path), None, str(weight_file))
    if not path.name.lower().endswith(WEIGHT_SUFFIXES + (".index.json",)):
        raise ValueError(
            f"weights file {str(path)!r} has suffix {path.suffix!r}; expected one of "
            f"{', '.join(WEIGHT_SUFFIXES)} (a state dict) or a checkpoint directory"
        )
    return WeightsSource("file", str(path), None, str(path))


def _dir_names(hub_filename: str | None) -> list[str]:
    return ([hub_filename] if hub_filename else []) + list(DIR_WEIGHT_FILES)


def _pick_weight_file(directory: Path, hub_filename: str | None, release=()) -> Path:
    names = _dir_names(hub_filename)
    for name in names:
        if (directory / name).is_file():
            return directory / name
    if hub_filename:  # a release folder keeping each size in a subfolder (LUNA's Base/)
        below = sorted(p for p in directory.glob(f"*/{hub_filename}") if p.is_file())
        if len(below) == 1:
            return below[0]
        if len(below) > 1:
            raise ValueError(
                f"checkpoint directory {str(directory)!r} holds {hub_filename!r} in several "
                f"subfolders {[str(p.relative_to(directory)) for p in below]}; pass the path of "
                "the one to load"
            )
    found = sorted(
        p.name
        for p in directory.iterdir()
        if p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES)
    )
    if len(found) == 1:
        return directory / found[0]
    releases = "; ".join(
        f"{lay.name}: {' + '.join(rel for rel, _ in lay.files)}" for lay in release
    )
    also = f", or the files of a release ({releases})" if releases else ""
    if not found:
        raise FileNotFoundError(
            f"checkpoint directory {str(directory)!r} holds no weight file; expected one of "
            f"{', '.join(names)} or a single file ending in {', '.join(WEIGHT_SUFFIXES)}{also}"
        )
    raise ValueError(
        f"checkpoint directory {str(directory)!r} holds several weight files {found}; "
        f"pass the path of the one to load{also}"
    )


__all__ = [
    "HUB_ID",
    "RANDOM_ALIASES",
    "looks_like_path",
    "normalize_weights_arg",
    "resolve_weights",
    "split_revision",
]
