"""What a person waits for, in a real browser: `streamlit run` to results on screen, and every main click.

Each run is fresh: a new server process started the way `make run` starts it and a new Chromium
page (the browser itself is launched before the clock starts: a person's browser is already
open). Times are read in the page's own clock (`performance.now()`), and first results on the wall
clock (`performance.timeOrigin` plus that clock: the server starts before the app's page exists):

- first results: server process started -> the frame after the first sampled task's accuracy
  entered the Playground (recorded in the page as it happens; the health endpoint's answer is
  recorded beside it);
- a click: the press itself (the page's own `pointerdown` event, so Playwright's checks before it
  are not counted; for a selectbox, the press on the option: opening the list is not waited for)
  -> the page settled: the script run it triggered has finished (Streamlit's
  `data-test-script-state` back to `notRunning`) and the page's last change is on screen: the
  frame after its last DOM mutation or image load, all recorded in the page as they happen (a
  MutationObserver and load listeners, not a poll), with nothing else changing for `QUIET_MS` and
  no change still waiting for its frame (a poll answered after a long task would see stale quiet);
- peak RSS: the server process's high-water mark (VmHWM) after all clicks.

Medians over the runs are compared with the targets of issue 22: first results <= 4 s, every main
click <= 0.5 s, on an idle 2-core machine. The process and browser are stopped after each run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from paramembed.bench.timing import median

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PARAMEMBED_CHROMIUM", "/usr/bin/chromium")
FIRST_RESULTS_TARGET_S = 4.0
CLICK_TARGET_S = 0.5
QUIET_MS = 400  # a page is settled once nothing has run for this long
RESULTS_TEXT = "Task accuracy"
VIEWPORT = {"width": 1400, "height": 1000}

# Installed once per page: every change of the script state, the last change to the page (the frame after
# a DOM mutation or an image load: when a person can see it) and every press, all in the page's clock.
WATCH_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!window.__watching) {
    window.__states = []; window.__presses = []; window.__changed = 0; window.__pending = false;
    const changed = () => {
      if (window.__pending) return;
      window.__pending = true;
      requestAnimationFrame(() => setTimeout(() => { window.__pending = false; window.__changed = performance.now(); }, 0));
    };
    window.__watching = new MutationObserver(records => {
      for (const r of records)
        if (r.target === app && r.attributeName === 'data-test-script-state')
          window.__states.push([performance.now(), app.getAttribute('data-test-script-state')]);
      changed();
    });
    window.__watching.observe(document.body, {attributes: true, childList: true, characterData: true, subtree: true});
    document.addEventListener('load', e => { if (e.target.tagName === 'IMG') changed(); }, true);
    window.addEventListener('pointerdown', e => window.__presses.push(e.timeStamp), true);
  }
  return performance.now();
}"""
# Installed before the page loads: the frame after `text` first enters the page (an added node or changed
# text that contains it), in the page's clock. Read from the page, not from Playwright's wait, which
# polls in the page: a long task right after the results (the chart library's preload) delayed that poll.
APPEARS_JS = """text => {
  window.__appeared = null;
  const check = records => {
    if (window.__appeared !== null) return;
    for (const r of records) {
      const nodes = r.type === 'characterData' ? [r.target] : r.addedNodes;
      for (const n of nodes) {
        // Text nodes only, outside scripts and styles: code that names the text is not the text.
        const walker = document.createTreeWalker(n, NodeFilter.SHOW_TEXT);
        let found = false;
        for (let t = n.nodeType === 3 ? n : walker.nextNode(); t && !found; t = walker.nextNode())
          found = t.data.includes(text) && !(t.parentElement && t.parentElement.closest('script, style'));
        if (found) {
          window.__appeared = -1;
          requestAnimationFrame(() => setTimeout(() => { window.__appeared = performance.now(); }, 0));
          return;
        }
      }
    }
  };
  new MutationObserver(check).observe(document, {childList: true, characterData: true, subtree: true});
}"""
# [now, the first press after t0 (else t0), last state change after t0 or null, whether a run started after
#  t0, running now, images all loaded, the page's last change on screen, a change still waiting for its frame]
STATE_JS = """t0 => {
  const after = window.__states.filter(s => s[0] >= t0);
  const press = window.__presses.find(p => p >= t0);
  const app = document.querySelector('[data-testid="stApp"]');
  const images = [...document.images].every(i => i.complete);
  return [performance.now(), press === undefined ? t0 : press, after.length ? after[after.length - 1][0] : null,
          after.some(s => s[1] === 'running'), app.getAttribute('data-test-script-state') === 'running', images,
          window.__changed, window.__pending];
}"""


@dataclass(frozen=True)
class Click:
    """One main click: `key` names it in the report, `act(page, start)` performs it on a Playwright page,
    calling `start()` just before the click a person then waits on (the clock starts at the press that follows)."""

    key: str
    label: str
    act: Callable[[Any, Callable[[], None]], None]
    ready: str | None = None  # a selector that must be visible once settled (a page switch draws a chart)


def _click(target: Callable[[Any], Any]) -> Callable[[Any, Callable[[], None]], None]:
    """Find the element first (Playwright's own waits), then start the clock and click it."""

    def act(page, start):
        element = target(page)
        element.wait_for()
        start()
        element.click()

    return act


def _click_button(name: str):
    return _click(lambda page: page.get_by_role("button", name=name).first)


def _click_radio(option: str):
    return _click(lambda page: page.locator('[data-testid="stRadio"] label').filter(has_text=option).first)


