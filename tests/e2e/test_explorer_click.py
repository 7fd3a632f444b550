"""The explorer in a real browser: one click on a point of the projection selects that class."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_clicking_a_point_selects_it(app):
    app.open()
    app.page.locator('[data-testid="stSidebarNav"] a', has_text="Embedding explorer").first.click()
    app.idle()
    app.wait_text("Generated weights vs plain prototypes", 240_000)
    app.wait_text("Nothing selected yet.")
    chart = app.page.locator(".st-key-explorer_chart .js-plotly-plot").first
    points = chart.locator(".scatterlayer .point")
    points.nth(9).wait_for(state="attached")  # Plotly draws the markers after the page reports done
    assert points.count() >= 10
    assert chart.locator(".layer-above image, .layer-below image").count() == points.count()  # drawings on the plot
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")  # a click lands only on what is in view
    app.page.wait_for_timeout(500)
    # A point in the middle of the list: a real click on its marker, not a lasso.
    box = points.nth(points.count() // 2).bounding_box()
    app.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    heading = app.wait_text(re.compile(r"^1 selected$"))
    assert heading.is_visible()
    app.wait_text("Nearest by cosine")
    assert "Nothing selected yet." not in app.main_text()
    # Plotly marks the clicked point as selected and dims the others.
    app.page.wait_for_timeout(500)
    opacities = chart.locator(".scatterlayer .point").evaluate_all("ps => ps.map(p => getComputedStyle(p).opacity)")
    assert len(set(opacities)) > 1, opacities
    app.assert_clean()
