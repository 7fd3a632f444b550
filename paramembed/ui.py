"""Small Streamlit helpers shared by the app's pages: picking models, loading each once, the sidebar.

Models are loaded once per process with `st.cache_resource` and shared by every session. They are
used read-only (eval mode, no parameter is ever written after loading); `model_lock` serialises
the forward passes so that concurrent sessions never interleave on one module.

Which models exist is the model zoo's answer (`paramembed.zoo.find_models`): folders named in
`PARAMEMBED_MODELS` (the first is preselected), the shipped ones, and runs under the runs root.
"""

from __future__ import annotations

import contextlib
import threading

import streamlit as st

from paramembed.app.display import md_text
from paramembed.app.library_text import library_text
from paramembed.app.messages import say
from paramembed.data.cache import LRU
from paramembed.errors import ParamembedError
from paramembed.methods import ANY_BACKBONE, METHOD_NAMES, get_method
from paramembed.zoo import FAMILY_CHANNELS, MODELS_ENV, PRETRAINED, ModelEntry, find_models, load_model, load_photo_model  # noqa: F401 (pages use ui.PRETRAINED)

ModelChoice = ModelEntry  # the name the pages knew it by


@st.cache_resource(show_spinner=False)
def _load_model(path: str, device: str):
    return load_model(path, device=device)


# What `spinner_first_time` has seen done in this process: bounded, as visitors choose the keys
# (every sampled task is one); a key forgotten only brings its spinner back.
_ASKED = LRU(4096)
_ASKED_LOCK = threading.Lock()


@contextlib.contextmanager
def spinner_first_time(key: tuple, text: str):
    """`st.spinner(text)` the first time `key`'s work is asked for in this process, nothing after.

    For work cached process-wide (`st.cache_resource`): once done it returns at once, and a spinner
    still costs a timer thread and a message that redraws the page (a rerun per click). If the cache
    evicted the entry meanwhile, the work is redone without a spinner.
    """
    with _ASKED_LOCK:
        done = key in _ASKED
        if done:
            _ASKED.move_to_end(key)
    if done:
        yield
        return
    with st.spinner(text):
        yield
    with _ASKED_LOCK:
        _ASKED.get_or_make(key, lambda: True)


def load_model_cached(path: str, device: str = "auto"):
    """The model in `path`, loaded once per process and shared read-only by all sessions."""
    # The spinner is here, not in the decorator (fixed text): it speaks the session's language.
    with spinner_first_time(("model", path, device), say("loading_model")):
        return _load_model(path, device)


@st.cache_resource
def model_lock(path: str, device: str = "auto") -> threading.Lock:
    """One lock per loaded model: hold it around adapt/predict."""
    return threading.Lock()


def device_options() -> list[str]:
    import torch

    return ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def device_label(device: str) -> str:
    """`paramembed.device.describe_device`'s name for the device, in the session's language."""
    import torch

    from paramembed.device import pick_device

    picked = pick_device(device)
    if picked.type == "cuda":
        return say("device_cuda", name=torch.cuda.get_device_name(picked))
    return say("device_cpu", threads=torch.get_num_threads())


def model_picker(key: str = "model", container=None, extra: tuple[ModelEntry, ...] = (), on_change=None) -> ModelEntry | None:
    """A selectbox of every loadable model (the default preselected), then `extra`; None when there is none.

    Keyed by identity: the widget's value (`st.session_state[key]`) is the entry's path, so a
    model appearing or vanishing (a run finishing, a folder deleted) never shifts the pick.
    """
    where = container or st.sidebar
    found = find_models()
    choices = {c.path: c for c in found + list(extra)}
    if not found:
        where.warning(say("no_model_found"))
        return None
    if st.session_state.get(key) not in choices:
        st.session_state.pop(key, None)  # its model is gone: fall back to the default
    path = where.selectbox(say("model"), list(choices), format_func=lambda p: model_label(choices[p]), key=key,
                           on_change=on_change, help=say("model_help", env=MODELS_ENV))
    return choices[path]


