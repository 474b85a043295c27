"""One module per foundation model (coco_pipe/foundation/models/<key>.py): every spec row has
its module, the modules are registered, shared code never compares a model key, and the
hooks really drive the shared code."""

from __future__ import annotations

import ast
import importlib
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pytest

import coco_pipe
from coco_pipe.foundation.models import MODEL_MODULES, MODELS, get_model
from coco_pipe.foundation.models.base import FoundationModel
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

SRC = Path(coco_pipe.__path__[0])
MODELS_DIR = SRC / "foundation" / "models"


def _string_constants(node: ast.AST) -> list[str]:
    """String literals a comparison operand stands for (tuple/list/set elements, dict keys)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for elt in node.elts for s in _string_constants(elt)]
    if isinstance(node, ast.Dict):
        return [s for k in node.keys if k is not None for s in _string_constants(k)]
    return []


def _pattern_strings(pattern: ast.AST) -> list[str]:
    if isinstance(pattern, ast.MatchValue):
        return _string_constants(pattern.value)
    if isinstance(pattern, ast.MatchOr):
        return [s for p in pattern.patterns for s in _pattern_strings(p)]
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        return _pattern_strings(pattern.pattern)
    return []


def key_comparisons(source: str, keys: set[str]) -> list[tuple[int, str]]:
    """(line, key) of every comparison (==, !=, in, not in, match-case) of a model key literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            if not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
                continue
            for operand in [node.left, *node.comparators]:
                found += [(node.lineno, s) for s in _string_constants(operand) if s in keys]
        elif isinstance(node, ast.match_case):
            found += [(node.pattern.lineno, s) for s in _pattern_strings(node.pattern) if s in keys]
    return found


def test_the_checker_finds_every_form_of_key_comparison():
    keys = {"reve", "luna", "biot"}
    bad = textwrap.dedent(
        """
        if spec.key == "reve": pass
        if "luna" != key: pass
        ok = key in ("biot", "other")
        ok = key not in {"reve"}
        ok = key in {"luna": 1}
        match key:
            case "biot" | "nothing":
                pass
        """
    )
    assert [k for _, k in key_comparisons(bad, keys)] == ["reve", "luna", "biot", "reve", "luna", "biot"]
    fine = textwrap.dedent(
        '''
        """Docstring naming reve and ESTIMATOR_SPECS["reve"] is fine."""
        x = ESTIMATOR_SPECS["luna"]
        if mode == "positions": pass
        if source != "reve:position-bank": pass
        '''
    )
    assert key_comparisons(fine, keys) == []


def test_no_model_key_is_compared_outside_the_model_modules():
    keys = set(ESTIMATOR_SPECS)
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if MODELS_DIR in path.parents:
            continue
        for line, key in key_comparisons(path.read_text(), keys):
            offenders.append(f"{path.relative_to(SRC)}:{line} compares {key!r}")
    assert offenders == [], "model quirks belong in foundation/models/<key>.py:\n" + "\n".join(offenders)


def test_every_spec_row_has_its_registered_module():
    files = {p.stem for p in MODELS_DIR.glob("*.py")} - {"__init__", "base"}
    assert set(ESTIMATOR_SPECS) == set(MODEL_MODULES) == set(MODELS) == files
    for key, spec in ESTIMATOR_SPECS.items():
        module = importlib.import_module(f"coco_pipe.foundation.models.{key}")
        assert module.SPEC is spec and module.MODEL is get_model(key)
        assert isinstance(module.MODEL, FoundationModel) and module.MODEL.spec is spec
        doc = module.__doc__ or ""
        assert "References" in doc and "Pretraining data" in doc, f"{key}: docstring cites no paper / data"
    with pytest.raises(ValueError, match=r"unknown model_key 'nope'.*bendr"):
        get_model("nope")


def test_the_loader_applies_the_models_checkpoint_hook(monkeypatch, tmp_path):
    """A model's prepare_checkpoint sees the checkpoint before it is matched: here it undoes
    a renaming that the loader could not have guessed."""
    import torch
    from safetensors.torch import save_file

    from coco_pipe.foundation.backbones import build_backbone

    spec = ESTIMATOR_SPECS["cbramod"]
    kw = dict(sfreq=200.0, ch_names=None, n_channels=3, n_times=400, model_kwargs=spec.small_kwargs)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="RANDOM"):
        ref = build_backbone("cbramod", weights="random", **kw)
    path = tmp_path / "renamed.safetensors"
    save_file({f"old_{k}": v.contiguous() for k, v in ref.module.model.state_dict().items()}, str(path))
    with pytest.raises(ValueError, match="does not fit"):
        build_backbone("cbramod", weights=str(path), **kw)

    seen = []

    def undo_renaming(state, model):
        seen.append(type(model).__name__)
        return {k.removeprefix("old_"): v for k, v in state.items()}

    monkeypatch.setattr(get_model("cbramod"), "prepare_checkpoint", undo_renaming)
    loaded = build_backbone("cbramod", weights=str(path), **kw)
    assert seen == ["CBraMod"]
    assert loaded.weights_digest == ref.weights_digest


def test_positions_buffer_and_subset_positions_come_from_the_hooks():
    from coco_pipe.foundation.architecture import make_plan

    names = (
        "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
        "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
    )  # fmt: skip
    for key in ESTIMATOR_SPECS:
        model = get_model(key)
        plan = make_plan(model.spec, sfreq=model.spec.sfreq, ch_names=names, n_channels=19,
                         n_times=model.spec.default_n_times)  # fmt: skip
        if model.spec.channel_mode == "subset":
            assert (plan.positions is not None) == model.subset_positions, key
        if model.positions_buffer:
            assert plan.positions is not None and len(plan.positions) == plan.n_channels, key
    assert {k for k, m in MODELS.items() if m.positions_buffer} == {"luna", "reve"}
    assert {k for k, m in MODELS.items() if m.subset_positions} == {"signal_jepa"}


def test_reves_offline_position_bank_pickles_by_reference():
    from coco_pipe.foundation.models import reve

    bank = reve.OfflinePositionBank()
    again = pickle.loads(pickle.dumps(bank))
    assert type(again) is reve.OfflinePositionBank
    assert again.embedding.shape == (0, 3) and np.asarray(again.embedding).size == 0
