"""The model zoo: every model paramembed can load, what it is called, and loading it.

    load_model()                      # the default shipped model, in eval mode
    load_model("latent")              # a shipped model by name, a folder, or "imagenet-resnet18"
    find_models()                     # [ModelEntry]: what the app's model picker offers

Where models come from (`ModelEntry.kind`):
    shipped     assets/models/<name>/ (model.safetensors + config.json), made by `make models`
    run         <runs root>/<name>/ with the same two files: $PARAMEMBED_RUNS, default ./runs
    folder      a folder named in $PARAMEMBED_MODELS (os.pathsep-separated; how tests and demos
                point the app at a model outside the tree)
    pretrained  "imagenet-resnet18": torchvision's ImageNet ResNet-18 with imprinted classifiers,
                when its weights file is on disk (`paramembed.models.pretrained`)

A folder's config.json is checked against its weights before the network is built, so a config
that disagrees with them is one line naming the field, not a PyTorch shape error.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from paramembed.calibration import read_calibration
from paramembed.checkpoint import (
    ASSETS, CONFIG, FROZEN_PREFIX, WEIGHTS, load_saved_state, load_weights, read_model_config, read_weight_shapes,
)
from paramembed.config_checks import FROZEN_BACKBONES
from paramembed.config import ModelConfig
from paramembed.device import pick_device
from paramembed.errors import ParamembedError
from paramembed.models.fewshot import FewShotModel
from paramembed.models.pretrained import PretrainedUnavailable, load_imagenet_weights, pretrained_config
from paramembed.runs import runs_root

DEFAULT_MODEL = "hyper"  # the shipped model `load_model()` and the app start with
PRETRAINED_NAME = "imagenet-resnet18"  # the model name the app and CLI accept for the ResNet-18 option
FALLBACK_MODEL = "photo"  # the shipped model used for photos when the ResNet-18 weights are missing
MODELS_ENV = "PARAMEMBED_MODELS"
KINDS = ("shipped", "run", "folder", "pretrained")
FAMILY_CHANNELS = {"glyph": 1, "photo": 3}


@dataclass(frozen=True)
class ModelEntry:
    """A model that can be loaded: `path` is what `load_model` takes (a folder, or PRETRAINED_NAME)."""

    name: str  # the folder's name, or PRETRAINED_NAME
    label: str  # for people: "hyper (shipped)"
    path: str
    generator: str  # the method it was trained with (its own method)
    channels: int  # 1: glyph models, 3: photo models
    kind: str  # one of KINDS

    @property
    def family(self) -> str:
        return "photo" if self.channels == FAMILY_CHANNELS["photo"] else "glyph"


PRETRAINED = ModelEntry(PRETRAINED_NAME, "ImageNet ResNet-18 (pretrained, imprinting)", PRETRAINED_NAME, "proto", 3, "pretrained")


# ============ discovery ============
def describe(folder: str | Path, kind: str, label: str | None = None) -> ModelEntry | None:
    """The entry for a model folder; None when it holds no loadable model (missing files, bad config)."""
    folder = Path(folder)
    try:
        config = (folder / CONFIG).stat()
    except OSError:
        return None
    if not (folder / WEIGHTS).is_file():
        return None
    # Keyed by the config file's identity: the app lists the models on every rerun, and a retrained
    # or rewritten folder is read again.
    return _describe(str(folder), kind, label, config.st_mtime_ns, config.st_size, config.st_ino)


@functools.lru_cache(maxsize=256)
def _describe(folder: str, kind: str, label: str | None, *config_identity: int) -> ModelEntry | None:
    try:
        config, _ = read_model_config(Path(folder))
    except ParamembedError:
        return None  # a half-written or foreign folder is simply not offered
    name = Path(folder).name
    return ModelEntry(name, label or f"{name} ({kind})", folder, config.generator, config.input.channels, kind)


def _model_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def shipped_models(assets: Path = ASSETS) -> list[ModelEntry]:
    """The shipped models, the default first, then by name."""
    folders = sorted(_model_folders(assets), key=lambda p: (p.name != DEFAULT_MODEL, p.name))
    return [e for e in (describe(p, "shipped") for p in folders) if e]


def run_models(runs: str | Path | None = None) -> list[ModelEntry]:
    """Models trained under the runs root (`runs`, else $PARAMEMBED_RUNS, else ./runs), by name."""
    return [e for e in (describe(p, "run", f"{p.name} (trained in runs/)") for p in _model_folders(runs_root(runs))) if e]


def env_models(assets: Path = ASSETS, runs: str | Path | None = None) -> list[ModelEntry]:
    """The folders named in $PARAMEMBED_MODELS, in order; a kind by where they are."""
    entries = []
    for item in filter(None, os.environ.get(MODELS_ENV, "").split(os.pathsep)):
        parent = Path(item).resolve().parent
        kind = "shipped" if parent == assets.resolve() else "run" if parent == runs_root(runs).resolve() else "folder"
        entry = describe(item, kind, f"{Path(item).name} ({item})")
        if entry:
            entries.append(entry)
    return entries


def find_models(assets: Path = ASSETS, runs: str | Path | None = None, pretrained: bool = False) -> list[ModelEntry]:
    """Every loadable model, each once: $PARAMEMBED_MODELS folders, shipped (default first), runs;
    then the ResNet-18 option when `pretrained`."""
    entries, seen = [], set()
    for entry in env_models(assets, runs) + shipped_models(assets) + run_models(runs):
        key = str(Path(entry.path).resolve())
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    return entries + ([PRETRAINED] if pretrained else [])


def list_models(root: Path = ASSETS) -> list[str]:
    """Names of the shipped models, by name."""
    return sorted(e.name for e in shipped_models(root))


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
    found = list_models(ASSETS)
    known = ", ".join(found) or "none"
    if not found:  # an installed package without the repository's assets/models: say where they go
        raise ParamembedError(
            f"no model at {str(name_or_path)!r}, and this paramembed has no shipped models: it looks for them in "
            f"{ASSETS}. Copy a model folder ({CONFIG} + {WEIGHTS}, e.g. the repository's assets/models/{name_or_path}) "
            f"to {ASSETS / str(name_or_path)}, pass that folder's path to load_model, or install paramembed from a "
            "clone of its repository with `pip install -e .`")
    raise ParamembedError(f"no model at {str(name_or_path)!r} (a folder with {CONFIG} and {WEIGHTS}); shipped models: {known}")


# ============ config against weights ============
def weights_generator(shapes: dict[str, tuple[int, ...]]) -> str:
    """Which trainable method's parameters a checkpoint holds, from its tensor names."""
    if "maml_head.weight" in shapes:
        return "maml"
    if any(k.startswith("generator.relate.") for k in shapes):
        return "latent"
    if any(k.startswith("generator.") for k in shapes):
        return "hyper"
    return "proto"  # imprinting has no parameters of its own


