"""The explorer's data: datasets, feature banks, class embeddings and projections, shared by the process.

    dataset = open_dataset(name, spec_items, min_images)          # decoded once per process
    keys = ViewKeys.of(model_path, data_key, classes, shots, seed)
    bank = cached(keys.bank, lambda: E.feature_bank(...))         # paramembed.embeddings
    emb = cached(keys.embeddings, lambda: E.generate_embeddings(...))
    xy = cached(keys.projection(space, shown, method, dims), lambda: P.project(...))
    warm_default_view(model_path, model, lock)                    # the first open's work, ahead of it

`pages/explorer.py` wires widgets to these; the keys hold everything that made a value, so every
session and the warm-up (`paramembed/app/warm.py`) find each other's work.

Why the warm-up: the explorer's first open spent ~0.6 s of its server run rendering the default
view's 200 procedural drawings and embedding them, and a switch to t-SNE then waited for
scikit-learn's import (issue 22). The default view is the same for every visitor until they move a
widget, so it is computed once, after the Playground's first page is out.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from paramembed.app.explorer_store import Store

DEFAULT_CLASSES = 40
DEFAULT_PER_GROUP = 10
DEFAULT_SHOTS = (1, 5)
DEFAULT_SPACE = "embedding"
MAX_CACHED = 12
MAX_OPEN_DATASETS = 8  # decoded datasets held by the process: each visitor's upload is one, so they are bounded too


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """Process-wide results (feature banks, embeddings, projections) keyed by everything that made them."""
    return Store(MAX_CACHED)


def cached(key: tuple, compute):
    return store().get(key, compute)


@st.cache_resource(show_spinner=False, max_entries=MAX_OPEN_DATASETS)
def open_dataset(source: str, spec_items: tuple, min_images: int, upload: bool = False):
    from paramembed.config import InputSpec
    from paramembed.data.registry import get_dataset

    # A visitor's upload is unpacked already (within its limits); its decoded images stay in memory only.
    return get_dataset(source, "test", InputSpec(**dict(spec_items)), min_images=min_images, cache_arrays=not upload)


@dataclass(frozen=True)
class ViewKeys:
    """The store's keys for one choice of model, data, classes, shot counts and seed."""

    bank: tuple
    embeddings: tuple

    @classmethod
    def of(cls, model_path: str, data_key: tuple, classes, shots: tuple[int, ...], seed: int) -> "ViewKeys":
        bank = ("bank", model_path, data_key, tuple(classes), max(shots), int(seed))
        return cls(bank, bank + (tuple(shots),))

    def projection(self, space: str, shown: str, method: str, dims: int) -> tuple:
        """`shown`: "all" or a shot count, as text."""
        return ("proj",) + self.embeddings + (space, str(shown), method, dims)


def spec_items(model) -> tuple:
    """A model's input spec as a hashable cache key (`open_dataset`'s second argument)."""
    return tuple(sorted(vars(model.config.input).items()))


def warm_default_view(model_path: str, model, lock) -> None:
    """The view a first visitor sees (procedural classes, default sliders, seed 0), and its t-SNE, into the store.

    `lock`: the model's lock (`ui.model_lock`), held while the model runs, as the page holds it.
    """
    import numpy as np

    from paramembed import embeddings as E
    from paramembed import projection as P
    from paramembed.explorer_sources import procedural_source

    name = procedural_source(model.config.input.channels)
    shots, seed = DEFAULT_SHOTS, 0
    dataset = open_dataset(name, spec_items(model), max(shots))
    classes = E.pick_classes(dataset, DEFAULT_CLASSES, seed=seed, min_drawings=max(shots), per_group=DEFAULT_PER_GROUP)
    keys = ViewKeys.of(model_path, (name,), classes, shots, seed)
    # Drawn first, outside the model's lock (rendering is most of the work; the dataset keeps what it
    # draws): a Playground click waiting for the model then waits only for the backbone's pass.
    dataset.images(E.drawing_keys(dataset, classes, max(shots), seed))
    with lock:
        bank = cached(keys.bank, lambda: E.feature_bank(model, dataset, classes, max(shots), seed=seed))
        emb = cached(keys.embeddings, lambda: E.generate_embeddings(model, bank, shots))
    shown = max(shots)  # the page opens on the largest shot count
    vectors = emb.vectors(DEFAULT_SPACE)[np.flatnonzero(emb.shots == shown)]
    for method in ("pca", "tsne"):
        if method in P.available_projections():
            cached(keys.projection(DEFAULT_SPACE, str(shown), method, 2), lambda: P.project(vectors, method, 2, seed=seed))
