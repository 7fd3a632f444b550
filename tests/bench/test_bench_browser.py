"""The browser bench: its table, and its settle rule on a page whose script state we drive ourselves.

The full run (a real server in Chromium) is exercised by the quick bench in test_bench_cli.py.
"""

import pytest

from paramembed.bench.browser import CLICKS, STATE_JS, WATCH_JS, chromium_missing, settle
from paramembed.bench.report import format_browser


def test_the_table_has_every_figure_with_its_target_and_verdict():
    figures = [{"key": "first_results", "label": "make run -> first results visible", "target_s": 4.0, "values": [3.0, 5.0, 3.5],
                "median_s": 3.5, "met": True}]
    figures += [{"key": c.key, "label": c.label, "target_s": 0.5, "values": [0.7], "median_s": 0.7, "met": False} for c in CLICKS]
    text = "\n".join(format_browser({"measured": True, "runs": 3, "problems": ["run 2: RuntimeError: x"], "figures": figures,
                                     "health_s": 0.9, "peak_rss_mb": 700.0, "load_average": 0.1}))
    assert "make run -> first results visible" in text and "3.50 s" in text and "5.00 s" in text and "MET" in text
    assert all(c.label in text for c in CLICKS) and "not met" in text and "failed runs: run 2" in text
    assert "not measured (no Chromium)" in "\n".join(format_browser({"measured": False, "reason": "no Chromium"}))


@pytest.fixture
def browser():
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    from paramembed.bench.browser import CHROMIUM

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_content('<div data-testid="stApp" data-test-script-state="notRunning"><button id="b">go</button></div>')
    return page


def test_settle_waits_for_the_run_a_click_started_to_end(page):
    t0 = page.evaluate(WATCH_JS)
    # A "script run" of 300 ms that starts 100 ms after the click.
    page.evaluate("""() => { const app = document.querySelector('[data-testid="stApp"]');
        setTimeout(() => app.setAttribute('data-test-script-state', 'running'), 100);
        setTimeout(() => app.setAttribute('data-test-script-state', 'notRunning'), 400); }""")
    seconds = settle(page, t0, None)
    assert seconds >= 0.399, seconds  # timers fire late, never early: ending sooner means it did not wait for the run
    assert page.evaluate(STATE_JS, t0)[2]  # it saw the run


def test_the_clock_starts_at_the_press_and_stops_at_the_last_change_on_screen(page):
    t0 = page.evaluate(WATCH_JS)
    page.wait_for_timeout(300)  # Playwright's own checks before a click: not part of the wait
    # On the press: a 200 ms run, then the page keeps changing for 300 ms after it ended.
    page.evaluate("""() => document.getElementById('b').addEventListener('pointerdown', () => {
        const app = document.querySelector('[data-testid="stApp"]');
        app.setAttribute('data-test-script-state', 'running');
        setTimeout(() => app.setAttribute('data-test-script-state', 'notRunning'), 200);
        setTimeout(() => { app.appendChild(document.createElement('p')); window.__appended = performance.now(); }, 500); })""")
    page.click("#b")
    seconds = settle(page, t0, None)
    press = page.evaluate("window.__presses[0]")
    last_change_ms = page.evaluate("window.__appended") - press
    assert press >= t0 + 300
    # From the press (not from t0) to the frame after the last change: a frame later, not a poll later.
    assert last_change_ms / 1000 <= seconds < (last_change_ms + 100) / 1000, (seconds, last_change_ms)


def test_a_change_inside_a_long_task_counts_once_it_reaches_the_screen(page):
    # A chart library's first run: the DOM changes, then the main thread stays busy longer than the
    # quiet window. A poll queued behind that task must not take the busy time for quiet.
    t0 = page.evaluate(WATCH_JS)
    page.evaluate("""() => document.getElementById('b').addEventListener('pointerdown', () => {
      const app = document.querySelector('[data-testid="stApp"]');
      app.setAttribute('data-test-script-state', 'running');
      setTimeout(() => app.setAttribute('data-test-script-state', 'notRunning'), 50);
      setTimeout(() => {  // after the run, as the explorer's first chart is drawn
        document.body.appendChild(document.createElement('p'));
        const end = performance.now() + 700;
        while (performance.now() < end) {}
        window.__busy_until = performance.now(); }, 250); })""")
    page.click("#b")
    seconds = settle(page, t0, None)
    busy_ms = page.evaluate("window.__busy_until") - page.evaluate("window.__presses[0]")
    assert seconds >= busy_ms / 1000, (seconds, busy_ms)


def test_first_results_are_timed_when_the_text_appears_not_when_a_poll_gets_through(browser):
    import json

    from paramembed.bench.browser import APPEARS_JS

    page = browser.new_page()
    page.add_init_script(script=f"({APPEARS_JS})({json.dumps('Task accuracy')})")
    # The results come at 300 ms; then the page's main thread is busy for 700 ms (a library's first run).
    page.goto("data:text/html,<body><script>setTimeout(() => { const p = document.createElement('p');"
              " p.textContent = 'Task accuracy 100%'; document.body.appendChild(p);"
              " window.__added = performance.now(); setTimeout(() => { const end = performance.now() + 700;"
              " while (performance.now() < end) {} }, 50); }, 300);</script></body>")
    page.get_by_text("Task accuracy").first.wait_for()
    page.wait_for_function("window.__appeared > 0")
    added, appeared = page.evaluate("[window.__added, window.__appeared]")
    assert added <= appeared < added + 50, (added, appeared)  # the frame after it came, before the busy task
