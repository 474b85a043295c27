"""Loading resolved weights into a built model, through the model's own ``load_state_dict``.

:func:`load_weights` reads the checkpoint (one file, or the files of a several-file
release), renames it when it is in one of the model's published layouts
(:mod:`~coco_pipe.foundation.weights.layouts`) or else strips / adds a common wrapper
prefix, lets the model's hook adapt tensors whose shape depends on the window or the
montage, and loads it with ``model.load_state_dict(strict=False)``, so braindecode's
``mapping`` and torch's load hooks (legacy ``weight_norm`` names) apply. What it did is a
:class:`~coco_pipe.foundation.weights.report.LoadReport`: the model's tensors loaded and
freshly initialised, the checkpoint's tensors ignored, each with why.

Examples
--------
>>> "final_layer" in HEAD_MODULE_NAMES
True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .digest import state_dict_digest
from .files import N_SHOW, load_state_dict_file
from .layouts import apply_layout, match_layout, read_release, release_in_folder
from .report import NOT_IN_CHECKPOINT, LoadReport
from .source import WeightsSource

logger = logging.getLogger(__name__)

#: Module names treated as a classification head: their keys may be missing from the
#: checkpoint, absent from the model, or differ in shape; they are skipped and logged.
HEAD_MODULE_NAMES: tuple[str, ...] = (
    "final_layer",
    "classifier",
    "classification_head",
    "cls_head",
    "head",
    "fc_out",
    "lm_head",
)
# prefixes commonly added around a model's keys (DataParallel, Lightning, wrappers)
_KEY_PREFIXES: tuple[str, ...] = (
    "module.",
    "model.",
    "backbone.",
    "_orig_mod.",
    "encoder.",
    "net.",
)


def _prefix_candidates(keys: Iterable[str]) -> list[str]:
    keys = list(keys)
    found = [""]
    frontier = [""]
    for _ in range(3):
        nxt = []
        for base in frontier:
            for p in _KEY_PREFIXES:
                cand = base + p
                if cand not in found and any(k.startswith(cand) for k in keys):
                    found.append(cand)
                    nxt.append(cand)
        frontier = nxt
    return found


def _remap(
    ckpt: Mapping[str, torch.Tensor], model_keys: set[str]
) -> tuple[dict[str, torch.Tensor], str, str]:
    """Rename checkpoint keys (strip / add a common prefix) to best match the model."""
    best: tuple[int, int, str, str] | None = None
    for strip in _prefix_candidates(ckpt):
        for add in _prefix_candidates(model_keys):
            mapped = {add + (k[len(strip) :] if k.startswith(strip) else k) for k in ckpt}
            score = len(mapped & model_keys)
            cost = len(strip) + len(add)
            if best is None or score > best[0] or (score == best[0] and cost < best[1]):
                best = (score, cost, strip, add)
    assert best is not None
    _, _, strip, add = best
    out = {add + (k[len(strip) :] if k.startswith(strip) else k): v for k, v in ckpt.items()}
    return out, strip, add


def _is_head(key: str, head_names: Iterable[str]) -> bool:
    parts = key.split(".")[:-1]
    return any(name in parts for name in head_names)


def _show(keys: list[str]) -> str:
    more = f", ... (+{len(keys) - N_SHOW})" if len(keys) > N_SHOW else ""
    return "[" + ", ".join(keys[:N_SHOW]) + more + "]"


def _does_not_fit(
    where: str, path: str, name: str, n_matched: int, n_own: int,
    missing: list[str], unexpected: list[str], mismatched: list[str],
) -> ValueError:  # fmt: skip
    return ValueError(
        f"checkpoint {where!r} ({path}) does not fit {name}: {n_matched} of {n_own} tensors match. "
        f"missing from checkpoint ({len(missing)}): {_show(missing)}; "
        f"unexpected in checkpoint ({len(unexpected)}): {_show(unexpected)}; "
        f"shape mismatches ({len(mismatched)}): {_show(mismatched)}. Is it a checkpoint of this "
        "architecture and size (model_kwargs)?"
    )


def read_checkpoint(
    source: WeightsSource, layouts: Iterable[Any] = ()
) -> tuple[dict[str, torch.Tensor], Any | None, dict[str, str], list[str]]:
    """The tensors of a resolved source, renamed when they are in one of ``layouts``.

    Returns
    -------
    (state, layout, dropped, files)
        Tensors (braindecode names when a layout matched, else as saved), the layout
        (or None), checkpoint tensors the layout has no place for -> why, files read.
    """
    if not source.resolved_path:
        raise ValueError(
            f"weights source {source!r} has no resolved_path; build it with resolve_weights()"
        )
    layouts = tuple(layouts)
    path = Path(source.resolved_path)
    if path.is_dir():
        layout = release_in_folder(path, layouts)
        if layout is None:
            expected = "; ".join(
                f"{lay.name}: {', '.join(rel for rel, _ in lay.files)}"
                for lay in layouts
                if lay.files
            )
            raise FileNotFoundError(
                f"weights folder {str(path)!r} holds no release of this model"
                + (f" (expected {expected})" if expected else "")
                + "; pass a weight file or a checkpoint folder"
            )
        state, files = read_release(path, layout)
    else:
        state, files = load_state_dict_file(path), [str(path)]
        layout = match_layout(state, layouts)
    dropped: dict[str, str] = {}
    if layout is not None:
        state, dropped = apply_layout(state, layout)
    return state, layout, dropped, files


def _release_hint(layouts: Iterable[Any], source: WeightsSource) -> str:
    """How to pass a several-file release, when a single file of one was given."""
    if source.resolved_path and Path(source.resolved_path).is_dir():
        return ""
    for lay in layouts:
        if len(lay.files) > 1:
            files = " + ".join(rel for rel, _ in lay.files)
            return f"this model's {lay.name} release is several files ({files}): pass their folder"
    return ""


def _random_report(
    model: torch.nn.Module, where: str, derived: Mapping[str, str], head_names, seed: int | None
) -> LoadReport:
    name = type(model).__name__
    warnings.warn(
        f"{name}: the backbone uses RANDOM weights (random initialisation, not pretrained); "
        "the run is tagged weights=random-init. Pass weights='pretrained' or a checkpoint for "
        "pretrained weights.",
        UserWarning,
        stacklevel=3,
    )
    why = "weights='random': random initialisation" + (
        f" (seed {seed})" if seed is not None else " (unseeded)"
    )
    own = model.state_dict()
    fresh = {k: why for k in own if k not in derived}
    digest = state_dict_digest(model)
    logger.info("weights: %s random-init (seed %s), digest %s", name, seed, digest[:12])
    return LoadReport(
        model=name, source=where, layout="random-init", fresh=fresh,
        rebuilt={k: v for k, v in derived.items() if k in own},
        head=[k for k in fresh if _is_head(k, head_names)], seed=seed, digest=digest,
    )  # fmt: skip


def load_weights(
    model: torch.nn.Module,
    source: WeightsSource,
    *,
    layouts: Iterable[Any] = (),
    derived_buffers: Iterable[tuple[str, str]] = (),
    prepare: Callable[[dict[str, torch.Tensor], torch.nn.Module], dict[str, torch.Tensor]]
    | None = None,
    head_names: Iterable[str] = HEAD_MODULE_NAMES,
    allow_partial: bool = False,
    seed: int | None = None,
) -> LoadReport:
    """Load resolved weights into ``model`` (in place) and report what was loaded.

    Steps: read the file(s) (a several-file release is a folder holding the files of one
    of ``layouts``); rename them with the layout they are in (recognised by its marker
    names), or else strip / add the common wrapper prefix (``module.``, ``model.``, ...)
    that best matches the model; drop the checkpoint's copy of ``derived_buffers``;
    ``prepare(state, model)`` (the model's hook for window- or montage-dependent tensors);
    tensors of the model's own names but another shape are an error (a task head of
    another shape is skipped); then ``model.load_state_dict(state, strict=False)``.

    Parameters
    ----------
    model : torch.nn.Module
        The freshly built model (head removed or not).
    source : WeightsSource
        From :func:`resolve_weights`. ``kind="random"`` loads nothing and warns.
    layouts : iterable of CheckpointLayout
        The model's published layouts (``spec.checkpoint_layouts``).
    derived_buffers : iterable of (str, str)
        ``(name, why)`` of buffers computed from the model's config, never copied.
    prepare : callable, optional
        ``prepare(state, model) -> state`` (a model's
        :meth:`~coco_pipe.foundation.models.base.FoundationModel.prepare_checkpoint`).
    head_names : iterable of str
        Module names of a task head: its tensors may be fresh or of another shape.
    allow_partial : bool, default False
        Accept a backbone with freshly initialised tensors outside the head (they are
        listed in the report and logged); by default that is a
        :class:`~coco_pipe.foundation.weights.report.PartialWeightsError`.
    seed : int, optional
        Seed the model was built under (recorded in the report).

    Returns
    -------
    LoadReport

    Raises
    ------
    ValueError
        No tensor matches, or tensors of the model's names have another shape (the
        message lists the missing, unexpected and mismatched tensors).
    PartialWeightsError
        Fresh tensors outside the head, without ``allow_partial``.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> from coco_pipe.foundation.weights import resolve_weights, save_pretrained
    >>> d = save_pretrained(torch.nn.Linear(3, 2), os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> report = load_weights(torch.nn.Linear(3, 2), resolve_weights(str(d)))
    >>> report.n_loaded, report.n_fresh
    (2, 0)
    """
    head_names = tuple(head_names)
    layouts = tuple(layouts)
    name = type(model).__name__
    own = model.state_dict()
    derived = {k: why for k, why in derived_buffers if k in own}
    where = source.as_tags()["weights.source"]
    if source.kind == "random":
        return _random_report(model, where, derived, head_names, seed)

    state, layout, ignored, files = read_checkpoint(source, layouts)
    if layout is not None:
        layout_name = layout.name
    else:
        state, strip, add = _remap(state, set(own))
        layout_name = "as saved" + (
            f" (prefix {strip!r} stripped, {add!r} added)" if strip or add else ""
        )
        if strip or add:
            logger.info("weights: checkpoint keys renamed (strip %r, add %r)", strip, add)
    for key in [k for k in state if k in derived]:
        ignored[key] = f"rebuilt from the config: {derived[key]}"
        del state[key]
    if prepare is not None:
        state = prepare(state, model)

    mismatched = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    body_mismatched = [k for k in mismatched if not _is_head(k, head_names)]
    if body_mismatched:
        shown = [f"{k} checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                 for k in body_mismatched]  # fmt: skip
        n_ok = sum(1 for k in state if k in own) - len(mismatched)
        raise _does_not_fit(where, source.resolved_path, name, n_ok, len(own),
                            [], [], shown)  # fmt: skip
    for key in mismatched:
        ignored[key] = "task head of another shape (the backbone is used with its own head)"
        del state[key]

    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a shape mismatch after the model's own renaming
        raise ValueError(
            f"checkpoint {where!r} ({source.resolved_path}) does not fit {name}: {err}"
        ) from err
    missing = set(result.missing_keys)
    loaded = sorted(k for k in own if k not in missing)
    unexpected = list(result.unexpected_keys)
    if not loaded:
        raise _does_not_fit(
            where, source.resolved_path, name, 0, len(own),
            sorted(k for k in own if not _is_head(k, head_names)),
            sorted(k for k in unexpected if not _is_head(k, head_names)), [],
        )  # fmt: skip
    for key in unexpected:
        ignored[key] = (
            "task head of the checkpoint (the backbone is used without it)"
            if _is_head(key, head_names)
            else f"no place in {name}"
        )
    buffers = {n for n, _ in model.named_buffers()}
    rebuilt: dict[str, str] = {}
    fresh: dict[str, str] = {}
    for key in sorted(missing):
        if key in derived:
            rebuilt[key] = derived[key]
        elif key in buffers and not own[key].is_floating_point():
            rebuilt[key] = "integer buffer computed by the constructor (not learned)"
        else:
            fresh[key] = NOT_IN_CHECKPOINT
    report = LoadReport(
        model=name, source=where, layout=layout_name, loaded=loaded, fresh=fresh,
        ignored=dict(sorted(ignored.items())), rebuilt=rebuilt, files=files,
        head=[k for k in fresh if _is_head(k, head_names)], seed=seed,
        digest=state_dict_digest(model),
    )  # fmt: skip
    _log(report, head_names)
    if report.fresh_body() and not allow_partial:
        raise report.partial_error(_release_hint(layouts, source))
    return report


def _log(report: LoadReport, head_names: tuple[str, ...]) -> None:
    body = report.fresh_body()
    if body:
        logger.warning(
            "weights: %s: %d tensors of %s are not in the checkpoint and keep their initial "
            "values (allow_partial_weights): %s",
            report.source, len(body), report.model, _show(body),
        )  # fmt: skip
    unplanned = sorted(k for k, why in report.ignored.items() if why.startswith("no place"))
    if unplanned:
        logger.warning(
            "weights: %s: %d checkpoint tensors have no place in %s and are ignored: %s",
            report.source, len(unplanned), report.model, _show(unplanned),
        )  # fmt: skip
    heads = sorted(
        set(report.head) | {k for k in report.ignored if _is_head(k, head_names)}
    )
    if heads:
        logger.info("weights: classification-head tensors skipped (%d): %s", len(heads),
                    _show(heads))  # fmt: skip
    logger.info("weights: %s, digest %s", report.summary(), report.digest[:12])


def load_weights_into(
    model: torch.nn.Module,
    source: WeightsSource,
    *,
    strict: bool = True,
    head_names: Iterable[str] = HEAD_MODULE_NAMES,
    prepare: Callable[[dict[str, torch.Tensor], torch.nn.Module], dict[str, torch.Tensor]]
    | None = None,
) -> str:
    """:func:`load_weights` returning only the state-dict digest after loading.

    ``strict=False`` is ``allow_partial=True``: tensors missing from the checkpoint are
    logged and keep their initial values.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> from coco_pipe.foundation.weights import resolve_weights, save_pretrained
    >>> d = save_pretrained(torch.nn.Linear(3, 2), os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> m = torch.nn.Linear(3, 2)
    >>> load_weights_into(m, resolve_weights(str(d))) == state_dict_digest(d / "model.safetensors")
    True
    """
    report = load_weights(
        model, source, head_names=head_names, prepare=prepare, allow_partial=not strict
    )
    return report.digest


__all__ = ["HEAD_MODULE_NAMES", "load_weights", "load_weights_into", "read_checkpoint"]
