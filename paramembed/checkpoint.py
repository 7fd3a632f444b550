"""Model folders on disk: `model.safetensors` + `config.json` (+ `metrics.jsonl` from training).

A folder alone rebuilds its model: the config travels with the weights. This module writes and
reads those files and training checkpoints (below); which models exist and how one is built from
its folder is the model zoo's job (`paramembed.zoo`). Writes are atomic (a temporary file, then `os.replace`), so an
interrupted run never leaves half a checkpoint.

A training run's checkpoint is three files (weights, config, optimiser state) that must agree, so
it is written as one step: all three go into a fresh `ckpt-<step>-*` folder, and only then does
`checkpoint.json` (replaced atomically) name that folder. A kill at any point leaves the manifest
on the last complete checkpoint. The run folder's top-level `model.safetensors` + `config.json`
follow after the swap, for the app and for shipping; resuming reads only what the manifest names.

    runs/<name>/checkpoint.json        {"folder": "ckpt-120-x1y2", "step": 120}
    runs/<name>/ckpt-120-x1y2/         model.safetensors, config.json, state.pt
    runs/<name>/model.safetensors      the same weights (a hard link, or a copy)
    runs/<name>/config.json
    runs/<name>/metrics.jsonl
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from paramembed.config import ModelConfig, from_dict, to_dict
from paramembed.config_checks import validate_model_config
from paramembed.errors import ParamembedError
from paramembed.logs import METRICS, truncate_metrics

if TYPE_CHECKING:  # only a type: importing the network here would make a cycle with the zoo
    from paramembed.models.fewshot import FewShotModel

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE = "state.pt"  # optimiser state, step and RNG of a training run
MANIFEST = "checkpoint.json"
CHECKPOINT_FORMAT = "paramembed.checkpoint/1"
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"  # the shipped model folders


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # the new name must never point at data still only in memory
    os.replace(tmp, path)


FROZEN_PREFIX = "backbone."  # a frozen pretrained backbone's tensors: rebuilt from its package, never saved


def saved_state(model: FewShotModel) -> dict[str, torch.Tensor]:
    """The tensors a model folder holds: all of them, less a frozen pretrained backbone's."""
    frozen = getattr(model.backbone, "frozen", False)
    return {k: v for k, v in model.state_dict().items() if not (frozen and k.startswith(FROZEN_PREFIX))}


