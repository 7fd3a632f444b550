"""Starting and stopping a training run in the background, and whether one is going.

A run started here is a separate process,

    [python, -m, paramembed, train, --config, runs/<name>/train.yaml, --name, <name>, --fresh, --quiet]

a fixed argument list (never a shell string), with `runs/<name>/train.pid` marking it as going
and `runs/<name>/train.log` holding its output. One run at a time: starting takes an flock on
`runs/.training.lock` that the training process inherits and holds until it ends, so two
starts at once cannot both succeed. A run may be stopped by the session that started it (its
token's digest is in `runs/<name>/owner`) or by an admin.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from paramembed.data.archives import UPLOAD_LIMITS, ArchiveLimits, extract_archive
from paramembed.checkpoint import CONFIG
from paramembed.config import TrainConfig, to_dict
from paramembed.errors import ParamembedError
from paramembed.runs import (
    CONFIG_FILE, LOG_FILE, METRICS, PID_FILE, ROOT, STOPPED_FILE, UPLOAD, check_data, check_name, name_taken, runs_root,
)

# A run without a pid file (e.g. started from the command line) counts as live while its metrics
# keep changing: training appends a line every 10 steps, well under a minute apart on a CPU.
LIVE_WINDOW_S = 120.0
LOCK_FILE = ".training.lock"  # in the runs root; held (flock) by the one training process
OWNER_FILE = "owner"  # sha256 of the starting session's token
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
    holder = training_lock_holder(root)
    if holder:
        return holder
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
    shutil.rmtree(folder / UPLOAD, ignore_errors=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def save_upload(name: str, data: bytes, root: str | Path | None = None, limits: ArchiveLimits = UPLOAD_LIMITS) -> Path:
    """Unpack an uploaded ImageFolder zip or tar.gz into runs/<name>/data/, within `limits`.

    The limits are checked while unpacking, so a bomb stops at the first byte over them and
    leaves nothing behind. Returns the folder (absolute: the training process runs from the repo root).
    """
    name = check_name(name)
    if name_taken(name, root):
        raise ParamembedError(f"a run named {name!r} already exists in {runs_root(root)}; choose another name")
    folder = runs_root(root) / name
    created = not folder.exists()
    try:
        return extract_archive(data, folder / UPLOAD, limits, label="the uploaded dataset").resolve()
    except ParamembedError:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise


# ============ one run at a time ============
def _lock_path(base: Path) -> Path:
    return base / LOCK_FILE


def _acquire_training_lock(base: Path, name: str) -> int:
    """An open descriptor holding the runs root's training lock; raises when a run holds it.

    flock is atomic: of any number of starts at once, exactly one gets it. The training process
    inherits the descriptor, so the lock lasts exactly as long as the run and no stale lock
    survives a crash.
    """
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_path(base), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = training_lock_holder(base) or "another run"
        raise ParamembedError(f"run {holder!r} is still training; stop it or wait for it to finish before starting another") from None
    os.ftruncate(fd, 0)
    os.write(fd, name.encode())
    return fd


def training_lock_holder(root: str | Path | None = None) -> str | None:
    """The name of the run holding the training lock, or None when no run holds it."""
    path = _lock_path(runs_root(root))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode(errors="replace").strip() or "a run being started"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# ============ who may stop a run ============
def _token_digest(token: str) -> str:
    # Only a digest is kept in the run folder: anyone who can read runs/ cannot stop the run with it.
    return hashlib.sha256(token.encode()).hexdigest()


def owns(folder: str | Path, token: str | None) -> bool:
    """True when `token` is the owner token the run was started with."""
    if not token:
        return False
    try:
        stored = (Path(folder) / OWNER_FILE).read_text().strip()
    except OSError:
        return False
    return hmac.compare_digest(stored, _token_digest(token))


def train_argv(config_path: Path, name: str) -> list[str]:
    """The training process's fixed argument list (never a shell string)."""
    return [sys.executable, "-m", "paramembed", "train", "--config", str(config_path), "--name", name, "--fresh", "--quiet"]


def start_run(
    config: TrainConfig,
    root: str | Path | None = None,
    check: bool = True,
    owner: str | None = None,
    upload: bytes | None = None,
    limits: ArchiveLimits = UPLOAD_LIMITS,
) -> subprocess.Popen:
    """Start `config` as a background process under the runs root; refuses while another run trains.

    `owner` is a token of the session starting it: only that token (or an admin) may stop it.
    `upload` is an ImageFolder archive to train on, unpacked into the run's folder within
    `limits`. The run folder must be new: an old run is never overwritten, and when the start is
    refused, everything it created (the unpacked upload included) is removed.
    """
    base = runs_root(root)
    name = check_name(config.name)
    fd = _acquire_training_lock(base, name)
    folder = base / name
    created = False
    try:
        if name_taken(name, base):
            raise ParamembedError(f"a run named {name!r} already exists in {base}; choose another name")
        created = not folder.exists()
        if upload is not None:
            config.data = str(save_upload(name, upload, base, limits))
        config.out_dir = str(base.resolve())
        if check:
            check_data(config)
        folder.mkdir(parents=True, exist_ok=True)
        if owner:
            (folder / OWNER_FILE).write_text(_token_digest(owner))
        (folder / CONFIG_FILE).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
        argv = train_argv((folder / CONFIG_FILE).resolve(), name)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with open(folder / LOG_FILE, "wb") as log:
            process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=env, start_new_session=True, pass_fds=(fd,))
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        os.close(fd)  # the training process keeps its own copy, and with it the lock
    _CHILDREN[process.pid] = process
    (folder / PID_FILE).write_text(json.dumps({"pid": process.pid, "started": time.time(), "argv": argv}))
    return process


def stop_run(name: str, root: str | Path | None = None, wait_s: float = 10.0, token: str | None = None,
             admin: bool = False) -> bool:
    """Stop a run this app started (SIGTERM, then SIGKILL after `wait_s`); False if it was not going.

    Only the session that started it (`token`) or an admin may; anyone else gets a ParamembedError.
    Checkpoints are written atomically, so the last one stays loadable.
    """
    folder = runs_root(root) / check_name(name)
    pid = read_pid(folder)
    if pid is None or not _pid_alive(pid):
        return False
    if not (admin or owns(folder, token)):
        raise ParamembedError(f"run {name!r} was started by another session; only that session or an admin can stop it")
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