# The first tensor of each method that reads the backbone's features, and its axis of size D.
FEATURE_TENSORS = {"hyper": ("generator.encode.0.weight", 1), "latent": ("generator.encode.weight", 1), "maml": ("maml_head.weight", 0)}
FIRST_CONV = {"conv4": "backbone.layers.0.0.weight", "resnet18": "backbone.net.conv1.weight"}  # (width, channels, k, k)


def weights_mismatch(config: ModelConfig, shapes: dict[str, tuple[int, ...]]) -> str | None:
    """Why `config` cannot hold these weights (one phrase naming the field), or None when it can.

    shapes: tensor name -> shape, as in the checkpoint. Checked field by field so that the message
    says which one disagrees: generator, backbone, width, input channels, image size (through the
    number of features the generator reads), then any other tensor by name.
    """
    found = weights_generator(shapes)
    if found != config.generator:
        return f"config says generator {config.generator!r} but the weights are a {found!r} model's"
    frozen = config.backbone in FROZEN_BACKBONES  # its tensors come from its package, not the folder
    if frozen and any(k.startswith(FROZEN_PREFIX) for k in shapes):
        return f"config says backbone {config.backbone!r} (pretrained, not saved) but the weights hold a backbone"
    if not frozen and not any(k.startswith(FROZEN_PREFIX) for k in shapes):
        return f"config says backbone {config.backbone!r} but the weights hold none (a pretrained backbone's model?)"
    first_conv = FIRST_CONV.get(config.backbone)
    if not frozen and first_conv not in shapes:
        return f"config says backbone {config.backbone!r} but the weights hold another backbone"
    if not frozen:
        out_channels, in_channels = shapes[first_conv][:2]
        if config.backbone == "conv4" and out_channels != config.width:
            return f"config says width {config.width} but the weights have {out_channels} channels"
        if in_channels != config.input.channels:
            return f"config says {config.input.channels} input channels but the weights read {in_channels}"
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = FewShotModel(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if not (frozen and k.startswith(FROZEN_PREFIX))}
    if config.generator in FEATURE_TENSORS:
        key, axis = FEATURE_TENSORS[config.generator]
        dim = model.backbone.feature_dim
        if key in shapes and shapes[key][axis] != dim:
            return (f"config says image size {config.input.image_size} ({dim} features) "
                    f"but the weights read {shapes[key][axis]} features")
    for key in sorted(set(expected) | set(shapes)):
        if key not in shapes:
            return f"the weights lack {key}, which the config's model has"
        if key not in expected:
            return f"the weights hold {key}, which the config's model has not"
        if expected[key] != shapes[key]:
            return f"config gives {key} the shape {list(expected[key])} but the weights have {list(shapes[key])}"
    return None


