"""FoldReport: merging, and deferred parent artifacts (combined across folds by name, written
once, size-capped ones only below the cap)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coco_pipe.tracking.report import DeferredArtifact, FoldReport, write_deferred_artifacts


@dataclass(frozen=True)
class Lines:
    """A toy deferred artifact: one line per item, items unioned across folds."""

    name: str
    items: frozenset[str]
    size_capped: bool = False
    artifact_type: str = "toy"

    def combine(self, other: Lines) -> Lines:
        return Lines(self.name, self.items | other.items, self.size_capped, self.artifact_type)

    def write(self, directory: Path) -> Path | None:
        if not self.items:
            return None
        path = directory / self.name
        path.write_text("\n".join(sorted(self.items)))
        return path


def test_merge_concatenates_deferred_artifacts():
    a = FoldReport(deferred_parent_artifacts=[Lines("a.txt", frozenset("x"))])
    b = FoldReport(deferred_parent_artifacts=[Lines("a.txt", frozenset("y"))])
    assert [x.items for x in a.merge(b).deferred_parent_artifacts] == [frozenset("x"), frozenset("y")]
    assert isinstance(Lines("a", frozenset()), DeferredArtifact)


def test_folds_are_combined_by_name_and_written_once(tmp_path):
    folds = [
        Lines("a.txt", frozenset({"1", "2"})),
        Lines("b.txt", frozenset({"z"})),
        Lines("a.txt", frozenset({"2", "3"})),
        Lines("empty.txt", frozenset()),
    ]
    out = write_deferred_artifacts(folds, tmp_path, max_capped_bytes=0)
    assert [(t, p.name) for t, p in out] == [("toy", "a.txt"), ("toy", "b.txt")]
    assert (tmp_path / "a.txt").read_text() == "1\n2\n3"
    assert not (tmp_path / "empty.txt").exists()


def test_size_capped_artifacts_are_logged_only_below_the_cap(tmp_path):
    big = Lines("big.txt", frozenset(str(i) for i in range(100)), size_capped=True)
    small = Lines("small.txt", frozenset({"1"}), size_capped=True)
    out = write_deferred_artifacts([big, small], tmp_path, max_capped_bytes=50)
    assert [p.name for _, p in out] == ["small.txt"]
    assert write_deferred_artifacts([big, small], tmp_path, max_capped_bytes=0) == []
    assert len(write_deferred_artifacts([big, small], tmp_path, max_capped_bytes=1e6)) == 2
