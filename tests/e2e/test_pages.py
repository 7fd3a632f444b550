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
    app.assert_clean()


def test_training_curves_page_shows_curves(app):
    open_page(app, "Training curves")
    app.wait_text("Training loss")
    assert app.page.locator(".st-key-curves_loss .js-plotly-plot .scatterlayer .trace").count() >= 1
    assert app.page.locator(".st-key-curves_accuracy .js-plotly-plot .scatterlayer .trace").count() >= 1
    app.wait_text("Download CSV")
    app.assert_clean()
