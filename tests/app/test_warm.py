"""The warm-up that `make run` starts beside the server: it fills the caches the first page reads."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from paramembed.checkpoint import ASSETS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (ASSETS / "hyper").is_dir(), reason="needs the shipped default model")
def test_warm_up_leaves_the_first_task_and_model_in_the_shared_caches():
    from paramembed import ui
    from paramembed.app import task_sources
    from paramembed.app.warm import FIRST_TASK, warm_up

    assert warm_up() > 0
    model = ui.load_model_cached(ui.find_models()[0].path, "auto")
    # The same objects, not recomputed: a cache hit hands back what the warm-up made.
    assert ui.load_model_cached(ui.find_models()[0].path, "auto") is model
    task = task_sources.sampled_task(model.config.input, task_sources.PROCEDURAL, **FIRST_TASK)
    assert task is task_sources.sampled_task(model.config.input, task_sources.PROCEDURAL, **FIRST_TASK)
    assert task.ways == FIRST_TASK["ways"]


def test_the_other_pages_warm_up_waits_for_the_first_page_then_imports_their_libraries(monkeypatch):
    import sys
    import threading
    import time
    from types import SimpleNamespace

    from paramembed.app import warm

    slept = []  # the pause that leaves the browser the core it draws the first page on
    monkeypatch.setattr(warm, "time", SimpleNamespace(sleep=slept.append, perf_counter=time.perf_counter))
    warm.FIRST_PAGE_SENT.clear()
    done = []
    thread = threading.Thread(target=lambda: done.append(warm.warm_later(timeout_s=60, delay_s=0.75)))
    thread.start()
    thread.join(0.2)
    assert not done and not slept  # waiting for the Playground's first page
    warm.first_page_sent()
    thread.join(60)
    assert done and done[0] > 0 and "pandas" in sys.modules and "plotly.express" in sys.modules
    assert slept == [0.75]
    # No first page within the timeout (a server nobody opened yet): no browser to leave room for.
    warm.FIRST_PAGE_SENT.clear()
    warm.warm_later(timeout_s=0.01, delay_s=0.75)
    assert slept == [0.75]


def test_the_first_page_freezes_what_lives_long_so_the_collection_after_each_run_skips_it():
    import gc

    from paramembed.app import warm

    warm._FROZEN.clear()
    try:
        warm.first_page_sent()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the imported modules (pytest's, torch's) at least
        stray = [[i] for i in range(1000)]
        assert gc.get_freeze_count() == frozen  # only at that moment: later objects are collected as usual
        warm.first_page_sent()  # once per process
        assert gc.get_freeze_count() == frozen and stray
    finally:
        gc.unfreeze()


def test_the_server_environment_sleeps_idle_threads_unless_told_otherwise(monkeypatch):
    from paramembed.app.launch import server_environment

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    server_environment()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # an operator's own choice stays
    server_environment()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.parametrize("setting, warms", [(None, True), ("0", False)])
def test_the_launcher_starts_the_warm_up_beside_the_server_unless_told_not_to(monkeypatch, setting, warms):
    import threading

    from streamlit.web import cli

    from paramembed.app import launch

    started = threading.Event()
    monkeypatch.setattr(launch, "warm", started.set)
    monkeypatch.setattr(cli, "main", lambda: None)
    monkeypatch.setattr(sys, "argv", ["launch.py"])
    if setting is None:
        monkeypatch.delenv("PARAMEMBED_WARM", raising=False)
    else:
        monkeypatch.setenv("PARAMEMBED_WARM", setting)
    launch.main([])
    assert started.wait(5 if warms else 0.2) is warms


def test_the_launcher_serves_the_app(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-P", str(ROOT / "paramembed" / "app" / "launch.py"), "--server.port", str(port),
                             "--server.headless", "true", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env={**os.environ, "PARAMEMBED_WARM": "0"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the launcher's server never answered its health check")
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
        assert b"<title>" in page.lower() or b"<html" in page.lower()
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_next_sampled_task_is_prefetched_once_into_the_cache_new_task_reads(monkeypatch):
    from paramembed.app import task_sources
    from paramembed.config import InputSpec

    made = []
    real = task_sources.sample_task
    monkeypatch.setattr(task_sources, "sample_task", lambda *a: made.append(a[-1]) or real(*a))
    spec, asked = InputSpec(), (task_sources.PROCEDURAL, 3, 1, 1, False, 4242)
    task_sources.prefetch_next(spec, *asked, 0)
    task_sources.prefetch_next(spec, *asked, 5)  # one waiting at most: this one is skipped, or runs after
    task_sources._PREFETCHER.submit(lambda: None).result(timeout=60)  # the queue has drained
    assert made[0] == 1
    task = task_sources.sampled_task(spec, *asked, 1)
    assert made.count(1) == 1 and task.ways == 3  # "New task" found it made


def test_streamlits_no_context_warning_is_dropped_for_our_background_threads_only():
    import logging
    import threading

    from paramembed.app import background

    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    kept = []

    def emit():
        kept.append(all(f.filter(logger.makeRecord(logger.name, logging.WARNING, __file__, 0, "missing ScriptRunContext", (), None))
                        for f in logger.filters))

    for name in (f"{background.PREFIX}warm-up", "ScriptRunner.scriptThread"):
        thread = threading.Thread(target=emit, name=name)
        thread.start()
        thread.join()
    assert kept == [False, True]


@pytest.mark.skipif(not (ASSETS / "hyper").is_dir(), reason="needs the shipped default model")
def test_the_explorers_default_view_is_computed_ahead_under_the_keys_its_page_asks_for():
    import threading

    from streamlit.testing.v1 import AppTest

    from paramembed import ui
    from paramembed.app import explorer_data

    path = ui.find_models()[0].path
    explorer_data.warm_default_view(path, ui.load_model_cached(path, "auto"), threading.Lock())
    store = explorer_data.store()
    kinds = sorted(key[0] for key in list(store.values))
    assert kinds.count("bank") >= 1 and kinds.count("proj") >= 1, kinds
    before = set(store.values)
    at = AppTest.from_file(str(ROOT / "pages" / "explorer.py"), default_timeout=120).run()
    assert not at.exception
    # The first visitor's page found everything: no bank, embedding or projection of its own.
    assert set(store.values) == before, set(store.values) - before
