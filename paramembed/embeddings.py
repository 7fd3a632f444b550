"""Parameter embeddings for many classes at once: features, generation, drift (projections: `projection`).

A generator's per-class output depends on the task it sits in (the hyper generator subtracts the
task's mean embedding; the latent one relates every pair of support examples), so "a class's
embedding" only means something together with its task. We use the protocol the models were
meta-trained on: each alphabet is one task (within-alphabet tasks), and an alphabet with more than
`max_ways` chosen classes is split into tasks of at most `max_ways` classes.

    classes = pick_classes(dataset, 200, seed=0)
    emb = embed_classes(model, dataset, classes, shots_list=(1, 2, 5, 10))
    # or, reusing the backbone pass:  bank = feature_bank(model, dataset, classes, 10)
    #                                 emb = generate_embeddings(model, bank, (1, 5))
    xy = project(emb.weights[emb.shots == 5], "tsne", dims=2)
    neighbours = cosine_neighbours(emb.weights, index=3, k=5)
    vectors_tsv, metadata_tsv = projector_tsv(emb.weights, emb.metadata())

Supports are nested: a class's 2-shot support is its 1-shot support plus one drawing, and so on,
so the drift between shot counts shows what the added drawings changed and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from paramembed.data.episodes import ClassDataset
from paramembed.errors import ParamembedError
from paramembed.methods import eval_mode
from paramembed.models.fewshot import FewShotModel
from paramembed.models.generators import ProtoGenerator
from paramembed.projection import (  # noqa: F401  (re-exported: the maths used to live here)
    PROJECTIONS,
    available_projections,
    cosine_matrix,
    cosine_neighbours,
    normalise,
    project,
    projector_tsv,
    rowwise_cosine,
)


@dataclass
class ClassEmbeddings:
    """One row per (class, shots) pair, R = classes x len(shots_list) rows in all.

    embedding:  (R, E) the parameter embedding the weights were decoded from
    weights:    (R, D) the generated classifier weights
    prototypes: (R, D) the plain class means of the same support features (imprinting)
    names, alphabets: (R,) the class's name and its alphabet (group)
    shots:      (R,) int, shots used for that row
    class_index: (R,) int, index into `drawings` (the same class at several shot counts)
    drawings:   (classes, max_shots, C, S, S) uint8, each class's support drawings, in support order
    """

    embedding: np.ndarray
    weights: np.ndarray
    prototypes: np.ndarray
    names: np.ndarray
    alphabets: np.ndarray
    shots: np.ndarray
    class_index: np.ndarray
    drawings: np.ndarray
    method: str

    def __len__(self) -> int:
        return len(self.names)

    def vectors(self, space: str) -> np.ndarray:
        """`embedding`, `weights` or `prototypes` -> (R, dim)."""
        if space not in ("embedding", "weights", "prototypes"):
            raise ValueError(f"unknown space {space!r}; known: embedding, weights, prototypes")
        return getattr(self, space)

    def drawing(self, class_index: int, shot: int = 0) -> np.ndarray:
        """One support drawing for display: (S, S) for greyscale, (S, S, 3) for colour, uint8."""
        image = self.drawings[class_index, shot]  # (C, S, S)
        return image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))

    def metadata(self, rows: np.ndarray | None = None) -> dict[str, list]:
        """Columns for the Embedding Projector's metadata file."""
        rows = np.arange(len(self)) if rows is None else rows
        return {
            "class": [str(n) for n in self.names[rows]],
            "alphabet": [str(a) for a in self.alphabets[rows]],
            "shots": [int(s) for s in self.shots[rows]],
        }


def pick_classes(dataset: ClassDataset, n_classes: int, seed: int = 0, min_drawings: int = 1,
                 per_group: int | None = None) -> list[tuple[int, int]]:
    """`n_classes` (group, class) pairs taken alphabet by alphabet in a seeded random order.

    Each alphabet's classes stay together, so colouring by alphabet shows whether an alphabet's
    style survives into its classes' weights. per_group: at most this many classes (a seeded
    sample) from each alphabet, so that a small `n_classes` still spans several alphabets;
    None takes whole alphabets.
    """
    if n_classes < 2:
        raise ParamembedError(f"choose at least 2 classes, got {n_classes}")
    if per_group is not None and per_group < 2:
        raise ParamembedError(f"take at least 2 classes per alphabet (a task needs two), got {per_group}")
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, int]] = []
    for g in rng.permutation(dataset.num_groups):
        g = int(g)
        members = [c for c in range(dataset.num_classes(g)) if dataset.num_drawings(g, c) >= min_drawings]
        if per_group is not None and len(members) > per_group:
            members = sorted(int(c) for c in rng.choice(members, per_group, replace=False))
        chosen += [(g, c) for c in members]
        if len(chosen) >= n_classes:
            break
    if len(chosen) < 2:
        raise ParamembedError(f"the dataset has {len(chosen)} classes with at least {min_drawings} images; need 2")
    return chosen[:n_classes]


