"""The shared machinery of procedural datasets: splits, seeded keys and the render caches.

A procedural dataset is three levels of programs, each a pure function of the seed:

    group   (an alphabet, a photo world)  make_group(split-wide group id)
    class   (a character, an object)      make_class(group program, group id, class)
    drawing (one image of a class)        draw(class program, key, size)

`ProceduralDataset` owns what the generators have in common: the split's group-id range, the
dataset interface the episode sampler reads (`num_groups`, `num_classes`, `images`, ...) and
bounded caches of the group and class programs and of the 8-bit drawings. A subclass names its
levels and supplies the three programs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from paramembed.data.cache import LRU, to_uint8

# Disjoint group-id ranges per split: train is effectively unlimited (about 3M classes).
SPLITS = {"train": (0, 1_000_000), "validation": (1_000_000, 1_000_050), "test": (1_000_050, 1_000_100)}


def seeded_rng(*key: int) -> np.random.Generator:
    """The generator of one program: every random choice is a function of `key` alone."""
    return np.random.default_rng(list(key))


def drawing_key(seed: int, group_id: int, cls: int, drawing: int) -> tuple[int, ...]:
    """The rng key of one drawing; the trailing 2 keeps it apart from group (0) and class (1) keys."""
    return (seed, group_id, cls + 1, drawing + 1, 2)


class ProceduralDataset:
    """A split of procedural groups that renders drawings on demand, with LRU caches.

    Groups are indexed 0..num_groups-1 within the split; classes within a group; drawings
    0..drawings_per_class-1 (a finite set, like Omniglot's 20, so caching pays).

    Subclasses set `channels`, `group_word`, `class_word` and implement `make_group`,
    `make_class`, `draw`, `classes_in` and `drawings_per_class`.
    """

    channels: int = 1
    group_word: str = "group"  # names: "<split>-<group_word>-007/<class_word>-03"
    class_word: str = "class"

    def __init__(self, split: str, style: Any, cache_size: int, class_cache: int = 50_000):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
        self.split = split
        self.style = style
        self._offset, end = SPLITS[split]
        self.num_groups = end - self._offset
        self._groups = LRU(20_000)
        self._classes = LRU(class_cache)
        self._images = LRU(cache_size)  # (group, class, drawing) -> 8-bit drawing

    # ============ the programs a subclass supplies ============
    def make_group(self, group_id: int) -> Any:
        raise NotImplementedError

    def make_class(self, group: Any, group_id: int, cls: int) -> Any:
        raise NotImplementedError

    def draw(self, program: Any, key: tuple[int, ...], size: int) -> np.ndarray:
        """One drawing -> (size, size) or (C, size, size) float32 in [0, 1]."""
        raise NotImplementedError

    def classes_in(self, group: Any) -> int:
        raise NotImplementedError

    @property
    def drawings_per_class(self) -> int:
        raise NotImplementedError

    # ============ the dataset interface ============
    @property
    def image_size(self) -> int:
        return self.style.image_size

    def group_program(self, group: int) -> Any:
        return self._groups.get_or_make(group, lambda: self.make_group(self._offset + group))

    def class_program(self, group: int, cls: int) -> Any:
        return self._classes.get_or_make(
            (group, cls), lambda: self.make_class(self.group_program(group), self._offset + group, cls)
        )

    def num_classes(self, group: int) -> int:
        return self.classes_in(self.group_program(group))

    def num_drawings(self, group: int, cls: int) -> int:
        return self.drawings_per_class

    def group_name(self, group: int) -> str:
        return f"{self.split}-{self.group_word}-{group:03d}"

    def class_name(self, group: int, cls: int) -> str:
        return f"{self.group_name(group)}/{self.class_word}-{cls:02d}"

    def render(self, group: int, cls: int, drawing: int, size: int | None = None) -> np.ndarray:
        """One drawing as float32 in [0, 1]; cached (8-bit) at the split's own size only."""
        size = size or self.style.image_size

        def fresh() -> np.ndarray:
            key = drawing_key(self.style.seed, self._offset + group, cls, drawing)
            return self.draw(self.class_program(group, cls), key, size)

        if size != self.style.image_size:
            return fresh()
        return self._images.get_or_make((group, cls, drawing), lambda: to_uint8(fresh())).astype(np.float32) / 255.0

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        """(B, C, S, S) float32 for a list of (group, class, drawing)."""
        size = self.style.image_size
        return np.stack([self.render(*k) for k in keys]).reshape(len(keys), self.channels, size, size)
