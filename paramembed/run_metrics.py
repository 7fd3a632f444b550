"""A run's metrics: read the JSON lines, pick one series, smooth it, export CSV, and how far the run is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from paramembed.checkpoint import CONFIG
from paramembed.runs import CONFIG_FILE


def read_metrics(path: str | Path) -> list[dict]:
    """Every complete JSON line of a metrics file; a line being written right now is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "split" in record and "episodes" in record:
            records.append(record)
    return records


def series(records: list[dict], split: str, key: str) -> tuple[list[float], list[float]]:
    """(episodes, values) of one metric for one split, skipping lines without it."""
    xs, ys = [], []
    for r in records:
        value = r.get(key)
        if r.get("split") == split and isinstance(value, (int, float)) and math.isfinite(value):
            xs.append(float(r["episodes"]))
            ys.append(float(value))
    return xs, ys


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: a debiased exponential moving average; weight 0 = raw, <1."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out, avg = [], 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1.0 - weight) * v
        out.append(avg / (1.0 - weight ** (i + 1)))  # debiased: the first points are not pulled to 0
    return out


CSV_COLUMNS = ("run", "split", "episodes", "step", "loss", "accuracy", "ci95", "lr", "episodes_per_s", "images_per_s", "time")


def metrics_csv(runs: dict[str, list[dict]]) -> str:
    """run label -> records  ->  one CSV with a `run` column (empty cells where a metric is absent)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for label, records in runs.items():
        for r in records:
            writer.writerow([label] + [r.get(c, "") for c in CSV_COLUMNS[1:]])
    return buffer.getvalue()


def run_progress(records: list[dict], total_episodes: int | None) -> float | None:
    """Fraction of the run done, from the last training line (None when the total is unknown)."""
    if not total_episodes:
        return None
    done = max((r["episodes"] for r in records if r.get("split") == "train"), default=0)
    return min(1.0, done / total_episodes)


def planned_episodes(folder: Path) -> int | None:
    """The run's total episodes, from its train.yaml or the config.json its checkpoint wrote."""
    for path, pick in ((folder / CONFIG_FILE, lambda d: d.get("episodes")), (folder / CONFIG, lambda d: (d.get("train") or {}).get("episodes"))):
        try:
            data = yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
            value = pick(data or {})
        except (OSError, ValueError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(value, int):
            return value
    return None
