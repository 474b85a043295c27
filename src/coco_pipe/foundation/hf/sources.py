"""Where a hugging_face checkpoint is and which loader reads it: a coco_pipe_eeg folder, a
remote-code checkpoint, a braindecode checkpoint or random init; found in a local folder
or the Hugging Face cache before any model is built.

Examples
--------
>>> resolve_checkpoint("random", spec=None, revision=None).kind
'random'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..weights import (
    WeightsNotAvailableError,
    WeightsSource,
    hub_cache_dir,
    hub_offline,
    normalize_weights_arg,
    resolve_weights,
)
from ..weights.resolve import HUB_ID, looks_like_path, split_revision
from .config import MODEL_TYPE


class HFCheckpointNotAvailableError(WeightsNotAvailableError):
    """A hub checkpoint for the hugging_face backend is not in the cache and cannot be fetched.

    The message names the repository, the revision, the cache searched and the
    ``hf download`` command that prefetches it.

    Examples
    --------
    >>> issubclass(HFCheckpointNotAvailableError, FileNotFoundError)
    True
    """


@dataclass(frozen=True)
class HFWeightsSource:
    """A :class:`WeightsSource` plus what the hugging_face backend did with it.

    ``as_tags()`` adds ``backend``, ``hf.format`` (``coco_pipe_eeg``, ``braindecode``,
    ``remote_code`` or ``random-init``), ``hf.trust_remote_code``, ``hf.quantization``
    and ``hf.dtype`` to the weight tags.

    Examples
    --------
    >>> src = HFWeightsSource(WeightsSource("random", "random-init", None, None), "random-init", False, "none", "float32")
    >>> src.as_tags()["hf.trust_remote_code"]
    'false'
    """

    base: WeightsSource
    format: str
    trust_remote_code: bool
    quantization: str
    dtype: str

    kind = property(lambda self: self.base.kind)
    location = property(lambda self: self.base.location)
    revision = property(lambda self: self.base.revision)
    resolved_path = property(lambda self: self.base.resolved_path)
    is_random = property(lambda self: self.base.is_random)

    def as_tags(self) -> dict[str, str]:
        """Weight tags of the run (those of :meth:`WeightsSource.as_tags` plus ``hf.*``)."""
        return {
            **self.base.as_tags(),
            "backend": "hugging_face",
            "hf.format": self.format,
            "hf.trust_remote_code": "true" if self.trust_remote_code else "false",
            "hf.quantization": self.quantization,
            "hf.dtype": self.dtype,
        }


@dataclass(frozen=True)
class Resolved:
    kind: str  # "random" | "coco_pipe_eeg" | "remote_code" | "braindecode"
    source: WeightsSource
    folder: Path | None  # local folder or cached snapshot
    repo: str | None  # hub repository (None for local paths)
    revision: str | None  # requested revision


def _read_config(folder: Path) -> dict[str, Any] | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{str(path)!r} is not a readable JSON config: {err}") from err


def _classify(folder: Path) -> str:
    cfg = _read_config(folder) or {}
    if cfg.get("model_type") == MODEL_TYPE:
        return "coco_pipe_eeg"
    if cfg.get("auto_map"):
        return "remote_code"
    return "braindecode"


def _not_cached_error(
    repo: str, revision: str | None, cache: Path, err: Exception
) -> HFCheckpointNotAvailableError:
    rev = revision or "main"
    folder = "models--" + repo.replace("/", "--")
    return HFCheckpointNotAvailableError(
        f"backend='hugging_face': checkpoint {repo!r} (revision {rev!r}) is not in the Hugging Face cache "
        f"{str(cache)!r} and the hub cannot be used (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}; "
        f"{type(err).__name__}). To prefetch it, run `hf download {repo} --revision {rev}` on a machine with "
        f"network (log in with `hf auth login` and accept the terms first for gated repositories), then copy "
        f"its cache folder {folder!r} into HF_HUB_CACHE on this machine (or point HF_HOME / HF_HUB_CACHE at a "
        "cache that holds it). Checkpoints published with their own modeling code also need "
        "trust_remote_code=True. Or pass weights='<folder written by save_pretrained>', or weights='random' "
        "for random initialisation."
    )


def _hub_snapshot(repo: str, revision: str | None) -> tuple[Path, str | None]:
    """Cached (or, online, downloaded) snapshot folder of ``repo`` and its commit."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415
    from huggingface_hub.errors import (  # noqa: PLC0415
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache = hub_cache_dir()
    try:
        path = snapshot_download(
            repo_id=repo,
            revision=revision,
            cache_dir=str(cache),
            local_files_only=hub_offline(),
            allow_patterns=["*.json", "*.safetensors", "*.py", "*.bin", "*.txt"],
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise HFCheckpointNotAvailableError(
            f"hub repository {repo!r} (revision {revision or 'main'!r}) was not found or is gated: {err}. "
            "Check the id, log in with `hf auth login` for gated repositories, or pass weights='random'."
        ) from err
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        raise _not_cached_error(repo, revision, cache, err) from err
    folder = Path(path)
    if (
        _read_config(folder) is None
        and not any(folder.glob("*.safetensors"))
        and not any(folder.glob("*.bin"))
    ):
        raise _not_cached_error(
            repo, revision, cache, FileNotFoundError("snapshot holds no config or weights")
        )
    return folder, folder.name


def resolve_checkpoint(weights: str, *, spec: Any, revision: str | None) -> Resolved:
    """Where the weights are and which loader reads them; cheap, before any model is built."""
    weights = normalize_weights_arg(weights)
    if weights in ("random", "random-init"):
        return Resolved(
            "random", resolve_weights(weights, spec=spec, revision=revision), None, None, None
        )
    path = Path(weights).expanduser()
    if path.exists():
        if path.is_dir():
            kind = _classify(path)
            if kind in ("coco_pipe_eeg", "remote_code"):
                src = WeightsSource("local_dir", str(path.resolve()), None, str(path.resolve()))
                return Resolved(kind, src, path.resolve(), None, None)
        return Resolved(
            "braindecode", resolve_weights(weights, spec=spec, revision=revision), None, None, None
        )
    if weights == "pretrained":
        if not spec.hub_repo:
            raise ValueError(
                f"model {spec.key!r} has no pretrained hub repository; pass weights as a folder or hub id, "
                "or weights='random'"
            )
        text = spec.hub_repo
    else:
        text = weights
    # paths that do not exist and malformed ids get the weights package's clear errors
    if looks_like_path(text):
        resolve_weights(
            text, spec=spec, revision=revision
        )  # raises FileNotFoundError naming the path
    repo, rev = split_revision(text, revision)
    if not HUB_ID.match(repo):
        resolve_weights(text, spec=spec, revision=revision)  # raises the ValueError
    folder, commit = _hub_snapshot(repo, rev)
    kind = _classify(folder)
    if kind == "braindecode":
        src = resolve_weights(folder.as_posix(), spec=spec)
        src = WeightsSource("hub", repo, commit, src.resolved_path)
    else:
        src = WeightsSource("hub", repo, commit, str(folder))
    return Resolved(kind, src, folder, repo, rev)


__all__ = ["HFCheckpointNotAvailableError", "HFWeightsSource", "Resolved", "resolve_checkpoint"]
