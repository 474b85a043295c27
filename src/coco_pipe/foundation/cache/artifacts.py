"""The cache's parent-run artifacts: the manifest of the fingerprints an experiment used and
an export of the embeddings its folds produced, as deferred artifacts of a FoldReport.

Each fold's :class:`~coco_pipe.foundation.embedder.BackboneEmbedder` describes them; the
experiment combines the folds' descriptions and writes each file once after the last fold
(:func:`~coco_pipe.tracking.report.write_deferred_artifacts`): the manifest always, the
embeddings only below the experiment's size cap.

Examples
--------
>>> m = CacheManifest(frozenset({("/tmp/c", "fp1")}))
>>> m.combine(CacheManifest(frozenset({("/tmp/c", "fp2")}))).entries == {("/tmp/c", "fp1"), ("/tmp/c", "fp2")}
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .keys import DIGEST_HEX_CHARS
from .store import EmbeddingCache

#: Parent-run artifact directory of the cache files.
ARTIFACT_TYPE = "cache"


@dataclass(frozen=True)
class CacheManifest:
    """``cache/cache_manifest.json``: per fingerprint, what its cache holds
    (:meth:`EmbeddingCache.manifest`), read when it is written.

    Attributes
    ----------
    entries : frozenset of (cache root, fingerprint)
    """

    entries: frozenset[tuple[str, str]]
    artifact_type: str = ARTIFACT_TYPE
    name: str = "cache_manifest.json"
    size_capped: bool = False

    def combine(self, other: CacheManifest) -> CacheManifest:
        """Both manifests' fingerprints."""
        return CacheManifest(self.entries | other.entries)

    def write(self, directory: Path) -> Path:
        """Write the JSON ``{fingerprint: manifest}`` into ``directory``."""
        manifests = {fp: EmbeddingCache(root).manifest([fp]) for root, fp in sorted(self.entries)}
        path = Path(directory) / self.name
        path.write_text(json.dumps(manifests, indent=2, default=str))
        return path


@dataclass(frozen=True)
class EmbeddingsExport:
    """``cache/embeddings_<fingerprint[:16]>.npz``: the stored embeddings (``digests``,
    ``embeddings``) of the windows embedded under one fingerprint; size-capped.

    Attributes
    ----------
    root : str
        Cache root.
    fingerprint : str
    digests : frozenset of str
        Window digests the folds embedded.
    """

    root: str
    fingerprint: str
    digests: frozenset[str]
    artifact_type: str = ARTIFACT_TYPE
    size_capped: bool = True

    @property
    def name(self) -> str:
        """File name (one per fingerprint)."""
        return f"embeddings_{self.fingerprint[:16]}.npz"

    def combine(self, other: EmbeddingsExport) -> EmbeddingsExport:
        """Both exports' windows (same root and fingerprint)."""
        if (other.root, other.fingerprint) != (self.root, self.fingerprint):
            raise ValueError(
                f"cannot combine the embeddings of {other.fingerprint[:12]} in {other.root!r} into "
                f"those of {self.fingerprint[:12]} in {self.root!r}"
            )
        return EmbeddingsExport(self.root, self.fingerprint, self.digests | other.digests)

    def write(self, directory: Path) -> Path | None:
        """Write the stored embeddings of the digests, in sorted digest order; None when
        none of them is stored."""
        wanted = np.array(sorted(self.digests), dtype=f"<U{DIGEST_HEX_CHARS}")
        digests, embeddings = EmbeddingCache(self.root).export(self.fingerprint, wanted)
        if embeddings.size == 0:
            return None
        path = Path(directory) / self.name
        np.savez_compressed(path, digests=digests, embeddings=embeddings)
        return path


__all__ = ["ARTIFACT_TYPE", "CacheManifest", "EmbeddingsExport"]
