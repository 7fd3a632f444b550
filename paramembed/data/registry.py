"""Named datasets with train / validation / test splits.

    get_dataset("procedural", "test", spec)      # procedural glyph alphabets (the default)
    get_dataset("path/to/folder", "train", spec) # a folder or archive, Omniglot or ImageFolder layout

A folder is split by class: every fifth class of each alphabet is held out for validation and
the rest trains ("test" is the whole folder: it is there to be evaluated on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paramembed.config import InputSpec
from paramembed.data.folders import FolderDataset
from paramembed.data.glyphs import SPLITS, GlyphAlphabets, GlyphStyle
from paramembed.errors import ParamembedError

PROCEDURAL = ("procedural",)


class ClassSubset:
    """The classes of `dataset` whose index within their alphabet satisfies `keep(index)`."""

    def __init__(self, dataset, keep):
        self.dataset = dataset
        self._map = [[c for c in range(dataset.num_classes(g)) if keep(c)] for g in range(dataset.num_groups)]
        self._groups = [g for g in range(dataset.num_groups) if self._map[g]]
        self.channels, self.image_size = dataset.channels, dataset.image_size

    @property
    def num_groups(self) -> int:
        return len(self._groups)

    def num_classes(self, group: int) -> int:
        return len(self._map[self._groups[group]])

    def _inner(self, group: int, cls: int) -> tuple[int, int]:
        g = self._groups[group]
        return g, self._map[g][cls]

    def num_drawings(self, group: int, cls: int) -> int:
        return self.dataset.num_drawings(*self._inner(group, cls))

    def group_name(self, group: int) -> str:
        return self.dataset.group_name(self._groups[group])

    def class_name(self, group: int, cls: int) -> str:
        return self.dataset.class_name(*self._inner(group, cls))

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        return self.dataset.images([(*self._inner(g, c), d) for g, c, d in keys])


def get_dataset(source: str, split: str, spec: InputSpec, min_images: int = 1):
    """A dataset by name or path, for one split ("train", "validation" or "test")."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    if source == "procedural":
        if spec.channels != 1:
            raise ParamembedError("the procedural glyphs are greyscale; this model reads colour images")
        return GlyphAlphabets(split, GlyphStyle(image_size=spec.image_size, margin=spec.margin))
    if source == "procedural-photo":
        from paramembed.data.photos import ProceduralPhotos

        if spec.channels != 3:
            raise ParamembedError("the procedural photos are colour images; this model reads greyscale glyphs")
        return ProceduralPhotos(split, image_size=spec.image_size)
    if not Path(source).exists():
        raise ParamembedError(
            f"unknown dataset {source!r}: not 'procedural', 'procedural-photo', or an existing folder / archive"
        )
    dataset = FolderDataset(source, spec, min_images=min_images)
    if split == "test":
        return dataset
    if split == "validation":
        return ClassSubset(dataset, lambda c: c % 5 == 4)
    return ClassSubset(dataset, lambda c: c % 5 != 4)