def load_saved_state(model: FewShotModel, weights: dict[str, torch.Tensor]) -> None:
    """Load what `saved_state` wrote: every saved tensor must be there, a frozen backbone's may be absent."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if k in saved_state(model)]
    if missing or unexpected:
        name = (missing or unexpected)[0]
        raise RuntimeError(f"{'missing' if missing else 'unexpected'} tensor {name} ({len(missing)} missing, {len(unexpected)} unexpected)")


def save_model(model: FewShotModel, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write weights and config to `folder` atomically; `extra` lands in config.json too."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in saved_state(model).items()}
    check_tensors(state, str(folder))  # never ship weights no loader would accept
    tmp = folder / f".{WEIGHTS}.tmp"
    # The step in the weights' own metadata lets a reader tell them apart from another step's state.
    metadata = {"step": str(extra["step"])} if extra and "step" in extra else None
    save_file(state, str(tmp), metadata=metadata)
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
    config = from_dict(ModelConfig, payload["model"], "model")
    try:
        validate_model_config(config)  # a hand-edited width of 0 is one line here, not a traceback in torch
    except ParamembedError as err:
        raise ParamembedError(f"{folder / CONFIG}: {err}") from None
    return config, payload


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors, or one ParamembedError line when it is missing, corrupt or not finite."""
    if not path.is_file():
        raise ParamembedError(f"{path.parent}: {path.name} is missing")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ParamembedError(f"{path}: corrupt checkpoint ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    check_tensors(tensors, str(path))
    return tensors


# Integer tensors a model legitimately holds (batch norm's step counter); every other one is a weight.
COUNTERS = ("num_batches_tracked",)


def check_tensors(tensors: dict[str, torch.Tensor], label: str) -> None:
    """Refuse weights that are not floating point (an int8 tensor would be copied in silently) or
    not finite (a diverged run's NaNs would predict NaN): one ParamembedError line naming the first."""
    for name, tensor in tensors.items():
        if name.endswith(COUNTERS):
            continue
        if not tensor.is_floating_point():
            raise ParamembedError(f"{label}: tensor {name!r} is {str(tensor.dtype).replace('torch.', '')}; weights are floating point")
        if not bool(torch.isfinite(tensor).all()):
            raise ParamembedError(f"{label}: tensor {name!r} holds NaN or infinite values (a diverged run?); these weights are unusable")


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


# ============ training checkpoints: weights + config + state as one atomic step ============


@dataclass
class Checkpoint:
    """The last complete checkpoint of a run: everything needed to resume it."""

    folder: Path
    step: int
    config: ModelConfig
    payload: dict[str, Any]  # config.json: the model config plus the run's extras
    weights: dict[str, torch.Tensor]
    state: dict[str, Any]  # state.pt: optimiser state, step, RNG (what the trainer saved)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link_or_copy(source: Path, target: Path) -> None:
    """Point `target` at `source`'s contents atomically: a hard link where the file system has them."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def save_checkpoint(run_dir: str | Path, model: FewShotModel, extra: dict[str, Any], state: dict[str, Any]) -> Path:
    """Write weights, config (with `extra`, which holds "step") and `state` as one step; returns the folder."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    step = int(extra["step"])
    # A new folder every time: the final checkpoint can repeat the last periodic one's step, and the
    # folder the manifest names must never be written into again.
    folder = Path(tempfile.mkdtemp(prefix=f"ckpt-{step}-", dir=run_dir))
    save_model(model, folder, extra)
    torch.save(state, folder / STATE)
    for name in (WEIGHTS, CONFIG, STATE):
        _fsync(folder / name)
    # The commit point: before it a resume sees the previous checkpoint, after it this one.
    manifest = {"format": CHECKPOINT_FORMAT, "folder": folder.name, "step": step}
    atomic_write_bytes(run_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
    for name in (WEIGHTS, CONFIG):
        _link_or_copy(folder / name, run_dir / name)
    (run_dir / STATE).unlink(missing_ok=True)  # an old-layout state.pt would only mislead a reader
    for old in run_dir.glob("ckpt-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return folder


def has_checkpoint(run_dir: str | Path) -> bool:
    run_dir = Path(run_dir)
    return (run_dir / MANIFEST).is_file() or (run_dir / STATE).is_file()


def clear_checkpoint(run_dir: str | Path) -> None:
    """Forget a run's checkpoint (a fresh start), so a kill before its first save cannot resume the old run."""
    run_dir = Path(run_dir)
    (run_dir / MANIFEST).unlink(missing_ok=True)
    (run_dir / STATE).unlink(missing_ok=True)
    for old in run_dir.glob("ckpt-*"):
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _checkpoint_folder(run_dir: Path) -> Path | None:
    manifest = run_dir / MANIFEST
    if not manifest.is_file():
        # The layout before manifests: three files at the top level, written one after another.
        return run_dir if (run_dir / STATE).is_file() else None
    try:
        entry = json.loads(manifest.read_text())
        folder = run_dir / entry["folder"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ParamembedError(f"{manifest}: not a valid checkpoint manifest ({type(err).__name__}); use --fresh") from None
    if not folder.is_dir() or folder.parent != run_dir:
        raise ParamembedError(f"{manifest}: names {entry['folder']!r}, which is missing; use --fresh")
    return folder


def load_state(path: Path) -> dict[str, Any]:
    """state.pt through `weights_only=True` (tensors and plain containers only), or one error line."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ParamembedError(f"{path.parent}: {path.name} is missing; use --fresh") from None
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ParamembedError(f"{path}: truncated or corrupt training state ({reason}); use --fresh") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ParamembedError(f"{path}: not a paramembed training state (no step); use --fresh")
    return state


def state_tensor(state: dict[str, Any], key: str, path: Path, dtype: torch.dtype | None = None,
                 shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """`state[key]` when it is a tensor of `dtype` and `shape` (None: any), else one ParamembedError line."""
    value = state.get(key)
    if (not isinstance(value, torch.Tensor) or (dtype is not None and value.dtype != dtype)
            or (shape is not None and tuple(value.shape) != shape)):
        what = type(value).__name__ if not isinstance(value, torch.Tensor) else f"{value.dtype} {list(value.shape)}"
        raise ParamembedError(f"{path}: its {key!r} entry is {what}, not what this run saves; use --fresh")
    return value


def read_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """The run's last complete checkpoint, None when it has none; ParamembedError when it is damaged.

    The weights, config and state must all carry the same step: a mismatch is an old-layout
    checkpoint cut short between its writes, and resuming from it would mix two steps.
    """
    run_dir = Path(run_dir)
    folder = _checkpoint_folder(run_dir)
    if folder is None:
        return None
    state = load_state(folder / STATE)
    config, payload = read_model_config(folder)
    weights = load_weights(folder / WEIGHTS)
    with safe_open(str(folder / WEIGHTS), "pt") as f:
        weights_step = (f.metadata() or {}).get("step")
    steps = {"state.pt": state["step"], CONFIG: payload.get("step"), WEIGHTS: int(weights_step) if weights_step else None}
    known = {name: s for name, s in steps.items() if s is not None}
    if len(set(known.values())) > 1:
        found = ", ".join(f"{name} at step {s}" for name, s in known.items())
        raise ParamembedError(f"{folder}: checkpoint files disagree ({found}), it was cut short; use --fresh")
    return Checkpoint(folder, state["step"], config, payload, weights, state)


def resume_or_start(run_dir: Path, model: FewShotModel, optimiser: torch.optim.Optimizer, resume: bool,
                    write: bool = True) -> Checkpoint | None:
    """Load the run's last checkpoint into `model` and `optimiser` and return it; None for a fresh start.

    A fresh start (no checkpoint, or `resume=False`) clears the folder's old checkpoint and metrics;
    a resumed run's metrics are cut back to the checkpoint's step, since the lines logged after it
    would repeat. `write=False` (a distributed run's other ranks) only reads: rank 0 owns the files.
    """
    saved = read_checkpoint(run_dir) if resume else None  # weights, config and state of one step, or None
    if saved is not None:
        if saved.config != model.config:
            raise ParamembedError(f"{run_dir} holds a run of another model config; use --fresh or another --name")
        load_saved_state(model, saved.weights)
        saved_optimiser = saved.state.get("optimiser")
        if not isinstance(saved_optimiser, dict) or not isinstance(saved_optimiser.get("param_groups"), list):
            raise ParamembedError(f"{saved.folder / STATE}: its 'optimiser' entry is missing or not an optimiser state; use --fresh")
        try:
            optimiser.load_state_dict(saved_optimiser)
        except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as err:
            reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            raise ParamembedError(f"{saved.folder / STATE}: its optimiser state does not fit this run ({reason}); use --fresh") from None
        if write:
            truncate_metrics(run_dir / METRICS, saved.step)
    elif write:
        run_dir.mkdir(parents=True, exist_ok=True)
        clear_checkpoint(run_dir)
        (run_dir / METRICS).unlink(missing_ok=True)
    return saved


def init_backbone(model: FewShotModel, folder: str | Path) -> None:
    """Copy the backbone, the classifier scale and a same-shaped generator of the model in `folder` into `model`.

    Stage 2 starts here from stage 1's pre-trained backbone; a "frozen" run that adds query
    refinement to a trained model starts from all of it. Batch-norm running statistics are
    skipped when `model` keeps none (MAML's backbone normalises with batch statistics).
    """
    source_config, _ = read_model_config(Path(folder))
    mine = model.config
    for field_name in ("backbone", "width"):
        if getattr(source_config, field_name) != getattr(mine, field_name):
            raise ParamembedError(f"init_from {folder}: its {field_name} is {getattr(source_config, field_name)!r}, "
                                  f"this run's is {getattr(mine, field_name)!r}")
    if (source_config.input.channels, source_config.input.image_size) != (mine.input.channels, mine.input.image_size):
        raise ParamembedError(f"init_from {folder}: it reads {source_config.input.channels}x{source_config.input.image_size} "
                              f"inputs, this run {mine.input.channels}x{mine.input.image_size}")
    state = load_file(str(Path(folder) / "model.safetensors"))
    own = model.state_dict()
    wanted = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape
              and (k.startswith(("backbone.", "generator.")) or k == "log_scale")}
    missing = [k for k in own if k.startswith("backbone.") and k not in wanted]
    if missing:
        raise ParamembedError(f"init_from {folder}: backbone tensors missing: {', '.join(missing[:3])}")
    model.load_state_dict(wanted, strict=False)
