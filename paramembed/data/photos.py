"""Procedural colour photos: the offline meta-training set of the photo model (no downloads).

Real photos of one object vary in pose, lighting, background and occlusion while the object keeps
its parts, colours and textures. The generator follows that story, in the spirit of FractalDB
(Kataoka et al. 2020) and "Learning to See by Looking at Noise" (Baradad et al. 2021):

- a *world* (the group, like an alphabet) fixes a palette family, a texture vocabulary and a shape
  complexity, so classes of one world are a fine-grained task;
- a *class* is a program: an object of 1-4 parts (blobs with random radial harmonics, each with
  its own colours and texture: flat, stripes, checks, rings or 1/f noise), placed on a background
  with its own sky/ground colours, 1/f texture and "dead leaves" clutter palette;
- a *drawing* re-runs the program with a new viewpoint (scale, rotation, shift, mirror, part
  jitter), new lighting (direction, brightness, contrast, colour cast), a new background sample,
  new clutter and occluders in front, and sensor noise.

Shapes are rendered analytically with soft edges one pixel wide, so drawings are anti-aliased at
any size without supersampling. Everything is deterministic from (seed, world, class, drawing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paramembed.data.procedural import SPLITS, ProceduralDataset, seeded_rng  # noqa: F401 (SPLITS: re-exported)

TEXTURES = ("flat", "stripes", "checks", "rings", "noise")


@dataclass(frozen=True)
class PhotoStyle:
    """Knobs of the generator; the defaults match CIFAR-like 32x32 object photos."""

    seed: int = 0
    image_size: int = 32
    drawings_per_class: int = 20
    classes: tuple[int, int] = (10, 30)  # per world
    parts: tuple[int, int] = (1, 4)  # per object
    clutter: tuple[float, float] = (0.0, 8.0)  # mean dead leaves behind the object
    pose_jitter: float = 1.0  # multiplies every viewpoint jitter
    light_jitter: float = 1.0  # multiplies every lighting jitter


@dataclass(frozen=True)
class World:
    hue: float  # centre of the palette, in [0, 1)
    hue_spread: float
    saturation: tuple[float, float]
    texture_probs: np.ndarray  # over TEXTURES
    harmonics: int  # shape complexity of the parts' outlines
    num_classes: int


@dataclass(frozen=True)
class Part:
    offset: np.ndarray  # (2,) centre in object space
    radius: float
    aspect: float
    angle: float
    harmonics: np.ndarray  # (k, 2): amplitude and phase of cos(j * theta + phase)
    colours: np.ndarray  # (2, 3) RGB, mixed by the texture
    texture: str
    frequency: float
    texture_angle: float
    noise: np.ndarray  # (n, n) 1/f pattern, used by the "noise" texture


@dataclass(frozen=True)
class PhotoClass:
    parts: tuple[Part, ...]
    scale: float  # object size relative to the frame
    sky: np.ndarray  # (3,) top of the background
    ground: np.ndarray  # (3,) bottom of the background
    horizon: float  # in [-1, 1]
    background_texture: float  # amplitude of the background's 1/f noise
    clutter_palette: np.ndarray  # (4, 3)
    clutter: float  # mean number of dead leaves
    shine: float  # specular strength of the object's shading


def hsv_to_rgb(h: np.ndarray | float, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """Arrays of hue, saturation, value in [0, 1] -> (..., 3) RGB."""
    h, s, v = np.broadcast_arrays(np.asarray(h, np.float64) % 1.0, np.asarray(s, np.float64), np.asarray(v, np.float64))
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6.0) % 6.0
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def pink_noise(rng: np.random.Generator, size: int, slope: float = 2.0) -> np.ndarray:
    """(size, size) noise with a 1/f^(slope/2) amplitude spectrum, like natural images, in [-1, 1]."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (slope / 2.0)
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(size, size))
    return field / (np.abs(field).max() + 1e-8)


def make_world(style: PhotoStyle, world: int) -> World:
    rng = seeded_rng(style.seed, world, 0)
    lo = rng.uniform(0.1, 0.7)
    return World(
        hue=rng.random(),
        hue_spread=rng.choice([0.08, 0.2, 0.5]),
        saturation=(lo, min(1.0, lo + rng.uniform(0.2, 0.6))),
        texture_probs=rng.dirichlet(np.full(len(TEXTURES), 0.7)),
        harmonics=int(rng.integers(2, 7)),
        num_classes=int(rng.integers(style.classes[0], style.classes[1] + 1)),
    )


def _colour(rng: np.random.Generator, world: World, value: tuple[float, float] = (0.15, 1.0)) -> np.ndarray:
    h = world.hue + rng.normal(0, world.hue_spread)
    return hsv_to_rgb(h, rng.uniform(*world.saturation), rng.uniform(*value))


