"""Config validation: every setting in range, or one ParamembedError line naming its key.

Everything that would otherwise surface as a traceback deep in training, a NaN in metrics.jsonl
or a silently odd run is refused here, before any data is read. The configs' types come from
`paramembed.config` for type checking only: that module does not import this one.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramembed.errors import ParamembedError
from paramembed.methods import TRAINABLE

if TYPE_CHECKING:  # only types: paramembed.config imports this module
    from paramembed.config import ModelConfig, TrainConfig

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
STAGES = ("pretrain", "meta", "frozen")
FROZEN_BACKBONES = ("efficientnet_lite0",)  # pretrained and never trained here: stage "frozen" only
POLARITIES = ("auto", "dark_ink", "light_ink")
# Conv-4 halves the image four times; below 16 pixels a pooling layer gets an empty input.
MIN_IMAGE_SIZE = 16
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # one plain folder name: `<root>/<name>` stays in the root

# The least value of each number setting that has one (`ModelConfig`, then `TrainConfig`).
MODEL_MINIMUMS = {"width": 1, "embedding_dim": 1, "hidden_dim": 1, "latent_steps": 0, "maml_steps": 0, "query_steps": 0}
TRAIN_MINIMUMS = {
    "backbone_lr_scale": 0.0, "generator_lr_scale": 0.0, "images_per_class": 0, "batch_size": 1, "queries": 1, "tasks_per_batch": 1, "episodes": 1,
    "weight_decay": 0.0, "warmup_episodes": 0, "val_every": 0,
    "val_episodes": 2,  # one validation episode has no spread: its 95% interval would be written as NaN
    "val_ways": 2, "val_shots": 1, "checkpoint_every": 0, "seed": 0, "num_workers": 0,
}


# The most of each number setting that has a ceiling: beyond these a run renders for hours before
# its first step (ways=[2, 1000000]) or a seed overflows torch's 64-bit generator.
MAX_WAYS = 1000
TRAIN_MAXIMUMS = {"queries": 1000, "tasks_per_batch": 1000, "val_ways": MAX_WAYS, "val_shots": 1000,
                  "val_episodes": 1_000_000, "seed": 2**32 - 1, "num_workers": 64}
MAX_IMAGES_PER_STEP = 100_000  # tasks_per_batch x ways x (shots + queries) at the largest draw
DATA_NAMES = ("procedural", "procedural-photo")


def check_device(device: str, key: str = "device") -> str:
    """`device` if it names a device this library runs on, else a ParamembedError naming the choices."""
    if not isinstance(device, str) or not DEVICE_PATTERN.fullmatch(device):
        raise ParamembedError(f"{key} should be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return device


def check_threads(threads: int | None, key: str = "--threads") -> None:
    """None or 0 (torch's choice) or a positive thread count; anything else one ParamembedError line."""
    if threads is not None and threads < 0:
        raise ParamembedError(f"{key} must be a positive number of threads (or 0 for torch's choice), got {threads}")


def check_writable_file(path: str, key: str) -> Path:
    """Refuse an output file that cannot be written, before the minutes of work that would fill it."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        existed = out.exists()
        with out.open("a"):
            pass
        if not existed:
            out.unlink()
    except OSError as err:
        raise ParamembedError(f"{key} {path!r} cannot be written ({err.strerror or err})") from None
    return out


def check_run_name(name: str) -> str:
    """`name` when it is a safe run folder name, else one ParamembedError line."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        raise ParamembedError(
            f"run name {name!r} should be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


def _at_least(value: float, low: float, key: str) -> None:
    # `not value >= low` is also true for NaN, which would otherwise pass every comparison.
    if not (math.isfinite(value) and value >= low):
        raise ParamembedError(f"{key} must be at least {low}, got {value}")


def _minimums(config: Any, minimums: dict[str, float], where: str = "") -> None:
    for key, low in minimums.items():
        _at_least(getattr(config, key), low, f"{where}{key}")


def _positive(value: float, key: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ParamembedError(f"{key} must be a positive number, got {value}")


def _between(value: float, low: float, high: float, key: str) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ParamembedError(f"{key} must be between {low} and {high}, got {value}")


def _at_most(value: float, high: float, key: str) -> None:
    if not value <= high:
        raise ParamembedError(f"{key} must be at most {high}, got {value}")


def _range_list(values: list[int], low: int, key: str, high: int = 1000) -> None:
    if len(values) not in (1, 2):
        raise ParamembedError(f"{key} should be [n] or [low, high], got {values}")
    for v in values:
        _at_least(v, low, key)
        _at_most(v, high, key)
    if len(values) == 2 and values[0] > values[1]:
        raise ParamembedError(f"{key} should be [low, high] with low <= high, got {values}")


def _check_data_name(data: str, key: str) -> None:
    """A built-in dataset's name, or an existing folder or regular (archive) file."""
    path = Path(data)
    if data not in DATA_NAMES and not (path.is_dir() or path.is_file()):
        raise ParamembedError(f"{key} {data!r} is not {' or '.join(map(repr, DATA_NAMES))}, nor an existing folder or archive")


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
    if m.generator not in TRAINABLE:
        raise ParamembedError(f"unknown generator {m.generator!r}; known: {', '.join(TRAINABLE)}")
    from paramembed.models.backbone import BACKBONES  # imported here: it pulls in torch

    if m.backbone not in BACKBONES:
        raise ParamembedError(f"unknown {where}.backbone {m.backbone!r}; known: {', '.join(BACKBONES)}")
    _minimums(m, MODEL_MINIMUMS, f"{where}.")
    for key in ("latent_lr", "maml_lr"):
        _positive(getattr(m, key), f"{where}.{key}")
    if m.input.channels not in (1, 3):
        raise ParamembedError(f"{where}.input.channels must be 1 (glyphs) or 3 (photos), got {m.input.channels}")
    _at_least(m.input.image_size, MIN_IMAGE_SIZE, f"{where}.input.image_size")
    if m.input.polarity not in POLARITIES:
        raise ParamembedError(f"{where}.input.polarity should be one of {', '.join(POLARITIES)}, got {m.input.polarity!r}")
    _between(m.input.margin, 0, m.input.image_size // 2 - 1, f"{where}.input.margin")


def validate_train_config(config: TrainConfig) -> None:
    """Raise a one-line ParamembedError for the first setting out of range; None when all are fine."""
    c = config
    check_run_name(c.name)
    if c.stage not in STAGES:
        raise ParamembedError(f"stage should be one of {', '.join(STAGES)}, got {c.stage!r}")
    validate_model_config(c.model)
    if c.model.backbone in FROZEN_BACKBONES and c.stage != "frozen":
        raise ParamembedError(f"backbone {c.model.backbone!r} is pretrained and never trained here: use stage 'frozen'")
    if c.stage == "frozen" and c.model.backbone not in FROZEN_BACKBONES and not c.init_from:
        raise ParamembedError("stage 'frozen' keeps the backbone fixed: it needs a pretrained backbone "
                              f"({', '.join(FROZEN_BACKBONES)}) or init_from a trained model")
    if c.stage == "frozen" and c.augment != "none":
        raise ParamembedError("stage 'frozen' trains on cached features, which cannot be augmented: set augment=none")
    if not c.data:
        raise ParamembedError("data must not be empty: 'procedural', 'procedural-photo' or a folder / .tar.gz")
    _between(c.mix_weight, 0.0, 1.0, "mix_weight")
    if c.mix_weight > 0 and not c.mix_data:
        raise ParamembedError(f"mix_weight is {c.mix_weight} but mix_data names no second source")
    # Both are read only for some data; a typo in either must not be ignored quietly.
    if c.mix_data:
        _check_data_name(c.mix_data, "mix_data")
    if c.holdout and c.data in DATA_NAMES:
        raise ParamembedError(f"holdout names classes of a folder dataset, but data is {c.data!r}, whose "
                              "train / validation / test splits are fixed; drop holdout")
    from paramembed.data.augment import AUGMENTATIONS  # imported here: it pulls in torch

    if c.augment not in AUGMENTATIONS:
        raise ParamembedError(f"unknown augment {c.augment!r}; known: {', '.join(AUGMENTATIONS)}")
    _range_list(c.ways, 2, "ways", MAX_WAYS)
    _range_list(c.shots, 1, "shots")
    _minimums(c, TRAIN_MINIMUMS)
    for key, high in TRAIN_MAXIMUMS.items():
        _at_most(getattr(c, key), high, key)
    images = c.tasks_per_batch * max(c.ways) * (max(c.shots) + c.queries)
    if images > MAX_IMAGES_PER_STEP:
        raise ParamembedError(f"one step would read {images} images (tasks_per_batch x ways x (shots + queries)); "
                              f"at most {MAX_IMAGES_PER_STEP}")
    for key in ("epochs", "lr"):
        _positive(getattr(c, key), key)
    _between(c.within_alphabet, 0.0, 1.0, "within_alphabet")
    check_device(c.device)
    _check_writable(c.out_dir)
