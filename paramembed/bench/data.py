"""Data benchmarks: procedural glyph rendering on one core, uncached and from the cache."""

from __future__ import annotations

import time

import torch

from paramembed.bench.timing import timed
from paramembed.data.glyphs import GlyphAlphabets, GlyphStyle


def data_section(quick: bool) -> dict:
    """Glyph rendering on one core (this process renders single-threaded), uncached and cached."""
    seconds = 0.5 if quick else 3.0
    dataset = GlyphAlphabets("train", GlyphStyle(), cache_size=0)
    # Ten drawings per character, as a training task uses (shots + queries): character and
    # alphabet construction are counted at the rate training pays for them.
    keys = [(g, c, d) for g in range(0, 4000, 7) for c in range(2) for d in range(10)]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and n < len(keys):
        dataset.render(*keys[n])
        n += 1
    uncached = n / (time.perf_counter() - start)
    cached_ds = GlyphAlphabets("train", GlyphStyle())
    warm = keys[:500]
    cached_ds.images(warm)
    dt, _ = timed(lambda: cached_ds.images(warm), torch.device("cpu"))
    return {
        "render_images_per_s_one_core": uncached, "image_size": GlyphStyle().image_size,
        "cached_images_per_s": len(warm) / dt, "target": "rendering >= 2000 images/s on one core",
        "target_met": uncached >= 2000,
    }
