"""Published checkpoint layouts: recognised from the file(s), renamed to braindecode's names.

A model's spec row lists the layouts its authors publish
(:class:`~coco_pipe.foundation.models.base.CheckpointLayout`: marker names, a rename
table, tensors with no place in braindecode's model, the files of a several-file
release). This module applies them; it knows no model.

Examples
--------
>>> import torch
>>> from coco_pipe.foundation.models.base import CheckpointLayout
>>> layout = CheckpointLayout("demo", markers=(r"^student\\.",), rename=((r"^student\\.", ""),),
...                           drop=((r"^head\\.", "pretraining head"),))
>>> state = {"student.w": torch.ones(1), "head.b": torch.ones(1)}
>>> match_layout(state, [layout]).name
'demo'
>>> renamed, dropped = apply_layout(state, layout)
>>> sorted(renamed), dropped
(['w'], {'head.b': 'pretraining head'})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .files import load_state_dict_file


def match_layout(state: Mapping[str, Any], layouts: Iterable[Any]) -> Any | None:
    """The first single-file layout whose every marker matches one of ``state``'s names."""
    names = list(state)
    for layout in layouts:
        if layout.markers and all(
            any(re.search(marker, name) for name in names) for marker in layout.markers
        ):
            return layout
    return None


def release_in_folder(folder: Path, layouts: Iterable[Any]) -> Any | None:
    """The first several-file layout whose every file is in ``folder``."""
    for layout in layouts:
        if layout.files and all((folder / rel).is_file() for rel, _ in layout.files):
            return layout
    return None


def read_release(folder: Path, layout: Any) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The tensors of a several-file release, each file's names behind its prefix;
    returns ``(state, files read)``."""
    state: dict[str, torch.Tensor] = {}
    files: list[str] = []
    for rel, prefix in layout.files:
        path = folder / rel
        for name, tensor in load_state_dict_file(path).items():
            key = prefix + name
            if key in state:
                raise ValueError(
                    f"release {layout.name!r} in {str(folder)!r}: tensor {key!r} is in two of its "
                    "files; the files do not belong to one release"
                )
            state[key] = tensor
        files.append(str(path))
    return state, files


def apply_layout(
    state: Mapping[str, torch.Tensor], layout: Any
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Drop the tensors the layout has no place for and rename the others.

    Returns
    -------
    (renamed, dropped)
        ``renamed``: braindecode name -> tensor; ``dropped``: checkpoint name -> why.
    """
    drops = [(re.compile(p), why) for p, why in layout.drop]
    renames: Sequence[tuple[re.Pattern, str]] = [(re.compile(p), r) for p, r in layout.rename]
    out: dict[str, torch.Tensor] = {}
    dropped: dict[str, str] = {}
    for name, tensor in state.items():
        why = next((w for pattern, w in drops if pattern.match(name)), None)
        if why is not None:
            dropped[name] = why
            continue
        new = name
        for pattern, repl in renames:
            if pattern.match(name):
                new = pattern.sub(repl, name, count=1)
                break
        if new in out:
            raise ValueError(
                f"layout {layout.name!r}: two tensors are renamed to {new!r}; its rename table "
                "does not fit this checkpoint"
            )
        out[new] = tensor
    return out, dropped


__all__ = ["apply_layout", "match_layout", "read_release", "release_in_folder"]