def _pick(label: str, option_prefix: str, sidebar: bool = False):
    """Open the selectbox labelled `label`, then (the timed part starts here) pick the first option starting with `option_prefix`."""

    def act(page, start):
        scope = page.locator('[data-testid="stSidebar"]' if sidebar else '[data-testid="stMain"]')
        box = scope.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
        box.locator('[role="combobox"]').first.click()
        options = page.get_by_role("option")
        options.first.wait_for(timeout=10_000)
        names = options.all_inner_texts()
        current = box.locator('[role="combobox"]').first.inner_text()
        name = next(n for n in names if n.startswith(option_prefix) and n != current)
        option = page.get_by_role("option", name=name, exact=True).first
        option.wait_for()
        start()
        option.click()

    return act


def _nav(title: str):
    return _click(lambda page: page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first)


CLICKS = (
    Click("new_task", "New task", _click_button("New task")),
    Click("upload_mode", "switch to Upload", _click_radio("Upload")),
    Click("sample_mode", "switch back to Sample", _click_radio("Sample")),
    Click("switch_model", "switch model (proto)", _pick("Model", "proto", sidebar=True)),
    Click("open_explorer", "open the explorer", _nav("Embedding explorer"), ready='[data-testid="stMain"] .js-plotly-plot'),
    Click("change_projection", "change the projection", _pick("Projection", "t-SNE")),
)


def chromium_missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"the playwright package is missing ({err})"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(port: int) -> list[str]:
    """The command `make run` uses (see the Makefile), on a free port and without opening a browser of its own."""
    return [sys.executable, "-P", str(ROOT / "paramembed" / "app" / "launch.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]


def peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), None)


def _wait_health(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"no health answer within {timeout:.0f} s")


def settle(page, t0: float, ready: str | None, timeout_s: float = 120.0) -> float:
    """Seconds from the first press after page time `t0` (else `t0`) until the page settled (see the module docstring)."""
    deadline = time.perf_counter() + timeout_s
    started_by = time.perf_counter() + 3.0  # a click that starts no run within 3 s started none
    while time.perf_counter() < deadline:
        now, start, last_state, ran, running, images, changed, pending = page.evaluate(STATE_JS, t0)
        shown = ready is None or page.locator(ready).first.is_visible()
        # `pending`: a change made during a long task (a chart library's first run) has not reached the
        # screen yet; this poll was only queued behind that task, and the quiet it saw was not quiet.
        if not running and images and shown and not pending and (ran or time.perf_counter() > started_by):
            end = max(start, last_state or start, changed)
            if now - end >= QUIET_MS:
                return (end - start) / 1000
        page.wait_for_timeout(25)
    raise RuntimeError(f"the page did not settle within {timeout_s:.0f} s")


def one_run(browser, clicks: tuple[Click, ...] = CLICKS, timeout_s: float = 180.0) -> dict:
    """A fresh server and page: first results, then each click in order; stops the server."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.add_init_script(script=f"({APPEARS_JS})({json.dumps(RESULTS_TEXT)})")
    page.goto("about:blank")
    # Process start and the page's moments on one clock, the wall clock: a page's performance.now()
    # counts from its own document's start, and the app's document starts only once the server
    # answers (read in about:blank's clock, as before 2026-12-03, the health wait went uncounted).
    wall_start = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict[str, Any] = {}
    try:
        _wait_health(url, proc, timeout_s)
        out["health_s"] = time.perf_counter() - start
        page.goto(url)
        page.get_by_text(RESULTS_TEXT).first.wait_for(timeout=timeout_s * 1000)
        page.wait_for_function("window.__appeared > 0", timeout=10_000)
        out["first_results_s"] = page.evaluate("performance.timeOrigin + window.__appeared") / 1000 - wall_start
        page.evaluate(WATCH_JS)
        settle(page, page.evaluate("performance.now()"), None)  # the first run's images and stragglers
        out["clicks"] = {}
        for click in clicks:
            t0 = []
            click.act(page, lambda: t0.append(page.evaluate(WATCH_JS)))
            out["clicks"][click.key] = settle(page, t0[0], click.ready)
        out["peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        context.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def browser_section(repeats: int = 3, log: Callable[[str], None] = lambda s: None) -> dict:
    """Medians over `repeats` fresh runs, each figure beside its target."""
    missing = chromium_missing()
    if missing:
        return {"measured": False, "reason": missing}
    from playwright.sync_api import sync_playwright

    import compileall

    compileall.compile_dir(ROOT / "paramembed", quiet=1)  # as `make run` does before it starts the server
    runs, problems = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for i in range(repeats):
                try:
                    runs.append(one_run(browser))
                    log(f"browser run {i + 1}/{repeats}: first results {runs[-1]['first_results_s']:.2f} s")
                except Exception as err:  # a failed run is reported, not hidden in a median
                    problems.append(f"run {i + 1}: {type(err).__name__}: {str(err)[:300]}")
        finally:
            browser.close()
    if not runs:
        return {"measured": False, "reason": problems[0] if problems else "no runs"}
    figures = [{"key": "first_results", "label": "make run -> first results visible", "target_s": FIRST_RESULTS_TARGET_S,
                "values": [r["first_results_s"] for r in runs]}]
    figures += [{"key": c.key, "label": c.label, "target_s": CLICK_TARGET_S, "values": [r["clicks"][c.key] for r in runs]}
                for c in CLICKS]
    for f in figures:
        f["median_s"] = median(f["values"])
        f["met"] = f["median_s"] <= f["target_s"]
    return {"measured": True, "runs": len(runs), "problems": problems, "figures": figures,
            "health_s": median([r["health_s"] for r in runs]),
            "peak_rss_mb": max((r["peak_rss_mb"] or 0) for r in runs),
            "load_average": os.getloadavg()[0]}
