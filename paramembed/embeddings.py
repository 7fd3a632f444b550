"""Parameter embeddings for many classes at once: generate, project, compare, export.

A generator's per-class output depends on the task it sits in (the hyper generator subtracts the
task's mean embedding; the latent one relates every pair of support examples), so "a class's
embedding" only means something together with its task. We use the protocol the models were
meta-trained on: each alphabet is one task (within-alphabet tasks), and an alphabet with more than
`max_ways` chosen classes is split into tasks of at most `max_ways` classes.

    classes = pick_classes(dataset, 200, seed=0)
    emb = embed_classes(model, dataset, classes, shots_list=(1, 2, 5, 10))
    xy = project(emb.weights[emb.shots == 5], "tsne", dims=2)
    neighbours = cosine_neighbours(emb.weights, index=3, k=5)
    vectors_tsv, metadata_tsv = projector_tsv(emb.weights, emb.metadata())

Supports are nested: a class's 2-shot support is its 1-shot support plus one drawing, and so on,
so the drift between shot counts shows what the added drawings changed and nothing else.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from paramembed.data.episodes import ClassDataset
from paramembed.errors import ParamembedError
from paramembed.models.fewshot import FewShotModel
from paramembed.models.generators import ProtoGenerator

PROJECTIONS = ("pca", "tsne", "umap")


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


def available_projections() -> list[str]:
    """PCA and t-SNE always (scikit-learn); UMAP when `umap-learn` is installed."""
    return ["pca", "tsne"] + (["umap"] if importlib.util.find_spec("umap") is not None else [])


def pick_classes(dataset: ClassDataset, n_classes: int, seed: int = 0, min_drawings: int = 1) -> list[tuple[int, int]]:
    """`n_classes` (group, class) pairs taken as whole alphabets in a seeded random order.

    Whole alphabets keep each alphabet's classes together, so colouring by alphabet shows
    whether an alphabet's style survives into its classes' weights.
    """
    if n_classes < 2:
        raise ParamembedError(f"choose at least 2 classes, got {n_classes}")
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, int]] = []
    for g in rng.permutation(dataset.num_groups):
        g = int(g)
        chosen += [(g, c) for c in range(dataset.num_classes(g)) if dataset.num_drawings(g, c) >= min_drawings]
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


def embed_classes(
    model: FewShotModel,
    dataset: ClassDataset,
    classes: list[tuple[int, int]],
    shots_list: tuple[int, ...] = (1, 5),
    seed: int = 0,
    max_ways: int = 50,
    progress: Callable[[float, str], None] | None = None,
) -> ClassEmbeddings:
    """Generate every class's parameter embedding and weights at each shot count in `shots_list`.

    MAML has no generator (its weights come from gradient steps through the whole backbone), so a
    MAML model is shown with its backbone's prototypes: method is reported as "proto".
    """
    shots_list = tuple(sorted(set(int(k) for k in shots_list)))
    if not shots_list or shots_list[0] < 1:
        raise ParamembedError(f"shots must be at least 1, got {shots_list}")
    max_shots = shots_list[-1]
    short = [dataset.class_name(g, c) for g, c in classes if dataset.num_drawings(g, c) < max_shots]
    if short:
        raise ParamembedError(f"{len(short)} classes have fewer than {max_shots} images (e.g. {short[0]!r}); use fewer shots")
    report = progress or (lambda fraction, text: None)
    rng = np.random.default_rng(seed)
    keys = []
    for g, c in classes:
        drawings = rng.choice(dataset.num_drawings(g, c), max_shots, replace=False)
        keys += [(g, c, int(d)) for d in drawings]

    # ============ features: one backbone pass over every support drawing ============
    device = model.device
    feats, images = [], []
    batch = 256
    for start in range(0, len(keys), batch):
        report(0.8 * start / len(keys), f"reading drawings {start}/{len(keys)}")
        x = torch.from_numpy(dataset.images(keys[start : start + batch]))  # (B, C, S, S)
        images.append((x * 255.0 + 0.5).to(torch.uint8).numpy())
        with torch.inference_mode():
            feats.append(model.features(x.to(device)).float().cpu())
    features = torch.cat(feats).view(len(classes), max_shots, -1)  # (classes, max_shots, D)
    drawings = np.concatenate(images).reshape(len(classes), max_shots, *images[0].shape[1:])

    # ============ generator: one task per alphabet (chunk), per shot count ============
    method = model.method if model.generator is not None else "proto"
    generator = model.generator if model.generator is not None else ProtoGenerator()
    needs_grad = method == "latent" and model.config.latent_steps > 0
    tasks = _tasks(classes, max_ways)
    dim_e = None
    out: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    was_training = model.training
    model.eval()
    try:
        for t, members in enumerate(tasks):
            report(0.8 + 0.2 * t / len(tasks), f"generating task {t + 1}/{len(tasks)}")
            for k in shots_list:
                support = features[members, :k].to(device)  # (ways, k, D)
                ways = len(members)
                labels = torch.arange(ways, device=device).repeat_interleave(k)[None]  # (1, ways*k)
                with torch.no_grad() if needs_grad else torch.inference_mode():
                    clf = generator(support.reshape(1, ways * k, -1), labels, ways, model.scale)
                protos = support.mean(1)  # (ways, D)
                for j, i in enumerate(members):
                    out[(i, k)] = (clf.embedding[0, j].detach().float().cpu(), clf.weights[0, j].detach().float().cpu(), protos[j].cpu())
                dim_e = clf.embedding.shape[-1]
    finally:
        model.train(was_training)
    report(1.0, "done")

    rows = [(i, k) for k in shots_list for i in range(len(classes))]
    names = np.array([dataset.class_name(*classes[i]) for i, _ in rows])
    alphabets = np.array([dataset.group_name(classes[i][0]) for i, _ in rows])
    assert dim_e is not None
    return ClassEmbeddings(
        embedding=torch.stack([out[r][0] for r in rows]).numpy(),
        weights=torch.stack([out[r][1] for r in rows]).numpy(),
        prototypes=torch.stack([out[r][2] for r in rows]).numpy(),
        names=names,
        alphabets=alphabets,
        shots=np.array([k for _, k in rows]),
        class_index=np.array([i for i, _ in rows]),
        drawings=drawings,
        method=method,
    )


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length: the classifier compares directions (cosine), not lengths."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def project(vectors: np.ndarray, method: str = "pca", dims: int = 2, seed: int = 0) -> np.ndarray:
    """(N, dim) -> (N, dims) with PCA, t-SNE or UMAP, on unit-length rows."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; known: {', '.join(PROJECTIONS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    n = len(vectors)
    if n < dims + 1:
        raise ParamembedError(f"a {dims}D projection needs at least {dims + 1} points, got {n}")
    x = normalise(np.asarray(vectors, dtype=np.float64))
    from threadpoolctl import threadpool_limits

    # torch and scikit-learn bring two OpenMP runtimes; sharing the cores they spin against each
    # other (t-SNE of 200 points: 30 s instead of 2 s here), so projections run on one thread.
    with threadpool_limits(limits=1):
        return _project(x, method, dims, seed)


