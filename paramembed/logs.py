"""metrics.jsonl: one JSON object per line, appended as a run goes, cut back when it resumes."""

from __future__ import annotations

import json
import os
from pathlib import Path

METRICS = "metrics.jsonl"  # the file's name in every run folder


def append_metrics(path: Path, record: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the lines written after the checkpoint at `step`, so a resumed run never repeats a step."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if line.strip() and json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)
