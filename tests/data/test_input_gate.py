"""One input gate: every kind of image the API takes goes through the same checks.

Each bad item of tests/bad_inputs.py must end in a ParamembedError naming the problem, through
the preprocess functions and through `model.adapt` / `model.predict`; good inputs of every kind
must reach the model the same way.
"""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from bad_inputs import BAD_IMAGES, bad_batches, cross, encode
from paramembed import ModelConfig, build_model
from paramembed.config import InputSpec
from paramembed.data.preprocess import image_to_tensor, images_to_batch, open_image
from paramembed.errors import ParamembedError

GLYPH = InputSpec()
PHOTO = InputSpec(channels=3, image_size=32, centre=False)
BAD_IDS = [case for case, _, _ in BAD_IMAGES]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ModelConfig(generator="proto", width=8)).eval()


@pytest.fixture
def cases(tmp_path):
    """case id -> (a fresh bad item, message); items read once (a lazily opened file) get remade."""
    return {case: (lambda make=make: make(tmp_path), message) for case, make, message in BAD_IMAGES}


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_image_is_refused_by_the_preprocess_function(cases, case):
    make, message = cases[case]
    with pytest.raises(ParamembedError, match=message):
        image_to_tensor(make(), GLYPH)


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_image_is_refused_by_adapt_and_predict_naming_it(model, cases, case):
    make, message = cases[case]
    good = cross()
    with pytest.raises(ParamembedError, match=f"image 2.*{message}"):
        model.adapt([good, make()], ["a", "b"])
    clf = model.adapt([good, 255 - good], ["a", "b"])
    with pytest.raises(ParamembedError, match=message):
        model.predict(clf, [make()])


@pytest.mark.parametrize("case, batch, message", bad_batches(), ids=[c for c, _, _ in bad_batches()])
def test_bad_batch_is_refused(model, case, batch, message):
    with pytest.raises(ParamembedError, match=message):
        images_to_batch(batch, GLYPH)
    clf = model.adapt([cross(), 255 - cross()], ["a", "b"])
    with pytest.raises(ParamembedError, match=message):
        model.predict(clf, batch)


def test_uint8_arrays_are_scaled_like_their_float_version(model):
    # (28, 28) is the model's own shape: taken as preprocessed, so only the dtype rule applies.
    rng = np.random.default_rng(0)
    support8 = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(4)]
    query8 = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(3)]
    as_float = lambda arrs: [a.astype(np.float32) / 255.0 for a in arrs]  # noqa: E731
    assert torch.allclose(image_to_tensor(support8[0], GLYPH), image_to_tensor(as_float(support8)[0], GLYPH))
    assert image_to_tensor(support8[0], GLYPH).max() <= 1.0
    labels = ["a", "a", "b", "b"]
    p8 = model.predict(model.adapt(support8, labels), query8)
    pf = model.predict(model.adapt(as_float(support8), labels), as_float(query8))
    assert torch.allclose(p8, pf, atol=1e-5)
    batch8 = torch.from_numpy(np.stack(support8))[:, None]  # (4, 1, 28, 28) uint8, the batch path
    assert images_to_batch(batch8, GLYPH).max() <= 1.0


def test_paths_bytes_pil_arrays_and_tensors_agree(tmp_path):
    arr = cross()
    png = encode(Image.fromarray(arr))
    path = tmp_path / "cross.png"
    path.write_bytes(png)
    reference = image_to_tensor(Image.fromarray(arr), GLYPH)
    for item in (str(path), path, png, bytearray(png), arr, torch.from_numpy(arr), arr.astype(np.float64) / 255):
        assert torch.allclose(image_to_tensor(item, GLYPH), reference, atol=1e-6), type(item)
    assert reference.max() > 0.9


def test_rgba_drawing_on_transparent_sheet_is_not_blank():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[8:32, 18:22] = (0, 0, 0, 255)  # black ink on a transparent (black, alpha 0) sheet
    for item in (Image.fromarray(rgba, "RGBA"), rgba, torch.from_numpy(rgba).permute(2, 0, 1)):
        out = image_to_tensor(item, GLYPH)
        assert out.max() > 0.9 and out.mean() < 0.5, type(item)


def test_photo_transparency_goes_on_white():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (255, 255, 0, 255)  # a light (yellow) object: a contrast rule would pick black
    for item in (Image.fromarray(rgba, "RGBA"), encode(Image.fromarray(rgba, "RGBA")), rgba):
        out = image_to_tensor(item, PHOTO)
        assert torch.allclose(out[:, 0, 0], torch.ones(3), atol=0.02), type(item)


def test_glyph_polarity_decides_the_sheet():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[8:32, 18:22] = (255, 255, 255, 255)  # white ink on transparent
    light = image_to_tensor(Image.fromarray(rgba, "RGBA"), InputSpec(polarity="light_ink"))
    assert light.max() > 0.9 and light[0, 0, 0] == 0


def test_exif_orientation_of_a_pil_image_is_applied():
    arr = np.full((40, 80, 3), 255, np.uint8)
    arr[18:22, 10:70] = 0  # a horizontal bar; EXIF 6 stands it up
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = encode(Image.fromarray(arr), "JPEG", exif=exif, quality=95)
    pil = Image.open(io.BytesIO(jpeg))  # the caller's own PIL object, not open_image's
    out = image_to_tensor(pil, GLYPH)[0]
    assert torch.allclose(out, image_to_tensor(open_image(jpeg, "bar.jpg"), GLYPH)[0])
    rows, cols = np.nonzero(out.numpy() > 0.5)
    assert np.ptp(rows) > 3 * np.ptp(cols)  # upright: the bar is vertical


def test_float_tiff_in_unit_range_is_not_blank():
    img = (255 - cross()).astype(np.float32) / 255.0  # light ink on dark, floats in [0, 1]
    tiff = encode(Image.fromarray(img, "F"), "TIFF")
    decoded = open_image(tiff, "scan.tif")
    assert np.asarray(decoded).max() == 255
    out = image_to_tensor(tiff, GLYPH)
    assert torch.allclose(out, image_to_tensor(img, GLYPH), atol=0.02) and out.max() > 0.9


def test_float_rounding_just_outside_unit_range_is_clipped():
    img = cross().astype(np.float32) / 255.0
    img[0, 0] = 1.0 + 1e-6
    assert image_to_tensor(img, GLYPH).max() <= 1.0