def _tasks(classes: list[tuple[int, int]], max_ways: int) -> list[list[int]]:
    """Indices into `classes`, grouped into tasks: one per alphabet, split at `max_ways`."""
    by_group: dict[int, list[int]] = {}
    for i, (g, _) in enumerate(classes):
        by_group.setdefault(g, []).append(i)
    tasks = []
    for members in by_group.values():
        # Near-equal chunks (7 classes at max_ways 3 -> 3, 2, 2): splitting never leaves a lone class.
        chunks = -(-len(members) // max_ways)
        tasks += [list(map(int, part)) for part in np.array_split(members, chunks)]
    # An alphabet with one chosen class has no task of its own; it joins the previous task.
    merged: list[list[int]] = []
    for task in tasks:
        if len(task) < 2 and merged:
            merged[-1] += task
        else:
            merged.append(task)
    if len(merged[0]) < 2 and len(merged) > 1:
        merged[1] = merged[0] + merged[1]
        merged.pop(0)
    if len(merged[0]) < 2:
        raise ParamembedError("need at least 2 classes to build a task")
    return merged


@dataclass
class FeatureBank:
    """Backbone features of each chosen class's support drawings, computed once and reused.

    Generating at another shot count (any k <= max_shots) or with another space costs only the
    generator, not the backbone: the explorer caches one bank per (model, data, classes, seed).

    classes:  the (group, class) pairs, in order
    features: (classes, max_shots, D) float32 on the CPU, in support order
    drawings: (classes, max_shots, C, S, S) uint8, the same drawings for display
    names, alphabets: (classes,) str
    """

    classes: list[tuple[int, int]]
    features: torch.Tensor
    drawings: np.ndarray
    names: np.ndarray
    alphabets: np.ndarray

    @property
    def max_shots(self) -> int:
        return int(self.features.shape[1])


def feature_bank(
    model: FewShotModel,
    dataset: ClassDataset,
    classes: list[tuple[int, int]],
    max_shots: int,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> FeatureBank:
    """One backbone pass over `max_shots` seeded drawings of every class in `classes` (`drawing_keys`)."""
    keys = drawing_keys(dataset, classes, max_shots, seed)
    report = progress or (lambda fraction, text: None)
    device = model.device
    feats, images = [], []
    batch = 256
    for start in range(0, len(keys), batch):
        report(start / len(keys), f"reading drawings {start}/{len(keys)}")
        x = torch.from_numpy(dataset.images(keys[start : start + batch]))  # (B, C, S, S)
        images.append((x * 255.0 + 0.5).to(torch.uint8).numpy())
        with eval_mode(model):
            feats.append(model.features(x.to(device)).float().cpu())
    report(1.0, "features done")
    return FeatureBank(
        classes=list(classes),
        features=torch.cat(feats).view(len(classes), max_shots, -1),  # (classes, max_shots, D)
        drawings=np.concatenate(images).reshape(len(classes), max_shots, *images[0].shape[1:]),
        names=np.array([dataset.class_name(g, c) for g, c in classes]),
        alphabets=np.array([dataset.group_name(g) for g, _ in classes]),
    )


def drawing_keys(dataset: ClassDataset, classes: list[tuple[int, int]], max_shots: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """The (group, class, drawing) keys `feature_bank` reads, `max_shots` per class in class order, chosen by `seed`."""
    if max_shots < 1:
        raise ParamembedError(f"shots must be at least 1, got {max_shots}")
    short = [dataset.class_name(g, c) for g, c in classes if dataset.num_drawings(g, c) < max_shots]
    if short:
        raise ParamembedError(f"{len(short)} classes have fewer than {max_shots} images (e.g. {short[0]!r}); use fewer shots")
    rng = np.random.default_rng(seed)
    keys = []
    for g, c in classes:
        drawings = rng.choice(dataset.num_drawings(g, c), max_shots, replace=False)
        keys += [(g, c, int(d)) for d in drawings]
    return keys


def generate_embeddings(
    model: FewShotModel,
    bank: FeatureBank,
    shots_list: tuple[int, ...] = (1, 5),
    max_ways: int = 50,
    progress: Callable[[float, str], None] | None = None,
) -> ClassEmbeddings:
    """Every class's parameter embedding and weights at each k in `shots_list` (its first k drawings).

    MAML has no generator (its weights come from gradient steps through the whole backbone), so a
    MAML model is shown with its backbone's prototypes: method is reported as "proto".
    """
    shots_list = tuple(sorted(set(int(k) for k in shots_list)))
    if not shots_list or shots_list[0] < 1:
        raise ParamembedError(f"shots must be at least 1, got {shots_list}")
    if shots_list[-1] > bank.max_shots:
        raise ParamembedError(f"the feature bank holds {bank.max_shots} drawings per class; asked for {shots_list[-1]}")
    report = progress or (lambda fraction, text: None)
    device = model.device
    method = model.method if model.generator is not None else "proto"
    generator = model.generator if model.generator is not None else ProtoGenerator()
    tasks = _tasks(bank.classes, max_ways)
    out: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    with eval_mode(model, method):
        # ============ one task per alphabet (chunk), per shot count ============
        for t, members in enumerate(tasks):
            report(t / len(tasks), f"generating task {t + 1}/{len(tasks)}")
            for k in shots_list:
                support = bank.features[members, :k].to(device)  # (ways, k, D)
                ways = len(members)
                labels = torch.arange(ways, device=device).repeat_interleave(k)[None]  # (1, ways*k)
                clf = generator(support.reshape(1, ways * k, -1), labels, ways, model.scale)
                protos = support.mean(1)  # (ways, D)
                for j, i in enumerate(members):
                    out[(i, k)] = (clf.embedding[0, j].detach().float().cpu(), clf.weights[0, j].detach().float().cpu(), protos[j].cpu())
    report(1.0, "done")

    rows = [(i, k) for k in shots_list for i in range(len(bank.classes))]
    index = np.array([i for i, _ in rows])
    return ClassEmbeddings(
        embedding=torch.stack([out[r][0] for r in rows]).numpy(),
        weights=torch.stack([out[r][1] for r in rows]).numpy(),
        prototypes=torch.stack([out[r][2] for r in rows]).numpy(),
        names=bank.names[index],
        alphabets=bank.alphabets[index],
        shots=np.array([k for _, k in rows]),
        class_index=index,
        drawings=bank.drawings,
        method=method,
    )


def embed_classes(
    model: FewShotModel,
    dataset: ClassDataset,
    classes: list[tuple[int, int]],
    shots_list: tuple[int, ...] = (1, 5),
    seed: int = 0,
    max_ways: int = 50,
    progress: Callable[[float, str], None] | None = None,
) -> ClassEmbeddings:
    """`feature_bank` then `generate_embeddings`: every class at each shot count in `shots_list`."""
    shots_list = tuple(sorted(set(int(k) for k in shots_list)))
    if not shots_list or shots_list[0] < 1:
        raise ParamembedError(f"shots must be at least 1, got {shots_list}")
    report = progress or (lambda fraction, text: None)
    bank = feature_bank(model, dataset, classes, shots_list[-1], seed, lambda f, text: report(0.8 * f, text))
    return generate_embeddings(model, bank, shots_list, max_ways, lambda f, text: report(0.8 + 0.2 * f, text))


def embedding_drift(emb: ClassEmbeddings, space: str = "embedding") -> dict[int, np.ndarray]:
    """Per shot count k: (classes,) cosine between each class's vector at k shots and at the most shots.

    With nested supports, a value near 1 at small k means the first drawings already fixed
    where the class lands; the gap shows how far extra drawings move it.
    """
    vectors = emb.vectors(space)
    shots = sorted(set(int(s) for s in emb.shots))
    final = vectors[emb.shots == shots[-1]]
    order_final = emb.class_index[emb.shots == shots[-1]]
    drift = {}
    for k in shots:
        rows = emb.shots == k
        assert np.array_equal(emb.class_index[rows], order_final)
        drift[k] = rowwise_cosine(vectors[rows], final)
    return drift


class SupportClasses:
    """A hand-made task's support set seen as a one-alphabet `ClassDataset` (e.g. the playground's).

    support: (S, C, H, W) preprocessed images in [0, 1]; labels: (S,) class ids; names: one per class.
    """

    def __init__(self, support: torch.Tensor, labels: list[int], names: list[str], group: str = "task"):
        self.names, self.group = list(names), group
        self._rows = [[i for i, label in enumerate(labels) if label == c] for c in range(len(names))]
        self._images = support.float().numpy()
        self.channels, self.image_size = int(support.shape[1]), int(support.shape[-1])
        self.num_groups = 1

    def num_classes(self, group: int) -> int:
        return len(self.names)

    def num_drawings(self, group: int, cls: int) -> int:
        return len(self._rows[cls])

    def group_name(self, group: int) -> str:
        return self.group

    def class_name(self, group: int, cls: int) -> str:
        return self.names[cls]

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        return np.stack([self._images[self._rows[c][d]] for _, c, d in keys])