def make_class(style: PhotoStyle, world: World, world_id: int, cls: int) -> PhotoClass:
    rng = seeded_rng(style.seed, world_id, cls + 1, 1)
    parts = []
    for i in range(int(rng.integers(style.parts[0], style.parts[1] + 1))):
        k = world.harmonics
        amplitude = rng.uniform(0, 0.35, k) / np.arange(1, k + 1) ** 0.7
        parts.append(
            Part(
                offset=np.zeros(2) if i == 0 else rng.uniform(-0.55, 0.55, 2),
                radius=rng.uniform(0.35, 0.7) if i == 0 else rng.uniform(0.15, 0.45),
                aspect=rng.uniform(0.45, 1.0),
                angle=rng.uniform(0, np.pi),
                harmonics=np.stack([amplitude, rng.uniform(0, 2 * np.pi, k)], 1),
                colours=np.stack([_colour(rng, world), _colour(rng, world)]),
                texture=TEXTURES[int(rng.choice(len(TEXTURES), p=world.texture_probs))],
                frequency=rng.uniform(2.0, 9.0),
                texture_angle=rng.uniform(0, np.pi),
                noise=pink_noise(rng, 16, rng.uniform(1.0, 3.0)),
            )
        )
    # Backgrounds take the complementary side of the world's palette half the time, so the object
    # is sometimes camouflaged and sometimes stands out, as in real photos.
    back = World(world.hue + (0.5 if rng.random() < 0.5 else 0.0), world.hue_spread * 1.5, (0.05, 0.8),
                 world.texture_probs, world.harmonics, world.num_classes)
    return PhotoClass(
        parts=tuple(parts),
        scale=rng.uniform(0.6, 1.0),
        sky=_colour(rng, back, (0.3, 1.0)),
        ground=_colour(rng, back, (0.1, 0.8)),
        horizon=rng.uniform(-0.6, 0.8),
        background_texture=rng.uniform(0.0, 0.35),
        clutter_palette=np.stack([_colour(rng, back) for _ in range(4)]),
        clutter=rng.uniform(*style.clutter),
        shine=rng.uniform(0.0, 0.5),
    )


def _soft(inside: np.ndarray, pixel: float) -> np.ndarray:
    """Signed distance-like field (positive inside) -> coverage in [0, 1], one pixel of edge."""
    return np.clip(0.5 + inside / pixel, 0.0, 1.0)


def _texture(part: Part, u: np.ndarray, v: np.ndarray, phase: float) -> np.ndarray:
    """Mixing weight in [0, 1] of the part's two colours at part coordinates (u, v)."""
    if part.texture == "flat":
        return np.zeros_like(u)
    c, s = np.cos(part.texture_angle), np.sin(part.texture_angle)
    a = (u * c + v * s) * part.frequency
    if part.texture == "stripes":
        return 0.5 + 0.5 * np.sin(a * np.pi + phase)
    if part.texture == "checks":
        b = (-u * s + v * c) * part.frequency
        return (np.sin(a * np.pi + phase) * np.sin(b * np.pi) > 0).astype(np.float64)
    if part.texture == "rings":
        return 0.5 + 0.5 * np.sin(np.sqrt(u * u + v * v) * part.frequency * np.pi + phase)
    n = part.noise.shape[0]
    iu = np.clip(((u + 1) * 0.5 * (n - 1)).astype(int), 0, n - 1)
    iv = np.clip(((v + 1) * 0.5 * (n - 1)).astype(int), 0, n - 1)
    return 0.5 + 0.5 * part.noise[iv, iu]


