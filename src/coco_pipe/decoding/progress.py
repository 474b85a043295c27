"""Progress of an experiment's folds, wherever it runs.

- in Jupyter: tqdm's notebook bar;
- on a terminal (stderr is a TTY): a tqdm bar;
- anywhere else (CI, ``nohup``, ``mlflow run``, output to a file): one log line per
  finished fold on the ``coco_pipe.progress`` logger, e.g.
  ``fold 3/10 done: logreg fold 2, balanced_accuracy=0.812, 1.4 s``. When nothing is
  configured to show INFO messages of that logger, a handler writing to stderr is added.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("coco_pipe.progress")


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (notebook bars work there).

    Examples
    --------
    >>> in_notebook()
    False
    """
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return type(ip).__name__ == "ZMQInteractiveShell"


class FoldProgress:
    """Reports each finished fold (bar or log line, see the module docstring).

    Parameters
    ----------
    total : int
        Folds to run.
    metric : str
        The main metric, shown in each line.
    enabled : bool
        ``ExperimentConfig.verbose``.

    Examples
    --------
    >>> progress = FoldProgress(2, "accuracy", enabled=False)
    >>> progress.update("lr", 0, {"accuracy": 0.9}, 1.5, failed=False)
    >>> progress.close()
    """

    def __init__(self, total: int, metric: str, enabled: bool = True):
        self.total, self.metric, self.done = total, metric, 0
        self.bar = None
        self.lines = False
        if not enabled or total == 0:
            return
        if in_notebook():
            from tqdm.notebook import tqdm
        elif sys.stderr.isatty():
            from tqdm import tqdm
        else:
            self.lines = True
            if not logger.hasHandlers():
                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(logging.Formatter("%(asctime)s coco-pipe: %(message)s"))
                logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            return
        self.bar = tqdm(total=total, desc="folds", leave=False)

    def skip(self, n: int) -> None:
        """Count ``n`` folds reused from the store (a resumed experiment)."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.lines and n:
            logger.info("resumed: %d of %d folds reused from the store", n, self.total)

    def update(self, model: str, fold: int, scores: dict, seconds: float, failed: bool) -> None:
        """One fold finished (or failed)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{model} fold {fold}")
        elif self.lines:
            value = scores.get(self.metric)
            what = "FAILED" if failed else (
                f"{self.metric}={value:.3f}" if value is not None else "no score")  # fmt: skip
            logger.info("fold %d/%d done: %s fold %d, %s, %.1f s", self.done, self.total, model,
                        fold, what, seconds)  # fmt: skip

    def close(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()
