"""paramembed.data.plain_png: small grey PNGs read without Pillow's parsing, pixels exactly Pillow's."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from paramembed.config import InputSpec
from paramembed.data.plain_png import plain_grey_png
from paramembed.data.preprocess import GLYPH_BATCH_PIXELS, MAX_FILE_BYTES, _grey, image_to_tensor, images_to_batch, open_image
from paramembed.errors import ParamembedError

LIMITS = (GLYPH_BATCH_PIXELS, MAX_FILE_BYTES)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def grey_png(pixels: np.ndarray, depth: int = 8, extra: list[bytes] = (), idat_parts: int = 1) -> bytes:
    """A PNG written by hand: any grey bit depth, the image data split over `idat_parts` chunks."""
    height, width = pixels.shape
    levels = (1 << depth) - 1
    values = np.round(pixels.astype(np.float64) / 255 * levels).astype(np.uint8)
    rows = [np.packbits(np.unpackbits(row[:, None], axis=1)[:, 8 - depth:].ravel()).tobytes() for row in values]
    stream = zlib.compress(b"".join(b"\x00" + r for r in rows))  # filter 0 on every row
    step = -(-len(stream) // idat_parts)
    idats = [chunk(b"IDAT", stream[i : i + step]) for i in range(0, len(stream), step)]
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0))  # colour type 0: grey
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(extra) + b"".join(idats) + chunk(b"IEND", b"")


def pillow_grey(data: bytes) -> np.ndarray:
    return _grey(open_image(data))


def character(seed: int = 0, size: int = 105) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arr = np.full((size, size), 255, np.uint8)
    for _ in range(6):
        r, c = rng.integers(10, size - 20, 2)
        arr[r : r + 12, c : c + 4] = 0
    return arr


@pytest.mark.parametrize("depth", [1, 2, 4, 8])
def test_every_grey_bit_depth_reads_as_pillow_reads_it(depth):
    rng = np.random.default_rng(depth)
    pixels = character(depth) if depth == 1 else rng.integers(0, 256, (37, 53), dtype=np.uint8)
    data = grey_png(pixels, depth, idat_parts=3)
    fast = plain_grey_png(data, *LIMITS)
    assert fast is not None and fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, pillow_grey(data))


def test_pillows_own_files_read_the_same():
    for img in (Image.fromarray(character(3)).convert("1"), Image.fromarray(character(4))):
        buf = io.BytesIO()
        img.save(buf, "PNG")
        fast = plain_grey_png(buf.getvalue(), *LIMITS)
        assert fast is not None
        np.testing.assert_array_equal(fast, pillow_grey(buf.getvalue()))


def test_only_files_pillow_returns_unchanged_qualify():
    pixels = character()
    assert plain_grey_png(grey_png(pixels, extra=[chunk(b"pHYs", bytes(9))]), *LIMITS) is not None  # metadata only
    # Transparency, EXIF (its own chunk, or text that may hold it), colour and large images: the full path.
    for extra in ([chunk(b"tRNS", b"\x00\xff")], [chunk(b"eXIf", b"MM\x00*")], [chunk(b"tEXt", b"Raw profile type exif\x00x")]):
        assert plain_grey_png(grey_png(pixels, extra=extra), *LIMITS) is None
    buf = io.BytesIO()
    Image.fromarray(np.stack([pixels] * 3, -1)).save(buf, "PNG")
    assert plain_grey_png(buf.getvalue(), *LIMITS) is None
    big = grey_png(np.zeros((300, 300), np.uint8))
    assert plain_grey_png(big, *LIMITS) is None and plain_grey_png(grey_png(pixels), GLYPH_BATCH_PIXELS, 100) is None
    assert plain_grey_png(b"not a png", *LIMITS) is None and plain_grey_png("a.png", *LIMITS) is None


def test_damage_leaves_it_to_the_full_path_which_names_the_file():
    data = bytearray(grey_png(character()))
    data[40] ^= 0xFF  # inside the image data: its chunk's CRC no longer matches
    assert plain_grey_png(bytes(data), *LIMITS) is None
    truncated = grey_png(character())[:-30]
    assert plain_grey_png(truncated, *LIMITS) is None
    spec = InputSpec()
    with pytest.raises(ParamembedError, match="image 2"):
        images_to_batch([grey_png(character()), truncated], spec)


def test_the_batch_gate_gives_the_same_tensor_either_way():
    """images_to_batch takes the fast reading for bytes; a PIL image of the same file goes through Pillow's."""
    spec = InputSpec()
    files = [grey_png(character(s), depth=1 if s % 2 else 8) for s in range(6)]
    fast = images_to_batch(files, spec)
    slow = torch.stack([image_to_tensor(Image.open(io.BytesIO(f)), spec) for f in files])
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-6)


def test_a_strip_is_refused_as_on_the_full_path():
    with pytest.raises(ParamembedError, match="image 1: 200x4 pixels is a strip"):
        images_to_batch([grey_png(np.zeros((4, 200), np.uint8))], InputSpec())
