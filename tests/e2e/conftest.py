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
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from paramembed.checkpoint import ASSETS, CONFIG, WEIGHTS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("PARAMEMBED_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
FALLBACK_MODEL = Path(os.environ.get("PARAMEMBED_TEST_MODEL", "/tmp/runs/smoke"))
VIEWPORT = {"width": 1400, "height": 1000}
# The first page load imports torch and loads the model under a busy CPU: generous, not a speed check.
LOAD_TIMEOUT_MS = 180_000
STEP_TIMEOUT_MS = 120_000

# Console errors that are not the app's fault, each with why. Matched as substrings.
BENIGN_CONSOLE_ERRORS: tuple[str, ...] = ()
# Streamlit drops a run's media files when the next run replaces them; images and download
# buttons of the previous run that the browser was still fetching then 404
# (streamlit/streamlit#1294, #4825). Image 404s are tolerated only while no image in the page
# still points at the missing file (a broken image the user can see fails: AppPage.broken_images);
# the download button's message names no file, so the current download is checked by really
# downloading it (test_switch_models_and_methods).
MEDIA_ERRORS = ("Failed to load resource: the server responded with a status of 404", "Client Error: Image source error",
                "Client Error: Download Button source error - 404")


def chromium_missing() -> str | None:
    """Why the browser suite cannot run here, or None when it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (install it with `apt-get install -y chromium`; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"the playwright Python package is missing ({err}); `pip install -r requirements.txt`"
    return None


def model_env() -> dict[str, str] | None:
    """PARAMEMBED_MODELS for the server: unset for the shipped models, else the fallback + a copy."""
    if (ASSETS / "hyper" / WEIGHTS).is_file():
        return {}
    if (FALLBACK_MODEL / WEIGHTS).is_file():
        return {"PARAMEMBED_MODELS": str(FALLBACK_MODEL)}
    return None


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


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    env_models = model_env()
    if env_models is None:
        pytest.skip(f"no model: assets/models/hyper is absent (not trained yet) and so is {FALLBACK_MODEL}")
    tmp = tmp_path_factory.mktemp("e2e-server")
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
    log = ARTIFACTS / "server.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
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
                break
        except OSError:
            pass
        if time.time() > deadline:
            process.kill()
            pytest.fail(f"streamlit's health endpoint did not answer in 120 s:\n{srv.log_text()[-3000:]}")
        time.sleep(0.5)
    yield srv
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    # Tracebacks that never reached a page (a crashed callback, a failed session) still fail the suite.
    assert "Traceback (most recent call last)" not in srv.log_text(), f"the server logged a traceback; see {log}"


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# ============ a page that watches itself ============
class AppPage:
    """A Playwright page on the app, collecting console errors; helpers wait on the app, not on time."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.console_errors: list[str] = []
        self.missing_media: set[str] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.console_errors.append(f"uncaught: {err}"))

    def _console(self, message) -> None:
        if message.type != "error" or any(b in message.text for b in BENIGN_CONSOLE_ERRORS):
            return
        url = message.location.get("url", "") if message.text.startswith(MEDIA_ERRORS[0]) else message.text.split(" - ")[-1]
        if message.text.startswith(MEDIA_ERRORS) and "/media/" in url:
            self.missing_media.add(url.split("/media/")[-1])
            return
        if message.text.startswith(MEDIA_ERRORS[2]):
            return
        self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def broken_images(self) -> list[str]:
        """Images in the page now that failed to load, or that point at a media file which 404ed."""
        return self.page.evaluate(
            """missing => [...document.querySelectorAll('img')]
                .filter(i => (i.complete && i.naturalWidth === 0 && i.src) || missing.includes(i.src.split('/media/').pop()))
                .map(i => i.src)""", sorted(self.missing_media))

    def open(self, path: str = "") -> "AppPage":
        self.page.goto(f"{self.url}/{path}")
        self.page.locator('[data-testid="stApp"]').wait_for(timeout=LOAD_TIMEOUT_MS)
        return self

    # ---- problems shown in the page ----
    def problems(self) -> list[str]:
        found = [f"Streamlit exception: {t}" for t in self.page.locator('[data-testid="stException"]').all_inner_texts()]
        body = self.page.locator("body").inner_text()
        if "Traceback" in body:
            found.append("'Traceback' in the page: " + body[body.index("Traceback"):][:800])
        found += [f"broken image in the page: {src}" for src in self.broken_images()]
        return found + [f"console error: {e}" for e in self.console_errors]

    def assert_clean(self) -> None:
        self.idle()
        self.page.wait_for_load_state("networkidle")
        problems = self.problems()
        assert not problems, "\n".join(problems)

    # ---- waiting ----
    def idle(self, timeout_ms: int = STEP_TIMEOUT_MS) -> None:
        """Wait until the script run triggered by the last interaction has finished."""
        self.page.wait_for_timeout(300)  # the rerun request reaches the server first
        self.page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)

    def wait_text(self, text: str | re.Pattern, timeout_ms: int = STEP_TIMEOUT_MS):
        """The first visible element holding `text` (or matching it); fails at once if the page shows an exception."""
        deadline = time.time() + timeout_ms / 1000
        target = self.page.get_by_text(text).first
        while True:
            if target.is_visible():
                return target
            problems = self.problems()
            if problems:
                raise AssertionError(f"while waiting for {text!r}: " + "\n".join(problems))
            if time.time() > deadline:
                raise AssertionError(f"{text!r} did not appear in {timeout_ms / 1000:.0f} s; page says:\n"
                                     + self.page.locator('[data-testid="stMain"]').inner_text()[:2000])
            self.page.wait_for_timeout(250)

    def main_text(self) -> str:
        return self.page.locator('[data-testid="stMain"]').inner_text()

    # ---- widgets, found by their visible labels ----
    def number(self, label: str, value: int) -> None:
        field = self.page.get_by_label(label, exact=True)
        field.fill(str(value))
        field.press("Enter")
        self.idle()

    def radio(self, option: str) -> None:
        self.page.locator('[data-testid="stRadio"] label').filter(has_text=option).first.click()
        self.idle()

    def select(self, label: str, option: str, sidebar: bool = False) -> None:
        """Pick `option` in the selectbox (or multiselect) labelled `label`."""
        self.idle()
        box = self._box(label, sidebar)
        choice = self.page.get_by_role("option", name=option, exact=True).first
        for _ in range(5):  # a rerun landing while the list is open closes it: open it again
            box.locator('[role="combobox"]').first.click()
            try:
                choice.wait_for(state="visible", timeout=5000)
                choice.click(timeout=5000)
                break
            except Exception:
                self.page.keyboard.press("Escape")
        else:
            raise AssertionError(f"could not pick {option!r} in {label!r}; options: {self.options(label, sidebar)}")
        self.page.keyboard.press("Escape")
        self.idle()

    def _box(self, label: str, sidebar: bool):
        scope = self.page.locator('[data-testid="stSidebar"]') if sidebar else self.page.locator('[data-testid="stMain"]')
        return scope.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
            has=self.page.get_by_text(label, exact=True)).first

    def options(self, label: str, sidebar: bool = False) -> list[str]:
        self._box(label, sidebar).locator('[role="combobox"]').first.click()
        self.page.get_by_role("option").first.wait_for(timeout=10_000)
        names = self.page.get_by_role("option").all_inner_texts()
        self.page.keyboard.press("Escape")
        return names

    def button(self, name: str) -> None:
        self.page.get_by_role("button", name=name).first.click()
        self.idle()

    def upload(self, label: str, files: list[tuple[str, bytes, str]]) -> None:
        """Give `files` (name, bytes, mime) to the file uploader labelled `label`, as a user's file dialog does."""
        uploader = self.page.locator('[data-testid="stFileUploader"]').filter(has=self.page.get_by_text(label, exact=True)).first
        uploader.locator('input[type="file"]').set_input_files(
            [{"name": n, "mimeType": m, "buffer": b} for n, b, m in files])
        self.idle()

    def add_class(self, name: str) -> None:
        self.page.get_by_label("New class name").fill(name)
        self.page.get_by_label("New class name").press("Enter")
        self.idle()
        self.button("➕ Add class")
        self.wait_text(f"Added class '{name}'.")

    def predictions(self) -> list[str]:
        """The predicted class of every query, in order, as the page shows it once the run is over."""
        self.idle()
        texts = self.page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Predicted: ").all_inner_texts()
        return [t.split("Predicted: ", 1)[1].split("\n")[0].replace(" ✅ right", "").replace(" ❌ wrong", "").strip() for t in texts]

    def screenshot(self, name: str) -> Path:
        """The whole app (Streamlit scrolls inside its own container, so the viewport grows to fit)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        height = self.page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer], section')]"
            ".map(e => e.scrollHeight), document.body.scrollHeight)")
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(int(height), VIEWPORT["height"]), 8000)})
        self.page.wait_for_timeout(300)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(VIEWPORT)
        return path


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
        if not (failed and failed.failed):  # a failed test already said what went wrong
            page.assert_clean()
        assert server.process.poll() is None, f"the server died:\n{server.log_text()[-3000:]}"
    finally:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
