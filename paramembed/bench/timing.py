"""Timing helpers shared by every bench section: synchronised wall clocks, rates, percentiles.

On CUDA the clock is read after a device synchronise, so a figure is the time the work took,
not the time it took to queue it.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np
import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """(seconds, result) of one call of `fn`."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def rate(fn: Callable[[], Any], device: torch.device, min_seconds: float, min_calls: int = 3) -> float:
    """Calls per second of `fn` after one warm-up call, over at least `min_seconds`."""
    fn()
    calls, elapsed = 0, 0.0
    while calls < min_calls or elapsed < min_seconds:
        dt, _ = timed(fn, device)
        calls, elapsed = calls + 1, elapsed + dt
    return calls / elapsed


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def median(values: list[float]) -> float:
    return float(statistics.median(values))