def _project(x: np.ndarray, method: str, dims: int, seed: int) -> np.ndarray:
    n = len(x)
    if method == "pca":
        from sklearn.decomposition import PCA

        # Fewer features than dims (a tiny test model) still gives dims columns.
        k = min(dims, x.shape[1], n)
        out = PCA(n_components=k, random_state=seed).fit_transform(x)
        return np.pad(out, ((0, 0), (0, dims - k))).astype(np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        # Perplexity must stay below the number of points; 30 is the usual value for a few hundred.
        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        tsne = TSNE(n_components=dims, perplexity=perplexity, init="pca", random_state=seed, metric="cosine")
        return tsne.fit_transform(x).astype(np.float32)
    if importlib.util.find_spec("umap") is None:
        raise ParamembedError("UMAP needs the umap-learn package (pip install umap-learn); PCA and t-SNE work without it")
    import umap

    reducer = umap.UMAP(n_components=dims, n_neighbors=min(15, n - 1), metric="cosine", random_state=seed)
    return reducer.fit_transform(x).astype(np.float32)


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """(N, d), (M, d) -> (N, M) cosine similarities (b defaults to a)."""
    a = normalise(np.asarray(a, dtype=np.float64))
    b = a if b is None else normalise(np.asarray(b, dtype=np.float64))
    return a @ b.T


def cosine_neighbours(vectors: np.ndarray, index: int, k: int = 5, candidates: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The `k` rows most cosine-similar to row `index` (itself excluded), best first.

    candidates: optional row indices to search among (e.g. only rows with the same shots).
    """
    pool = np.arange(len(vectors)) if candidates is None else np.asarray(candidates)
    pool = pool[pool != index]
    sims = cosine_matrix(vectors[index : index + 1], vectors[pool])[0]
    order = np.argsort(-sims, kind="stable")[:k]
    return [(int(pool[j]), float(sims[j])) for j in order]


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, d), (N, d) -> (N,) cosine between matching rows: e.g. weights vs prototypes."""
    return np.sum(normalise(np.asarray(a, np.float64)) * normalise(np.asarray(b, np.float64)), axis=1)


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


def _tsv_cell(value) -> str:
    # The projector splits on tabs and lines; anything else in a name is kept as it is.
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def projector_tsv(vectors: np.ndarray, metadata: dict[str, list]) -> tuple[str, str]:
    """Files for TensorFlow's Embedding Projector (projector.tensorflow.org, "Load").

    vectors: (N, d) -> one row per line, values separated by tabs, no header.
    metadata: column -> N values -> a header line, then one row per line. (With a single column
    the projector expects no header, so a single column is written without one.)
    """
    vectors = np.asarray(vectors)
    columns = list(metadata)
    for name in columns:
        if len(metadata[name]) != len(vectors):
            raise ValueError(f"metadata column {name!r} has {len(metadata[name])} values for {len(vectors)} vectors")
    vector_lines = ["\t".join(f"{v:.6g}" for v in row) for row in vectors]
    rows = list(zip(*(metadata[c] for c in columns)))
    meta_lines = ([] if len(columns) == 1 else ["\t".join(_tsv_cell(c) for c in columns)]) + [
        "\t".join(_tsv_cell(v) for v in row) for row in rows
    ]
    return "\n".join(vector_lines) + "\n", "\n".join(meta_lines) + "\n"


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
