"""Real-browser end-to-end tests: `streamlit run app.py` on a free port, driven by Debian's Chromium.

One server per test session (the load test starts none of its own); one fresh browser context per
test, so every test is a new user session. Every test leaves a screenshot in test-artifacts/e2e/
and fails on a browser console error or a Python traceback shown in the page.

Model: the shipped ones (assets/models/hyper) when present, else the small trained model named by
$PARAMEMBED_TEST_MODEL (default /tmp/runs/smoke) plus a copy of it, so there are two to switch
between. Skips with a reason when there is no Chromium or no model.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from e2e_support import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, FALLBACK_MODEL, ROOT, STEP_TIMEOUT_MS, VIEWPORT, AppPage, chromium_missing, model_env
from paramembed.checkpoint import ASSETS, CONFIG, WEIGHTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    default_model: Path  # the folder the playground preselects

    def alive(self) -> bool:
        return self.process.poll() is None and urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=10).read() == b"ok"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_server(tmp: Path, log: Path) -> Server:
    """A new server started as `make run` starts it, with the suite's models and runs; waits for its health answer."""
    env_models = model_env()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PARAMEMBED_MODELS", None)
    env.update(env_models)
    if env_models:
        # A second folder holding the same weights: a model to switch to when nothing is shipped yet.
        twin = tmp / "smoke-twin"
        twin.mkdir()
        for name in (WEIGHTS, CONFIG):
            shutil.copy(FALLBACK_MODEL / name, twin / name)
        env["PARAMEMBED_MODELS"] += os.pathsep + str(twin)
    # The training-curves page reads runs from here: one finished-looking run with a real log, so
    # the page has a curve even when no shipped model's log exists.
    runs = tmp / "runs"
    (runs / "e2e-run").mkdir(parents=True)
    source = ASSETS / "hyper" if not env_models else FALLBACK_MODEL
    if (source / "metrics.jsonl").is_file():
        shutil.copy(source / "metrics.jsonl", runs / "e2e-run" / "metrics.jsonl")
    env["PARAMEMBED_RUNS"] = str(runs)
    env["PARAMEMBED_CACHE"] = str(tmp / "cache")

    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # As `make run` starts it: streamlit run app.py, warmed up (paramembed/app/launch.py).
    argv = [sys.executable, "-P", str(ROOT / "paramembed" / "app" / "launch.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
            # No file watching: the tree is being edited by others, and a rerun-on-save would be noise.
            "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    srv = Server(url, process, log, FALLBACK_MODEL if env_models else ASSETS / "hyper")
    deadline = time.time() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{srv.log_text()[-3000:]}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return srv
        except OSError:
            pass
        if time.time() > deadline:
            process.kill()
            pytest.fail(f"streamlit's health endpoint did not answer in 120 s:\n{srv.log_text()[-3000:]}")
        time.sleep(0.5)


def stop_server(srv: Server) -> None:
    """Stop it; a traceback in its log (a crashed callback, a failed session that never reached a page) fails the test."""
    srv.process.terminate()
    try:
        srv.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        srv.process.kill()
    text = srv.log_text()
    assert "Traceback (most recent call last)" not in text, (
        f"the server logged a traceback ({srv.log}):\n" + text[text.index("Traceback (most recent call last)"):][:3000])


def skip_without_browser_or_model() -> None:
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    if model_env() is None:
        pytest.skip(f"no model: assets/models/hyper is absent (not trained yet) and so is {FALLBACK_MODEL}")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    skip_without_browser_or_model()
    srv = start_server(tmp_path_factory.mktemp("e2e-server"), ARTIFACTS / "server.log")
    yield srv
    stop_server(srv)


@pytest.fixture
def fresh_server(tmp_path, browser):
    """A server of its own that no page has visited yet (the session's `server` has seen every test's visits)."""
    srv = start_server(tmp_path, ARTIFACTS / f"server-{tmp_path.name}.log")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def app(request, browser, server):
    """A fresh browser session on the app; screenshot and clean-page check when the test ends."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = AppPage(context.new_page(), server.url)
    yield page
    try:
        page.screenshot(request.node.name)
        failed = getattr(request.node, "rep_call", None)
        if failed and failed.failed:  # the test said what went wrong; keep what the page showed too
            (ARTIFACTS / f"{request.node.name}.txt").write_text(
                "\n".join(page.problems() + page.console_errors) + "\n\n" + page.main_text())
        else:
            page.assert_clean()
        assert server.process.poll() is None, f"the server died:\n{server.log_text()[-3000:]}"
    finally:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
