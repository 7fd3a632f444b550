"""Small grey PNG files read without Pillow's per-file parsing: the glyph gate's common case.

Opening a PNG, Pillow walks its chunks in Python, builds an image object and its info and only
then decodes: about 30 us of overhead on a 105x105 handwritten character, half of what its file
cost the input gate (issue 22: adapting from raw files is held to 20x faster than MAML). Here
the chunks are walked with `struct` and the pixels handed to Pillow's own PNG decoder through
the public `Image.frombytes`, so the pixels are Pillow's to the bit.

Only a file Pillow would return unchanged qualifies: greyscale at 1, 2, 4 or 8 bits, every chunk
intact (CRC checked, as Pillow does), not interlaced, and only chunks in `PLAIN_CHUNKS`: none that
changes what `open_image` returns (transparency, EXIF orientation, animation) and no text chunk (one
may carry EXIF). Anything else, including any damage, gives None and the caller takes the full
path, which names the problem.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow's (image mode, raw mode) for a greyscale PNG of each bit depth (PngImagePlugin._MODES).
GREY_MODES = {1: ("1", "1"), 2: ("L", "L;2"), 4: ("L", "L;4"), 8: ("L", "L")}
# Chunks that change no pixel Pillow returns: metadata it records but does not apply.
PLAIN_CHUNKS = frozenset({b"IDAT", b"IEND", b"pHYs", b"tIME", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD"})


def plain_grey_png(data, max_pixels: int, max_bytes: int) -> np.ndarray | None:
    """A grey PNG file's bytes -> its pixels (H, W) uint8 (1-bit as 0/255), or None when it does not qualify.

    Images over `max_pixels` and files over `max_bytes` give None: the caller's limits and
    reductions apply to them on the full path.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > max_bytes or bytes(data[:8]) != SIGNATURE:
        return None
    data = bytes(data)
    header = _chunk(data, 8)
    if header is None or header[0] != b"IHDR" or len(header[1]) != 13:
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", header[1])
    if colour != 0 or depth not in GREY_MODES or compression or filtering or interlace:  # Adam7: Pillow's path
        return None
    if width * height > max_pixels or width < 1 or height < 1:
        return None
    pos, pixels = header[2], []
    while True:
        chunk = _chunk(data, pos)
        if chunk is None or chunk[0] not in PLAIN_CHUNKS:
            return None
        kind, body, pos = chunk
        if kind == b"IEND":
            break
        if kind == b"IDAT":
            pixels.append(body)
    mode, rawmode = GREY_MODES[depth]
    try:
        image = Image.frombytes(mode, (width, height), b"".join(pixels), "zip", rawmode)
    except (ValueError, OSError, zlib.error):  # short or corrupt image data
        return None
    return np.asarray(image.convert("L") if mode == "1" else image)


def _chunk(data: bytes, pos: int) -> tuple[bytes, bytes, int] | None:
    """The chunk at `pos`: (type, body, position of the next), or None if it is cut short or its CRC is wrong."""
    if pos + 12 > len(data):
        return None
    length, kind = struct.unpack_from(">I4s", data, pos)
    end = pos + 12 + length
    if end > len(data):
        return None
    body = data[pos + 8 : pos + 8 + length]
    if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack_from(">I", data, end - 4)[0]:
        return None
    return kind, body, end