def render_drawing(style: PhotoStyle, photo: PhotoClass, key: tuple[int, ...], size: int) -> np.ndarray:
    """One drawing of a class -> (3, size, size) float32 RGB in [0, 1]."""
    rng = seeded_rng(*key)
    pj, lj = style.pose_jitter, style.light_jitter
    pixel = 2.0 / size
    coords = (np.arange(size) + 0.5) * pixel - 1.0
    x, y = np.meshgrid(coords, coords)  # image space, y down, both in [-1, 1]

    # ============ background: sky/ground gradient, 1/f texture, dead leaves ============
    horizon = photo.horizon + rng.normal(0, 0.15 * pj)
    t = np.clip(0.5 + (y - horizon) * rng.uniform(1.0, 4.0), 0.0, 1.0)[..., None]
    image = photo.sky * (1 - t) + photo.ground * t
    texture = pink_noise(rng, size, rng.uniform(1.5, 3.0))[..., None]
    image = image * (1 + photo.background_texture * texture * rng.uniform(0.5, 1.5))
    for _ in range(int(rng.poisson(photo.clutter))):
        colour = photo.clutter_palette[int(rng.integers(4))] * rng.uniform(0.8, 1.2)
        image = _leaf(rng, image, x, y, colour, pixel, rng.uniform(0.08, 0.4))

    # ============ the object: parts under a viewpoint ============
    scale = photo.scale * np.exp(rng.normal(0, 0.15 * pj))
    rotation = rng.normal(0, 0.25 * pj)
    shift = rng.normal(0, 0.15 * pj, 2)
    mirror = -1.0 if rng.random() < 0.5 else 1.0
    cr, sr = np.cos(rotation), np.sin(rotation)
    ox, oy = (x - shift[0]) / scale, (y - shift[1]) / scale  # object space
    ox, oy = mirror * (ox * cr + oy * sr), -ox * sr + oy * cr
    light = rng.uniform(0, 2 * np.pi)
    lx, ly = np.cos(light), np.sin(light)
    for part in photo.parts:
        px, py = ox - part.offset[0] - rng.normal(0, 0.06 * pj), oy - part.offset[1] - rng.normal(0, 0.06 * pj)
        ca, sa = np.cos(part.angle), np.sin(part.angle)
        u, v = (px * ca + py * sa) / part.radius, (-px * sa + py * ca) / (part.radius * part.aspect)
        r = np.sqrt(u * u + v * v)
        theta = np.arctan2(v, u)
        outline = 1.0 + (part.harmonics[:, :1, None] * np.cos(np.arange(1, len(part.harmonics) + 1)[:, None, None] * theta + part.harmonics[:, 1:, None])).sum(0)
        coverage = _soft((outline - r) * part.radius * part.aspect * scale, pixel)[..., None]
        mix = _texture(part, u, v, rng.uniform(0, 2 * np.pi))[..., None]
        colour = part.colours[0] * (1 - mix) + part.colours[1] * mix
        # Lambert-like shading of a rounded part lit from `light`, plus a highlight.
        depth = np.sqrt(np.clip(1 - (r / np.maximum(outline, 1e-3)) ** 2, 0, 1))[..., None]
        facing = np.clip(0.55 + 0.45 * ((u * lx + v * ly)[..., None] * 0.7 + depth * 0.5), 0.2, 1.2)
        shaded = colour * facing + photo.shine * (depth * np.clip((u * lx + v * ly)[..., None], 0, None)) ** 2
        image = image * (1 - coverage) + shaded * coverage

    # ============ occluders in front, lighting, sensor ============
    for _ in range(int(rng.choice(3, p=[0.6, 0.3, 0.1]))):
        image = _leaf(rng, image, x, y, rng.uniform(0, 1, 3), pixel, rng.uniform(0.1, 0.3), edge=True)
    gain = np.exp(rng.normal(0, 0.25 * lj)) * np.exp(rng.normal(0, 0.08 * lj, 3))  # brightness, colour cast
    contrast = np.exp(rng.normal(0, 0.2 * lj))
    mean = image.mean((0, 1))
    image = ((image - mean) * contrast + mean) * gain
    image = image * (1 + 0.25 * lj * (x * np.cos(light) + y * np.sin(light)))[..., None]  # lighting falls off
    image = image + rng.normal(0, rng.uniform(0.0, 0.04), image.shape)
    return np.clip(image, 0.0, 1.0).transpose(2, 0, 1).astype(np.float32)


def _leaf(rng, image, x, y, colour, pixel, radius, edge: bool = False) -> np.ndarray:
    """Paint one dead leaf (disc, ellipse or rectangle) over `image` (S, S, 3)."""
    cx, cy = rng.uniform(-1, 1, 2)
    if edge:  # occluders enter from the frame's border
        side = int(rng.integers(4))
        cx, cy = [(-1.0, cy), (1.0, cy), (cx, -1.0), (cx, 1.0)][side]
    angle = rng.uniform(0, np.pi)
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = (x - cx) * ca + (y - cy) * sa, -(x - cx) * sa + (y - cy) * ca
    aspect = rng.uniform(0.3, 1.0)
    if rng.random() < 0.5:
        inside = radius - np.sqrt(u * u + (v / aspect) ** 2)
    else:
        inside = np.minimum(radius - np.abs(u), radius * aspect - np.abs(v))
    coverage = _soft(inside, pixel)[..., None]
    return image * (1 - coverage) + np.asarray(colour) * coverage


class ProceduralPhotos(ProceduralDataset):
    """A split of procedural photo worlds that renders drawings on demand, with an LRU cache.

    The same interface as `GlyphAlphabets`: worlds are the groups (indexed within the split),
    classes within a world, drawings 0..drawings_per_class-1. `render` gives (3, S, S).
    """

    channels = 3
    group_word, class_word = "world", "object"

    def __init__(self, split: str = "train", image_size: int = 32, style: PhotoStyle | None = None, cache_size: int = 50_000):
        super().__init__(split, style or PhotoStyle(image_size=image_size), cache_size, class_cache=20_000)

    def make_group(self, group_id: int) -> World:
        return make_world(self.style, group_id)

    def make_class(self, group: World, group_id: int, cls: int) -> PhotoClass:
        return make_class(self.style, group, group_id, cls)

    def draw(self, program: PhotoClass, key: tuple[int, ...], size: int) -> np.ndarray:
        return render_drawing(self.style, program, key, size)

    def classes_in(self, group: World) -> int:
        return group.num_classes

    @property
    def drawings_per_class(self) -> int:
        return self.style.drawings_per_class

    def world(self, group: int) -> World:
        return self.group_program(group)

    def photo_class(self, group: int, cls: int) -> PhotoClass:
        return self.class_program(group, cls)
