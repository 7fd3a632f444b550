"""Small Streamlit helpers shared by the app's pages: finding models, loading each once, the sidebar.

Models are loaded once per process with `st.cache_resource` and shared by every session. They are
used read-only (eval mode, no parameter is ever written after loading); `model_lock` serialises
the forward passes so that concurrent sessions never interleave on one module.

Which models exist: the shipped ones (`assets/models/<name>`), locally trained ones (any
`runs/<name>/` holding `model.safetensors` + `config.json`), and folders named in the
`PARAMEMBED_MODELS` environment variable (os.pathsep-separated; the first is preselected), which
is how tests and demos point the app at a model outside the tree.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from paramembed.checkpoint import ASSETS, CONFIG, DEFAULT_MODEL, WEIGHTS
from paramembed.errors import ParamembedError
from paramembed.models.fewshot import METHODS

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs"
MODELS_ENV = "PARAMEMBED_MODELS"
# Methods that run on any model's backbone; the others need a model trained for them.
ANY_BACKBONE = ("proto", "finetune")
METHOD_HELP = {
    "hyper": "a hypernetwork generates each class's weights from its support features",
    "latent": "weights decoded from a per-class latent code (LEO-style)",
    "proto": "imprinting: each class's weights are its mean support feature",
    "maml": "MAML baseline: the whole network takes gradient steps on the support set",
    "finetune": "baseline: a linear head trained for 100 steps on frozen features",
}


@dataclass(frozen=True)
class ModelChoice:
    """A model the app can load: a display label, its folder, and the generator it was trained with."""

    label: str
    path: str
    generator: str
    channels: int


# Not a folder: torchvision's ImageNet ResNet-18 with imprinted weights (paramembed.models.pretrained).
# Its path is the name the CLI accepts for it; it reads RGB and generates weights by imprinting.
PRETRAINED = ModelChoice("ImageNet ResNet-18 (pretrained, imprinting)", "imagenet-resnet18", "proto", 3)
FAMILY_CHANNELS = {"glyph": 1, "photo": 3}


def _describe(folder: Path) -> tuple[str, int] | None:
    if not ((folder / WEIGHTS).is_file() and (folder / CONFIG).is_file()):
        return None
    try:
        model = json.loads((folder / CONFIG).read_text()).get("model", {})
        return str(model.get("generator", "?")), int(model.get("input", {}).get("channels", 1))
    except (OSError, ValueError, AttributeError):
        return None  # a half-written or foreign folder is simply not offered


def find_models(assets: Path = ASSETS, runs: Path = RUNS) -> list[ModelChoice]:
    """Every loadable model: env folders first, then shipped (default first), then runs/."""
    choices: list[ModelChoice] = []
    seen: set[str] = set()

    def add(label: str, folder: Path) -> None:
        described = _describe(folder)
        key = str(folder.resolve())
        if described and key not in seen:
            seen.add(key)
            choices.append(ModelChoice(label, str(folder), *described))

    for entry in filter(None, os.environ.get(MODELS_ENV, "").split(os.pathsep)):
        add(f"{Path(entry).name} ({entry})", Path(entry))
    shipped = sorted(assets.glob("*/"), key=lambda p: (p.name != DEFAULT_MODEL, p.name)) if assets.is_dir() else []
    for folder in shipped:
        add(f"{folder.name} (shipped)", folder)
    for folder in sorted(runs.glob("*/")) if runs.is_dir() else []:
        add(f"{folder.name} (trained in runs/)", folder)
    return choices


@st.cache_resource(show_spinner="Loading the model (once per process)...")
def load_model_cached(path: str, device: str = "auto"):
    """The model in `path`, loaded once per process and shared read-only by all sessions."""
    from paramembed.checkpoint import load_model

    return load_model(path, device=device)


@st.cache_resource
def model_lock(path: str, device: str = "auto") -> threading.Lock:
    """One lock per loaded model: hold it around adapt/predict."""
    return threading.Lock()


def device_options() -> list[str]:
    import torch

    return ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def device_label(device: str) -> str:
    from paramembed.device import describe_device, pick_device

    return describe_device(pick_device(device))


def model_picker(key: str = "model", container=None, extra: tuple[ModelChoice, ...] = (), on_change=None) -> ModelChoice | None:
    """A selectbox of every loadable model (the default preselected), then `extra`; None when there is none."""
    where = container or st.sidebar
    found = find_models()
    choices = found + list(extra)
    if not found:
        where.warning(
            "No model found: the shipped models live in assets/models/ (`make models` trains them), "
            "locally trained ones in runs/<name>/ with model.safetensors + config.json."
        )
        return None
    labels = [c.label for c in choices]
    index = where.selectbox("Model", range(len(choices)), format_func=lambda i: labels[i], key=key, on_change=on_change,
                            help="shipped models, models trained in runs/, or folders in $PARAMEMBED_MODELS")
    return choices[index]


def is_pretrained(choice: ModelChoice) -> bool:
    return choice.path == PRETRAINED.path


@st.cache_resource(show_spinner="Loading ImageNet ResNet-18 (once per process)...")
def _load_pretrained(device: str, weights: str):
    """`weights` (the file found, or "") is only a cache key: dropping the file in takes effect on rerun."""
    from paramembed.models.pretrained import load_photo_model

    # Never download from the app: a page must not hang on the network.
    return load_photo_model(allow_download=False, device=device)


def load_pretrained_cached(device: str = "auto"):
    """(model, notice): ImageNet ResNet-18 + imprinting, or the shipped photo model with `notice` saying why."""
    from paramembed.models.pretrained import find_weights

    try:
        found = find_weights()
    except ParamembedError:
        found = None
    return _load_pretrained(device, str(found or ""))


def shipped_or_first(choices: list[ModelChoice], channels: int, name: str | None = None) -> ModelChoice | None:
    """The shipped model called `name` when it reads `channels`, else the first choice that does."""
    fitting = [c for c in choices if c.channels == channels and not is_pretrained(c)]
    named = [c for c in fitting if name and Path(c.path).name == name and Path(c.path).parent.resolve() == ASSETS.resolve()]
    return (named or fitting or [None])[0]


def model_for_family(family: str, picked: ModelChoice, choices: list[ModelChoice]) -> ModelChoice | None:
    """The model for images of `family` ("glyph" or "photo"): the picked one when it reads them.

    Otherwise the shipped photo model for photos, the first glyph model in `find_models`'s order
    (the app's default) for drawings; None when no model reads that family.
    """
    channels = FAMILY_CHANNELS[family]
    if picked.channels == channels:
        return picked
    return shipped_or_first(choices, channels, "photo" if family == "photo" else None)


def device_picker(key: str = "device", container=None) -> str:
    where = container or st.sidebar
    device = where.selectbox("Device", device_options(), key=key, help="auto uses CUDA when present")
    where.caption(f"Running on **{device_label(device)}**")
    return device


def model_for_method(method: str, selected: ModelChoice, choices: list[ModelChoice] | None = None) -> ModelChoice | None:
    """Which model runs `method`: the selected one when it fits, else a shipped model trained for it.

    proto and finetune run on any backbone; hyper/latent/maml need a model trained with that
    generator. None when no such model is available.
    """
    if method not in METHODS:
        raise ParamembedError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    if selected.generator == method:
        return selected
    choices = find_models() if choices is None else choices
    same_input = [c for c in choices if c.generator == method and c.channels == selected.channels]
    shipped = [c for c in same_input if Path(c.path).parent.resolve() == ASSETS.resolve()]
    if shipped or same_input:
        return (shipped or same_input)[0]
    return selected if method in ANY_BACKBONE else None


def method_picker(selected: ModelChoice, key: str = "method", container=None) -> str:
    """The method selectbox; defaults to the selected model's own generator."""
    where = container or st.sidebar
    default = METHODS.index(selected.generator) if selected.generator in METHODS else 0
    return where.selectbox(
        "Method", METHODS, index=default, key=key, format_func=lambda m: m,
        help="; ".join(f"{m}: {h}" for m, h in METHOD_HELP.items()),
    )


def show_error(err: Exception) -> None:
    """A user error as one red line (never a traceback)."""
    st.error(str(err), icon=":material/error:")  # Material, not emoji: no emoji font needed


def memo(name: str, key, compute, max_entries: int = 16):
    """Per-session memo: `compute()` once per `key`, the last `max_entries` kept.

    For results that hold tensors (adapted classifiers, preprocessed tasks): st.cache_data would
    pickle them on every hit, and they belong to one session's task anyway.
    """
    store = st.session_state.setdefault(f"_memo_{name}", {})
    if key in store:
        store[key] = store.pop(key)  # most recently used goes last
        return store[key]
    value = compute()
    store[key] = value
    while len(store) > max_entries:
        store.pop(next(iter(store)))
    return value
