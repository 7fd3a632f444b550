"""Raw images -> model input tensors, following a model's `InputSpec`.

Glyph models see light ink on a dark background, cropped to the ink and centred, exactly as the
procedural renderer draws them; that shared convention is what lets one model read procedural
glyphs, real Omniglot and a teacher's drawing alike. Photo models see an RGB centre crop.

`open_image` is the single gate for untrusted files (uploads, folders): every way a file can be
bad ends in a `ParamembedError` that names the file and the problem.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from paramembed.config import InputSpec
from paramembed.errors import ParamembedError

MAX_IMAGE_PIXELS = 40_000_000  # 40 MP: a large phone photo passes, a decompression bomb does not
MAX_FILE_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def open_image(source: str | Path | bytes, name: str | None = None) -> Image.Image:
    """Decode one image safely and return it as 8-bit 'L' or 'RGB', upright (EXIF applied).

    Animated images give their first frame; transparency is flattened onto a background that
    contrasts with the opaque pixels; 16-bit and CMYK are converted. Raises `ParamembedError`
    naming `name` (or the path) for anything that is not a usable image.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        if len(source) > MAX_FILE_BYTES:
            raise ParamembedError(f"{label}: file is {len(source) / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit")
        if not source:
            raise ParamembedError(f"{label}: file is empty")
        stream: io.BytesIO | Path = io.BytesIO(source)
    else:
        stream = Path(source)
        if not stream.is_file():
            raise ParamembedError(f"{label}: no such file")
        if stream.stat().st_size > MAX_FILE_BYTES:
            raise ParamembedError(f"{label}: file is over the {MAX_FILE_BYTES // 2**20} MB limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise ParamembedError(
                        f"{label}: {img.width}x{img.height} pixels is over the {MAX_IMAGE_PIXELS // 1_000_000} MP limit"
                    )
                img.seek(0)  # first frame of an animation
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_8bit(img)
    except ParamembedError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ParamembedError(f"{label}: image is too large (possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise ParamembedError(f"{label}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ParamembedError(f"{label}: image is corrupt or truncated ({err})") from None


def _to_8bit(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode in ("RGB", "L") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        arr = np.asarray(rgba, dtype=np.float32) / 255.0
        alpha = arr[..., 3:4]
        opaque = arr[..., :3][alpha[..., 0] > 0.5]
        # Ink drawn on a transparent sheet: put it on the opposite shade so it stays visible.
        background = 1.0 if opaque.size == 0 or opaque.mean() < 0.5 else 0.0
        flat = arr[..., :3] * alpha + background * (1.0 - alpha)
        return Image.fromarray((flat * 255.0 + 0.5).astype(np.uint8), "RGB")
    if img.mode in ("1", "L"):
        return img.convert("L")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, RGB


def glyph_array(gray: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(H, W) grey in [0, 1] -> (S, S) light ink on dark, cropped to the ink and centred."""
    g = gray.astype(np.float32)
    background = float(np.median(g))
    dark_ink = background > 0.5 if spec.polarity == "auto" else spec.polarity == "dark_ink"
    if dark_ink:
        g, background = 1.0 - g, 1.0 - background
    top = float(g.max())
    if top - background < 1e-3:  # blank page: nothing to centre
        return np.zeros((spec.image_size, spec.image_size), np.float32)
    g = np.clip((g - background) / (top - background), 0.0, 1.0)
    size = spec.image_size
    if spec.centre:
        rows = np.flatnonzero(g.max(axis=1) > 0.5)
        cols = np.flatnonzero(g.max(axis=0) > 0.5)
        g = g[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = g.shape
        side = max(h, w)
        square = np.zeros((side, side), np.float32)
        square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = g
        inner = size - 2 * spec.margin
        small = _resize(square, inner)
        out = np.zeros((size, size), np.float32)
        out[spec.margin : spec.margin + inner, spec.margin : spec.margin + inner] = small
        return out
    return _resize(g, size)


def _resize(arr: np.ndarray, size: int) -> np.ndarray:
    # Pillow's bilinear resize filters over the whole footprint when shrinking: anti-aliased.
    img = Image.fromarray(arr.astype(np.float32), "F").resize((size, size), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def photo_array(img: Image.Image, spec: InputSpec) -> np.ndarray:
    """RGB photo -> (3, S, S) in [0, 1]: shorter side resized to S, then a centre crop."""
    img = img.convert("RGB")
    scale = spec.image_size / min(img.size)
    w, h = max(spec.image_size, round(img.width * scale)), max(spec.image_size, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - spec.image_size) // 2, (h - spec.image_size) // 2
    img = img.crop((left, top, left + spec.image_size, top + spec.image_size))
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def image_to_tensor(img: Image.Image | np.ndarray | torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """One raw image -> (C, S, S) float tensor the model reads.

    Tensors and arrays already shaped (C, S, S) are taken as model input and passed through.
    """
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().float()
        if img.dim() == 2:
            img = img.unsqueeze(0)
        if img.shape == (spec.channels, spec.image_size, spec.image_size):
            return img
        arr = img.numpy()
        img = Image.fromarray((np.clip(arr.transpose(1, 2, 0) if arr.shape[0] in (1, 3) else arr, 0, 1).squeeze() * 255).astype(np.uint8))
    elif isinstance(img, np.ndarray):
        return image_to_tensor(torch.from_numpy(np.asarray(img, np.float32)), spec)
    if spec.channels == 1:
        gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        return torch.from_numpy(glyph_array(gray, spec)).unsqueeze(0)
    return torch.from_numpy(photo_array(img, spec))


def images_to_batch(images, spec: InputSpec) -> torch.Tensor:
    """A sequence of PIL images / arrays / tensors (or one stacked tensor) -> (B, C, S, S)."""
    if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1:] == (
        spec.channels,
        spec.image_size,
        spec.image_size,
    ):
        return images.float()
    tensors = [image_to_tensor(img, spec) for img in images]
    if not tensors:
        raise ParamembedError("no images were given")
    return torch.stack(tensors)
