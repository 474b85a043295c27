"""Where a backbone's weights come from, loading them, and naming them by digest.

A user who names a foundation model expects its pretrained weights, so
``weights="pretrained"`` (the default everywhere) resolves the spec row's Hugging Face
repository (``FoundationModelSpec.hub_repo``) through the local Hugging Face cache,
downloading it when the machine is online. Offline and not cached, it stops with
:class:`WeightsNotAvailableError`, which says how to prefetch the repository and that
``weights="random"`` opts into random initialisation. Nothing ever falls back to
random weights silently.

Accepted values of ``weights``:

- ``"pretrained"``: the spec row's ``hub_repo`` (file ``hub_filename`` when set);
- ``"random"``: no loading; :func:`load_weights_into` warns and the run is tagged
  ``weights=random-init``;
- ``"org/name"`` or ``"org/name@revision"``: another Hugging Face repository;
- a directory written by :func:`save_pretrained` or braindecode's ``save_pretrained``
  (``model.safetensors`` and/or ``pytorch_model.bin``, sharded ``*.index.json`` too);
- a state-dict file: ``.safetensors``, or ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt``
  read with ``torch.load(weights_only=True)``.

An existing path always wins over a hub id; strings starting with ``./``, ``../``,
``/`` or ``~``, holding more than one ``/``, or ending in a weight-file suffix are
paths, and a missing path is an error naming it.

The environment is read when a function is called, not when the module is imported:
``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``), ``HF_HUB_CACHE`` (legacy
``HUGGINGFACE_HUB_CACHE``) and ``HF_HOME`` (cache in ``$HF_HOME/hub``).

Examples
--------
>>> import torch
>>> src = resolve_weights("random")
>>> src.as_tags()["weights"]
'random-init'
>>> model = torch.nn.Linear(3, 2)
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     digest = load_weights_into(model, src)
>>> digest == state_dict_digest(model)
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

logger = logging.getLogger(__name__)

__all__ = [
    "HEAD_MODULE_NAMES",
    "WEIGHT_SUFFIXES",
    "WeightsNotAvailableError",
    "WeightsSource",
    "hub_cache_dir",
    "hub_offline",
    "load_state_dict_file",
    "load_weights_into",
    "resolve_weights",
    "save_pretrained",
    "state_dict_digest",
]

#: File suffixes read as state dicts.
WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")

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

# file names tried, in order, inside a checkpoint directory / hub snapshot
_DIR_WEIGHT_FILES: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
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
# wrapper keys of training checkpoints holding the actual state dict
_WRAPPER_KEYS: tuple[str, ...] = ("state_dict", "model_state_dict", "model", "module", "network")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*$")
_RANDOM_ALIASES = ("random", "random-init")
_N_SHOW = 8  # keys shown per category in error messages


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


# ----------------------------------------------------------------------------- environment
def _env_true(value: str | None) -> bool:
    return value is not None and value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_offline() -> bool:
    """Whether the Hugging Face hub must not be contacted, read now from the environment.

    ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) as set at call time; when neither
    is set, huggingface_hub's own (import-time) setting.

    Examples
    --------
    >>> isinstance(hub_offline(), bool)
    True
    """
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    if value:
        return _env_true(value)
    from huggingface_hub import constants  # noqa: PLC0415

    return bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, read now from the environment.

    ``HF_HUB_CACHE``, else legacy ``HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``,
    else huggingface_hub's default (``~/.cache/huggingface/hub``). huggingface_hub
    reads these variables once at import; reading them here makes a later change
    (a test's ``monkeypatch.setenv``, a notebook's ``os.environ``) take effect.

    Examples
    --------
    >>> hub_cache_dir().name != ""
    True
    """
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "huggingface" / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


# ----------------------------------------------------------------------------- resolving
def _looks_like_path(text: str) -> bool:
    if text.startswith(("./", "../", "/", "~", ".\\", "..\\")) or "\\" in text:
        return True
    if re.match(r"^[A-Za-z]:[\\/]", text):  # windows drive
        return True
    if text.lower().endswith(WEIGHT_SUFFIXES):
        return True
    return text.split("@", 1)[0].count("/") > 1


