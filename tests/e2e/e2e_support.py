"""Shared pieces of the browser suite: where things are, how Chromium is launched, and AppPage,
a Playwright page on the app that collects console errors and waits on the app rather than on time."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from paramembed.checkpoint import ASSETS, WEIGHTS

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
        self.button("Add class")
        self.wait_text(f"Added class '{name}'.")

    def predictions(self) -> list[str]:
        """The predicted class of every query, in order, as the page shows it once the run is over."""
        self.idle()
        # The cards are one st.html block (paramembed.app.cards), drawn once its lazily loaded component is.
        self.page.locator('[data-testid="stMain"] .pe-cards').first.wait_for(state="attached")
        texts = self.page.locator('[data-testid="stMain"] .pe-verdict p').filter(has_text="Predicted: ").all_inner_texts()
        return [t.split("Predicted: ", 1)[1].split("\n")[0].strip() for t in texts]

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




def bars(seed: int, vertical: bool, size: int = 64) -> bytes:
    """A PNG of dark bars on white: vertical ones for one class, horizontal for the other."""
    rng = np.random.default_rng(seed)
    arr = np.full((size, size), 255, np.uint8)
    for _ in range(2):
        at = int(rng.integers(12, size - 12))
        if vertical:
            arr[8 : size - 8, at - 3 : at + 3] = 0
        else:
            arr[at - 3 : at + 3, 8 : size - 8] = 0
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    return buffer.getvalue()
