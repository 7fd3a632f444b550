"""Training runs on disk: where they live, what they are called, listing them, and their configs.

A run is a folder with `metrics.jsonl` (one JSON object per line, written by `training.py`):
the shipped models' logs in `assets/models/<name>/` and everything under the runs root
(`runs/`, or `$PARAMEMBED_RUNS`). A run's folder is always `<out_dir>/<name>` with `name` one
plain path component (`run_folder`), so no name can reach outside the root.

Reading a run's metrics is `paramembed.run_metrics`; starting and stopping one in the background
is `paramembed.run_processes`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from paramembed.checkpoint import ASSETS, CONFIG, WEIGHTS
from paramembed.config import ModelConfig, TrainConfig
from paramembed.config_checks import check_run_name, validate_train_config
from paramembed.errors import ParamembedError
from paramembed.logs import METRICS
from paramembed.methods import TRAINABLE

# The files of a run folder.
PID_FILE = "train.pid"
LOG_FILE = "train.log"
CONFIG_FILE = "train.yaml"
STOPPED_FILE = "stopped"
UPLOAD = "data"  # an uploaded dataset, unpacked
ROOT = Path(__file__).resolve().parent.parent


def runs_root(root: str | Path | None = None) -> Path:
    """Where runs live: `root` if given, else $PARAMEMBED_RUNS, else `<repo>/runs`."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("PARAMEMBED_RUNS") or ROOT / "runs")


@dataclass
class Run:
    """A folder with a training log. `source` is "shipped" (assets/models) or "run" (runs root)."""

    name: str
    folder: Path
    source: str

    @property
    def label(self) -> str:
        return f"shipped: {self.name}" if self.source == "shipped" else self.name

    @property
    def metrics_path(self) -> Path:
        return self.folder / METRICS

    @property
    def has_model(self) -> bool:
        return (self.folder / WEIGHTS).is_file() and (self.folder / CONFIG).is_file()


def list_runs(root: str | Path | None = None, assets: Path = ASSETS) -> list[Run]:
    """Shipped models' logs first, then the runs root's folders, each sorted by name."""
    runs = []
    for source, base in (("shipped", assets), ("run", runs_root(root))):
        if base.is_dir():
            runs += [Run(p.name, p, source) for p in sorted(base.iterdir()) if (p / METRICS).is_file()]
    return runs


def check_name(name: str) -> str:
    """A run name: one plain folder name, so `<root>/<name>` never leaves the root."""
    return check_run_name((name or "").strip())


def run_folder(config) -> Path:
    """`<out_dir>/<name>` of a training or pre-training config; raises for a name that is not one plain folder.

    Training and pre-training both compute their folder here, so `--name ../../victim` is refused
    before anything is written or removed.
    """
    return Path(config.out_dir) / check_name(config.name)


def make_config(
    name: str,
    method: str = "hyper",
    width: int = 32,
    ways: tuple[int, int] = (5, 10),
    shots: tuple[int, int] = (1, 5),
    episodes: int = 1000,
    data: str = "procedural",
    tasks_per_batch: int = 4,
    val_every: int | None = None,
    val_episodes: int = 50,
    root: str | Path | None = None,
    max_episodes: int | None = None,
) -> TrainConfig:
    """A TrainConfig for a run started from the app, validated with a clear message per mistake.

    `max_episodes` is the server's cap on one run (`Serving.max_train_episodes`).
    """
    name = check_name(name)
    if method not in TRAINABLE:
        raise ParamembedError(f"unknown method {method!r}; known: {', '.join(TRAINABLE)}")
    if width < 4 or width > 256:
        raise ParamembedError(f"backbone width should be 4-256 channels, got {width}")
    ways_lo, ways_hi = sorted(int(w) for w in ways)
    shots_lo, shots_hi = sorted(int(s) for s in shots)
    if max_episodes is not None and episodes > max_episodes:
        raise ParamembedError(f"{episodes} episodes is over this server's limit of {max_episodes} per run "
                              "(an admin sets it with PARAMEMBED_MAX_EPISODES)")
    config = TrainConfig(
        name=name,
        model=ModelConfig(generator=method, width=int(width)),
        data=str(data),
        ways=[ways_lo] if ways_lo == ways_hi else [ways_lo, ways_hi],
        shots=[shots_lo] if shots_lo == shots_hi else [shots_lo, shots_hi],
        tasks_per_batch=int(tasks_per_batch),
        episodes=int(episodes),
        # Short runs: warm up over a tenth, validate about five times, checkpoint with validation.
        warmup_episodes=max(1, min(500, episodes // 10)),
        val_every=int(val_every if val_every is not None else max(tasks_per_batch, episodes // 5)),
        val_episodes=int(val_episodes),
        val_ways=ways_lo,
        val_shots=shots_lo,
        checkpoint_every=int(val_every if val_every is not None else max(tasks_per_batch, episodes // 5)),
        out_dir=str(runs_root(root).resolve()),
    )
    validate_train_config(config)
    return config


def check_data(config: TrainConfig) -> None:
    """Raise a clear error when the dataset cannot give the run's tasks (before starting it)."""
    from paramembed.data.episodes import TaskSampler
    from paramembed.data.registry import get_dataset

    for split, shots, ways, queries in (
        ("validation", config.val_shots, config.val_ways, 5),
        ("train", max(config.shots), max(config.ways), config.queries),
    ):
        try:
            dataset = get_dataset(config.data, split, config.model.input, min_images=shots + queries)
            TaskSampler(dataset, queries=queries).check(ways, shots)
        except ParamembedError as err:
            held_out = " (a folder's validation classes are every fifth class)" if split == "validation" else ""
            raise ParamembedError(f"dataset too small for these settings, {split} split{held_out}: {err}") from None


def name_taken(name: str, root: str | Path | None = None) -> bool:
    """True when runs/<name>/ holds anything but an uploaded dataset waiting for its run."""
    folder = runs_root(root) / name
    return folder.is_dir() and any(p.name != UPLOAD for p in folder.iterdir())
