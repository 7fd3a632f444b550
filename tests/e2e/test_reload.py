"""What survives a reload of the page in a real browser: a hand-made task (issue 19)."""

from __future__ import annotations

import pytest

from e2e_support import bars

pytestmark = pytest.mark.e2e


def png_files(prefix: str, seeds, vertical: bool) -> list[tuple[str, bytes, str]]:
    return [(f"{prefix}{s}.png", bars(s, vertical), "image/png") for s in seeds]


def test_a_hand_made_task_survives_a_reload(app):
    app.open()
    app.wait_text("Task: 5-way", 180_000)
    app.radio("Upload")
    app.add_class("upright")
    app.upload("Images for class 'upright'", png_files("up", range(3), vertical=True))
    app.wait_text("Added 3 images to 'upright'.")
    app.add_class("flat")
    app.upload("Images for class 'flat'", png_files("flat", range(10, 13), vertical=False))
    app.wait_text("Added 3 images to 'flat'.")
    app.upload("Query images", png_files("query", [99], vertical=True))
    app.wait_text("Task: 2-way 3-shot, 1 query (0 labelled)")
    app.idle()
    assert "task=" in app.page.url, app.page.url
    app.page.reload()
    app.page.locator('[data-testid="stApp"]').wait_for()
    app.wait_text("Your task was restored after the page reloaded.", 120_000)
    app.wait_text("Task: 2-way 3-shot, 1 query (0 labelled)")
    assert len(app.predictions()) == 1
    app.assert_clean()
