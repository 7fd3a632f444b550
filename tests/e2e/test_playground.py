"""The playground in a real browser: sampled tasks, uploads, drawings on the canvas, bad files, models."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from e2e_support import bars

pytestmark = pytest.mark.e2e


def png_files(prefix: str, seeds, vertical: bool) -> list[tuple[str, bytes, str]]:
    return [(f"{prefix}{s}.png", bars(s, vertical), "image/png") for s in seeds]


def test_first_load_shows_a_sampled_task_with_predictions(app):
    app.open()
    app.wait_text("Task: 5-way 5-shot, 15 queries (15 labelled)", 180_000)
    app.wait_text("Task accuracy")
    assert len(app.predictions()) == 15
    assert re.search(r"Adaptation\s+\d+\.\d ms", app.main_text())
    app.assert_clean()


def test_marks_are_material_icons_and_classes_have_thumbnails(app):
    app.open()
    app.wait_text("Task: 5-way 5-shot, 15 queries (15 labelled)", 180_000)
    app.wait_text("Task accuracy")
    app.idle()
    main = app.page.locator('[data-testid="stMain"]')
    cards = main.locator(".pe-verdict").filter(has_text="Predicted: ")
    assert cards.count() == 15
    # Each verdict's mark is a Material Symbols glyph drawn from Streamlit's icon font, not emoji text.
    marks = cards.locator(".pe-mark")  # paramembed.app.cards: a Material glyph
    assert marks.count() == 15
    assert set(marks.all_inner_texts()) <= {"check_circle", "cancel"}, marks.all_inner_texts()
    fonts = set(marks.evaluate_all("els => els.map(e => getComputedStyle(e).fontFamily)"))
    assert all("Material Symbols" in f for f in fonts), fonts
    assert not any(emoji in app.main_text() for emoji in ("✅", "❌", "🎲", "⬇️", "➕"))
    # Thumbnails: every support image, and the predicted class's beside every query, really loaded.
    loaded = """els => els.filter(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 0).length"""
    # The support set is folded away (the results must fit a projector's first screen): open it.
    main.get_by_text("Support set as the model sees it").click()
    app.idle()
    support = main.locator('[data-testid="stExpander"]').filter(has_text="Support set as the model sees it").locator(
        '[data-testid="stExpanderDetails"] img')
    assert support.evaluate_all(loaded) == 25
    # Each of the 15 cards shows the query and its predicted class's thumbnail, on top of the 25 support images.
    assert main.locator("img").evaluate_all(loaded) >= 25 + 2 * 15
    # The generated weights: one thumbnail beside each of the 5 rows.
    app.page.get_by_role("tab", name="Generated parameters").click()
    # has_text is case-insensitive: "generated weights" also names a bar in the "Why?" tab's chart.
    chart = main.locator('[data-testid="stPlotlyChart"]').filter(has_text=re.compile(r"Generated weights \(")).first
    # Plotly draws the heatmap itself as one <image>; the 5 row thumbnails are the others.
    chart.locator("image").nth(5).wait_for(state="attached")
    assert chart.locator("image").count() == 6
    app.assert_clean()


def test_ways_and_shots_and_new_task(app):
    app.open()
    app.wait_text("Task: 5-way 5-shot", 180_000)
    first = app.predictions()
    app.number("Ways (classes)", 3)
    app.wait_text("Task: 3-way 5-shot, 9 queries (9 labelled)")
    app.number("Shots per class", 2)
    app.wait_text("Task: 3-way 2-shot, 9 queries (9 labelled)")
    assert len(app.predictions()) == 9
    app.button("New task")
    app.wait_text("Task #1 of seed 0")
    app.wait_text("Task: 3-way 2-shot, 9 queries (9 labelled)")
    app.page.get_by_text("Support set as the model sees it").click()
    app.idle()
    support_set = app.page.locator('[data-testid="stExpander"]').filter(has_text="Support set as the model sees it")
    classes = support_set.locator('[data-testid="stExpanderDetails"] strong').all_inner_texts()
    assert classes == ["Class A", "Class B", "Class C"], classes
    assert len(first) == 15 and len(app.predictions()) == 9
    app.assert_clean()


def test_upload_two_classes_and_a_query(app):
    app.open()
    app.wait_text("Task: 5-way", 180_000)
    app.radio("Upload")
    app.wait_text("Not a task yet: a task needs at least two classes (none yet)")
    app.add_class("upright")
    app.upload("Images for class 'upright'", png_files("up", range(3), vertical=True))
    app.wait_text("Added 3 images to 'upright'.")
    app.add_class("flat")
    app.upload("Images for class 'flat'", png_files("flat", range(10, 13), vertical=False))
    app.wait_text("Added 3 images to 'flat'.")
    app.select("Label of the next query images", "Query labelled upright")
    app.upload("Query images", png_files("query", [99], vertical=True))
    app.wait_text("Task: 2-way 3-shot, 1 query (1 labelled)")
    app.wait_text("Task accuracy")
    predicted = app.predictions()
    assert len(predicted) == 1 and predicted[0] in ("upright", "flat"), predicted
    app.assert_clean()


def test_bad_file_is_named_and_nothing_is_lost(app):
    app.open()
    app.wait_text("Task: 5-way", 180_000)
    app.radio("Upload")
    app.add_class("alpha")
    app.upload("Images for class 'alpha'", png_files("a", [1], vertical=True) + [("notes.png", b"plain text, not a picture", "image/png")])
    app.wait_text("notes.png: not an image file")
    app.wait_text("1 / 30 images")
    app.assert_clean()


def stroke(app, points: list[tuple[float, float]]) -> None:
    """Draw one stroke through `points` (fractions of the canvas) with the mouse, as a user would."""
    canvas = app.page.locator('[data-testid="stBidiComponentIsolated"] canvas').last
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    mouse = app.page.mouse
    mouse.move(*xy[0])
    mouse.down()
    for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
        for t in np.linspace(0.1, 1.0, 10):
            mouse.move(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
    mouse.up()


def draw_and_add(app, target: str, strokes: list[list[tuple[float, float]]], round_: int) -> None:
    app.select("Add the drawing to", target)
    for points in strokes:
        stroke(app, points)
    app.page.wait_for_timeout(500)  # the canvas sends its image after mouse-up
    app.idle()
    app.button("Add drawing")
    app.wait_text(f"Added the drawing to {target}.")
    app.wait_text(f"drawing-{round_}.png")  # the drawing's thumbnail under its class or the queries


VERTICAL = [[(0.35, 0.15), (0.35, 0.85)], [(0.65, 0.15), (0.65, 0.85)]]
HORIZONTAL = [[(0.15, 0.35), (0.85, 0.35)], [(0.15, 0.65), (0.85, 0.65)]]


def test_draw_two_glyph_classes_and_a_query(app):
    app.open()
    app.wait_text("Task: 5-way", 180_000)
    app.radio("Draw")
    app.wait_text("Add a class first, then draw its examples here.")
    app.add_class("pipes")
    app.add_class("dashes")
    draw_and_add(app, "Class: pipes", VERTICAL, 1)
    draw_and_add(app, "Class: dashes", HORIZONTAL, 2)
    app.wait_text("Task: 2-way 1-shot, 0 queries")
    draw_and_add(app, "Query labelled pipes", [[(0.5, 0.1), (0.5, 0.9)], [(0.25, 0.1), (0.25, 0.9)]], 3)
    app.wait_text("Task: 2-way 1-shot, 1 query (1 labelled)")
    predicted = app.predictions()
    assert len(predicted) == 1 and predicted[0] in ("pipes", "dashes"), predicted
    app.assert_clean()


def test_switch_models_and_methods(app):
    app.open()
    app.wait_text("Results: ", 180_000)
    models = app.options("Model", sidebar=True)
    assert len(models) >= 2, f"only one model to switch between: {models}"
    app.select("Method", "proto", sidebar=True)
    app.wait_text(re.compile(r"^Results: (proto|.* proto method)$"))
    assert len(app.predictions()) == 15
    # The download is the real file: a safetensors header naming the task's classes.
    app.page.get_by_role("tab", name="Download").click()
    with app.page.expect_download() as download:
        app.page.get_by_role("button", name="Download the classifier (.safetensors)").click()
    data = open(download.value.path(), "rb").read()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    assert header["weights"]["shape"][:2] == [1, 5] and len(json.loads(header["__metadata__"]["labels"])) == 5
    app.page.get_by_role("tab", name="Queries").click()  # only the open tab is drawn
    app.idle()
    app.select("Compare side by side with", "finetune", sidebar=True)
    app.wait_text("Side by side on the same task")
    app.button("Run finetune on this task")  # slow methods run when asked
    app.wait_text("Side by side on the same task")
    # The run that replaces the button may land after the page first looks idle on a busy machine.
    from playwright.sync_api import expect

    expect(app.page.get_by_role("button", name="Run finetune on this task")).to_have_count(0, timeout=60_000)
    app.select("Model", models[1], sidebar=True)
    app.wait_text("Results: ")
    assert app.page.locator('[data-testid="stSidebar"] input[aria-label="Model"]').input_value() == models[1]
    assert len(app.predictions()) == 15
    app.assert_clean()


def test_save_task_downloads_a_task_that_opens(app):
    """The zip is made when the button is clicked (a deferred download): it must still be the whole task."""
    from paramembed.tasks import open_task

    app.open()
    app.wait_text("Task: 5-way 5-shot", 180_000)
    app.idle()
    with app.page.expect_download() as download:
        app.page.get_by_role("button", name="Save task").click()
    assert download.value.suggested_filename == "task.zip"
    saved = open_task(open(download.value.path(), "rb").read())
    assert saved.sample is not None and saved.sample["ways"] == 5 and saved.sample["seed"] == 0
    app.assert_clean()


def test_the_chart_library_loads_while_the_playground_is_read(app):
    # paramembed/app/preload.py: the explorer's first chart no longer waits for Plotly's renderer.
    from paramembed.app.preload import MARKER, chart_chunks

    app.open()
    app.wait_text("Task accuracy")
    app.page.wait_for_function(
        "name => performance.getEntriesByType('resource').some(e => e.name.endsWith('/' + name))",
        arg=chart_chunks()[0], timeout=60_000)
    assert app.page.evaluate("() => window.__paramembedPreloaded === true")
    # Then one throwaway figure of each kind is drawn off screen, and nothing of them is left behind.
    app.page.wait_for_function("window.__paramembedChartsWarm === true", timeout=60_000)
    assert app.page.locator(".js-plotly-plot").count() == 0
    # Its element takes no room (a hidden container adds no gap to the layout).
    holder = app.page.locator('[data-testid="stElementContainer"]').filter(has=app.page.locator(f".{MARKER}"))
    assert holder.count() == 1 and not holder.first.is_visible()
    app.assert_clean()
