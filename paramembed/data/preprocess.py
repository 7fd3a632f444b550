"""Raw images -> model input tensors, following a model's `InputSpec`.

Glyph models see light ink on a dark background, cropped to the ink and centred, exactly as the
procedural renderer draws them; that shared convention is what lets one model read procedural
glyphs, real Omniglot and a teacher's drawing alike. Photo models see an RGB centre crop.

One gate, `image_to_tensor` (and `images_to_batch` around it), takes every kind of input the
API accepts through the same checks; anything it cannot use is a `ParamembedError` that names the
image and says what was expected:

- PIL images, file paths (str or Path) and a file's bytes: decoded by `open_image` (the gate for
  untrusted files): EXIF orientation applied, the first frame of an animation, transparency
  flattened (on white for photo models and dark-ink glyph models, on black for light-ink ones,
  else on the shade that contrasts with the opaque pixels), 16-bit, float and CMYK converted; a
  corrupt, truncated, oversized or missing file is refused.
- numpy arrays and torch tensors hold pixels shaped (H, W), (C, H, W) or (H, W, C), C in 1, 3, 4
  (4 is RGBA, flattened like a file's alpha). The dtype fixes the range:
      bool 0/1;  uint16 0..65535;  every other integer type 0..255 (8-bit pixels);
      floats [0, 1] (within 1e-3, then clipped). Floats outside it, such as mean/std-normalised
      input or 0..255 values stored as float, are refused rather than guessed; NaN and Inf too.
- An array already shaped like the model input, (C, S, S), or (S, S) for a grey model, is taken
  as preprocessed: it is only scaled to [0, 1] by the rule above.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from paramembed.config import InputSpec
from paramembed.data.plain_png import plain_grey_png
from paramembed.errors import ParamembedError

MAX_IMAGE_PIXELS = 40_000_000  # 40 MP: a large phone photo passes, a decompression bomb does not
MAX_FILE_BYTES = 20 * 1024 * 1024
# A long side over 16 times the short one is a strip, not a photo or a glyph; refusing it keeps the
# centred square and the photo resize (both grow with the long side) bounded.
MAX_ASPECT = 16
# Every path decodes near the size a model reads, before any per-pixel work: JPEGs through
# Pillow's draft (libjpeg scales by 1/2..1/8 while decoding), everything else with `reduce` (an
# integer box filter). The result holds at most WORK_PIXELS, or keeps a short side of at least
# MIN_WORK_SIDE (models read at most a few hundred pixels): at most 16 x 512^2 = 4.2 MP either way.
WORK_PIXELS = 4_000_000
MIN_WORK_SIDE = 256
# A glyph crop is shrunk (box filter) to this side before it is padded to a square and resized.
GLYPH_WORK_SIDE = 512
# Greys up to this many pixels are held together for `glyph_arrays` (64 KB each as uint8).
GLYPH_BATCH_PIXELS = 256 * 256
# A baseline or progressive JPEG spends at least about one bit per 8x8 luma block, w*h/512 bytes
# (libjpeg-turbo writes a flat white 6000x6000 in w*h/256): a file far smaller than that only
# claims its size, and libjpeg would quietly fill the missing blocks with grey.
JPEG_MIN_BYTES_PER_PIXEL = 1 / 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
FLOAT_TOLERANCE = 1e-3  # float pixels this far outside [0, 1] are rounding, and clipped
EXPECTED = "a PIL image, a file path, the file's bytes, or an array / tensor shaped (H, W), (C, H, W) or (H, W, C)"
FILE_TYPES = (str, Path, bytes, bytearray, memoryview)


def alpha_background(spec: InputSpec | None) -> float | None:
    """The shade transparent pixels become for this model: 1 white, 0 black, None contrasting."""
    if spec is None:
        return None
    if spec.channels == 3 or spec.polarity == "dark_ink":
        return 1.0
    return 0.0 if spec.polarity == "light_ink" else None


def open_image(source: str | Path | bytes, name: str | None = None, spec: InputSpec | None = None,
               max_side: int | None = None) -> Image.Image:
    """Decode one image safely and return it as 8-bit 'L' or 'RGB', upright (EXIF applied).

    `max_side`: the caller keeps at most this many pixels on the long side, so a JPEG may be
    decoded at any 1/2..1/8 scale that still has them (else the gate's own working size applies,
    or for a photo model's `spec` a short side of twice its input: a 12 MP phone JPEG decodes at 1/8).

    Animated images give their first frame; transparency is flattened (see `alpha_background`);
    16-bit, float and CMYK are converted. Raises `ParamembedError` naming `name` (or the path) for
    anything that is not a usable image.
    """
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        file_bytes = len(source)
        if len(source) > MAX_FILE_BYTES:
            raise ParamembedError(f"{label}: file is {len(source) / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit")
        if not source:
            raise ParamembedError(f"{label}: file is empty")
        stream: io.BytesIO | Path = io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        stream = Path(source)
        if not stream.is_file():
            raise ParamembedError(f"{label}: no such file")
        file_bytes = stream.stat().st_size
        if file_bytes > MAX_FILE_BYTES:
            raise ParamembedError(f"{label}: file is over the {MAX_FILE_BYTES // 2**20} MB limit")
    else:
        raise ParamembedError(f"{label}: got {type(source).__name__}; expected a file path or the file's bytes")
    try:
        # The file is ours to close, not the image's: closing an image frees its pixels, and the
        # decoded image is returned as it is (no copy made only to outlive the file).
        with warnings.catch_warnings(), (stream.open("rb") if isinstance(stream, Path) else stream) as fh:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fh)
            img.seek(0)  # first frame of an animation
            check_size(img.width, img.height, label)
            if img.format == "JPEG":
                _check_jpeg_bytes(img, file_bytes, label)
                factor = reduce_factor(img.width, img.height) if max_side is None else max(img.size) // max_side
                if max_side is None and spec is not None and spec.channels == 3:
                    # A photo model crops its short side to S: twice that is all a decode needs to keep.
                    factor = max(factor, min(img.size) // (2 * spec.image_size))
                if factor > 1:  # decode at 1/2, 1/4 or 1/8 scale, no smaller than asked
                    img.draft(img.mode, (math.ceil(img.width / factor), math.ceil(img.height / factor)))
            return _decoded(img, label, alpha_background(spec))
    except ParamembedError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ParamembedError(f"{label}: image is too large (possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise ParamembedError(f"{label}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ParamembedError(f"{label}: image is corrupt or truncated ({err})") from None


def _decoded(img: Image.Image, label: str, background: float | None) -> Image.Image:
    """A PIL image (possibly not yet loaded) -> upright 8-bit 'L' or 'RGB'; may raise OSError."""
    check_size(img.width, img.height, label)
    img.load()  # decoding happens here: a truncated file fails now, not later in a convert
    img = _reduced(img)
    if img.getexif().get(ExifTags.Base.Orientation, 1) != 1:  # the reduced copy keeps it; upright needs no copy
        img = ImageOps.exif_transpose(img)
    return _to_8bit(img, label, background)


def check_size(width: int, height: int, label: str) -> None:
    """Refuse an image over the pixel limit, without pixels, or a strip longer than MAX_ASPECT:1."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ParamembedError(f"{label}: {width}x{height} pixels is over the {MAX_IMAGE_PIXELS // 1_000_000} MP limit")
    if width < 1 or height < 1:
        raise ParamembedError(f"{label}: has no pixels ({width}x{height})")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ParamembedError(f"{label}: {width}x{height} pixels is a strip, not an image: the long side may be at most "
                              f"{MAX_ASPECT} times the short one")


def reduce_factor(width: int, height: int) -> int:
    """The integer factor that brings an image to at most WORK_PIXELS, short side kept >= MIN_WORK_SIDE."""
    by_area = math.ceil(math.sqrt(width * height / WORK_PIXELS))
    by_side = min(width, height) // MIN_WORK_SIDE
    return max(1, min(by_area, by_side))


def _reduced(img: Image.Image) -> Image.Image:
    """A decoded image shrunk by `reduce_factor` (box filter); small images are returned as they are."""
    factor = reduce_factor(img.width, img.height)
    if factor == 1:
        return img
    if img.mode.startswith("I;16"):  # Pillow cannot reduce 16-bit images: a block mean, kept 16-bit
        arr = np.asarray(img)
        h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
        blocks = arr[:h, :w].reshape(h // factor, factor, w // factor, factor)
        return Image.fromarray((blocks.mean(axis=(1, 3), dtype=np.float32) + 0.5).astype(np.uint16))  # mode I;16
    if img.mode in ("1", "P", "PA"):  # reduce works on pixel values, not palette indices or bits
        img = img.convert("RGBA" if img.mode != "1" else "L")
    return img.reduce(factor)


def _check_jpeg_bytes(img: Image.Image, file_bytes: int, label: str) -> None:
    # Arithmetic-coded JPEGs can be smaller than this bound; Pillow writes none and cameras neither.
    needed = img.width * img.height * JPEG_MIN_BYTES_PER_PIXEL
    if file_bytes < needed:
        raise ParamembedError(f"{label}: image is corrupt or truncated (its header says {img.width}x{img.height} "
                              f"pixels, but the file is only {file_bytes} bytes)")


def _to_8bit(img: Image.Image, label: str, background: float | None) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ParamembedError(f"{label}: image has NaN or infinite pixels")
        if img.mode == "F" and arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
            top = 1.0  # a float image (scientific TIFF) in [0, 1]
        else:
            top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray((np.clip(arr / top, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode in ("RGB", "L") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        arr = np.asarray(rgba, dtype=np.float32) / 255.0
        alpha = arr[..., 3:4]
        if not alpha.any():
            raise ParamembedError(f"{label}: image is fully transparent: there is nothing to see")
        if background is None:
            # Ink drawn on a transparent sheet: put it on the opposite shade so it stays visible.
            opaque = arr[..., :3][alpha[..., 0] > 0.5]
            background = 1.0 if opaque.size == 0 or opaque.mean() < 0.5 else 0.0
        flat = arr[..., :3] * alpha + background * (1.0 - alpha)
        return Image.fromarray((flat * 255.0 + 0.5).astype(np.uint8), "RGB")
    if img.mode in ("L", "RGB"):
        return img  # read only from here on: a caller's own image is never changed
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGB")  # CMYK, YCbCr, LAB


def glyph_array(gray: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(H, W) grey, uint8 or float in [0, 1] -> (S, S) float32 light ink on dark, cropped to the ink and centred.

    The ink is found on the raw pixels and only its bounding box is converted and scaled: on a
    105x105 handwritten character that is a third of the work (issue 22: the input gate was two
    thirds of adapting from raw images).
    """
    return glyph_arrays([gray], spec)[0]


def glyph_arrays(grays: list[np.ndarray], spec: InputSpec) -> list[np.ndarray]:
    """Greys of one shape and dtype -> their `glyph_array`s, the same values.

    Each image's statistics (background, contrast, ink box) are taken for all of them at once:
    a task's 25 characters otherwise made a dozen small numpy calls each, and the calls' own
    overhead was most of the gate's arithmetic. Callers stack only small images (`GLYPH_BATCH_PIXELS`).
    """
    stack = np.stack([np.asarray(g) for g in grays])  # (N, H, W)
    unit = 255.0 if stack.dtype == np.uint8 else 1.0
    flat = stack.reshape(len(stack), -1)
    middle = [(flat.shape[1] - 1) // 2, flat.shape[1] // 2]
    halves = np.partition(flat, middle, axis=1)[:, middle].astype(np.float64)
    backgrounds = (halves[:, 0] + halves[:, 1]) / 2.0  # np.median's value, by partial sort
    darks = backgrounds > 0.5 * unit if spec.polarity == "auto" else np.full(len(stack), spec.polarity == "dark_ink")
    contrasts = np.where(darks, backgrounds - flat.min(axis=1), flat.max(axis=1) - backgrounds)  # the ink's
    boxes = _ink_boxes(stack, backgrounds, darks, contrasts) if spec.centre else None
    out = []
    for i, g in enumerate(stack):
        if contrasts[i] < 1e-3 * unit:  # blank page: nothing to centre
            out.append(np.zeros((spec.image_size, spec.image_size), np.float32))
            continue
        if boxes is not None:
            top, bottom, left, right = boxes[i]
            g = g[top : bottom + 1, left : right + 1]
        # Python floats: a float32 crop stays float32 (a numpy float64 would promote it).
        out.append(_glyph_from_crop(g, float(backgrounds[i]), bool(darks[i]), float(contrasts[i]), spec))
    return out


def _ink_boxes(stack: np.ndarray, backgrounds: np.ndarray, darks: np.ndarray, contrasts: np.ndarray) -> np.ndarray:
    """(N, H, W) greys -> (N, 4) int: first and last row, first and last column of the ink.

    The normalised ink is above 0.5 exactly where the raw pixel is past half the contrast (the
    darkest or lightest pixel always is, so a page that is not blank has ink).
    """
    half = 0.5 * contrasts
    below, above = (backgrounds - half)[:, None, None], (backgrounds + half)[:, None, None]
    # A task's characters are usually all dark ink (or all light): one comparison then, not two.
    if darks.all():
        ink = stack < below
    elif not darks.any():
        ink = stack > above
    else:
        ink = np.where(darks[:, None, None], stack < below, stack > above)
    rows, cols = ink.any(axis=2), ink.any(axis=1)  # (N, H), (N, W)
    height, width = stack.shape[1:]
    return np.stack([rows.argmax(axis=1), height - 1 - rows[:, ::-1].argmax(axis=1),
                     cols.argmax(axis=1), width - 1 - cols[:, ::-1].argmax(axis=1)], axis=1)


def _glyph_from_crop(g: np.ndarray, background: float, dark_ink: bool, contrast: float, spec: InputSpec) -> np.ndarray:
    """The ink's crop (or the whole grey, when not centring) -> (S, S) float32 light ink on dark."""
    size = spec.image_size
    g = g.astype(np.float32)
    g = (background - g) if dark_ink else (g - background)
    g = np.clip(g / contrast, 0.0, 1.0)
    if not spec.centre:
        return _resize(g, size)
    g = _shrunk(g, GLYPH_WORK_SIDE)
    h, w = g.shape
    side = max(h, w)
    inner = size - 2 * spec.margin
    # The crop centred on a zero square of `side`, resized to `inner`: the zero padding adds
    # nothing, so only the filter's columns over the crop are applied.
    filt = bilinear_filter(side, inner)  # (inner, side)
    top, left = (side - h) // 2, (side - w) // 2
    out = np.zeros((size, size), np.float32)
    resized = filt[:, top : top + h] @ g @ filt[:, left : left + w].T  # (inner, inner)
    out[spec.margin : spec.margin + inner, spec.margin : spec.margin + inner] = np.clip(resized, 0.0, 1.0)
    return out


@functools.lru_cache(maxsize=256)  # at most 256 x 24 x 512 floats (12 MB); a miss costs one Pillow resize
def bilinear_filter(side: int, size: int) -> np.ndarray:
    """(size, side) float32: Pillow's bilinear (anti-aliased) resize of `side` pixels to `size`, as a matrix.

    Resizing is linear, so Pillow resizing the identity writes its own filter out: `filt @ img @
    filt.T` is Pillow's resize of a square image, within float rounding (1e-6), without building
    the padded square and two Pillow images per glyph. Read-only: it is shared through the cache.
    """
    eye = Image.fromarray(np.eye(side, dtype=np.float32), "F")
    filt = np.ascontiguousarray(np.asarray(eye.resize((size, side), Image.Resampling.BILINEAR), dtype=np.float32).T)
    filt.setflags(write=False)
    return filt


def _shrunk(arr: np.ndarray, side: int) -> np.ndarray:
    """(H, W) float32 -> at most `side` on its long side by an integer box filter; small crops stay as they are.

    The square the crop is padded to grows with the square of its long side; this keeps it small.
    """
    factor = math.ceil(max(arr.shape) / side)
    if factor <= 1:
        return arr
    return np.asarray(Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32), "F").reduce(factor), dtype=np.float32)


def _resize(arr: np.ndarray, size: int) -> np.ndarray:
    # Pillow's bilinear resize filters over the whole footprint when shrinking: anti-aliased.
    img = Image.fromarray(arr.astype(np.float32), "F").resize((size, size), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def photo_array(img: Image.Image, spec: InputSpec) -> np.ndarray:
    """RGB photo -> (3, S, S) in [0, 1]: shorter side resized to S, then a centre crop.

    Only the crop is resized: Pillow's `box` reads the same source pixels (the filter reaches past
    the box's edges) that resizing the whole photo and cropping would, so the output is the same.
    """
    img = img if img.mode == "RGB" else img.convert("RGB")
    size = spec.image_size
    scale = size / min(img.size)
    w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
    left, top = (w - size) // 2, (h - size) // 2
    per_x, per_y = img.width / w, img.height / h  # source pixels per resized pixel
    box = (left * per_x, top * per_y, (left + size) * per_x, (top + size) * per_y)
    img = img.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(img).transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)


def _pixel_top(dtype, label: str) -> float | None:
    """The value of full brightness for an integer/bool dtype; None for floats (range [0, 1])."""
    if dtype in (np.bool_, torch.bool):
        return 1.0
    if dtype in (np.uint16, getattr(torch, "uint16", None)):
        return 65535.0
    if isinstance(dtype, torch.dtype):
        if dtype.is_floating_point:
            return None
        if dtype.is_complex:
            raise ParamembedError(f"{label}: pixels of dtype {dtype} are not image values")
        return 255.0
    kind = np.dtype(dtype).kind
    if kind in "ui":
        return 255.0
    if kind == "f":
        return None
    raise ParamembedError(f"{label}: pixels of dtype {dtype} are not image values; {EXPECTED}")


def pixels_to_unit(pixels: np.ndarray | torch.Tensor, label: str = "image") -> torch.Tensor:
    """Pixel values of any shape -> float32 tensor in [0, 1] by the dtype rule (module docstring).

    Tensors stay on their device. Raises `ParamembedError` for NaN/Inf, values outside the
    dtype's range, empty input and non-numeric dtypes.
    """
    if isinstance(pixels, torch.Tensor) and (pixels.is_meta or pixels.layout != torch.strided):
        kind = "meta" if pixels.is_meta else str(pixels.layout).replace("torch.", "")
        raise ParamembedError(f"{label}: a {kind} tensor holds no pixels to read; pass a dense tensor (.to_dense())")
    top = _pixel_top(pixels.dtype, label)
    if isinstance(pixels, np.ndarray):
        # A copy when needed: views with negative strides (np.fliplr) cannot become tensors.
        pixels = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    t = pixels.detach().float()
    if t.numel() == 0:
        raise ParamembedError(f"{label}: has no pixels (shape {tuple(t.shape)})")
    if not torch.isfinite(t).all():
        raise ParamembedError(f"{label}: has NaN or infinite pixels")
    lo, hi = float(t.min()), float(t.max())
    if top is None:
        if lo < -FLOAT_TOLERANCE or hi > 1.0 + FLOAT_TOLERANCE:
            raise ParamembedError(
                f"{label}: float pixels must be in [0, 1], got {lo:.4g}..{hi:.4g} "
                "(pass 8-bit values as uint8, and un-normalised images)"
            )
        return t.clamp(0.0, 1.0)
    if lo < 0 or hi > top:
        raise ParamembedError(f"{label}: {pixels.dtype} pixels must be in 0..{top:.0f}, got {lo:.0f}..{hi:.0f}")
    return t / top


def _array_image(pixels: np.ndarray | torch.Tensor, label: str, spec: InputSpec) -> torch.Tensor | Image.Image:
    """Array pixels -> the model input itself when already preprocessed, else an 8-bit PIL image."""
    shape = tuple(pixels.shape)
    model_shape = (spec.channels, spec.image_size, spec.image_size)
    if len(shape) not in (2, 3):
        raise ParamembedError(f"{label}: a {len(shape)}-d array of shape {shape}; expected one image: {EXPECTED}")
    if shape == model_shape or (len(shape) == 2 and (1, *shape) == model_shape):
        return pixels_to_unit(pixels, label).cpu().reshape(model_shape)
    height, width = _array_size(shape)
    check_size(width, height, label)  # before any conversion: a strip is refused by its shape
    unit = pixels_to_unit(pixels, label).cpu()
    if len(shape) == 2:
        hwc = unit[..., None]
    elif shape[0] in (1, 3, 4):
        hwc = unit.permute(1, 2, 0)
    elif shape[-1] in (1, 3, 4):
        hwc = unit
    else:
        raise ParamembedError(f"{label}: shape {shape} has no channel axis of 1, 3 or 4; expected (H, W), (C, H, W) or (H, W, C)")
    arr = (hwc.numpy() * 255.0 + 0.5).astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[arr.shape[-1]]
    img = _reduced(Image.fromarray(arr[..., 0] if mode == "L" else arr, mode))
    return _to_8bit(img, label, alpha_background(spec))


def _array_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) of an array image shaped (H, W), (C, H, W) or (H, W, C), as `_array_image` reads it."""
    if len(shape) == 2:
        return shape
    return shape[1:] if shape[0] in (1, 3, 4) else shape[:2]


def image_to_tensor(img, spec: InputSpec, name: str | None = None) -> torch.Tensor:
    """One raw image -> (C, S, S) float tensor in [0, 1] that the model reads.

    `img` is any input the module docstring lists; `name` labels errors ("image 3").
    """
    decoded = _decoded_input(img, spec, name)
    if isinstance(decoded, torch.Tensor):
        return decoded
    if spec.channels == 1:
        return torch.from_numpy(glyph_array(_grey(decoded), spec)).unsqueeze(0)
    return torch.from_numpy(photo_array(decoded, spec))


def _decoded_input(img, spec: InputSpec, name: str | None) -> torch.Tensor | Image.Image:
    """Any input -> an upright 8-bit 'L' or 'RGB' image, or the model input itself when already preprocessed."""
    label = name or "image"
    if img is None:
        raise ParamembedError(f"{label}: got None; expected {EXPECTED}")
    if isinstance(img, FILE_TYPES):
        where = f"{name} ({img})" if name and isinstance(img, (str, Path)) else name
        return open_image(img, where, spec)
    if isinstance(img, Image.Image):
        try:
            return _decoded(img, label, alpha_background(spec))
        except ParamembedError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise ParamembedError(f"{label}: image is corrupt or truncated ({err})") from None
    if isinstance(img, (np.ndarray, torch.Tensor)):
        return _array_image(img, label, spec)
    raise ParamembedError(f"{label}: got {type(img).__name__}; expected {EXPECTED}")


def _grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img if img.mode == "L" else img.convert("L"))  # (H, W) uint8


def images_to_batch(images, spec: InputSpec) -> torch.Tensor:
    """A sequence of images (any input `image_to_tensor` takes), or one stacked array -> (B, C, S, S).

    A (B, C, S, S) array or tensor shaped like the model input is taken as preprocessed (scaled to
    [0, 1] by its dtype, on its device); another (B, ...) stack is read image by image. For a
    glyph model, small greys of one shape (a task of scanned characters) go through `glyph_arrays`
    together; larger ones one at a time, so that only small images are ever held at once.
    """
    batch_expected = "a list of images or one (B, C, H, W) array"
    if images is None:
        raise ParamembedError(f"got None; expected {batch_expected}")
    if isinstance(images, (*FILE_TYPES, Image.Image)):
        raise ParamembedError(f"got a single {type(images).__name__}; expected {batch_expected}: wrap one image in a list")
    if isinstance(images, (np.ndarray, torch.Tensor)):
        shape = tuple(images.shape)
        if len(shape) == 4 and shape[1:] == (spec.channels, spec.image_size, spec.image_size):
            return pixels_to_unit(images, "images")
        if len(shape) not in (3, 4):
            raise ParamembedError(f"a {len(shape)}-d array of shape {shape}; expected {batch_expected}")
    items = _items(images, batch_expected)
    if spec.channels != 1:
        return torch.stack([image_to_tensor(img, spec, name=f"image {i + 1}") for i, img in enumerate(items)])
    tensors: list[torch.Tensor | None] = []
    small: dict[tuple, list[tuple[int, np.ndarray]]] = {}  # (shape, dtype) -> [(position, grey)]
    for i, img in enumerate(items):
        grey = plain_grey_png(img, GLYPH_BATCH_PIXELS, MAX_FILE_BYTES)  # a scanned character's file, parsed faster
        if grey is not None:
            check_size(grey.shape[1], grey.shape[0], f"image {i + 1}")  # a strip is refused as on the full path
        else:
            decoded = _decoded_input(img, spec, f"image {i + 1}")
            if isinstance(decoded, torch.Tensor):
                tensors.append(decoded)
                continue
            grey = _grey(decoded)
        if grey.size > GLYPH_BATCH_PIXELS:
            tensors.append(torch.from_numpy(glyph_array(grey, spec)).unsqueeze(0))
            continue
        tensors.append(None)
        small.setdefault((grey.shape, grey.dtype.str), []).append((i, grey))
    for group in small.values():
        for (i, _), glyph in zip(group, glyph_arrays([grey for _, grey in group], spec)):
            tensors[i] = torch.from_numpy(glyph).unsqueeze(0)
    return torch.stack(tensors)


def _items(images, expected: str) -> list:
    try:
        items = list(images)
    except TypeError:
        raise ParamembedError(f"got {type(images).__name__}; expected {expected}") from None
    if not items:
        raise ParamembedError("no images were given")
    return items


def query_chunks(images, spec: InputSpec, chunk: int) -> Iterator[torch.Tensor]:
    """`images_to_batch` a chunk at a time: (<= chunk, C, S, S) tensors, errors naming the image's place in the whole."""
    model_shape = (spec.channels, spec.image_size, spec.image_size)
    if isinstance(images, (np.ndarray, torch.Tensor)) and len(images.shape) == 4 and tuple(images.shape[1:]) == model_shape:
        for start in range(0, images.shape[0], chunk):
            yield images_to_batch(images[start : start + chunk], spec)  # preprocessed already: only scaled
        return
    is_array = isinstance(images, (np.ndarray, torch.Tensor))
    if isinstance(images, (*FILE_TYPES, Image.Image)) or images is None or (is_array and len(images.shape) not in (3, 4)):
        yield images_to_batch(images, spec)  # refused there, with its message
        return
    items = _items(images, "a list of images or one (B, C, H, W) array")
    for start in range(0, len(items), chunk):
        yield torch.stack([image_to_tensor(img, spec, name=f"image {start + i + 1}")
                           for i, img in enumerate(items[start : start + chunk])])