# ============ loading ============
def load_folder(folder: Path, device: str | torch.device = "auto") -> FewShotModel:
    """The model in `folder`, its config checked against its weights first, in eval mode."""
    config, _ = read_model_config(folder)  # refuses a generator no model is trained with
    problem = weights_mismatch(config, read_weight_shapes(folder))
    if problem:
        raise ParamembedError(f"{folder}: {problem}")
    model = FewShotModel(config)
    try:
        load_saved_state(model, load_weights(folder / WEIGHTS))
    except RuntimeError as err:  # what the checks above did not foresee, still in one line
        raise ParamembedError(f"{folder}: weights do not match config.json ({str(err).splitlines()[-1].strip()})") from None
    calibration = read_calibration(folder)  # scripts/calibrate.py writes it; predict then divides by its temperature
    if calibration is not None:
        model.temperature, model.calibration = float(calibration.temperature), calibration
    return model.to(_device(device)).eval()


def load_model(name_or_path: str | Path | None = None, device: str | torch.device = "auto") -> FewShotModel:
    """Rebuild a model from its folder, a shipped model's name or PRETRAINED_NAME, in eval mode.

    None gives the default shipped model. PRETRAINED_NAME needs the ImageNet weights on disk (see
    `paramembed.models.pretrained`); `load_photo_model` falls back to the photo model instead.
    """
    if str(name_or_path) == PRETRAINED_NAME and not Path(PRETRAINED_NAME).exists():
        return load_pretrained_model(device=device)
    return load_folder(resolve_model_path(name_or_path), device)


def load_pretrained_model(
    path: str | Path | None = None, allow_download: bool = False, image_size: int = 224, device: str | torch.device = "auto"
) -> FewShotModel:
    """A `FewShotModel` on ImageNet ResNet-18 features with imprinted classifiers, in eval mode.

    `path`: the weights file, else $PARAMEMBED_RESNET18, else torch's cache; raises
    `PretrainedUnavailable` (saying where the file goes) when none is there and nothing may download.
    """
    model = FewShotModel(pretrained_config(image_size))
    load_imagenet_weights(model.backbone, path, allow_download)
    return model.to(_device(device)).eval()


def load_photo_model(
    prefer_pretrained: bool = True, path: str | Path | None = None, allow_download: bool = True, device: str | torch.device = "auto"
) -> tuple[FewShotModel, str | None]:
    """The best photo model available -> (model, notice).

    The ImageNet ResNet-18 when its weights are on disk (or downloadable); otherwise the shipped
    photo model (FALLBACK_MODEL), with `notice` saying why and where the weights file goes.
    `notice` is None when nothing fell back.
    """
    if prefer_pretrained:
        try:
            return load_pretrained_model(path, allow_download, device=device), None
        except PretrainedUnavailable as err:
            return load_model(FALLBACK_MODEL, device=device), f"{err}; using the shipped '{FALLBACK_MODEL}' model instead"
    return load_model(FALLBACK_MODEL, device=device), None


def _device(device: str | torch.device) -> torch.device:
    return device if isinstance(device, torch.device) else pick_device(device)
