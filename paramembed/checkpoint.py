"""Model folders on disk: `model.safetensors` + `config.json` (+ `metrics.jsonl` from training).

A folder alone rebuilds its model: the config travels with the weights. This module only writes
and reads those two files; which models exist and how one is built from its folder is the model
zoo's job (`paramembed.zoo`). Writes are atomic (a temporary file, then `os.replace`), so an
interrupted run never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from paramembed.config import ModelConfig, from_dict, to_dict
from paramembed.errors import ParamembedError

if TYPE_CHECKING:  # only a type: importing the network here would make a cycle with the zoo
    from paramembed.models.fewshot import FewShotModel

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"  # the shipped model folders


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_model(model: FewShotModel, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write weights and config to `folder` atomically; `extra` lands in config.json too."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = folder / f".{WEIGHTS}.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, folder / WEIGHTS)
    payload = {"model": to_dict(model.config), **(extra or {})}
    atomic_write_bytes(folder / CONFIG, json.dumps(payload, indent=2).encode())
    return folder


def read_model_config(folder: Path) -> tuple[ModelConfig, dict[str, Any]]:
    try:
        payload = json.loads((folder / CONFIG).read_text())
    except FileNotFoundError:
        raise ParamembedError(f"{folder}: {CONFIG} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ParamembedError(f"{folder / CONFIG}: not valid JSON ({err})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise ParamembedError(f"{folder / CONFIG}: has no 'model' section")
    return from_dict(ModelConfig, payload["model"], "model"), payload


def read_weight_shapes(folder: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's name and shape in the folder's weights, from the file's header alone."""
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ParamembedError(f"{folder}: {WEIGHTS} is missing")
    try:
        with safe_open(str(weights), framework="pt") as f:
            return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ParamembedError(f"{weights}: corrupt checkpoint ({err})") from None


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The folder's weights as CPU tensors, by name."""
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ParamembedError(f"{folder}: {WEIGHTS} is missing")
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise ParamembedError(f"{weights}: corrupt checkpoint ({err})") from None