def model_label(choice: ModelEntry) -> str:
    """The entry's label in the session's language: "hyper (shipped)", "my-run (trained in runs/)"."""
    if choice.kind == "pretrained":
        return say("model_label_pretrained")
    if choice.kind in ("shipped", "run") and choice.label == f"{choice.name} ({'shipped' if choice.kind == 'shipped' else 'trained in runs/'})":
        return say(f"model_label_{choice.kind}", name=choice.name)
    if choice.label.startswith(f"{choice.name} (") and choice.label.endswith(")"):  # a folder named in $PARAMEMBED_MODELS
        return say("model_label_folder", name=choice.name, path=choice.label[len(choice.name) + 2 : -1])
    return choice.label


def is_pretrained(choice: ModelEntry) -> bool:
    return choice.kind == "pretrained"


@st.cache_resource(show_spinner=False)
def _load_pretrained(device: str, weights: str):
    """`weights` (the file found, or "") is only a cache key: dropping the file in takes effect on rerun."""

    # Never download from the app: a page must not hang on the network.
    return load_photo_model(allow_download=False, device=device)


def load_pretrained_cached(device: str = "auto"):
    """(model, notice): ImageNet ResNet-18 + imprinting, or the shipped photo model with `notice` saying why."""
    from paramembed.models.pretrained import find_weights

    try:
        found = find_weights()
    except ParamembedError:
        found = None
    with st.spinner(say("loading_pretrained")):
        return _load_pretrained(device, str(found or ""))


def shipped_or_first(choices: list[ModelEntry], channels: int, name: str | None = None) -> ModelEntry | None:
    """The model called `name` (a shipped one first) when it reads `channels`, else the first choice that does."""
    fitting = [c for c in choices if c.channels == channels and not is_pretrained(c)]
    named = sorted((c for c in fitting if name and c.name == name), key=lambda c: c.kind != "shipped")
    return (named or fitting or [None])[0]


def model_for_family(family: str, picked: ModelEntry, choices: list[ModelEntry]) -> ModelEntry | None:
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
    device = where.selectbox(say("device"), device_options(), key=key, help=say("device_help"),
                             format_func=lambda d: say("device_auto") if d == "auto" else d)
    where.caption(say("running_on", device=device_label(device)))
    return device


def model_for_method(method: str, selected: ModelEntry, choices: list[ModelEntry] | None = None) -> ModelEntry | None:
    """Which model runs `method`: the selected one when it fits, else a shipped model trained for it.

    Methods that work on any backbone (proto, finetune) run on the selected model when no model
    was trained with them; the others need such a model. None when no such model is available.
    """
    get_method(method)
    if selected.generator == method:
        return selected
    choices = find_models() if choices is None else choices
    same_input = [c for c in choices if c.generator == method and c.channels == selected.channels]
    shipped = [c for c in same_input if c.kind == "shipped"]
    if method in ANY_BACKBONE:  # a run trained with it does not beat the backbone the user picked
        return (shipped or [selected])[0]
    return (shipped or same_input or [None])[0]


def method_picker(selected: ModelEntry, key: str = "method", container=None) -> str:
    """The method selectbox; defaults to the selected model's own generator."""
    where = container or st.sidebar
    # The value lives in session state only (no `index=` as well): setting both makes Streamlit
    # warn with a stack trace on the console when the model picker's callback resets the method.
    if st.session_state.get(key) not in METHOD_NAMES:
        st.session_state[key] = selected.generator if selected.generator in METHOD_NAMES else METHOD_NAMES[0]
    return where.selectbox(say("method"), METHOD_NAMES, key=key, help=methods_help())


def methods_help(names: tuple[str, ...] = METHOD_NAMES) -> str:
    """`paramembed.methods.method_help` in the session's language: each method and what it does."""
    return say("list_separator").join(say("method_help_item", method=name, summary=say(f"method_summary_{name}"))
                                      for name in names)


def show_error(err: Exception) -> None:
    """A user error as one red line (never a traceback)."""
    # The message may name a visitor's file or class: shown as text, never as Markdown. The library's
    # messages are English (the CLI's too); in Chinese a translated lead says so (see say("error_lead")).
    st.error(say("error_lead", detail=md_text(library_text(err))), icon=":material/error:")  # Material, not emoji: no emoji font needed


def memo(name: str, key, compute, max_entries: int = 16):
    """Per-session memo: `compute()` once per `key`, the last `max_entries` kept.

    For results that hold tensors (adapted classifiers, preprocessed tasks): st.cache_data would
    pickle them on every hit, and they belong to one session's task anyway.
    """
    store = st.session_state.setdefault(f"_memo_{name}", LRU(max_entries))
    return store.get_or_make(key, compute)
