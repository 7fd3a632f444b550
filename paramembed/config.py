"""Typed configs: one dataclass per model and per training run, saved beside every checkpoint.

A config file (YAML or JSON) holds only what differs from the defaults; `--set key=value`
overrides on the command line use dotted paths (`model.generator=latent`). Unknown keys are an
error that lists the known ones, so a typo never silently trains the wrong thing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from paramembed.errors import ParamembedError


@dataclass
class InputSpec:
    """How a raw image becomes the model's input tensor (applied inside `adapt`/`predict`)."""

    channels: int = 1  # 1 for glyph models, 3 for photo models
    image_size: int = 28
    polarity: str = "auto"  # "auto" | "dark_ink" | "light_ink": glyph models want light ink on dark
    centre: bool = True  # crop to the ink's bounding box and centre it (glyphs only)
    margin: int = 2  # pixels left around a centred glyph


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model from its folder alone."""

    generator: str = "hyper"  # hyper | latent | proto | maml
    backbone: str = "conv4"
    width: int = 64  # channels of every conv layer
    embedding_dim: int = 64  # size of the per-class parameter embedding
    hidden_dim: int = 256  # hidden width of the generator's MLPs
    latent_steps: int = 0  # `latent`: gradient steps on the class codes at adaptation time
    latent_lr: float = 1.0
    maml_steps: int = 5  # `maml`: inner steps at adaptation time
    maml_lr: float = 0.4
    maml_first_order: bool = True
    input: InputSpec = field(default_factory=InputSpec)


@dataclass
class TrainConfig:
    """One meta-training run. Defaults are a sensible small run on the procedural glyphs."""

    name: str = "run"
    model: ModelConfig = field(default_factory=ModelConfig)
    # "meta": episodic meta-training of the generator (stage 2); "pretrain": supervised training of
    # the backbone with a cosine classifier over every training class (stage 1, Chen et al. 2019).
    stage: str = "meta"
    init_from: str = ""  # a model folder whose backbone (and scale) this run starts from
    data: str = "procedural"  # "procedural", "procedural-photo", or a folder / .tar.gz in ImageFolder or Omniglot layout
    # Whole alphabets (Omniglot layout) or whole classes (ImageFolder) of `data` kept out of training
    # for validation. Empty: every fifth class of each alphabet is held out.
    holdout: list[str] = field(default_factory=list)
    mix_data: str = ""  # a second task source (e.g. "procedural"), drawn for a `mix_weight` fraction of steps
    mix_weight: float = 0.0
    rotations: bool = False  # each class rotated by 90/180/270 degrees is a new class (Omniglot practice)
    augment: str = "none"  # "none" | "glyph" (small affine jitter) | "photo" (resized crop, flip, colour jitter)
    backbone_lr_scale: float = 1.0  # the backbone's learning rate relative to `lr` (below 1 keeps pre-trained features)
    batch_size: int = 256  # pretrain: images per step
    epochs: float = 10.0  # pretrain: passes over the training images (rotated copies included)
    ways: list[int] = field(default_factory=lambda: [5, 20])  # [n] fixed, or [low, high] drawn per batch
    shots: list[int] = field(default_factory=lambda: [1, 5])
    queries: int = 5
    tasks_per_batch: int = 4
    within_alphabet: float = 0.5  # fraction of tasks whose classes share one alphabet
    episodes: int = 20000  # tasks seen in total
    lr: float = 1e-3
    weight_decay: float = 5e-4
    warmup_episodes: int = 500
    val_every: int = 2000  # episodes between validations
    val_episodes: int = 200
    val_ways: int = 20
    val_shots: int = 1
    checkpoint_every: int = 1000
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision, used on CUDA only
    num_workers: int = 0  # processes rendering tasks; 0 renders in the training process
    compile: bool = False
    out_dir: str = "runs"


def _field_types(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Build dataclass `cls` from a nested dict, rejecting unknown keys by name."""
    if not isinstance(data, dict):
        what = f"config key {where!r}" if where else "config"
        raise ParamembedError(f"{what} should be a mapping of settings, got {type(data).__name__} {data!r}")
    types = _field_types(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ParamembedError(
                f"unknown config key {(where + '.' if where else '') + key!r}; known keys: {', '.join(known)}"
            )
        kind = types[key]
        if dataclasses.is_dataclass(kind):
            value = from_dict(kind, value, f"{where}.{key}" if where else key)
        kwargs[key] = _coerce(value, kind, f"{where}.{key}" if where else key)
    return cls(**kwargs)


def _coerce(value: Any, kind: Any, key: str) -> Any:
    if dataclasses.is_dataclass(kind):
        return value
    origin = getattr(kind, "__origin__", None)
    if origin is list:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise ParamembedError(f"config key {key!r} should be a list, got {value!r}")
        (inner,) = kind.__args__
        return [_coerce(v, inner, key) for v in value]
    if kind is bool:
        return _to_bool(value, key)
    if kind is int:
        return _to_int(value, key)
    if kind is float:
        return _to_float(value, key)
    if kind is str:
        # A list, a mapping or null (`name=`) would become the text "[1]" or "None": refuse them.
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ParamembedError(f"config key {key!r} should be text, got {value!r}")
        return str(value)
    return value


def _to_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ParamembedError(f"config key {key!r} should be true or false, got {value!r}")


def _to_int(value: Any, key: str) -> int:
    # YAML reads `2e4` as text and `2.9` as a float; int() would truncate 2.9 to 2 without a word.
    number = value
    if isinstance(value, str):
        try:
            number = float(value) if not re.fullmatch(r"\s*[-+]?\d+\s*", value) else int(value)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ParamembedError(f"config key {key!r} should be a whole number, got {value!r}")
    if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
        raise ParamembedError(f"config key {key!r} should be a whole number, got {value!r}")
    return int(number)


def _to_float(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParamembedError(f"config key {key!r} should be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ParamembedError(f"config key {key!r} should be a number, got {value!r}") from None


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict (an empty file is an empty dict)."""
    path = Path(path)
    if not path.is_file():
        raise ParamembedError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ParamembedError(f"config file {str(path)!r} is not valid YAML/JSON: {str(err).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamembedError(f"config file {str(path)!r} should hold a mapping of settings (key: value), got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `key.sub=value` strings; values are parsed as YAML (`5`, `true`, `[5, 20]`)."""
    data = json.loads(json.dumps(data))  # deep copy
    for item in overrides:
        if "=" not in item:
            raise ParamembedError(f"override {item!r} should look like key=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ParamembedError(f"override {item!r} has an empty key; write e.g. model.width=32")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node = data
        *parents, last = parts
        for depth, part in enumerate(parents):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                section = ".".join(parts[: depth + 1])
                raise ParamembedError(f"override {item!r}: {section!r} is a single value, not a section with keys")
        node[last] = value
    return data


def load_train_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    data = read_config_file(path) if path else {}
    data = apply_overrides(data, overrides or [])
    return from_dict(TrainConfig, data)


# ============ validation: every number in range, with one line naming the key ============

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
STAGES = ("pretrain", "meta")
POLARITIES = ("auto", "dark_ink", "light_ink")
# Conv-4 halves the image four times; below 16 pixels a pooling layer gets an empty input.
MIN_IMAGE_SIZE = 16


def check_device(device: str, key: str = "device") -> str:
    """`device` if it names a device this library runs on, else a ParamembedError naming the choices."""
    if not isinstance(device, str) or not DEVICE_PATTERN.fullmatch(device):
        raise ParamembedError(f"{key} should be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return device


def _at_least(value: float, low: float, key: str) -> None:
    # `not value >= low` is also true for NaN, which would otherwise pass every comparison.
    if not (math.isfinite(value) and value >= low):
        raise ParamembedError(f"{key} must be at least {low}, got {value}")


def _positive(value: float, key: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ParamembedError(f"{key} must be a positive number, got {value}")


def _between(value: float, low: float, high: float, key: str) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ParamembedError(f"{key} must be between {low} and {high}, got {value}")


def _range_list(values: list[int], low: int, key: str) -> None:
    if len(values) not in (1, 2):
        raise ParamembedError(f"{key} should be [n] or [low, high], got {values}")
    for v in values:
        _at_least(v, low, key)
    if len(values) == 2 and values[0] > values[1]:
        raise ParamembedError(f"{key} should be [low, high] with low <= high, got {values}")


def _check_writable(out_dir: str) -> None:
    """Refuse an out_dir that cannot be created, before any data is read or model built."""
    if not out_dir:
        raise ParamembedError("out_dir must not be empty")
    path = Path(out_dir).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ParamembedError(f"out_dir {out_dir!r}: {existing} is a file, not a folder")
    # A real probe: os.access says yes to root everywhere, yet /proc or a read-only mount refuse a mkdir.
    try:
        probe = tempfile.mkdtemp(prefix=".paramembed-probe-", dir=existing)
    except OSError as err:
        raise ParamembedError(f"out_dir {out_dir!r}: cannot create folders in {existing} ({err.strerror})") from None
    os.rmdir(probe)


def validate_model_config(model: ModelConfig, where: str = "model") -> None:
    m = model
    for key in ("width", "embedding_dim", "hidden_dim"):
        _at_least(getattr(m, key), 1, f"{where}.{key}")
    for key in ("latent_steps", "maml_steps"):
        _at_least(getattr(m, key), 0, f"{where}.{key}")
    for key in ("latent_lr", "maml_lr"):
        _positive(getattr(m, key), f"{where}.{key}")
    if m.input.channels not in (1, 3):
        raise ParamembedError(f"{where}.input.channels must be 1 (glyphs) or 3 (photos), got {m.input.channels}")
    _at_least(m.input.image_size, MIN_IMAGE_SIZE, f"{where}.input.image_size")
    if m.input.polarity not in POLARITIES:
        raise ParamembedError(f"{where}.input.polarity should be one of {', '.join(POLARITIES)}, got {m.input.polarity!r}")
    _between(m.input.margin, 0, m.input.image_size // 2 - 1, f"{where}.input.margin")


RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # one plain folder name: `<root>/<name>` stays in the root


def check_run_name(name: str) -> str:
    """`name` when it is a safe run folder name, else one ParamembedError line."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        raise ParamembedError(
            f"run name {name!r} should be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


def validate_train_config(config: TrainConfig) -> None:
    """Raise a one-line ParamembedError for the first setting out of range; None when all are fine.

    Everything that would otherwise surface as a traceback deep in training, a NaN in
    metrics.jsonl or a silently odd run is refused here, before any data is read.
    """
    c = config
    check_run_name(c.name)
    if c.stage not in STAGES:
        raise ParamembedError(f"stage should be 'pretrain' or 'meta', got {c.stage!r}")
    validate_model_config(c.model)
    if not c.data:
        raise ParamembedError("data must not be empty: 'procedural', 'procedural-photo' or a folder / .tar.gz")
    _between(c.mix_weight, 0.0, 1.0, "mix_weight")
    if c.mix_weight > 0 and not c.mix_data:
        raise ParamembedError(f"mix_weight is {c.mix_weight} but mix_data names no second source")
    from paramembed.data.augment import AUGMENTATIONS  # imported here: it pulls in torch

    if c.augment not in AUGMENTATIONS:
        raise ParamembedError(f"unknown augment {c.augment!r}; known: {', '.join(AUGMENTATIONS)}")
    _at_least(c.backbone_lr_scale, 0.0, "backbone_lr_scale")
    _at_least(c.batch_size, 1, "batch_size")
    _positive(c.epochs, "epochs")
    _range_list(c.ways, 2, "ways")
    _range_list(c.shots, 1, "shots")
    _at_least(c.queries, 1, "queries")
    _at_least(c.tasks_per_batch, 1, "tasks_per_batch")
    _between(c.within_alphabet, 0.0, 1.0, "within_alphabet")
    _at_least(c.episodes, 1, "episodes")
    _positive(c.lr, "lr")
    _at_least(c.weight_decay, 0.0, "weight_decay")
    _at_least(c.warmup_episodes, 0, "warmup_episodes")
    _at_least(c.val_every, 0, "val_every")
    # One validation episode has no spread: its 95% interval would be written as NaN.
    _at_least(c.val_episodes, 2, "val_episodes")
    _at_least(c.val_ways, 2, "val_ways")
    _at_least(c.val_shots, 1, "val_shots")
    _at_least(c.checkpoint_every, 0, "checkpoint_every")
    _at_least(c.seed, 0, "seed")
    check_device(c.device)
    _at_least(c.num_workers, 0, "num_workers")
    _check_writable(c.out_dir)
