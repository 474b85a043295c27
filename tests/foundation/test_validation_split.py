"""The early-stopping validation split of validation_split.py."""

from __future__ import annotations

import numpy as np
import pytest

from coco_pipe.foundation.validation_split import validation_split


def test_validation_split_grouped_and_stratified():
    y = np.repeat([0, 1], 20)
    groups = np.tile(np.repeat(["a", "b", "c", "d"], 5), 2)
    tr, va = validation_split(y, groups, 0.25, seed=0)
    assert set(groups[tr]).isdisjoint(groups[va])
    assert set(y[tr]) == set(y[va]) == {0, 1}
    tr, va = validation_split(y, None, 0.2, seed=0)
    assert len(va) == 8 and np.bincount(y[va]).tolist() == [4, 4]
    with pytest.raises(ValueError, match="groups has 3 entries"):
        validation_split(y, groups[:3], 0.2, seed=0)
