"""What a shipped model measured on real held-out data, read from `results/<model>.json`.

Those files are written by `python -m paramembed report`: {benchmark key: {row label: [cells]}},
each cell {"ways", "shots", "mean", "ci95", "episodes", ...}. Nothing here restates a number:
the app shows whatever the last report measured, and nothing when a model has no report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from paramembed.report import GLYPH_BENCHMARKS, PHOTO_BENCHMARKS, RESULTS

# Real data first (the procedural alphabets are synthetic); random-class tasks before the harder
# within-alphabet ones, because that is what the published anchors measure.
PREFERRED = ("omniglot", "tiny-imagenet", "cifar10", "omniglot-within", "procedural")
# Short names for the page; report.py's titles are the fallback for any other benchmark.
SHORT_TITLES = {
    "omniglot": "held-out Omniglot alphabets",
    "omniglot-within": "held-out Omniglot alphabets, within one alphabet",
    "tiny-imagenet": "held-out Tiny-ImageNet classes",
    "cifar10": "CIFAR-10 (never trained on)",
    "procedural": "procedural test alphabets",
}
TITLES = {b.key: b.title for b in GLYPH_BENCHMARKS + PHOTO_BENCHMARKS}


@dataclass(frozen=True)
class Cell:
    ways: int
    shots: int
    mean: float  # accuracy in [0, 1]
    ci95: float

    def describe(self) -> str:
        return f"{self.ways}-way {self.shots}-shot {self.mean:.0%}"


@dataclass(frozen=True)
class Measured:
    """One model's accuracies on one benchmark."""

    model: str
    benchmark: str  # the key in the results file
    title: str  # short, for people
    cells: tuple[Cell, ...]

    def closest(self, ways: int, shots: int) -> Cell:
        """The measured setting nearest a task's (ways, shots)."""
        return min(self.cells, key=lambda c: (abs(c.ways - ways), abs(c.shots - shots)))

    def describe(self) -> str:
        """e.g. "held-out Omniglot alphabets: 5-way 1-shot 95% · 20-way 1-shot 86%"."""
        return f"{self.title}: " + " · ".join(c.describe() for c in self.cells)


def measured(model: str, results: Path = RESULTS) -> Measured | None:
    """The model's own row on its preferred benchmark, or None (no results file, or unreadable)."""
    path = Path(results) / f"{model}.json"
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(table, dict):
        return None
    for key in sorted(table, key=lambda k: PREFERRED.index(k) if k in PREFERRED else len(PREFERRED)):
        rows = table[key]
        try:
            cells = tuple(Cell(int(c["ways"]), int(c["shots"]), float(c["mean"]), float(c.get("ci95", 0.0))) for c in rows[model])
        except (KeyError, TypeError, ValueError):
            continue  # another model's row only, or a cell in a format this reader does not know
        if cells:
            return Measured(model, key, SHORT_TITLES.get(key, TITLES.get(key, key)), cells)
    return None
