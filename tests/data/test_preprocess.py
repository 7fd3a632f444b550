import io

import numpy as np
import pytest
import torch
from PIL import Image

from paramembed.config import InputSpec
from paramembed.data.preprocess import glyph_array, image_to_tensor, images_to_batch, open_image
from paramembed.errors import ParamembedError


def png_bytes(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def dark_cross(size=105) -> Image.Image:
    arr = np.full((size, size), 255, np.uint8)
    arr[20:60, 38:42] = 0
    arr[38:42, 20:60] = 0
    return Image.fromarray(arr)


def test_dark_ink_is_inverted_cropped_and_centred():
    out = image_to_tensor(dark_cross(), InputSpec())
    assert out.shape == (1, 28, 28)
    assert out.max() > 0.9 and out[0, 0, 0] == 0  # light ink on dark
    rows, cols = np.nonzero(out[0].numpy() > 0.5)
    assert rows.min() <= 3 and rows.max() >= 24  # fills the box inside the 2-pixel margin


def test_polarity_is_detected_either_way():
    spec = InputSpec()
    dark = image_to_tensor(dark_cross(), spec)
    light = image_to_tensor(Image.fromarray(255 - np.asarray(dark_cross())), spec)
    assert torch.allclose(dark, light, atol=1e-5)


def test_blank_page_gives_zeros():
    assert glyph_array(np.ones((30, 30)), InputSpec()).max() == 0


@pytest.mark.parametrize("polarity,centre", [("auto", True), ("dark_ink", True), ("light_ink", False)])
def test_raw_8bit_pixels_give_what_their_unit_floats_give(polarity, centre):
    """The gate reads uint8 pixels directly (its fast path); floats in [0, 1] must give the same glyph."""
    rng = np.random.default_rng(0)
    spec = InputSpec(polarity=polarity, centre=centre)
    for arr in (np.asarray(dark_cross()), (rng.random((40, 61)) * 255).astype(np.uint8), np.eye(50, dtype=np.uint8) * 200):
        fast, slow = glyph_array(arr, spec), glyph_array(arr.astype(np.float32) / 255.0, spec)
        assert np.abs(fast - slow).max() < 1e-5


def pillow_centred_glyph(crop: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The reference: the normalised crop padded to a zero square and resized by Pillow (bilinear)."""
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = crop
    inner = spec.image_size - 2 * spec.margin
    resized = np.asarray(Image.fromarray(square, "F").resize((inner, inner), Image.Resampling.BILINEAR), np.float32)
    return np.pad(np.clip(resized, 0, 1), spec.margin)


@pytest.mark.parametrize("crop_shape", [(40, 4), (3, 90), (105, 105), (7, 7), (1, 1), (200, 511), (24, 24)])
def test_the_filter_matrix_resizes_as_pillow_does(crop_shape):
    """glyph_array resizes with Pillow's bilinear filter written as a matrix: the same glyph within 1e-5."""
    spec = InputSpec(polarity="light_ink")
    crop = np.random.default_rng(3).random(crop_shape).astype(np.float32)
    crop[:, 0] = crop[:, -1] = crop[0, :] = crop[-1, :] = 1.0  # full ink on the border: the ink box is the crop
    page = np.pad(crop, max(crop_shape))  # mostly dark page: background 0, contrast 1, so the crop stays as it is
    assert np.abs(glyph_array(page, spec) - pillow_centred_glyph(crop, spec)).max() < 1e-5


def reference_glyph(gray: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The gate written plainly, one image at a time: np.median, the whole page normalised, then its ink's box."""
    g = gray.astype(np.float64) / (255.0 if gray.dtype == np.uint8 else 1.0)
    background = float(np.median(g))
    dark = background > 0.5 if spec.polarity == "auto" else spec.polarity == "dark_ink"
    contrast = (background - g.min()) if dark else (g.max() - background)
    if contrast < 1e-3:  # nothing in the ink's shade: a blank page
        return np.zeros((spec.image_size, spec.image_size), np.float32)
    ink = np.clip(((background - g) if dark else (g - background)) / contrast, 0, 1)
    rows, cols = np.flatnonzero((ink > 0.5).any(axis=1)), np.flatnonzero((ink > 0.5).any(axis=0))
    return pillow_centred_glyph(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32), spec)


@pytest.mark.parametrize("polarity", ["auto", "dark_ink", "light_ink"])
def test_a_batch_of_glyphs_is_each_glyph_as_the_plain_gate_makes_it(polarity):
    from paramembed.data.preprocess import glyph_arrays

    rng = np.random.default_rng(1)
    spec = InputSpec(polarity=polarity)
    pages = [np.asarray(dark_cross(64)), 255 - np.asarray(dark_cross(64)), np.full((64, 64), 7, np.uint8)]
    pages += [(rng.random((64, 64)) ** 3 * 255).astype(np.uint8) for _ in range(4)]  # odd pixel counts' medians too
    batch = glyph_arrays(pages, spec)
    for page, glyph in zip(pages, batch):
        assert np.abs(glyph - reference_glyph(page, spec)).max() < 1e-5
    assert batch[2].max() == 0  # the blank page
    odd = (rng.random((7, 9)) * 255).astype(np.uint8)
    assert np.abs(glyph_arrays([odd], spec)[0] - reference_glyph(odd, spec)).max() < 1e-5


def test_a_camera_sized_jpeg_decodes_at_the_scale_a_photo_model_needs():
    """A 12 MP photo decodes at 1/8 for a 128-px model; the crop matches a full decode closely."""
    yy, xx = np.mgrid[0:3000, 0:4000]
    arr = np.stack([(xx // 16) % 256, (yy // 12) % 256, ((xx + yy) // 28) % 256], -1).astype(np.uint8)
    data = png_bytes(Image.fromarray(arr), "JPEG", quality=90)
    spec = InputSpec(channels=3, image_size=128, centre=False)
    assert open_image(data, spec=spec).size == (500, 375)
    full = image_to_tensor(Image.open(io.BytesIO(data)).convert("RGB"), spec)  # decoded whole, then resized
    assert (image_to_tensor(data, spec) - full).abs().mean() < 0.02
    assert open_image(data).size == (2000, 1500)  # no model: the gate's own working size


def test_photo_spec_gives_rgb_centre_crop():
    img = Image.new("RGB", (64, 32), (255, 0, 0))
    out = image_to_tensor(img, InputSpec(channels=3, image_size=32, centre=False))
    assert out.shape == (3, 32, 32) and out[0].min() == 1.0 and out[1].max() == 0.0


def test_batch_passes_preprocessed_tensors_through():
    x = torch.rand(4, 1, 28, 28)
    assert images_to_batch(x, InputSpec()) is not None and torch.equal(images_to_batch(x, InputSpec()), x)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is not an image", "not an image"),
        (png_bytes(dark_cross())[:-40], "corrupt or truncated"),
    ],
)
def test_bad_files_are_named(data, message):
    with pytest.raises(ParamembedError, match=f"upload.png: .*{message}"):
        open_image(data, name="upload.png")


def test_decompression_bomb_is_refused():
    big = png_bytes(Image.new("1", (9000, 9000)))  # 81 MP, a few kB compressed
    with pytest.raises(ParamembedError, match="bomb.png: .*(MP limit|too large)"):
        open_image(big, name="bomb.png")


def test_modes_are_converted():
    arr16 = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    assert open_image(png_bytes(Image.fromarray(arr16)), "16bit.png").mode == "L"
    cmyk = Image.new("CMYK", (20, 20), (0, 0, 0, 255))
    assert open_image(png_bytes(cmyk, "JPEG"), "cmyk.jpg").mode == "RGB"
    assert open_image(png_bytes(Image.new("P", (20, 20))), "palette.png").mode == "RGB"


def test_transparent_drawing_keeps_its_ink():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:30, 18:22] = (0, 0, 0, 255)  # black ink on a transparent sheet
    img = open_image(png_bytes(Image.fromarray(rgba, "RGBA")), "ink.png")
    out = image_to_tensor(img, InputSpec())
    assert out.max() > 0.9


def test_animated_gif_gives_first_frame():
    frames = [Image.new("L", (20, 20), v) for v in (0, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    img = open_image(buf.getvalue(), "anim.gif")
    assert np.asarray(img).max() == 0


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    out = open_image(png_bytes(img, "JPEG", exif=exif), "phone.jpg")
    assert out.size == (20, 40)


@pytest.mark.parametrize("size", [(300, 207), (207, 300), (64, 64), (33, 500), (1000, 31)])
def test_a_photo_is_resized_from_its_crop_box_as_from_the_whole(size):
    """photo_array resizes only the centre crop's box: what resizing the whole photo and cropping gives."""
    from paramembed.data.preprocess import photo_array

    arr = (np.random.default_rng(4).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    img, spec = Image.fromarray(arr), InputSpec(channels=3, image_size=32, centre=False)
    scale = 32 / min(size)
    w, h = max(32, round(size[0] * scale)), max(32, round(size[1] * scale))
    left, top = (w - 32) // 2, (h - 32) // 2
    whole = img.resize((w, h), Image.Resampling.BILINEAR).crop((left, top, left + 32, top + 32))
    expected = np.asarray(whole, np.float32).transpose(2, 0, 1) / 255.0
    assert np.abs(photo_array(img, spec) - expected).max() <= 1 / 255 + 1e-6


def test_a_file_read_from_disk_outlives_its_file_and_a_callers_image_is_left_as_it_was(tmp_path):
    path = tmp_path / "cross.png"
    dark_cross().save(path)
    img = open_image(path)
    assert img.mode == "L" and np.asarray(img).min() == 0  # pixels still there after the file closed
    mine = dark_cross()
    before = np.asarray(mine).copy()
    image_to_tensor(mine, InputSpec())
    image_to_tensor(mine, InputSpec(channels=3, image_size=32, centre=False))
    assert np.array_equal(np.asarray(mine), before)


def test_a_batch_of_mixed_glyph_inputs_is_each_input_as_one_at_a_time_in_order():
    spec = InputSpec()
    big = np.full((300, 300), 255, np.uint8)  # over GLYPH_BATCH_PIXELS: read on its own
    big[100:200, 140:160] = 0
    items = [png_bytes(dark_cross(105)), torch.rand(1, 28, 28), png_bytes(dark_cross(64)), Image.fromarray(big),
             png_bytes(Image.fromarray(255 - np.asarray(dark_cross(105)))), np.asarray(dark_cross(64))]
    batch = images_to_batch(items, spec)
    assert batch.shape == (len(items), 1, 28, 28)
    for i, item in enumerate(items):
        assert torch.equal(batch[i], image_to_tensor(item, spec)), i
