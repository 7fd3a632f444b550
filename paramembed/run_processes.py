"""Starting and stopping a training run in the background, and whether one is going.

A run started here is a separate process,

    [python, -m, paramembed, train, --config, runs/<name>/train.yaml, --name, <name>, --fresh, --quiet]

a fixed argument list (never a shell string), with `runs/<name>/train.pid` marking it as going
and `runs/<name>/train.log` holding its output. One run at a time: a second is refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import yaml

from paramembed.checkpoint import CONFIG
from paramembed.config import TrainConfig, to_dict
from paramembed.errors import ParamembedError
from paramembed.runs import (
    CONFIG_FILE, LOG_FILE, METRICS, PID_FILE, ROOT, STOPPED_FILE, UPLOAD, check_data, check_name, name_taken, runs_root,
)

# A run without a pid file (e.g. started from the command line) counts as live while its metrics
# keep changing: training appends a line every 10 steps, well under a minute apart on a CPU.
LIVE_WINDOW_S = 120.0
_CHILDREN: dict[int, subprocess.Popen] = {}  # processes this interpreter started (reaped via poll)


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
