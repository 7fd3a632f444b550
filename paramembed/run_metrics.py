"""A run's metrics: read the JSON lines, pick one series, smooth it, export CSV; how far it is, its ETA, its checkpoint."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from paramembed.checkpoint import CONFIG, WEIGHTS, has_checkpoint
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


# ============ progress, step by step ============
PROGRESS = "progress.json"  # rewritten by the training loop as it goes (metrics lines come every 10 steps)


@dataclass(frozen=True)
class Progress:
    """Where a training loop is: steps done of all, since `first_step` (a resumed run's start) at `started`."""

    step: int
    total_steps: int
    episodes: int
    total_episodes: int
    first_step: int
    started: float  # time.time() when the loop began
    time: float  # time.time() of this record

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the loop's average pace so far; None before a step has been timed."""
        done, elapsed = self.step - self.first_step, self.time - self.started
        if done <= 0 or elapsed <= 0:
            return None
        return max(0.0, (self.total_steps - self.step) * elapsed / done)


def write_progress(folder: str | Path, step: int, total_steps: int, per_step: int, first_step: int, started: float) -> None:
    """Replace `folder/progress.json` atomically, so a reader never sees half a record."""
    record = Progress(step, total_steps, step * per_step, total_steps * per_step, first_step, started, time.time())
    tmp = Path(folder) / f".{PROGRESS}.tmp"
    tmp.write_text(json.dumps(asdict(record)))
    os.replace(tmp, Path(folder) / PROGRESS)


def read_progress(folder: str | Path) -> Progress | None:
    try:
        data = json.loads((Path(folder) / PROGRESS).read_text())
        return Progress(**{f.name: data[f.name] for f in fields(Progress)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def format_duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min: as precise as a person reading an ETA needs."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@dataclass(frozen=True)
class CheckpointInfo:
    """The last checkpoint a run wrote: `exists` when its model files are there to load."""

    exists: bool
    resumable: bool  # a training checkpoint too: `train` without --fresh continues from it
    step: int | None = None
    episodes: int | None = None
    finished: bool = False

    def describe(self) -> str:
        if not self.exists:
            return "no checkpoint was written yet, so there is no model to load"
        at = f"episode {self.episodes} (step {self.step})" if self.episodes is not None else "an unknown step"
        return f"{'final model' if self.finished else 'last checkpoint'} at {at}"


def checkpoint_info(folder: str | Path) -> CheckpointInfo:
    """What `runs/<name>/` holds to load: model.safetensors + config.json, and the step config.json records."""
    folder = Path(folder)
    exists = (folder / WEIGHTS).is_file() and (folder / CONFIG).is_file()
    if not exists:
        return CheckpointInfo(False, has_checkpoint(folder))
    try:
        payload = json.loads((folder / CONFIG).read_text())
    except (OSError, ValueError):
        payload = {}
    step, episodes = payload.get("step"), payload.get("episodes")
    return CheckpointInfo(True, has_checkpoint(folder), step if isinstance(step, int) else None,
                          episodes if isinstance(episodes, int) else None, bool(payload.get("finished")))
