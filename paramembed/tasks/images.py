"""Untrusted image files and canvas drawings -> `TaskImage`s, each bad file one message naming it."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from paramembed.data.archives import printable
from paramembed.data.preprocess import open_image
from paramembed.errors import ParamembedError
from paramembed.tasks.limits import LIMITS, TaskLimits


@dataclass
class TaskImage:
    """One decoded image, upright, 8-bit L or RGB; `digest` identifies its pixels."""

    name: str
    image: Image.Image
    digest: str


def decode_image(data: bytes, name: str, limits: TaskLimits = LIMITS) -> TaskImage:
    """Untrusted file bytes -> TaskImage (raises ParamembedError naming `name`)."""
    name = printable(name)  # an uploaded name may hold a null byte or a newline
    if len(data) > limits.max_file_bytes:
        raise ParamembedError(f"{name}: file is {len(data) / 2**20:.1f} MB, over the {limits.max_file_bytes // 2**20} MB limit")
    image = open_image(data, name, max_side=limits.stored_side)  # a JPEG decodes at the scale that is stored
    if image.width * image.height > limits.max_image_pixels:
        raise ParamembedError(f"{name}: {image.width}x{image.height} pixels is over the {limits.max_image_pixels // 1_000_000} MP limit")
    if max(image.size) > limits.stored_side:
        image = image.copy()
        image.thumbnail((limits.stored_side, limits.stored_side), Image.Resampling.LANCZOS)
    digest = hashlib.sha1(image.mode.encode() + str(image.size).encode() + image.tobytes()).hexdigest()[:16]
    return TaskImage(name, image, digest)


def drawing_to_png(rgba: np.ndarray) -> bytes:
    """A canvas's (H, W, 4) uint8 RGBA drawing -> PNG bytes; raises when nothing was drawn."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ParamembedError(f"a drawing should be an (H, W, 4) RGBA array, got shape {arr.shape}")
    arr = arr.astype(np.uint8)
    # Blank = every channel flat: a transparent sheet, or the background colour alone.
    if int(np.ptp(arr.reshape(-1, arr.shape[2]), axis=0).max()) < 8:
        raise ParamembedError("the drawing is empty: draw something first")
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_files(files: list[tuple[str, bytes]], limits: TaskLimits = LIMITS) -> tuple[list[TaskImage], list[str]]:
    """Decode each (name, bytes); returns the good images and one message per bad file."""
    images, problems = [], []
    for name, data in files:
        try:
            images.append(decode_image(data, name, limits))
        except ParamembedError as err:
            problems.append(str(err))
    return images, problems
