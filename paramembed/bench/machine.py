"""The machine section: device, threads, load, and the matmul FLOP/s measured here and now.

The measured matmul rate is the practical peak the training figures are compared with.
"""

from __future__ import annotations

import os
import platform

import torch

from paramembed.bench.timing import rate
from paramembed.device import describe_device


def matmul_flops(device: torch.device, size: int, seconds: float, dtype: torch.dtype = torch.float32) -> float:
    """Measured FLOP/s of a square (size x size) matrix multiply: the machine's practical peak."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    calls_per_s = rate(lambda: a @ b, device, seconds)
    return 2.0 * size**3 * calls_per_s


def machine_section(device: torch.device, quick: bool) -> dict:
    info = {
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "matmul_size": 512 if quick else 1024,
    }
    info["matmul_flops"] = matmul_flops(device, info["matmul_size"], 0.3 if quick else 2.0)
    if device.type == "cuda":
        info["matmul_size"] = 8192
        info["matmul_flops"] = matmul_flops(device, 8192, 1.0)
        info["matmul_flops_bf16"] = matmul_flops(device, 8192, 1.0, torch.bfloat16)
    return info
