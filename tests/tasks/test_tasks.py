"""Building tasks by hand (`paramembed.tasks`), every kind of bad input, and classifier export."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from paramembed import ParamembedError
from paramembed.config import InputSpec, ModelConfig
from paramembed.data.glyphs import GlyphAlphabets
from paramembed.export import classifier_to_bytes, load_classifier, save_classifier, usage_snippet
from paramembed.models.fewshot import FewShotModel
from paramembed.tasks import (
    TaskDraft,
    LIMITS,
    TaskLimits,
    decode_image,
    drawing_to_png,
    preprocess_task,
    read_zip,
    sample_task,
    solve,
    to_display,
)


# ============ image files, good and bad ============
def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def glyph(seed: int, size: int = 64) -> Image.Image:
    """Dark strokes on white: what a scanned or drawn character looks like."""
    rng = np.random.default_rng(seed)
    arr = np.full((size, size), 255, np.uint8)
    for _ in range(3):
        r, c = rng.integers(8, size - 8, 2)
        if rng.random() < 0.5:
            arr[r - 2 : r + 2, 8 : size - 8] = 0
        else:
            arr[8 : size - 8, c - 2 : c + 2] = 0
    return Image.fromarray(arr, "L")


def png(seed: int = 0) -> bytes:
    return encode(glyph(seed))


def test_decode_good_formats():
    img = glyph(1).convert("RGB")
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"):
        decoded = decode_image(encode(img, fmt), f"x.{fmt.lower()}")
        assert decoded.image.size == (64, 64) and decoded.image.mode in ("L", "RGB")


def test_not_an_image_names_the_file():
    with pytest.raises(ParamembedError, match=r"notes\.png: not an image"):
        decode_image(b"hello, this is text", "notes.png")


def test_empty_file():
    with pytest.raises(ParamembedError, match="empty.png: file is empty"):
        decode_image(b"", "empty.png")


def test_truncated_image():
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)))
    with pytest.raises(ParamembedError, match="cut.png: image is corrupt or truncated"):
        decode_image(data[: len(data) // 2], "cut.png")


def test_decompression_bomb():
    # 12000 x 12000 of one colour compresses to a few kB but would need 144 MP to decode.
    data = encode(Image.new("L", (12000, 12000), 255))
    assert len(data) < 1_000_000
    with pytest.raises(ParamembedError, match=r"bomb.png: image is too large \(possible decompression bomb\)"):
        decode_image(data, "bomb.png")


def test_huge_file_and_small_limits():
    limits = TaskLimits(max_file_bytes=1000, max_image_pixels=100 * 100)
    with pytest.raises(ParamembedError, match=r"big.png: file is 0.0 MB, over the 0 MB limit"):
        decode_image(b"\x89PNG" + b"0" * 2000, "big.png", limits)
    with pytest.raises(ParamembedError, match="wide.png: 200x200 pixels is over"):
        decode_image(encode(Image.new("L", (200, 200))), "wide.png", TaskLimits(max_image_pixels=100 * 100))


def test_large_image_is_shrunk_for_storage():
    decoded = decode_image(encode(Image.new("RGB", (3000, 1500), "white")), "photo.png")
    assert max(decoded.image.size) == LIMITS.stored_side and decoded.image.size[0] == 2 * decoded.image.size[1]


def test_animated_gif_gives_first_frame():
    frames = [Image.new("L", (32, 32), 0), Image.new("L", (32, 32), 255)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode_image(data, "anim.gif")
    assert np.asarray(decoded.image.convert("L")).max() == 0


def test_16_bit_image():
    arr = np.zeros((40, 40), np.uint16)
    arr[10:30, 18:22] = 65535
    decoded = decode_image(encode(Image.fromarray(arr)), "deep.png")  # mode I;16
    out = np.asarray(decoded.image)
    assert decoded.image.mode == "L" and out.max() == 255 and out.min() == 0


def test_cmyk_palette_and_transparent_images():
    cmyk = decode_image(encode(glyph(2).convert("CMYK"), "JPEG"), "print.jpg")
    assert cmyk.image.mode == "RGB"
    palette = decode_image(encode(glyph(3).convert("P")), "palette.png")
    assert palette.image.mode in ("L", "RGB")
    # Black ink on a transparent sheet: the ink must stay visible after flattening.
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:30, 18:22] = (0, 0, 0, 255)
    flat = np.asarray(decode_image(encode(Image.fromarray(rgba, "RGBA")), "clear.png").image.convert("L"))
    assert flat[20, 20] < 50 and flat[0, 0] > 200


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (60, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    decoded = decode_image(encode(img, "JPEG", exif=exif), "phone.jpg")
    assert decoded.image.size == (20, 60)


# ============ drafts: classes, limits, validation ============
def two_class_draft(shots: int = 2) -> TaskDraft:
    d = TaskDraft()
    d.add_class("alpha")
    d.add_class("beta")
    assert d.add_files("alpha", [(f"a{i}.png", png(i)) for i in range(shots)]) == []
    assert d.add_files("beta", [(f"b{i}.png", png(100 + i)) for i in range(shots)]) == []
    return d


def test_build_orders_support_class_by_class():
    d = two_class_draft()
    d.add_query_files([("q1.png", png(0))], "alpha")
    d.add_query_files([("q2.png", png(7))])
    task = d.build()
    assert task.class_names == ["alpha", "beta"]
    assert task.support_labels == [0, 0, 1, 1]
    assert task.query_labels == [0, None] and task.query_names == ["q1.png", "q2.png"]
    assert task.describe() == "2-way 2-shot, 2 queries (1 labelled)"


def test_fewer_than_two_classes_and_empty_class():
    d = TaskDraft()
    with pytest.raises(ParamembedError, match="at least two classes"):
        d.build()
    d.add_class("alpha")
    d.add_files("alpha", [("a.png", png())])
    with pytest.raises(ParamembedError, match="at least two classes .only 'alpha'"):
        d.build()
    d.add_class("beta")
    with pytest.raises(ParamembedError, match="class 'beta' has no images"):
        d.build()


def test_duplicate_and_bad_class_names():
    d = TaskDraft()
    d.add_class("Cat")
    with pytest.raises(ParamembedError, match="already a class named 'Cat'"):
        d.add_class(" cat ")
    with pytest.raises(ParamembedError, match="needs a name"):
        d.add_class("   ")
    d.add_class("dog")
    with pytest.raises(ParamembedError, match="cannot rename 'dog' to 'CAT'"):
        d.rename_class("dog", "CAT")
    assert list(d.classes) == ["Cat", "dog"]


def test_rename_and_remove_keep_the_rest():
    d = two_class_draft()
    d.add_query_files([("q.png", png(0))], "alpha")
    d.rename_class("alpha", "first")
    assert list(d.classes) == ["first", "beta"] and d.queries[0][1] == "first"
    d.remove_class("first")
    assert list(d.classes) == ["beta"] and len(d.classes["beta"]) == 2
    assert d.queries[0][1] is None and len(d.queries) == 1


def test_per_class_limit_names_the_skipped_files():
    d = TaskDraft(limits=TaskLimits(max_images_per_class=2))
    d.add_class("a")
    problems = d.add_files("a", [(f"f{i}.png", png(i)) for i in range(4)])
    assert len(d.classes["a"]) == 2
    assert problems == ["class 'a' is full (at most 2 images per class); not added: f2.png, f3.png"]


def test_bad_files_are_reported_and_good_ones_kept():
    d = TaskDraft()
    d.add_class("a")
    problems = d.add_files("a", [("good.png", png(1)), ("bad.png", b"junk"), ("good.png", png(1))])
    assert len(d.classes["a"]) == 1
    assert problems[0].startswith("bad.png: not an image") and "already in class 'a'" in problems[1]


def test_task_key_changes_with_content():
    d = two_class_draft()
    key = d.build().key
    assert d.build().key == key
    d.add_files("alpha", [("new.png", png(50))])
    assert d.build().key != key


# ============ zips ============
def make_zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_zip_imagefolder_with_wrapper_queries_and_junk():
    data = make_zip(
        {
            "task/cat/1.png": png(1),
            "task/cat/2.png": png(2),
            "task/dog/1.png": png(3),
            "task/query/q.png": png(4),
            "task/query/dog/q2.png": png(5),
            "task/readme.txt": b"hello",
            "task/cat/deeper/x.png": png(6),
            "__MACOSX/task/cat/._1.png": b"junk",
            "task/.DS_Store": b"junk",
            "task/dog/broken.png": b"not an image",
        }
    )
    d = TaskDraft()
    problems = d.add_zip(data, "t.zip")
    assert list(d.classes) == ["cat", "dog"] and [len(v) for v in d.classes.values()] == [2, 1]
    assert [label for _, label in d.queries] == [None, "dog"]
    text = "\n".join(problems)
    assert "readme.txt: skipped (not an image file" in text
    assert "cat/deeper/x.png: skipped (nested too deep" in text
    assert "task/dog/broken.png: not an image" in text
    assert "MACOSX" not in text and "DS_Store" not in text


def test_bad_zips_raise_and_add_nothing():
    d = two_class_draft()
    with pytest.raises(ParamembedError, match="empty.zip: the zip is empty"):
        d.add_zip(make_zip({}), "empty.zip")
    with pytest.raises(ParamembedError, match="junk.zip: no image files"):
        d.add_zip(make_zip({"a/notes.txt": b"x", "__MACOSX/a/._b.png": b"y"}), "junk.zip")
    with pytest.raises(ParamembedError, match="flat.zip: no <class>/<image> folders"):
        d.add_zip(make_zip({"a.png": png()}), "flat.zip")
    with pytest.raises(ParamembedError, match="fake.zip: not a readable zip"):
        d.add_zip(b"PK not really", "fake.zip")
    assert [len(v) for v in d.classes.values()] == [2, 2]


def test_zip_member_over_the_size_limit_is_skipped():
    by_class, _, problems = read_zip(
        make_zip({"a/big.png": b"0" * 5000, "a/ok.png": png(), "b/ok.png": png(2)}), "z.zip", TaskLimits(max_file_bytes=4000)
    )
    assert [img.name for img in by_class["a"]] == ["a/ok.png"] and "a/big.png: skipped" in problems[0]


def test_zip_paths_that_leave_the_archive_are_reported_not_dropped_silently():
    d = TaskDraft()
    problems = d.add_zip(make_zip({"../evil/x.png": png(1), "cat/1.png": png(2), "dog/1.png": png(3)}), "t.zip")
    assert list(d.classes) == ["cat", "dog"]
    assert problems == ["t.zip: ../evil/x.png: skipped (path leaves the archive ('..'))"]


def test_zip_bomb_is_refused_and_adds_nothing():
    # Ten 0.9 MB members of zeros: a few kB of zip that unpacks to 9 MB, over a 4 MB limit.
    data = make_zip({f"c{i % 2}/{i}.png": bytes(int(0.9 * 2**20)) for i in range(10)}, zipfile.ZIP_DEFLATED)
    assert len(data) < 100_000
    d = TaskDraft(limits=TaskLimits(max_zip_unpacked_bytes=4 * 2**20))
    with pytest.raises(ParamembedError, match="bomb.zip: unpacks to more than 4 MB"):
        d.add_zip(data, "bomb.zip")
    assert not d.classes


def test_reading_a_zip_of_large_images_holds_one_member_at_a_time():
    import tracemalloc

    # Noise does not compress: each member is about 1 MB, 24 MB in all, stored in the zip as is.
    noise = encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (1024, 1024), dtype=np.uint8)))
    assert len(noise) > 2**20
    data = make_zip({f"class{i}/{j}.png": noise for i in range(12) for j in range(2)}, zipfile.ZIP_STORED)
    tracemalloc.start()
    try:
        by_class, _, problems = read_zip(data, "big.zip", TaskLimits(stored_side=64))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(by_class) == 12 and all(len(images) == 2 for images in by_class.values())
    assert all(max(img.image.size) == 64 for images in by_class.values() for img in images)
    # Holding every member's bytes before decoding would peak above 24 MB.
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB"


def test_zip_reads_no_more_images_than_a_task_takes():
    data = make_zip({f"cat/{i}.png": png(i) for i in range(5)} | {"dog/1.png": png(9)})
    by_class, _, problems = read_zip(data, "t.zip", TaskLimits(max_images_per_class=3))
    assert [len(v) for v in by_class.values()] == [3, 1]
    assert problems == ["t.zip: class 'cat' holds 2 more images than a task takes (3); those were not read"]


def test_file_names_with_a_null_byte_get_a_clear_message():
    d = two_class_draft()
    problems = d.add_files("alpha", [("x\x00.png", b"garbage")])
    assert len(problems) == 1 and "\x00" not in problems[0] and "x?.png" in problems[0]


# ============ drawings ============
def test_drawing_to_png():
    canvas = np.zeros((100, 100, 4), np.uint8)
    with pytest.raises(ParamembedError, match="drawing is empty"):
        drawing_to_png(canvas)  # transparent sheet
    canvas[...] = 255
    with pytest.raises(ParamembedError, match="drawing is empty"):
        drawing_to_png(canvas)  # white background only
    canvas[40:60, 45:55, :3] = 0
    decoded = decode_image(drawing_to_png(canvas), "drawing.png")
    assert np.asarray(decoded.image.convert("L"))[50, 50] == 0


# ============ sampling and solving ============
@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return FewShotModel(ModelConfig(width=16, embedding_dim=8, hidden_dim=16)).eval()


def test_sample_task_is_reproducible():
    dataset = GlyphAlphabets("test")
    a = sample_task(dataset, 5, 2, 3, within_alphabet=True, seed=4, index=1)
    b = sample_task(dataset, 5, 2, 3, within_alphabet=True, seed=4, index=1)
    assert a.key == b.key and a.class_names == b.class_names and torch.equal(torch.stack(a.support), torch.stack(b.support))
    assert len({name.split("/")[0] for name in a.class_names}) == 1  # one alphabet
    assert a.support_labels == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4] and len(a.query) == 15
    with pytest.raises(ParamembedError, match="ways should be 2-20"):
        sample_task(dataset, 21, 1, 1, False, 0)


def test_solve_a_drawn_task(model):
    d = two_class_draft(3)
    d.add_query_files([("qa.png", png(0))], "alpha")
    d.add_query_files([("qb.png", png(101))], "beta")
    d.add_query_files([("q.png", png(9))])
    task = d.build()
    support, query = preprocess_task(task, model.config.input)
    assert support.shape == (6, 1, 28, 28) and query.shape == (3, 1, 28, 28)
    for method in ("hyper", "proto", "finetune"):
        result = solve(model, task, method, (support, query))
        assert result.probs.shape == (3, 2) and torch.allclose(result.probs.sum(1), torch.ones(3))
        assert result.adapt_ms > 0 and result.classifier.labels == ["alpha", "beta"]
        # Queries identical to a support image are classified right by imprinting.
        if method == "proto":
            assert result.accuracy == 1.0 and result.correct(task)[:2] == [True, True] and result.correct(task)[2] is None
        assert len(result.top_k(0, 5)) == 2


def test_solve_without_queries(model):
    result = solve(model, two_class_draft().build())
    assert result.probs.shape == (0, 2) and result.accuracy is None


# ============ export ============
def test_classifier_round_trip(model, tmp_path):
    task = two_class_draft().build()
    clf = solve(model, task, "hyper").classifier
    path = save_classifier(clf, tmp_path / "c.safetensors", model_ref="hyper", model_config=model.config)
    loaded, meta = load_classifier(path, model=model)
    assert loaded.labels == ["alpha", "beta"] and meta["model"] == "hyper" and meta["config"]["width"] == 16
    for name in ("weights", "bias", "embedding", "scale"):
        assert torch.allclose(getattr(loaded, name).float(), getattr(clf, name).float())
    images = [glyph(0), glyph(100)]
    assert torch.allclose(model.predict(loaded, images), model.predict(clf, images), atol=1e-6)
    assert "load_classifier('classifier.safetensors', model=model)" in usage_snippet("hyper")


def test_classifier_round_trip_keeps_maml_fast_weights_and_linear_metric(model):
    from paramembed.models.classifier import GeneratedClassifier

    fast = {"w": torch.randn(3, 2)}
    clf = GeneratedClassifier(torch.randn(1, 2, 4), torch.zeros(1, 2), torch.randn(1, 2, 4), torch.tensor(1.0),
                              ["a", "b"], [fast], metric="linear")
    loaded, _ = load_classifier(classifier_to_bytes(clf))
    assert loaded.metric == "linear" and torch.equal(loaded.fast_weights[0]["w"], fast["w"])


def test_load_classifier_rejects_wrong_files(model):
    with pytest.raises(ParamembedError, match="not a safetensors file|too short"):
        load_classifier(b"nonsense bytes here")
    from paramembed.models.classifier import GeneratedClassifier

    other = GeneratedClassifier(torch.randn(1, 2, 5), torch.zeros(1, 2), torch.randn(1, 2, 5), torch.tensor(1.0), ["a", "b"])
    with pytest.raises(ParamembedError, match="weights have 5 features"):
        load_classifier(classifier_to_bytes(other, "x"), model=model)


def test_colour_task_is_seen_in_colour():
    """A photo model's input: RGB (S, 3, 32, 32) tensors that keep the colours, shown as (32, 32, 3)."""
    red, blue = Image.new("RGB", (50, 40), (220, 20, 20)), Image.new("RGB", (40, 60), (20, 20, 220))
    draft = TaskDraft()
    draft.add_class("red")
    draft.add_class("blue")
    assert draft.add_files("red", [("r.png", encode(red))]) == []
    assert draft.add_files("blue", [("b.jpg", encode(blue, "JPEG"))]) == []
    spec = InputSpec(channels=3, image_size=32, centre=False)
    support, query = preprocess_task(draft.build(), spec)
    assert support.shape == (2, 3, 32, 32) and query.shape == (0, 3, 32, 32)
    shown = [to_display(image) for image in support]
    assert all(s.shape == (32, 32, 3) for s in shown)
    assert shown[0][..., 0].mean() > 0.7 > shown[0][..., 2].mean()  # red stays red
    assert shown[1][..., 2].mean() > 0.7 > shown[1][..., 0].mean()  # blue stays blue
