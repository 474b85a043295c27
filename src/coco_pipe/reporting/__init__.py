"""Reporting: figures of an experiment written as PNG artifacts.

>>> from coco_pipe.reporting import plot_fold_scores
"""

from .plots import (
    fold_aucs,
    plot_confusion_matrix,
    plot_fold_scores,
    plot_learning_curves,
    plot_roc_curve,
)

__all__ = [
    "fold_aucs", "plot_confusion_matrix", "plot_fold_scores", "plot_learning_curves", "plot_roc_curve",
]
