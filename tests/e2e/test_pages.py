"""The other pages in a real browser: the embedding explorer (plot, selection) and the training curves."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def open_page(app, title: str) -> None:
    app.open()
    app.page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    app.idle()


def plotted_points(app, key: str) -> int:
    """Markers drawn by the Plotly chart with this widget key."""
    chart = app.page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.wait_for(timeout=180_000)
    return chart.locator(".scatterlayer .point").count()


def test_explorer_plots_and_selects_points(app):
    open_page(app, "Embedding explorer")
    app.wait_text("Generated weights vs plain prototypes", 240_000)
    app.wait_text("Nothing selected yet.")
    assert plotted_points(app, "explorer_chart") >= 10
    # Lasso around the middle of the plot, where a projection's points are densest. The chart opens
    # in pan mode (so that a click selects a point); the lasso is a tool in its toolbar.
    app.page.locator('.st-key-explorer_chart .modebar-btn[data-val="lasso"]').first.click()
    plot = app.page.locator(".st-key-explorer_chart .nsewdrag").first
    box = plot.bounding_box()
    cx, cy, rx, ry = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3, box["height"] * 0.3
    mouse = app.page.mouse
    mouse.move(cx - rx, cy - ry)
    mouse.down()
    for x, y in [(cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry), (cx - rx, cy - ry)]:
        mouse.move(x, y, steps=12)
    mouse.up()
    heading = app.wait_text(re.compile(r"^\d+ selected"))
    assert int(heading.inner_text().split()[0]) >= 1, heading.inner_text()
    app.wait_text("Nearest by cosine")
    # Below the chart, only the open tab is drawn: the drift chart appears when its tab is picked,
    # with a line for each selected class beside the band and the median (the selection is kept).
    app.page.get_by_role("tab", name="Drift with shots").click()
    drift = app.page.locator(".st-key-explorer_drift .js-plotly-plot").first
    drift.wait_for(timeout=60_000)
    assert drift.locator(".scatterlayer .trace").count() >= 3
    assert app.page.locator(".st-key-explorer_agreement").count() == 0
    app.page.get_by_role("tab", name="Export").click()
    app.page.get_by_role("button", name="vectors.tsv").wait_for(timeout=60_000)
    assert re.match(r"^\d+ selected", app.wait_text(re.compile(r"^\d+ selected")).inner_text())
    app.assert_clean()


def test_training_curves_page_shows_curves(app):
    open_page(app, "Training curves")
    app.wait_text("Training loss")
    assert app.page.locator(".st-key-curves_loss .js-plotly-plot .scatterlayer .trace").count() >= 1
    assert app.page.locator(".st-key-curves_accuracy .js-plotly-plot .scatterlayer .trace").count() >= 1
    app.wait_text("Download CSV")
    app.assert_clean()


def test_a_fresh_servers_first_visit_to_a_pages_own_address_gets_the_whole_app(browser, fresh_server):
    # Before any script had called st.navigation, Streamlit ran pages/explorer.py on its own for this
    # visit (a bookmark, or a page reconnecting after a restart): file names as the page list, no
    # language picker (paramembed/app/launch.py).
    from e2e_support import VIEWPORT, AppPage

    context = browser.new_context(viewport=VIEWPORT)
    try:
        app = AppPage(context.new_page(), fresh_server.url).open("explorer")
        app.page.get_by_text("Weight-embedding explorer").first.wait_for(timeout=240_000)
        # Streamlit's page first looks for its server under the page's own path (404s), then at the root.
        app.console_errors = [e for e in app.console_errors if "/explorer/_stcore/" not in e]
        links = app.page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert [link.split()[-1] for link in links] == ["Playground", "explorer", "curves", "yourself"], links
        assert app.page.get_by_text("Language / 语言").count() == 1
        app.assert_clean()
    finally:
        context.close()
