"""Device selection: CUDA when present, the CPU otherwise."""

import torch


def pick_device(requested: str = "auto") -> torch.device:
    """`auto` picks CUDA when present; `cpu` and `cuda[:N]` are taken as they are."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from paramembed.errors import ParamembedError

    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ParamembedError(f"device {requested!r} was asked for, but CUDA is not available here")
    device = torch.device(requested)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ParamembedError(f"device {requested!r} was asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ParamembedError(f"device {requested!r} was asked for, but Apple's MPS is not available here")
    return device


def describe_device(device: torch.device) -> str:
    """A human name: the GPU's model for CUDA, 'CPU (N threads)' otherwise."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"
