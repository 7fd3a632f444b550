"""Model folders: `model.safetensors` + `config.json` (+ `metrics.jsonl` from training).

A folder alone rebuilds its model: the config travels with the weights. Writes are atomic
(a temporary file, then `os.replace`), so an interrupted run never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from paramembed.config import ModelConfig, from_dict, to_dict
from paramembed.errors import ParamembedError
from paramembed.models.fewshot import FewShotModel

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODEL = "hyper"


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


def list_models(root: Path = ASSETS) -> list[str]:
    """Names of the shipped models (folders under assets/models with weights)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / WEIGHTS).is_file())


def resolve_model_path(name_or_path: str | Path | None) -> Path:
    """A shipped model's name, or a folder path; None gives the default shipped model."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path)
    if (path / CONFIG).exists() or (path / WEIGHTS).exists():
        return path
    shipped = ASSETS / str(name_or_path)
    if (shipped / CONFIG).exists():
        return shipped
    known = ", ".join(list_models()) or "none"
    raise ParamembedError(f"no model at {str(name_or_path)!r} (a folder with {CONFIG} and {WEIGHTS}); shipped models: {known}")


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


def load_model(name_or_path: str | Path | None = None, device: str | torch.device = "auto") -> FewShotModel:
    """Rebuild a model from its folder (or a shipped model's name) and put it in eval mode."""
    from paramembed.device import pick_device

    folder = resolve_model_path(name_or_path)
    config, _ = read_model_config(folder)
    model = FewShotModel(config)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ParamembedError(f"{folder}: {WEIGHTS} is missing")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise ParamembedError(f"{weights}: corrupt checkpoint ({err})") from None
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ParamembedError(
            f"{weights}: weights do not match config.json (missing {len(missing)}, unexpected {len(unexpected)} tensors)"
        )
    target = device if isinstance(device, torch.device) else pick_device(device)
    return model.to(target).eval()
