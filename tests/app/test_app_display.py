"""paramembed.app.display and .measured: thumbnails any image can become, labels, plurals, measured accuracy."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from paramembed.app.display import describe_task, letter, plural, short_labels, thumbnail
from paramembed.app.measured import measured


@pytest.mark.parametrize("size", [(57, 1), (600, 10), (1, 300), (3, 3), (640, 480)])
def test_thumbnail_is_square_and_never_flat(size):
    img = Image.new("L", size, 0)
    thumb = thumbnail(img, side=64)
    assert thumb.size == (64, 64)
    arr = np.asarray(thumb)
    dark_rows = (arr < 128).any(axis=1).sum()
    assert dark_rows >= 1  # the strip is still visible: at least one row of it
    if size[0] != size[1]:
        assert arr[0, 0] == 255  # letterboxed on white


def test_thumbnail_keeps_the_aspect_and_centres():
    arr = np.asarray(thumbnail(Image.new("RGB", (200, 100), (255, 0, 0)), side=64))
    red = (arr[..., 0] > 200) & (arr[..., 1] < 50)
    rows = np.flatnonzero(red.any(axis=1))
    assert red[:, 0].any() and red[:, -1].any()  # full width
    assert len(rows) == 32 and rows[0] == 16  # half the height, centred


def test_thumbnail_reads_arrays_and_tensors():
    assert thumbnail(np.zeros((10, 20)), 32).mode == "L"
    assert thumbnail(np.ones((10, 20, 3), np.float32), 32).mode == "RGB"
    assert thumbnail(torch.rand(3, 28, 28), 32).size == (32, 32)
    assert thumbnail(torch.rand(1, 28, 28), 32).mode == "L"
    assert thumbnail(Image.new("RGBA", (5, 5)), 8).mode == "RGB"
    with pytest.raises(ValueError):
        thumbnail(np.zeros((0, 5)))


def test_labels_and_plurals():
    assert [letter(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]
    assert short_labels(["a/x", "b/y"], sampled=True) == ["Class A", "Class B"]
    assert short_labels(["cat", "dog"], sampled=False) == ["cat", "dog"]
    assert plural(1, "query", "queries") == "1 query" and plural(2, "query", "queries") == "2 queries"
    assert plural(0, "image") == "0 images"
    assert describe_task(2, [2, 2], 1, 1) == "2-way 2-shot, 1 query (1 labelled)"
    assert describe_task(3, [1, 4, 2], 15, 0) == "3-way 1-4 shots per class, 15 queries (0 labelled)"


def test_measured_reads_the_models_own_row_on_real_data_first(tmp_path):
    cells = lambda m: [{"ways": 5, "shots": 1, "mean": m, "ci95": 0.01}, {"ways": 20, "shots": 5, "mean": m + 0.1, "ci95": 0.01}]
    (tmp_path / "hyper.json").write_text(json.dumps({
        "procedural": {"hyper": cells(0.8)},
        "omniglot": {"hyper": cells(0.6), "finetune (hyper's backbone)": cells(0.1)},
    }))
    found = measured("hyper", tmp_path)
    assert found.benchmark == "omniglot" and found.title == "held-out Omniglot alphabets"
    assert found.describe() == "held-out Omniglot alphabets: 5-way 1-shot 60% · 20-way 5-shot 70%"
    assert found.closest(20, 1).ways == 20 and found.closest(4, 5).ways == 5
    assert measured("latent", tmp_path) is None  # no file
    (tmp_path / "bad.json").write_text("{not json")
    assert measured("bad", tmp_path) is None
    (tmp_path / "odd.json").write_text(json.dumps({"omniglot": {"other": cells(0.5)}, "cifar10": {"odd": [{"mean": 1}]}}))
    assert measured("odd", tmp_path) is None  # neither its own row nor a readable cell


def test_measured_finds_the_shipped_reports():
    from paramembed.report import RESULTS

    if not (RESULTS / "hyper.json").is_file():
        pytest.skip("results/hyper.json is absent")
    found = measured("hyper")
    assert found is not None and all(0 < c.mean <= 1 for c in found.cells)


def test_a_spinner_shows_only_until_its_work_is_done_once():
    from paramembed import ui

    key = ("test", object())
    with pytest.raises(RuntimeError):
        with ui.spinner_first_time(key, "working"):
            raise RuntimeError("failed")
    assert key not in ui._ASKED  # failed work is not done: the next ask shows the spinner again
    with ui.spinner_first_time(key, "working"):
        pass
    assert key in ui._ASKED


def test_the_spinners_memory_of_done_work_is_bounded(monkeypatch):
    from paramembed import ui
    from paramembed.data.cache import LRU

    monkeypatch.setattr(ui, "_ASKED", LRU(3))
    for i in range(10):
        with ui.spinner_first_time(("task", i), "working"):
            pass
    assert list(ui._ASKED) == [("task", 7), ("task", 8), ("task", 9)]