def _split_revision(text: str, revision: str | None) -> tuple[str, str | None]:
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


def _spec_name(spec: Any) -> str:
    return repr(getattr(spec, "key", None) or getattr(spec, "display_name", None) or "this model")


def replace_directory_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Fill a fresh temporary folder beside ``target`` with ``write(tmp)``, then swap it in
    with ``os.replace``; on any failure the previous ``target`` (if any) is put back and the
    temporary folder removed, so readers never see a half-written checkpoint."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old: Path | None = None
    try:
        write(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / target.name).exists() and not target.exists():
            os.replace(old / target.name, target)  # put the previous checkpoint back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


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

    if weights in _RANDOM_ALIASES:
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
                f"model {_spec_name(spec)} has no pretrained hub repository (spec.hub_repo is None); "
                "pass weights as a checkpoint path or hub id, or weights='random' for random init"
            )
        repo, rev = _split_revision(repo, revision)
        return _resolve_hub(repo, rev, hub_filename, spec)

    path = Path(weights).expanduser()
    if path.exists():
        return _resolve_path(path, hub_filename)
    if _looks_like_path(weights):
        raise FileNotFoundError(
            f"weights path {weights!r} does not exist (resolved to {str(path.absolute())!r}); "
            "expected a checkpoint directory or a state-dict file (.safetensors, .pt, .pth, .bin)"
        )
    repo, rev = _split_revision(weights, revision)
    if _HUB_ID.match(repo):
        return _resolve_hub(repo, rev, None, spec)
    raise ValueError(
        f"weights={weights!r} is neither 'pretrained', 'random', an existing path, nor a hub "
        "repository id 'org/name[@revision]'"
    )


def _resolve_path(path: Path, hub_filename: str | None) -> WeightsSource:
    path = path.resolve()
    if path.is_dir():
        weight_file = _pick_weight_file(path, hub_filename)
        return WeightsSource("local_dir", str(path), None, str(weight_file))
    if not path.name.lower().endswith(WEIGHT_SUFFIXES + (".index.json",)):
        raise ValueError(
            f"weights file {str(path)!r} has suffix {path.suffix!r}; expected one of "
            f"{', '.join(WEIGHT_SUFFIXES)} (a state dict) or a checkpoint directory"
        )
    return WeightsSource("file", str(path), None, str(path))


def _pick_weight_file(directory: Path, hub_filename: str | None) -> Path:
    names = ([hub_filename] if hub_filename else []) + list(_DIR_WEIGHT_FILES)
    for name in names:
        if (directory / name).is_file():
            return directory / name
    found = sorted(
        p.name
        for p in directory.iterdir()
        if p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES)
    )
    if len(found) == 1:
        return directory / found[0]
    if not found:
        raise FileNotFoundError(
            f"checkpoint directory {str(directory)!r} holds no weight file; expected one of "
            f"{', '.join(names)} or a single file ending in {', '.join(WEIGHT_SUFFIXES)}"
        )
    raise ValueError(
        f"checkpoint directory {str(directory)!r} holds several weight files {found}; "
        "pass the path of the one to load"
    )


def _commit_of(path: str, revision: str | None) -> str | None:
    parts = Path(path).parts
    if "snapshots" in parts:
        i = len(parts) - 1 - parts[::-1].index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return revision


def _not_available(
    repo: str, revision: str | None, cache: Path, offline: bool, spec: Any, why: str
):
    rev = revision or "main"
    rev_flag = f" --revision {revision}" if revision else ""
    folder = "models--" + repo.replace("/", "--")
    mode = "HF_HUB_OFFLINE is set" if offline else "the hub could not be reached"
    who = f" for model {_spec_name(spec)}" if spec is not None else ""
    return WeightsNotAvailableError(
        f"Pretrained weights{who} are not available: repository {repo!r} (revision {rev!r}) is not in "
        f"the Hugging Face cache {str(cache)!r} and {mode} ({why}). To prefetch it, run "
        f"`hf download {repo}{rev_flag}` (or `huggingface-cli download {repo}{rev_flag}`) on a machine "
        f"with network, then copy its cache folder {folder!r} into HF_HUB_CACHE (or point HF_HOME / "
        f"HF_HUB_CACHE at a cache that holds it); or pass weights='<path to a checkpoint>'. "
        "To opt into random initialisation instead, pass weights='random' (the run is then tagged "
        "weights=random-init)."
    )


