"""Third-party messages that tell a coco-pipe user nothing, filtered where they arise.

Each entry of :data:`QUIETED` names the library, where the message comes from, the message,
and why dropping it loses nothing. A warning printed while a package is imported is dropped
only during that import (the import runs inside ``warnings.catch_warnings``); a log record
only on its own logger. Every other warning of these libraries still shows, and so does the
same warning raised by your own code. bitsandbytes' warnings and log messages are shown once
per process instead of once per layer or batch. :func:`install` runs when :mod:`coco_pipe`
is imported (it imports none of these libraries).

Examples
--------
>>> [q.library for q in QUIETED][:2]
['braindecode', 'bitsandbytes']
"""

from __future__ import annotations

import importlib.abc
import logging
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Quieted:
    """One third-party message coco-pipe drops, and why."""

    library: str
    source: str  # the package whose import warns (a warning), or the logger (a log record)
    message: str  # regular expression matched at the start of the message
    why: str
    category: type[Warning] | None = None  # None: a log record


QUIETED: tuple[Quieted, ...] = (
    Quieted(
        "braindecode", "braindecode", r"Montage name 'standard_1020' is deprecated",
        "braindecode builds EEGPT's channel table when it is imported, with the MNE montage name "
        "MNE 1.13 deprecated; it was printed twice on every run, also when EEGPT is not used, and "
        "the montage it reads is the same",
        FutureWarning,
    ),
    Quieted(
        "bitsandbytes", "bitsandbytes.backends.cpu.ops",
        r"Failed to load CPU gemm_4bit_forward from kernels-community",
        "on CPUs with AVX512-BF16, bitsandbytes looks for the optional `kernels` package when it is "
        "imported and otherwise uses its own 4-bit kernel, the one every other CPU uses",
    ),
    Quieted(
        "torch", "torch.utils.cpp_extension", r"No CUDA runtime is found",
        "printed when a library imports torch's C++-extension helpers on a machine without CUDA "
        "(bitsandbytes, on QLoRA runs); CPU runs need no CUDA runtime",
    ),
    Quieted(
        "mlflow", "mlflow.pyfunc", r"Validating input example against model signature",
        "an INFO line for every fold model coco-pipe logs (the input example is its own window)",
    ),
)

#: bitsandbytes loggers whose repeated messages are shown once per process.
BITSANDBYTES_LOGGERS = (
    "bitsandbytes.nn.modules", "bitsandbytes.backends.cpu.ops", "bitsandbytes.backends.cuda.ops",
    "bitsandbytes.cextension", "bitsandbytes.autograd._functions", "bitsandbytes.functional",
    "bitsandbytes.cuda_specs",
)  # fmt: skip


class _DropLogRecords(logging.Filter):
    """Drops the records of :data:`QUIETED` on a logger; with ``once``, shows every other
    message of that logger only the first time."""

    def __init__(self, patterns: list[re.Pattern], once: bool):
        super().__init__()
        self.patterns, self.once, self.seen = patterns, once, set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(p.match(text) for p in self.patterns):
            return False
        if self.once:
            if text in self.seen:
                return False
            self.seen.add(text)
        return True


class _QuietLoader(importlib.abc.Loader):
    """Runs a package's import with its :data:`QUIETED` warnings ignored."""

    def __init__(self, loader, quieted: list[Quieted]):
        self._loader, self._quieted = loader, quieted

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with warnings.catch_warnings():
            for q in self._quieted:
                warnings.filterwarnings("ignore", message=q.message, category=q.category)
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # resource readers etc. of the real loader
        return getattr(self._loader, name)


class _QuietImports(importlib.abc.MetaPathFinder):
    """Finds the packages of :data:`QUIETED` with the other finders and wraps their loader."""

    def __init__(self, packages: dict[str, list[Quieted]]):
        self.packages = packages

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.packages:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader, self.packages[fullname])
                return spec
        return None


_INSTALLED = False


def install() -> None:
    """Add the filters (once per process).

    Examples
    --------
    >>> install()
    >>> any(isinstance(f, _DropLogRecords) for f in logging.getLogger("mlflow.pyfunc").filters)
    True
    """
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    loggers: dict[str, list[re.Pattern]] = {name: [] for name in BITSANDBYTES_LOGGERS}
    imports: dict[str, list[Quieted]] = {}
    for q in QUIETED:
        if q.category is not None:
            imports.setdefault(q.source, []).append(q)
        else:
            loggers.setdefault(q.source, []).append(re.compile(q.message))
    sys.meta_path.insert(0, _QuietImports(imports))
    for name, patterns in loggers.items():
        logging.getLogger(name).addFilter(_DropLogRecords(patterns, once=name in BITSANDBYTES_LOGGERS))
    for category in (UserWarning, RuntimeWarning):  # deprecations keep Python's default
        warnings.filterwarnings("once", category=category, module=r"bitsandbytes(\.|$)")


__all__ = ["BITSANDBYTES_LOGGERS", "QUIETED", "Quieted", "install"]
