"""Projections and comparisons of embedding vectors, label search, and thumbnails for a scatter plot.

Everything here works on plain arrays (no model, no torch), so the explorer's plot can be rebuilt
from cached vectors alone:

    xy = project(weights, "tsne", dims=2)                 # (N, dim) -> (N, 2)
    hits = match_labels("alpha", names, alphabets)        # (N,) bool: what the search box highlights
    images = thumbnail_layout(xy, [thumbnail_uri(d) for d in drawings])   # Plotly layout.images
    vectors_tsv, metadata_tsv = projector_tsv(weights, {"class": names})
"""

from __future__ import annotations

import base64
import io

import numpy as np

from paramembed.errors import ParamembedError

# UMAP is left out on purpose: umap-learn pulls in numba, and its first projection in a process
# compiles for ~25 s, five times the explorer's whole first-open budget.
PROJECTIONS = ("pca", "tsne")
PROJECTION_LABELS = {"pca": "PCA", "tsne": "t-SNE"}


def available_projections() -> list[str]:
    """PCA (numpy) and t-SNE (scikit-learn)."""
    return list(PROJECTIONS)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length: the classifier compares directions (cosine), not lengths."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def project(vectors: np.ndarray, method: str = "pca", dims: int = 2, seed: int = 0) -> np.ndarray:
    """(N, dim) -> (N, dims) with PCA or t-SNE, on unit-length rows."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; known: {', '.join(PROJECTIONS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    n = len(vectors)
    if n < dims + 1:
        raise ParamembedError(f"a {dims}D projection needs at least {dims + 1} points, got {n}")
    x = normalise(np.asarray(vectors, dtype=np.float64))
    if method == "pca":
        return pca(x, dims)
    from threadpoolctl import threadpool_limits

    # torch and scikit-learn bring two OpenMP runtimes; sharing the cores they spin against each
    # other (t-SNE of 200 points: 30 s instead of 2 s here), so projections run on one thread.
    with threadpool_limits(limits=1):
        return _fit(x, method, dims, seed)


def explained_variance(vectors: np.ndarray, dims: int) -> np.ndarray:
    """(dims,) the share of the variance each of PCA's first `dims` components explains (unit-length rows)."""
    x = normalise(np.asarray(vectors, dtype=np.float64))
    s = np.linalg.svd(x - x.mean(0, keepdims=True), compute_uv=False)
    total = float((s**2).sum()) or 1.0
    shares = (s[:dims] ** 2) / total
    return np.pad(shares, (0, dims - len(shares)))


def axis_titles(vectors: np.ndarray, method: str, dims: int) -> tuple[str, ...]:
    """Axis titles: "PC1 (23% of variance)" for PCA; t-SNE's axes have no meaning of their own."""
    if method == "pca":
        return tuple(f"PC{i + 1} ({share:.0%} of variance)" for i, share in enumerate(explained_variance(vectors, dims)))
    name = PROJECTION_LABELS.get(method, method)
    return tuple(f"{name} {i + 1} (only distances matter)" for i in range(dims))


def pca(x: np.ndarray, dims: int) -> np.ndarray:
    """(N, d) -> (N, dims) principal components by SVD, signs fixed so reruns agree.

    Plain numpy: importing scikit-learn costs ~2 s, most of the explorer's first open.
    Fewer features than dims (a tiny test model) still gives dims columns (zero-padded).
    """
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(N, d), d)
    k = min(dims, vt.shape[0])
    components = vt[:k]
    # A component's sign is arbitrary: make each one's largest loading positive.
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(1)])
    out = centred @ (components * signs[:, None]).T  # (N, k)
    return np.pad(out, ((0, 0), (0, dims - k))).astype(np.float32)


def _fit(x: np.ndarray, method: str, dims: int, seed: int) -> np.ndarray:
    n = len(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        # Perplexity must stay below the number of points; 30 is the usual value for a few hundred.
        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        tsne = TSNE(n_components=dims, perplexity=perplexity, init="pca", random_state=seed, metric="cosine")
        return tsne.fit_transform(x).astype(np.float32)


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


# ============ search and thumbnails ============
def match_labels(query: str, *columns) -> np.ndarray:
    """(N,) bool: rows whose label in any column contains every word of `query` (case-insensitive).

    An empty query matches nothing (the plot then shows every point at full strength).
    """
    words = query.lower().split()
    n = len(columns[0]) if columns else 0
    if not words:
        return np.zeros(n, dtype=bool)
    text = [" ".join(str(col[i]) for col in columns).lower() for i in range(n)]
    return np.array([all(w in t for w in words) for t in text], dtype=bool)


def thumbnail_uri(image: np.ndarray, colour: tuple[int, int, int] | None = None) -> str:
    """A small PNG as a data URI, for Plotly's layout images.

    image: (S, S) uint8 greyscale with bright strokes on dark (the glyph models' input), drawn as
    `colour` strokes on a transparent background; or (S, S, 3) uint8 colour, drawn as it is.
    """
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        rgb = np.broadcast_to(np.array(colour or (40, 40, 40), np.uint8), image.shape + (3,))
        picture = Image.fromarray(np.dstack([rgb, image]), "RGBA")
    elif image.ndim == 3 and image.shape[2] == 3:
        picture = Image.fromarray(image, "RGB")
    else:
        raise ValueError(f"expected (S, S) or (S, S, 3) uint8, got shape {image.shape}")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def thumbnail_layout(xy: np.ndarray, uris: list[str], size: float = 0.05, opacity: np.ndarray | None = None) -> list[dict]:
    """Plotly `layout.images` placing image i centred on point xy[i].

    size: each image's width and height as a fraction of the larger axis span (in data units, so
    images stay on their points when the plot is zoomed). opacity: (N,) per image, default 1.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if len(uris) != len(xy):
        raise ValueError(f"{len(uris)} images for {len(xy)} points")
    if len(xy) == 0:
        return []
    span = float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1e-9))
    side = size * span
    alpha = np.ones(len(xy)) if opacity is None else np.asarray(opacity, dtype=np.float64)
    return [
        dict(source=uri, xref="x", yref="y", x=float(x), y=float(y), sizex=side, sizey=side,
             xanchor="center", yanchor="middle", sizing="contain", layer="above", opacity=float(a))
        for (x, y), uri, a in zip(xy[:, :2], uris, alpha)
    ]


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
