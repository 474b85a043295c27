"""Loading resolved weights into a built model: keys matched after a common prefix is
stripped or added, the classification head skipped, everything else reported.

Examples
--------
>>> "final_layer" in HEAD_MODULE_NAMES
True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping

import torch

from .digest import state_dict_digest
from .files import N_SHOW, load_state_dict_file
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


def load_weights_into(
    model: torch.nn.Module,
    source: WeightsSource,
    *,
    strict: bool = True,
    head_names: Iterable[str] = HEAD_MODULE_NAMES,
    prepare: Callable[[dict[str, torch.Tensor], torch.nn.Module], dict[str, torch.Tensor]]
    | None = None,
) -> str:
    """Load resolved weights into ``model`` (in place) and return the state-dict digest.

    Checkpoint keys are matched after stripping or adding a common prefix
    (``module.``, ``model.``, ``backbone.``, ...). Keys of the classification head
    (modules named in ``head_names``) are skipped when absent on either side or of
    another shape, and logged: a backbone is used without its head.

    Parameters
    ----------
    model : torch.nn.Module
        The freshly built (random-init) model, head already removed or not.
    source : WeightsSource
        From :func:`resolve_weights`. ``kind="random"`` loads nothing and warns.
    strict : bool, default True
        Raise when body parameters of the model are missing from the checkpoint (with
        False they are logged as a warning and stay randomly initialised).
    head_names : iterable of str
        Module names treated as the classification head.
    prepare : callable, optional
        ``prepare(state, model) -> state`` applied to the checkpoint's tensors before they
        are matched (a model's
        :meth:`~coco_pipe.foundation.models.base.FoundationModel.prepare_checkpoint`).

    Returns
    -------
    str
        :func:`state_dict_digest` of ``model`` after loading.

    Raises
    ------
    ValueError
        The checkpoint is not of this architecture: no key matches, a body tensor has
        another shape, or (``strict``) body parameters are missing. The message lists
        the first missing, unexpected and shape-mismatched keys.

    Warns
    -----
    UserWarning
        For ``kind="random"``: the backbone uses RANDOM weights, not pretrained ones.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> from coco_pipe.foundation.weights import resolve_weights, save_pretrained
    >>> d = save_pretrained(torch.nn.Linear(3, 2), os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> m = torch.nn.Linear(3, 2)
    >>> load_weights_into(m, resolve_weights(str(d))) == state_dict_digest(d / "model.safetensors")
    True
    """
    head_names = tuple(head_names)
    name = type(model).__name__
    if source.kind == "random":
        warnings.warn(
            f"{name}: the backbone uses RANDOM weights (random initialisation, not pretrained); "
            "the run is tagged weights=random-init. Pass weights='pretrained' or a checkpoint for "
            "pretrained weights.",
            UserWarning,
            stacklevel=2,
        )
        digest = state_dict_digest(model)
        logger.info("weights: %s random-init, digest %s", name, digest[:12])
        return digest
    if not source.resolved_path:
        raise ValueError(
            f"weights source {source!r} has no resolved_path; build it with resolve_weights()"
        )

    ckpt = load_state_dict_file(source.resolved_path)
    if prepare is not None:
        ckpt = prepare(ckpt, model)
    own = model.state_dict()
    param_names = {n for n, _ in model.named_parameters()}
    mapped, strip, add = _remap(ckpt, set(own))
    if strip or add:
        logger.info("weights: checkpoint keys renamed (strip %r, add %r)", strip, add)

    missing = sorted(k for k in own if k not in mapped)
    unexpected = sorted(k for k in mapped if k not in own)
    mismatched = sorted(
        k for k in mapped if k in own and tuple(mapped[k].shape) != tuple(own[k].shape)
    )
    head_skipped = [k for k in missing + unexpected + mismatched if _is_head(k, head_names)]
    body_missing = [k for k in missing if not _is_head(k, head_names)]
    body_unexpected = [k for k in unexpected if not _is_head(k, head_names)]
    body_mismatched = [k for k in mismatched if not _is_head(k, head_names)]
    body_missing_params = [k for k in body_missing if k in param_names]
    n_matched = sum(1 for k in mapped if k in own and k not in mismatched)

    def _report() -> str:
        lines = [
            f"missing from checkpoint ({len(body_missing)}): {_show(body_missing)}",
            f"unexpected in checkpoint ({len(body_unexpected)}): {_show(body_unexpected)}",
            "shape mismatches ({}): {}".format(
                len(body_mismatched),
                _show(
                    [
                        f"{k} checkpoint {tuple(mapped[k].shape)} vs model {tuple(own[k].shape)}"
                        for k in body_mismatched
                    ]
                ),
            ),
        ]
        return "; ".join(lines)

    where = source.as_tags()["weights.source"]
    if n_matched == 0 or body_mismatched or (strict and body_missing_params):
        raise ValueError(
            f"checkpoint {where!r} ({source.resolved_path}) does not fit {name}: {n_matched} of "
            f"{len(own)} tensors match. {_report()}. Is it a checkpoint of this architecture and size "
            "(model_kwargs)?"
        )
    if body_missing:
        logger.warning(
            "weights: %s: %d tensors of %s are not in the checkpoint and keep their initial values: %s",
            where,
            len(body_missing),
            name,
            _show(body_missing),
        )
    if body_unexpected:
        logger.warning(
            "weights: %s: %d checkpoint tensors have no place in %s and are ignored: %s",
            where,
            len(body_unexpected),
            name,
            _show(body_unexpected),
        )
    if head_skipped:
        logger.info(
            "weights: classification-head tensors skipped (%d): %s",
            len(head_skipped),
            _show(head_skipped),
        )

    to_load = {k: v for k, v in mapped.items() if k in own and k not in mismatched}
    result = model.load_state_dict(to_load, strict=False)
    if result.unexpected_keys:  # cannot happen: only model keys are passed
        raise RuntimeError(f"unexpected keys after filtering: {result.unexpected_keys[:N_SHOW]}")
    digest = state_dict_digest(model)
    logger.info(
        "weights: loaded %d/%d tensors into %s from %s, digest %s",
        len(to_load),
        len(own),
        name,
        where,
        digest[:12],
    )
    return digest


__all__ = ["HEAD_MODULE_NAMES", "load_weights_into"]
