"""Hugging Face hub: the environment (offline flag, cache folder) read at call time, and
weight files of a repository found in the cache or downloaded.

Examples
--------
>>> isinstance(hub_offline(), bool)
True
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .files import DIR_WEIGHT_FILES, WEIGHT_SUFFIXES
from .source import WeightsNotAvailableError, WeightsSource, spec_name

logger = logging.getLogger(__name__)


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
    who = f" for model {spec_name(spec)}" if spec is not None else ""
    return WeightsNotAvailableError(
        f"Pretrained weights{who} are not available: repository {repo!r} (revision {rev!r}) is not in "
        f"the Hugging Face cache {str(cache)!r} and {mode} ({why}). To prefetch it, run "
        f"`hf download {repo}{rev_flag}` (or `huggingface-cli download {repo}{rev_flag}`) on a machine "
        f"with network, then copy its cache folder {folder!r} into HF_HUB_CACHE (or point HF_HOME / "
        f"HF_HUB_CACHE at a cache that holds it); or pass weights='<path to a checkpoint>'. "
        "To opt into random initialisation instead, pass weights='random' (the run is then tagged "
        "weights=random-init)."
    )


def resolve_hub(
    repo: str, revision: str | None, hub_filename: str | None, spec: Any
) -> WeightsSource:
    """The weight file of hub repository ``repo`` (``hub_filename``, else the usual names,
    else its only weight file), from the cache or downloaded when online."""
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
    names = [hub_filename] if hub_filename else list(DIR_WEIGHT_FILES)
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


__all__ = ["hub_cache_dir", "hub_offline", "resolve_hub"]
