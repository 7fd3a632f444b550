"""Training runs on disk: list them, read their metrics, start and stop one in the background.

A run is a folder with `metrics.jsonl` (one JSON object per line, written by `training.py`):
the shipped models' logs in `assets/models/<name>/` and everything under the runs root
(`runs/`, or `$PARAMEMBED_RUNS`). A run started here is a separate process,

    [python, -m, paramembed, train, --config, runs/<name>/train.yaml, --name, <name>, --fresh, --quiet]

a fixed argument list (never a shell string), with `runs/<name>/train.pid` marking it as going
and `runs/<name>/train.log` holding its output. One run at a time: a second is refused.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from paramembed.checkpoint import ASSETS, CONFIG, WEIGHTS
from paramembed.config import ModelConfig, TrainConfig, to_dict
from paramembed.errors import ParamembedError

METRICS = "metrics.jsonl"
PID_FILE = "train.pid"
LOG_FILE = "train.log"
CONFIG_FILE = "train.yaml"
STOPPED_FILE = "stopped"
UPLOAD = "data.zip"
ROOT = Path(__file__).resolve().parent.parent
# A run without a pid file (e.g. started from the command line) counts as live while its metrics
# keep changing: training appends a line every 10 steps, well under a minute apart on a CPU.
LIVE_WINDOW_S = 120.0
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_CHILDREN: dict[int, subprocess.Popen] = {}  # processes this interpreter started (reaped via poll)


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


def list_model_folders(root: str | Path | None = None, assets: Path = ASSETS) -> dict[str, Path]:
    """label -> folder for every loadable model: shipped ones, then finished-or-checkpointed runs."""
    models = {}
    if assets.is_dir():
        models.update({f"shipped: {p.name}": p for p in sorted(assets.iterdir()) if (p / WEIGHTS).is_file()})
    base = runs_root(root)
    if base.is_dir():
        models.update({f"run: {p.name}": p for p in sorted(base.iterdir()) if (p / WEIGHTS).is_file() and (p / CONFIG).is_file()})
    return models


# ============ metrics ============
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


# ============ processes ============
def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None  # poll also reaps it, so a finished child is no zombie
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Another process's finished child stays a zombie until reaped; it is not training.
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        # A reused pid belongs to some other program.
        return b"paramembed" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def read_pid(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / PID_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _finished(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / CONFIG).read_text()).get("finished"))
    except (OSError, ValueError, AttributeError):
        return False


def run_status(folder: str | Path) -> str:
    """"running", "finished", "stopped", "failed" or "unknown" (a log with no process record)."""
    folder = Path(folder)
    pid = read_pid(folder)
    if pid is not None and _pid_alive(pid):
        return "running"
    if _finished(folder):
        return "finished"
    if (folder / STOPPED_FILE).exists():
        return "stopped"
    if pid is not None:
        return "failed"
    try:
        if time.time() - (folder / METRICS).stat().st_mtime < LIVE_WINDOW_S:
            return "running"
    except OSError:
        pass
    return "unknown"


def active_run(root: str | Path | None = None) -> str | None:
    """The name of a run this app started that is still going under the runs root, if any."""
    base = runs_root(root)
    if not base.is_dir():
        return None
    for folder in sorted(base.iterdir()):
        pid = read_pid(folder) if folder.is_dir() else None
        if pid is not None and _pid_alive(pid):
            return folder.name
    return None


def log_tail(folder: str | Path, lines: int = 20) -> str:
    """The last lines of a run's output (tqdm's carriage returns turned into lines)."""
    try:
        text = (Path(folder) / LOG_FILE).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").strip().splitlines()[-lines:])


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise ParamembedError(
            f"run name {name!r} should be 1-40 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


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
) -> TrainConfig:
    """A TrainConfig for a run started from the app, validated with a clear message per mistake."""
    from paramembed.training import check_config

    name = check_name(name)
    if method not in ("hyper", "latent", "proto", "maml"):
        raise ParamembedError(f"unknown method {method!r}; known: hyper, latent, proto, maml")
    if width < 4 or width > 256:
        raise ParamembedError(f"backbone width should be 4-256 channels, got {width}")
    ways_lo, ways_hi = sorted(int(w) for w in ways)
    shots_lo, shots_hi = sorted(int(s) for s in shots)
    if episodes < 1:
        raise ParamembedError(f"episodes must be at least 1, got {episodes}")
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
    check_config(config)
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


def discard_upload(name: str, root: str | Path | None = None) -> None:
    """Remove an uploaded dataset whose run did not start (and its folder, when that leaves it empty)."""
    folder = runs_root(root) / check_name(name)
    (folder / UPLOAD).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def save_upload(name: str, data: bytes, root: str | Path | None = None) -> Path:
    """Keep an uploaded ImageFolder zip as runs/<name>/data.zip (checked to be a zip first)."""
    import io

    name = check_name(name)
    if name_taken(name, root):
        raise ParamembedError(f"a run named {name!r} already exists in {runs_root(root)}; choose another name")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ParamembedError("the uploaded file is not a zip archive")
    folder = runs_root(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / UPLOAD).resolve()  # absolute: the training process runs from the repo root
    path.write_bytes(data)
    return path


def start_run(config: TrainConfig, root: str | Path | None = None, check: bool = True) -> subprocess.Popen:
    """Start `config` as a background process under the runs root; refuses a second live run.

    The run folder must be new (or hold only an uploaded dataset): an old run is never overwritten.
    """
    base = runs_root(root)
    name = check_name(config.name)
    going = active_run(base)
    if going:
        raise ParamembedError(f"run {going!r} is still training; stop it or wait for it to finish before starting another")
    folder = base / name
    if name_taken(name, base):
        raise ParamembedError(f"a run named {name!r} already exists in {base}; choose another name")
    config.out_dir = str(base.resolve())
    if check:
        check_data(config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    argv = [sys.executable, "-m", "paramembed", "train", "--config", str((folder / CONFIG_FILE).resolve()),
            "--name", name, "--fresh", "--quiet"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with open(folder / LOG_FILE, "wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
    _CHILDREN[process.pid] = process
    (folder / PID_FILE).write_text(json.dumps({"pid": process.pid, "started": time.time(), "argv": argv}))
    return process


def stop_run(name: str, root: str | Path | None = None, wait_s: float = 10.0) -> bool:
    """Stop a run this app started (SIGTERM, then SIGKILL after `wait_s`); False if it was not going.

    Checkpoints are written atomically, so the last one stays loadable.
    """
    folder = runs_root(root) / check_name(name)
    pid = read_pid(folder)
    if pid is None or not _pid_alive(pid):
        return False
    (folder / STOPPED_FILE).touch()
    _signal(pid, signal.SIGTERM)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    _signal(pid, signal.SIGKILL)
    return True


def _signal(pid: int, sig: int) -> None:
    # start_run puts each run in its own session, so its process group is the run and nothing else.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
