"""Device selection: CUDA when present, the CPU otherwise."""

import torch


def pick_device(requested: str = "auto") -> torch.device:
    """`auto` picks CUDA when present; `cpu` and `cuda[:N]` are taken as they are."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from paramembed.errors import ParamembedError

    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ParamembedError(f"device {requested!r} was asked for, but CUDA is not available here")
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    """A human name: the GPU's model for CUDA, 'CPU (N threads)' otherwise."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"
