"""The playground in a real browser: sampled tasks, uploads, drawings on the canvas, bad files, models."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.e2e


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


def png_files(prefix: str, seeds, vertical: bool) -> list[tuple[str, bytes, str]]:
    return [(f"{prefix}{s}.png", bars(s, vertical), "image/png") for s in seeds]


def test_first_load_shows_a_sampled_task_with_predictions(app):
    app.open()
    app.wait_text("Task: 5-way 5-shot, 15 queries (15 labelled)", 180_000)
    app.wait_text("Task accuracy: ")
    assert len(app.predictions()) == 15
    assert re.search(r"Adaptation took \d+\.\d ms", app.main_text())
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
    classes_before = app.page.locator('[data-testid="stExpanderDetails"] strong').all_inner_texts()
    app.button("🎲 New task")
    app.wait_text("Task #1 of seed 0")
    app.wait_text("Task: 3-way 2-shot, 9 queries (9 labelled)")
    classes_after = app.page.locator('[data-testid="stExpanderDetails"] strong').all_inner_texts()
    assert len(classes_after) == 3 and classes_after != classes_before, (classes_before, classes_after)
    assert len(first) == 15 and len(app.predictions()) == 9
    app.assert_clean()


def test_upload_two_classes_and_a_query(app):
    app.open()
    app.wait_text("Task: 5-way", 180_000)
    app.radio("Upload")
    app.wait_text("Not a task yet: a task needs at least two classes (none yet)")
    app.add_class("upright")
    app.upload("Images for class 'upright'", png_files("up", range(3), vertical=True))
    app.wait_text("Added 3 image(s) to 'upright'.")
    app.add_class("flat")
    app.upload("Images for class 'flat'", png_files("flat", range(10, 13), vertical=False))
    app.wait_text("Added 3 image(s) to 'flat'.")
    app.select("Label of the next query images", "Query labelled upright")
    app.upload("Query images", png_files("query", [99], vertical=True))
    app.wait_text("Task: 2-way 3-shot, 1 queries (1 labelled)")
    app.wait_text("Task accuracy: ")
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
