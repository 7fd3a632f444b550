"""What a run's curves mean: its stage (backbone pre-training or meta-training), its data, its validation.

A run folder's `config.json` (written beside the weights) says which stage it was, which dataset it
read (`train.data`) and which classes were held out for validation (`train.holdout`); its
validation records say the ways and shots. This module turns that into honest labels:

    runs = curve_runs()                          # shipped models, shipped backbones, runs/
    info = run_info(runs[0].folder)              # RunInfo(stage="meta", data="Omniglot", ...)
    validation_label(info, record)               # "held-out Omniglot alphabets, 20-way 1-shot"
    info.x_title                                 # "episodes (tasks seen)" or "pre-training steps (...)"
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from paramembed.checkpoint import ASSETS, CONFIG
from paramembed.runs import Run, list_runs

BACKBONES = ASSETS.parent / "backbones"
SOURCE_PREFIX = {"shipped": "shipped: ", "backbone": "shipped backbone: ", "run": ""}


@dataclass
class CurveRun:
    """A run with a log, labelled uniquely across the three places runs live."""

    run: Run
    label: str

    @property
    def source(self) -> str:
        return self.run.source


@dataclass
class RunInfo:
    """stage: "pretrain" or "meta" ("meta" when unknown); data: a readable dataset name or "".

    holdout: the names held out for validation; unit: what those names are ("alphabets" or "classes").
    """

    stage: str = "meta"
    data: str = ""
    holdout: list[str] = field(default_factory=list)
    unit: str = "classes"
    batch_size: int | None = None

    @property
    def x_title(self) -> str:
        if self.stage == "pretrain":
            batch = f"batches of {self.batch_size} images" if self.batch_size else "batches"
            return f"pre-training steps ({batch})"
        return "episodes (tasks seen)"


def curve_runs(root: str | Path | None = None, assets: Path = ASSETS, backbones: Path = BACKBONES) -> list[CurveRun]:
    """Shipped models' logs, then the shipped backbones' pre-training logs, then the runs root's."""
    runs = list_runs(root, assets)
    shipped = [r for r in runs if r.source == "shipped"]
    local = [r for r in runs if r.source != "shipped"]
    found = [Run(p.name, p, "backbone") for p in sorted(backbones.iterdir()) if (p / "metrics.jsonl").is_file()] if backbones.is_dir() else []
    return [CurveRun(r, SOURCE_PREFIX.get(r.source, "") + r.name) for r in shipped + found + local]


def dataset_name(data: str) -> tuple[str, str]:
    """(readable name, what its groups are called) for a `train.data` value."""
    if not data:
        return "", "classes"
    lower = Path(data).name.lower()
    if lower == "procedural":
        return "procedural glyphs", "alphabets"
    if lower == "procedural-photo":
        return "procedural photos", "classes"
    if "omniglot" in lower:
        return "Omniglot", "alphabets"
    if "tiny_imagenet" in lower or "tiny-imagenet" in lower or "tinyimagenet" in lower:
        return "Tiny-ImageNet", "classes"
    for suffix in (".tar.gz", ".tgz", ".zip"):
        if lower.endswith(suffix):
            return Path(data).name[: -len(suffix)], "classes"
    return Path(data).name, "classes"


def run_info(folder: str | Path) -> RunInfo:
    """What the run's config.json says (a missing or foreign config gives the defaults)."""
    try:
        train = json.loads((Path(folder) / CONFIG).read_text()).get("train", {})
    except (OSError, ValueError, AttributeError):
        return RunInfo()
    if not isinstance(train, dict):
        return RunInfo()
    data, unit = dataset_name(str(train.get("data") or ""))
    holdout = [str(h) for h in train.get("holdout") or []]
    batch = train.get("batch_size")
    return RunInfo(stage="pretrain" if train.get("stage") == "pretrain" else "meta", data=data, holdout=holdout,
                   unit=unit, batch_size=int(batch) if isinstance(batch, int) else None)


def validation_label(info: RunInfo, record: dict) -> str:
    """Which data a validation record ran on, e.g. "held-out Omniglot alphabets, 20-way 1-shot"."""
    if info.holdout:
        what = f"{len(info.holdout)} held-out {info.data + ' ' if info.data else ''}{info.unit}"
    elif info.data.startswith("procedural"):
        what = f"{info.data}' validation split (generated apart from training)"
    elif info.data:
        what = f"every 5th class of {info.data} (never trained on)"
    elif record.get("data"):
        what = str(record["data"])
    else:
        what = "validation tasks"
    ways, shots = record.get("ways"), record.get("shots")
    return what + (f", {ways}-way {shots}-shot" if ways and shots else "")