def _resolve_hub(
    repo: str, revision: str | None, hub_filename: str | None, spec: Any
) -> WeightsSource:
    from huggingface_hub import hf_hub_download  # noqa: PLC0415
    from huggingface_hub.errors import (  # noqa: PLC0415
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache = hub_cache_dir()
    offline = hub_offline()
    local_only = offline
    names = [hub_filename] if hub_filename else list(_DIR_WEIGHT_FILES)
    last_error: Exception | None = None
    for name in names:
        try:
            path = hf_hub_download(
                repo_id=repo,
                filename=name,
                revision=revision,
                cache_dir=str(cache),
                local_files_only=local_only,
            )
        except LocalEntryNotFoundError as err:  # not cached, and offline / unreachable
            last_error = err
            if not local_only:  # the hub is unreachable: look only in the cache from now on
                logger.warning(
                    "weights: the Hugging Face hub could not be reached for %r; looking in the cache "
                    "only (set HF_HUB_OFFLINE=1 to skip the network): %s",
                    repo,
                    err,
                )
                local_only = True
            continue
        except EntryNotFoundError as err:  # the repository has no such file: try the next name
            last_error = err
            continue
        except (RepositoryNotFoundError, RevisionNotFoundError) as err:
            raise WeightsNotAvailableError(
                f"hub repository {repo!r} (revision {revision or 'main'!r}) was not found or is gated: {err}. "
                "Check the id, log in with `hf auth login` for gated repositories, or pass weights='random' "
                "for random initialisation."
            ) from err
        except (OSError, ValueError) as err:  # network failures
            last_error = err
            continue
        if name.endswith(".index.json"):
            _fetch_shards(repo, revision, cache, local_only, Path(path))
        commit = _commit_of(path, revision)
        logger.info("weights: %s@%s -> %s", repo, commit, path)
        return WeightsSource("hub", repo, commit, str(path))

    if not hub_filename:
        # the weights may sit under another name (e.g. a single "<name>.safetensors")
        found = _other_weight_file(repo, revision, cache, local_only)
        if found is not None:
            commit = _commit_of(str(found), revision)
            logger.info("weights: %s@%s -> %s", repo, commit, found)
            return WeightsSource("hub", repo, commit, str(found))
    why = f"looked for {', '.join(names)}; last error: {type(last_error).__name__}: {last_error}"
    raise _not_available(repo, revision, cache, offline, spec, why) from last_error


def _other_weight_file(
    repo: str, revision: str | None, cache: Path, local_only: bool
) -> Path | None:
    """The only weight file of a repository (cached snapshot, or listed on the hub when online)."""
    snapshot = _cached_snapshot(cache, repo, revision)
    if snapshot is not None:
        found = sorted(
            p.name for p in snapshot.iterdir() if p.name.lower().endswith(WEIGHT_SUFFIXES)
        )
        where = f"{repo}@{snapshot.name} (cached at {str(snapshot)!r})"
    elif not local_only:
        from huggingface_hub import HfApi, hf_hub_download  # noqa: PLC0415

        try:
            files = HfApi().list_repo_files(repo, revision=revision)
        except Exception as err:  # noqa: BLE001 - unreachable hub: reported as not available
            logger.debug("listing %s failed: %s", repo, err)
            return None
        found = sorted(f for f in files if "/" not in f and f.lower().endswith(WEIGHT_SUFFIXES))
        if len(found) == 1:
            return Path(
                hf_hub_download(
                    repo_id=repo, filename=found[0], revision=revision, cache_dir=str(cache)
                )
            )
        where = f"{repo}@{revision or 'main'}"
    else:
        return None
    if len(found) == 1:
        return snapshot / found[0]  # type: ignore[operator]
    if len(found) > 1:
        raise ValueError(
            f"hub repository {where} holds several weight files {found}; name one with the spec "
            "row's hub_filename, or pass the path of the file to load as weights"
        )
    return None


def _cached_snapshot(cache: Path, repo: str, revision: str | None) -> Path | None:
    root = cache / ("models--" + repo.replace("/", "--"))
    rev = revision or "main"
    ref = root / "refs" / rev
    commit = ref.read_text().strip() if ref.is_file() else rev
    snapshot = root / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def _fetch_shards(repo: str, revision: str | None, cache: Path, offline: bool, index: Path) -> None:
    from huggingface_hub import hf_hub_download  # noqa: PLC0415

    for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
        hf_hub_download(
            repo_id=repo,
            filename=shard,
            revision=revision,
            cache_dir=str(cache),
            local_files_only=offline,
        )


# ----------------------------------------------------------------------------- reading
def _tensor_items(obj: Any, origin: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        tensors = {
            k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)
        }
        if tensors:
            return tensors
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                return _tensor_items(obj[key], origin)
    raise ValueError(
        f"{origin} holds no state dict (a mapping of parameter names to tensors); got {type(obj).__name__}"
        + (f" with keys {sorted(map(str, obj))[:_N_SHOW]}" if isinstance(obj, Mapping) else "")
    )


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` / ``.pt`` / ``.bin`` file or shard index.

    Pickle files are read with ``torch.load(weights_only=True)``, on the CPU; training
    checkpoints wrapping the state dict (``{"state_dict": ...}``, ``{"model": ...}``)
    are unwrapped.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    dict of str to torch.Tensor

    Examples
    --------
    >>> import torch, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "w.pt")
    >>> torch.save({"state_dict": {"w": torch.ones(2)}}, f)
    >>> list(load_state_dict_file(f))
    ['w']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    name = path.name.lower()
    if name.endswith(".index.json"):
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        merged: dict[str, torch.Tensor] = {}
        for shard in shards:
            merged.update(load_state_dict_file(path.parent / shard))
        return merged
    if name.endswith(".safetensors"):
        from safetensors import SafetensorError  # noqa: PLC0415
        from safetensors.torch import load_file  # noqa: PLC0415

        try:
            return dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError) as err:
            raise ValueError(
                f"weights file {str(path)!r} is not a readable safetensors file: {err}"
            ) from err
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError: not a weights-only pickle
        raise ValueError(
            f"weights file {str(path)!r} cannot be read with torch.load(weights_only=True): {err}. "
            "Save model.state_dict() (not the pickled module), or use .safetensors."
        ) from err
    return _tensor_items(obj, f"weights file {str(path)!r}")


# ----------------------------------------------------------------------------- loading
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
    more = f", ... (+{len(keys) - _N_SHOW})" if len(keys) > _N_SHOW else ""
    return "[" + ", ".join(keys[:_N_SHOW]) + more + "]"


def load_weights_into(
    model: torch.nn.Module,
    source: WeightsSource,
    *,
    strict: bool = True,
    head_names: Iterable[str] = HEAD_MODULE_NAMES,
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
        raise RuntimeError(f"unexpected keys after filtering: {result.unexpected_keys[:_N_SHOW]}")
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


# ----------------------------------------------------------------------------- digest
def _tensor_bytes(t: torch.Tensor) -> memoryview:
    t = t.detach()
    if t.device.type == "meta":
        raise ValueError("cannot digest a tensor on the meta device (weights not materialised)")
    t = t.to("cpu").contiguous().reshape(-1)
    if t.is_complex():
        t = torch.view_as_real(t).reshape(-1)
    return memoryview(t.view(torch.uint8).numpy())


def state_dict_digest(
    module_or_state_dict: torch.nn.Module | Mapping[str, Any] | str | os.PathLike,
) -> str:
    """sha256 over the sorted (name, dtype, shape, bytes) of a state dict.

    Stable across :func:`save_pretrained` / :func:`load_weights_into` round trips and
    independent of the device. Non-tensor entries (``_extra_state`` objects) are skipped.

    Parameters
    ----------
    module_or_state_dict : torch.nn.Module, mapping, or path
        A model, a state dict, or a weights file (read with :func:`load_state_dict_file`).

    Returns
    -------
    str
        64 hex characters.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) is not None
    True
    >>> m = torch.nn.Linear(2, 2)
    >>> state_dict_digest(m) == state_dict_digest(m.state_dict())
    True
    """
    obj = module_or_state_dict
    if isinstance(obj, torch.nn.Module):
        sd: Mapping[str, Any] = obj.state_dict()
    elif isinstance(obj, (str, os.PathLike)):
        sd = load_state_dict_file(obj)
    elif isinstance(obj, Mapping):
        sd = obj
    else:
        raise TypeError(
            f"module_or_state_dict: expected a torch.nn.Module, a state dict or a path, got {type(obj).__name__}"
        )
    h = hashlib.sha256()
    for key in sorted(sd):
        value = sd[key]
        if not isinstance(value, torch.Tensor):
            continue
        h.update(key.encode())
        h.update(b"\0")
        h.update(str(value.dtype).encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(b"\0")
        h.update(_tensor_bytes(value))
    return h.hexdigest()


# ----------------------------------------------------------------------------- saving
def _braindecode_config(model: torch.nn.Module) -> dict[str, Any]:
    try:
        from braindecode.models.base import EEGModuleMixin, build_model_config  # noqa: PLC0415
    except ImportError:
        return {}
    if not isinstance(model, EEGModuleMixin):
        return {}
    try:
        return dict(build_model_config(model))
    except Exception as err:  # noqa: BLE001 - config is metadata; weights are what matter
        logger.debug("braindecode config of %s not written: %s", type(model).__name__, err)
        return {}


def save_pretrained(
    model: torch.nn.Module, directory: str | os.PathLike, *, config: dict[str, Any] | None = None
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory``, atomically.

    The files are written to a temporary folder beside ``directory`` and renamed
    into place, so a reader never sees a half-written checkpoint. An existing
    checkpoint directory is replaced; a non-empty directory that is not one is
    refused. The layout is braindecode's / huggingface_hub's, so the folder is
    accepted by :func:`resolve_weights` and by braindecode's ``from_pretrained``.

    Parameters
    ----------
    model : torch.nn.Module
        Model whose ``state_dict()`` is saved (tensors copied to CPU).
    directory : str or path-like
        Target folder.
    config : dict, optional
        JSON-serialisable metadata written to ``config.json``; default: braindecode's
        model config when ``model`` is a braindecode model (so braindecode's
        ``from_pretrained`` can rebuild it). The model class and
        :func:`state_dict_digest` go into the safetensors header metadata.

    Returns
    -------
    pathlib.Path
        The absolute checkpoint directory.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> d = save_pretrained(torch.nn.Linear(3, 2), os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> sorted(p.name for p in d.iterdir())
    ['config.json', 'model.safetensors']
    """
    from safetensors.torch import save_file  # noqa: PLC0415

    target = Path(directory).expanduser().absolute()
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"directory={str(target)!r} exists and is not a directory")
        contents = {p.name for p in target.iterdir()}
        if contents and not contents & {"model.safetensors", "config.json", "pytorch_model.bin"}:
            raise FileExistsError(
                f"directory={str(target)!r} is not empty and holds no checkpoint ({sorted(contents)[:_N_SHOW]}); "
                "refusing to replace it; choose a new or empty folder"
            )
    cfg = dict(config) if config is not None else _braindecode_config(model)
    state = {
        k: v.detach().to("cpu").contiguous().clone()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor)
    }
    digest = state_dict_digest(state)
    # provenance goes into the safetensors header: braindecode's from_pretrained passes
    # every config.json key to the model constructor
    metadata = {
        "format": "pt",
        "coco_pipe_model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "state_dict_digest": digest,
    }
    try:
        cfg_text = json.dumps(cfg, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config is not JSON-serialisable: {err}") from err

    def write(tmp: Path) -> None:
        save_file(state, str(tmp / "model.safetensors"), metadata=metadata)
        (tmp / "config.json").write_text(cfg_text)

    replace_directory_atomically(target, write)
    logger.info("weights: saved %s (%d tensors, digest %s)", target, len(state), digest[:12])
    return target
