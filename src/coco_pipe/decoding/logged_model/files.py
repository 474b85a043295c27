"""The files of a logged model: safe names, SHA-256 digests, and the check that a folder
holds exactly the files recorded when it was logged (before anything in it is read)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

#: A file name inside a model folder: plain path parts, no '..', nothing absolute.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class UnsafeModelError(ValueError):
    """A logged model's files are not what coco-pipe wrote: refused before anything is loaded."""


def check_name(name: object, what: str) -> str:
    """``name`` as a relative path of plain parts (``a/b.json``), else :class:`UnsafeModelError`.

    Examples
    --------
    >>> check_name("neural/head.safetensors", "files")
    'neural/head.safetensors'
    """
    parts = str(name).split("/") if isinstance(name, str) else []
    if not parts or not all(_NAME.match(p) and p not in (".", "..") for p in parts):
        raise UnsafeModelError(
            f"{what}: file name {name!r} is not a plain relative name inside the model folder "
            "(letters, digits, '_', '-', '.', at most one '/' per part, no '..'): refused"
        )
    return str(name)


def inside(root: Path, name: str, what: str) -> Path:
    """The path of ``name`` under ``root``, refused if it (or a link on the way) leads out."""
    path = root / check_name(name, what)
    probe = path
    while probe != root:
        if probe.is_symlink():
            raise UnsafeModelError(f"{what}: {name!r} is a symbolic link: refused")
        probe = probe.parent
    if root.resolve() not in path.resolve().parents:
        raise UnsafeModelError(f"{what}: {name!r} points outside the model folder: refused")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_digests(root: str | Path) -> dict[str, str]:
    """``{relative name: sha256}`` of every file under ``root`` (links refused).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("x")
    >>> list(folder_digests(d))
    ['a.txt']
    """
    root = Path(root)
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise UnsafeModelError(f"{name!r} in {root} is a symbolic link: refused")
        if path.is_file():
            out[check_name(name, str(root))] = sha256_file(path)
    return out


def combined_digest(files: dict[str, str]) -> str:
    """One SHA-256 over the sorted ``name<TAB>sha256`` lines of ``files``."""
    text = "".join(f"{name}\t{files[name]}\n" for name in sorted(files))
    return hashlib.sha256(text.encode()).hexdigest()


#: Files MLflow itself adds to a model folder once it is registered (read by no loader).
MLFLOW_ADDED = ("registered_model_meta",)


def verify_folder(root: str | Path, expected: dict[str, str], what: str) -> None:
    """Raise :class:`UnsafeModelError` unless ``root`` holds exactly ``expected`` (names and
    digests; besides :data:`MLFLOW_ADDED`): a changed, missing or added file names itself."""
    found = {k: v for k, v in folder_digests(root).items() if k not in MLFLOW_ADDED}
    changed = sorted(n for n in expected if n in found and found[n] != expected[n])
    missing = sorted(set(expected) - set(found))
    added = sorted(set(found) - set(expected))
    if changed or missing or added:
        detail = "; ".join(
            f"{label}: {', '.join(names)}"
            for label, names in (("changed", changed), ("missing", missing), ("added", added))
            if names
        )
        raise UnsafeModelError(
            f"{what}: the model files differ from those recorded when it was logged ({detail}); "
            "nothing was loaded. Re-log the model from its run, or promote another fold."
        )


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path`` (at most 16 MB), else :class:`UnsafeModelError`."""
    if not path.is_file():
        raise UnsafeModelError(f"{what}: {path.name} is missing from the model folder")
    if path.stat().st_size > 16 * 2**20:
        raise UnsafeModelError(f"{what}: {path.name} is larger than 16 MB: refused")
    try:
        value = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsafeModelError(f"{what}: {path.name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UnsafeModelError(f"{what}: {path.name} must hold a JSON object")
    return value


__all__ = [
    "UnsafeModelError", "check_name", "combined_digest", "folder_digests", "inside",
    "read_json", "sha256_file", "verify_folder",
]
