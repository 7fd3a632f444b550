"""Procedural glyph alphabets: the embedded default dataset (no downloads, ever).

The generative story follows how people write (Lake et al. 2015): an *alphabet* is a style (a
set of stroke primitives, preferred angles, how strokes relate); a *character* is 1-4 strokes
built from those primitives and placed relative to each other (joined end to start, attached
mid-stroke, crossing, or free); a *drawing* of a character adds motor noise, an affine jitter and
a stroke width. Everything is deterministic from (seed, alphabet, character, drawing).

Rendering draws the strokes with Pillow at 4x and box-filters down (anti-aliased), at any size. The glyph is fitted to its ink bounding box and centred, the same convention that
`preprocess.glyph_array` applies to real images, so one model reads both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from paramembed.data.procedural import SPLITS, ProceduralDataset, seeded_rng  # noqa: F401 (SPLITS: re-exported)

PRIMITIVE_KINDS = ("line", "corner", "curve", "arc", "loop", "zigzag", "hook", "wave", "dot")
RELATIONS = ("join", "attach", "cross", "free")


@dataclass(frozen=True)
class GlyphStyle:
    """Knobs of the generator; the defaults were tuned so drawings look like real Omniglot."""

    seed: int = 0
    image_size: int = 28
    margin: int = 2
    drawings_per_character: int = 20
    characters: tuple[int, int] = (14, 48)  # per alphabet, like Omniglot's 14-55
    primitives: tuple[int, int] = (5, 12)  # per alphabet
    motor_noise: float = 0.06  # control-point jitter, in units of the character's half-size
    rotation_jitter: float = 0.12  # radians
    shear_jitter: float = 0.12
    scale_jitter: float = 0.12
    stroke_width: tuple[float, float] = (1.5, 2.6)  # pixels at 28x28, scaled with image_size


@dataclass(frozen=True)
class Stroke:
    points: np.ndarray  # (k, 2) control points in character space, roughly [-1, 1]
    smooth: bool
    closed: bool


def _primitive(rng: np.random.Generator, kind: str) -> Stroke:
    """One stroke shape in a [-1, 1] box."""
    def u(n: int | None = None):
        return rng.uniform(-1.0, 1.0, n)

    if kind == "line":
        return Stroke(np.array([[-1.0, 0.0], [1.0, 0.0]]), False, False)
    if kind == "corner":
        return Stroke(np.array([[-1.0, u()], [u() * 0.6, u()], [1.0, u()]]), False, False)
    if kind == "zigzag":
        x = np.linspace(-1, 1, int(rng.integers(3, 5)))
        y = np.where(np.arange(len(x)) % 2 == 0, -1.0, 1.0) * rng.uniform(0.3, 0.9)
        return Stroke(np.stack([x, y], 1), False, False)
    if kind == "curve":
        x = np.linspace(-1, 1, 4)
        return Stroke(np.stack([x, u(4) * 0.8], 1), True, False)
    if kind == "wave":
        x = np.linspace(-1, 1, 6)
        return Stroke(np.stack([x, np.sin(x * np.pi * rng.uniform(0.8, 1.6)) * rng.uniform(0.3, 0.7)], 1), True, False)
    if kind == "arc":
        start, span = rng.uniform(0, 2 * np.pi), rng.uniform(0.5 * np.pi, 1.7 * np.pi)
        t = np.linspace(start, start + span, 7)
        return Stroke(np.stack([np.cos(t), np.sin(t) * rng.uniform(0.6, 1.0)], 1), True, False)
    if kind == "loop":
        t = np.linspace(0, 2 * np.pi, 9)[:-1]
        return Stroke(np.stack([np.cos(t), np.sin(t) * rng.uniform(0.45, 1.0)], 1) * rng.uniform(0.4, 0.8), True, True)
    if kind == "dot":  # a short dab of the pen, as in diacritics and Braille
        return Stroke(np.array([[-0.08, 0.0], [0.08, 0.0]]), False, False)
    if kind == "hook":
        curl = rng.choice([-1.0, 1.0])
        return Stroke(np.array([[-1.0, 0.0], [0.5, 0.0], [1.0, 0.35 * curl], [0.7, 0.75 * curl]]), True, False)
    raise ValueError(f"unknown primitive kind {kind!r}")


@dataclass(frozen=True)
class Alphabet:
    primitives: tuple[Stroke, ...]
    num_characters: int
    angles: np.ndarray  # preferred stroke orientations, radians
    relation_probs: np.ndarray  # over RELATIONS
    stroke_count_probs: np.ndarray  # over 1..4 strokes


def make_alphabet(style: GlyphStyle, alphabet: int) -> Alphabet:
    rng = seeded_rng(style.seed, alphabet, 0)
    kind_probs = rng.dirichlet(np.full(len(PRIMITIVE_KINDS), 0.8))
    count = int(rng.integers(style.primitives[0], style.primitives[1] + 1))
    kinds = rng.choice(len(PRIMITIVE_KINDS), size=count, p=kind_probs)
    primitives = tuple(_primitive(rng, PRIMITIVE_KINDS[k]) for k in kinds)
    grid = rng.choice([2, 4, 8, 0])  # 0: free angles
    angles = (
        np.arange(grid) * (np.pi / grid) if grid else rng.uniform(0, np.pi, 6)
    )
    relation_probs = rng.dirichlet(np.array([3.0, 2.0, 1.0, 0.8]))
    stroke_count_probs = rng.dirichlet(np.array([1.5, 3.0, 2.5, 1.5]))
    num_characters = int(rng.integers(style.characters[0], style.characters[1] + 1))
    return Alphabet(primitives, num_characters, angles, relation_probs, stroke_count_probs)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _catmull_rom_basis(per_span: int) -> np.ndarray:
    """(T, 4) weights of p0..p3 at T evenly spaced t in [0, 1) of a Catmull-Rom span."""
    t = np.linspace(0, 1, per_span, endpoint=False)
    return 0.5 * np.stack([-t + 2 * t**2 - t**3, 2 - 5 * t**2 + 3 * t**3, t + 4 * t**2 - 3 * t**3, -(t**2) + t**3], 1)


_CATMULL_ROM = _catmull_rom_basis(6)


def _densify(stroke: Stroke, per_span: int = 6) -> np.ndarray:
    """Control points -> polyline; smooth strokes go through a Catmull-Rom spline."""
    pts = stroke.points
    if stroke.closed:
        pts = np.concatenate([pts, pts[:1]])
    if not stroke.smooth or len(pts) < 3:
        return pts
    if stroke.closed:
        padded = np.concatenate([pts[-2:-1], pts, pts[1:2]])
    else:
        padded = np.concatenate([2 * pts[:1] - pts[1:2], pts, 2 * pts[-1:] - pts[-2:-1]])
    p = np.stack([padded[i : len(padded) - 3 + i] for i in range(4)], 1)  # (spans, 4, 2)
    curve = np.einsum("tk,skd->std", _CATMULL_ROM if per_span == 6 else _catmull_rom_basis(per_span), p)
    return np.concatenate([curve.reshape(-1, 2), pts[-1:]])


def make_character(style: GlyphStyle, alphabet: Alphabet, alphabet_id: int, character: int) -> tuple[Stroke, ...]:
    rng = seeded_rng(style.seed, alphabet_id, character + 1, 1)
    n_strokes = int(rng.choice(4, p=alphabet.stroke_count_probs)) + 1
    strokes: list[Stroke] = []
    for i in range(n_strokes):
        prim = alphabet.primitives[int(rng.integers(len(alphabet.primitives)))]
        scale = rng.uniform(0.45, 1.0)
        angle = float(rng.choice(alphabet.angles)) + rng.normal(0, 0.08) + (np.pi if rng.random() < 0.5 else 0.0)
        pts = prim.points * scale
        if rng.random() < 0.5:
            pts = pts * np.array([1.0, -1.0])
        pts = pts @ _rotation(angle).T
        if i == 0:
            pts = pts - pts.mean(0)
        else:
            relation = RELATIONS[int(rng.choice(len(RELATIONS), p=alphabet.relation_probs))]
            host = _densify(strokes[int(rng.integers(len(strokes)))])
            if relation == "join":
                pts = pts - pts[0] + strokes[-1].points[-1]
            elif relation == "attach":
                pts = pts - pts[0] + host[int(rng.integers(len(host)))]
            elif relation == "cross":
                pts = pts - pts.mean(0) + host[int(rng.integers(len(host)))]
            else:
                pts = pts - pts.mean(0) + rng.uniform(-0.9, 0.9, 2)
        strokes.append(Stroke(pts, prim.smooth, prim.closed))
    return tuple(strokes)


def drawing_polylines(
    style: GlyphStyle, strokes: tuple[Stroke, ...], key: tuple[int, ...], size: int
) -> list[tuple[np.ndarray, float]]:
    """One noisy drawing -> [(polyline (k, 2) in pixels, stroke width in pixels)], fitted and centred."""
    rng = seeded_rng(*key)
    extent = max(np.ptp(np.concatenate([s.points for s in strokes]), axis=0).max(), 1e-3) / 2
    affine = _rotation(rng.normal(0, style.rotation_jitter)) @ np.array(
        [[1 + rng.normal(0, style.scale_jitter), rng.normal(0, style.shear_jitter)], [0.0, 1 + rng.normal(0, style.scale_jitter)]]
    )
    base_width = rng.uniform(*style.stroke_width) * size / 28.0
    counts = [len(st.points) for st in strokes]
    sigma = style.motor_noise * extent
    noise = rng.normal(0, sigma, (sum(counts) + 2 * len(strokes), 2))  # per point, then per stroke
    widths = base_width * rng.uniform(0.85, 1.15, len(strokes))
    lines, at = [], 0
    for i, stroke in enumerate(strokes):
        jitter = noise[at : at + counts[i]] + noise[-2 * len(strokes) + 2 * i]
        at += counts[i]
        lines.append(_densify(Stroke(stroke.points + jitter, stroke.smooth, stroke.closed)) @ affine.T)
    allpts = np.concatenate(lines)
    lo, hi = allpts.min(0), allpts.max(0)
    # Fit the ink (centre lines plus half a stroke each side) into the box inside the margin.
    inner = size - 2 * style.margin * size / 28.0 - base_width
    scale = inner / max((hi - lo).max(), 1e-3)
    centre = (lo + hi) / 2
    return [((poly - centre) * scale + size / 2.0, width) for poly, width in zip(lines, widths)]


SUPERSAMPLE = 4


def render_polylines(polylines: list[tuple[np.ndarray, float]], size: int) -> np.ndarray:
    """Polylines in pixel units -> (size, size) float32 image, ink 1 on 0.

    Drawn with round joints and caps at 4x the size, then box-filtered down: anti-aliased, and
    Pillow's C drawing keeps it at several thousand 28x28 images per second on one core.
    """
    big = size * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    for poly, width in polylines:
        pts = poly * SUPERSAMPLE
        w = max(1, int(round(width * SUPERSAMPLE)))
        r = w / 2.0
        draw.line(pts.ravel().tolist(), fill=255, width=w)
        # Round caps at the ends and round joints where the pen turns sharply; smooth turns
        # need none, and skipping them keeps drawing in C.
        d = np.diff(pts, axis=0)
        norm = np.sqrt((d * d).sum(1))
        turn = (d[:-1] * d[1:]).sum(1) < 0.85 * norm[:-1] * norm[1:]
        for x, y in np.concatenate([pts[:1], pts[-1:], pts[1:-1][turn]]).tolist():
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


class GlyphAlphabets(ProceduralDataset):
    """A split of procedural alphabets that renders drawings on demand, with an LRU cache.

    Alphabets are indexed 0..num_groups-1 within the split; characters within an alphabet;
    drawings 0..drawings_per_character-1 (a finite set like Omniglot's 20, so caching pays).
    `render` gives (S, S) drawings, `images` (B, 1, S, S).
    """

    channels = 1
    group_word, class_word = "alphabet", "char"

    def __init__(self, split: str = "train", style: GlyphStyle | None = None, cache_size: int = 100_000):
        super().__init__(split, style or GlyphStyle(), cache_size, class_cache=50_000)

    def make_group(self, group_id: int) -> Alphabet:
        return make_alphabet(self.style, group_id)

    def make_class(self, group: Alphabet, group_id: int, cls: int) -> tuple[Stroke, ...]:
        return make_character(self.style, group, group_id, cls)

    def draw(self, program: tuple[Stroke, ...], key: tuple[int, ...], size: int) -> np.ndarray:
        return render_polylines(drawing_polylines(self.style, program, key, size), size)

    def classes_in(self, group: Alphabet) -> int:
        return group.num_characters

    @property
    def drawings_per_class(self) -> int:
        return self.style.drawings_per_character

    def alphabet(self, group: int) -> Alphabet:
        return self.group_program(group)

    def character(self, group: int, cls: int) -> tuple[Stroke, ...]:
        return self.class_program(group, cls)
