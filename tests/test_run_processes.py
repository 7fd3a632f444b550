"""One training run at a time, owners, episode caps and bounded uploads (`paramembed.run_processes`)."""

import io
import sys
import threading
import zipfile

import pytest

from small_datasets import image_folder_zip
import paramembed.run_processes as P
import paramembed.runs as R
from paramembed.data.archives import ArchiveLimits
from paramembed.errors import ParamembedError

MB = 2**20


@pytest.fixture()
def sleeper(monkeypatch):
    # The start machinery for real (lock, folder, argv list, process group); the process just waits.
    monkeypatch.setattr(P, "train_argv", lambda path, name: [sys.executable, "-c", "import time; time.sleep(60)"])


def config(name, root):
    return R.make_config(name, width=8, ways=(5, 5), shots=(1, 1), episodes=8, root=root)


def test_concurrent_starts_start_exactly_one(tmp_path, sleeper):
    threads, barrier = 8, threading.Barrier(8)
    started, refused = [], []

    def start(i):
        barrier.wait()
        try:
            started.append((f"r{i}", P.start_run(config(f"r{i}", tmp_path), tmp_path, check=False, owner="me")))
        except ParamembedError as err:
            refused.append(str(err))

    workers = [threading.Thread(target=start, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    try:
        assert len(started) == 1 and len(refused) == threads - 1
        name = started[0][0]
        assert all("still training" in msg for msg in refused)
        assert P.active_run(tmp_path) == name
        # The refused starts left no folders behind.
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [name]
    finally:
        for name, _ in started:
            P.stop_run(name, tmp_path, wait_s=5, token="me")
    # The lock goes with the process: a new run may start.
    assert P.training_lock_holder(tmp_path) is None
    process = P.start_run(config("after", tmp_path), tmp_path, check=False, owner="me")
    P.stop_run("after", tmp_path, wait_s=5, admin=True)
    assert process.poll() is not None


def test_only_the_owner_or_an_admin_stops_a_run(tmp_path, sleeper):
    P.start_run(config("mine", tmp_path), tmp_path, check=False, owner="token-a")
    try:
        assert P.owns(tmp_path / "mine", "token-a") and not P.owns(tmp_path / "mine", "token-b")
        assert "token-a" not in (tmp_path / "mine" / P.OWNER_FILE).read_text()  # only a digest is kept
        for token in ("token-b", None, ""):
            with pytest.raises(ParamembedError, match="started by another session"):
                P.stop_run("mine", tmp_path, token=token)
        assert P.run_status(tmp_path / "mine") == "running"
    finally:
        assert P.stop_run("mine", tmp_path, wait_s=5, admin=True)
    assert P.run_status(tmp_path / "mine") == "stopped"


def test_episodes_over_the_servers_cap_are_refused(tmp_path):
    with pytest.raises(ParamembedError, match="over this server's limit of 500"):
        R.make_config("big", episodes=501, max_episodes=500, root=tmp_path)
    assert R.make_config("ok", episodes=500, max_episodes=500, root=tmp_path).episodes == 500


def bomb(members: int, size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            zf.writestr(f"class{i}/img.png", bytes(size))
    return buffer.getvalue()


def test_an_upload_bomb_is_refused_while_unpacking_and_leaves_nothing(tmp_path, monkeypatch, sleeper):
    monkeypatch.setenv("PARAMEMBED_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "runs"
    data = bomb(10, 3 * MB)  # 30 MB of zeros in about 30 kB
    assert len(data) < 100_000
    limits = ArchiveLimits(max_total_bytes=8 * MB, max_member_bytes=4 * MB)
    with pytest.raises(ParamembedError, match="unpacks to more than 8 MB"):
        P.start_run(config("bomb", root), root, owner="me", upload=data, limits=limits)
    assert not (root / "bomb").exists()
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert written < MB, f"{written} bytes left on disk"
    assert P.training_lock_holder(root) is None


def test_a_refused_upload_run_removes_its_unpacked_data(tmp_path, sleeper):
    # A readable dataset that is too small for the settings: the start is refused after unpacking.
    with pytest.raises(ParamembedError, match="dataset too small"):
        P.start_run(config("small", tmp_path), tmp_path, owner="me", upload=image_folder_zip(6, 3))
    assert not (tmp_path / "small").exists()
