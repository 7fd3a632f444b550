"""Helpers for the hostile-input suite: measured resource bounds, not timings.

`peak_growth_mb(fn)` runs `fn` and returns how far this process's peak resident memory rose above
what it held just before (Linux: the high-water mark is reset through /proc/self/clear_refs, so
earlier tests do not hide a later peak). `folder_bytes` and `file_count` measure what is left on
disk. Hangs are caught by pytest-timeout (`@pytest.mark.timeout`), never by timing assertions.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

MB = 2**20


def _status_mb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_growth_mb(fn: Callable[[], object]) -> tuple[int, object]:
    """(peak RSS growth in MB while `fn` ran, what `fn` returned or raised)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pytest.skip("peak memory is measured through /proc/self/clear_refs (Linux)")
    before = _status_mb("VmRSS")
    try:
        result: object = fn()
    except Exception as err:  # the caller asserts on what came back
        result = err
    return _status_mb("VmHWM") - before, result


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else 0


def file_count(folder: Path) -> int:
    return sum(1 for p in Path(folder).rglob("*")) if Path(folder).exists() else 0


def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "PNG")
    return buf.getvalue()


def thin_png(length: int = 30_000) -> bytes:
    """A 3 x `length` PNG of a few hundred bytes: one dark line on white."""
    arr = np.full((3, length), 255, np.uint8)
    arr[1] = 0
    return png(arr)


def big_rgba_png(width: int = 8000, height: int = 5000) -> bytes:
    """A 40 MP RGBA PNG of ~170 KB: opaque, one red band."""
    arr = np.zeros((height, width, 4), np.uint8)
    arr[..., 3] = 255
    arr[height // 5 : 2 * height // 5, :, 0] = 200
    return png(arr)


def lying_jpeg(side: int = 6000) -> bytes:
    """An 8x8 JPEG whose frame header claims side x side pixels: libjpeg fills the rest with grey."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8), np.uint8)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")  # baseline frame header: marker, length, precision, height, width
    data[sof + 5 : sof + 9] = side.to_bytes(2, "big") + side.to_bytes(2, "big")
    return bytes(data)
