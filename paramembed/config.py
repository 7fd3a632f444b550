"""Typed configs: one dataclass per model and per training run, saved beside every checkpoint.

A config file (YAML or JSON) holds only what differs from the defaults; `--set key=value`
overrides on the command line use dotted paths (`model.generator=latent`). Unknown keys are an
error that lists the known ones, so a typo never silently trains the wrong thing. The range
checks are `paramembed.config_checks`, which reads these types; this module imports nothing of
it, so the two (and `paramembed.methods`) form no import cycle.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
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
    # Transductive refinement (paramembed.models.transduction): soft k-means steps that move the
    # generated weights towards the task's unlabelled queries. 0 keeps the model inductive.
    query_steps: int = 0
    input: InputSpec = field(default_factory=InputSpec)


@dataclass
class TrainConfig:
    """One meta-training run. Defaults are a sensible small run on the procedural glyphs."""

    name: str = "run"
    model: ModelConfig = field(default_factory=ModelConfig)
    # "meta": episodic meta-training of the generator (stage 2); "pretrain": supervised training of
    # the backbone with a cosine classifier over every training class (stage 1, Chen et al. 2019).
    # "frozen": stage 2 on a fixed pretrained backbone (ModelConfig.backbone efficientnet_lite0):
    # the generator meta-trains on cached features, so a step costs no backbone pass at all.
    stage: str = "meta"
    init_from: str = ""  # a model folder whose backbone (and scale) this run starts from
    data: str = "procedural"  # "procedural", "procedural-photo", or a folder / .tar.gz in ImageFolder or Omniglot layout
    # Whole alphabets (Omniglot layout) or whole classes (ImageFolder) of `data` kept out of training
    # for validation. Empty: every fifth class of each alphabet is held out.
    holdout: list[str] = field(default_factory=list)
    mix_data: str = ""  # a second task source (e.g. "procedural"), drawn for a `mix_weight` fraction of steps
    mix_weight: float = 0.0
    images_per_class: int = 0  # frozen stage: at most this many images of a class get features (0: all)
    rotations: bool = False  # each class rotated by 90/180/270 degrees is a new class (Omniglot practice)
    augment: str = "none"  # "none" | "glyph" (small affine jitter) | "photo" (resized crop, flip, colour jitter)
    backbone_lr_scale: float = 1.0  # the backbone's learning rate relative to `lr` (below 1 keeps pre-trained features)
    generator_lr_scale: float = 1.0  # the generator's, likewise (0 keeps an init_from generator as it is)
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


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    # Resolving the annotations (strings under `from __future__ import annotations`) is most of a
    # config read; the app reads every model's config on each rerun (the model picker).
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
    if abs(number) >= 2**63:  # nothing here counts that far; torch and numpy take 64-bit numbers
        raise ParamembedError(f"config key {key!r} should be a whole number below 2^63, got one of {len(str(int(number)))} digits")
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


# A config holds a few dozen settings: these bounds are far above any real one, and keep a hostile
# file (deep nesting, a YAML alias bomb whose 9 aliases per level expand to 9^9 nodes) from costing
# more than reading it.
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_DEPTH = 16
MAX_CONFIG_NODES = 100_000


def _check_config_shape(data: Any, what: str) -> None:
    """Refuse a parsed config nested deeper than MAX_CONFIG_DEPTH or expanding to more than MAX_CONFIG_NODES values.

    Counted without expanding: a YAML alias is one shared object, so each distinct object's size is
    computed once (memo by id) and the bomb's 9^9 nodes are 9 sums.
    """
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > MAX_CONFIG_DEPTH:
            raise ParamembedError(f"{what} is nested more than {MAX_CONFIG_DEPTH} levels deep")
        if not isinstance(node, (dict, list)):
            return 1
        if id(node) not in sizes:
            children = node.values() if isinstance(node, dict) else node
            total = 1 + sum(size(child, depth + 1) for child in children)
            if total > MAX_CONFIG_NODES:
                raise ParamembedError(f"{what} expands to more than {MAX_CONFIG_NODES} values (YAML aliases?)")
            sizes[id(node)] = total
        return sizes[id(node)]

    size(data, 0)


def _parse(text: str, is_json: bool, what: str) -> Any:
    """JSON or YAML text -> Python values, every failure one ParamembedError line."""
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ParamembedError(f"{what} is not valid {'JSON' if is_json else 'YAML'}: {str(err).splitlines()[0]}") from None
    except RecursionError:
        raise ParamembedError(f"{what} is nested too deeply to read") from None
    except ValueError as err:  # a number of thousands of digits (Python's int conversion limit)
        raise ParamembedError(f"{what} holds a value that cannot be read ({str(err).split(';')[0]})") from None
    _check_config_shape(data, what)
    return data


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict (an empty file is an empty dict)."""
    path = Path(path)
    if not path.is_file():
        raise ParamembedError(f"config file {str(path)!r} does not exist")
    what = f"config file {str(path)!r}"
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode()
    except OSError as err:
        raise ParamembedError(f"{what} cannot be read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise ParamembedError(f"{what} is not valid YAML/JSON: {err}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ParamembedError(f"{what} is over {MAX_CONFIG_BYTES // 1024} KB; a config holds only what differs from the defaults")
    data = _parse(text, path.suffix == ".json", what)
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
        except (RecursionError, ValueError):
            value = _parse(raw, False, f"override {item[:60]!r}")  # raises its one line
        _check_config_shape(value, f"override {item[:60]!r}")
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
