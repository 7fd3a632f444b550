"""Named datasets with train / validation / test splits.

    get_dataset("procedural", "test", spec)      # procedural glyph alphabets (the default)
    get_dataset("path/to/folder", "train", spec) # a folder or archive, Omniglot or ImageFolder layout

A folder is split by whole alphabets or classes named in `holdout` (validation: only those;
train: everything else), or without a list by every fifth class of each alphabet. "test" is the
whole folder: it is there to be evaluated on. `rotations` multiplies the classes by four
(0/90/180/270 degrees), the usual Omniglot practice for training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paramembed.config import InputSpec
from paramembed.data.archives import DATASET_LIMITS, ArchiveLimits
from paramembed.data.folders import FolderDataset
from paramembed.data.glyphs import SPLITS, GlyphAlphabets, GlyphStyle
from paramembed.errors import ParamembedError

PROCEDURAL = ("procedural",)


class ClassSubset:
    """The classes of `dataset` for which `keep(group, class)` holds (indices within `dataset`)."""

    def __init__(self, dataset, keep):
        self.dataset = dataset
        self._map = [[c for c in range(dataset.num_classes(g)) if keep(g, c)] for g in range(dataset.num_groups)]
        self._groups = [g for g in range(dataset.num_groups) if self._map[g]]
        self.channels, self.image_size = getattr(dataset, "channels", None), getattr(dataset, "image_size", None)
        self.is_features = getattr(dataset, "is_features", False)  # a subset of cached features is features too

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

    def rows(self, group: int, cls: int) -> range:
        return self.dataset.rows(*self._inner(group, cls))

    @property
    def data(self) -> np.ndarray:
        return self.dataset.data


class RotatedClasses:
    """Every class of `dataset` four times, rotated by 0/90/180/270 degrees: class c*4 + r."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.channels, self.image_size, self.num_groups = dataset.channels, dataset.image_size, dataset.num_groups

    def num_classes(self, group: int) -> int:
        return 4 * self.dataset.num_classes(group)

    def num_drawings(self, group: int, cls: int) -> int:
        return self.dataset.num_drawings(group, cls // 4)

    def group_name(self, group: int) -> str:
        return self.dataset.group_name(group)

    def class_name(self, group: int, cls: int) -> str:
        name = self.dataset.class_name(group, cls // 4)
        return name if cls % 4 == 0 else f"{name}@{90 * (cls % 4)}"

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        base = self.dataset.images([(g, c // 4, d) for g, c, d in keys])  # (B, C, S, S)
        for i, (_, c, _) in enumerate(keys):
            if c % 4:
                base[i] = np.rot90(base[i], c % 4, axes=(1, 2))
        return base


def holdout_filter(dataset, holdout: list[str], held: bool):
    """keep(group, class) for the classes inside (held=True) or outside `holdout`.

    `holdout` names whole alphabets (groups) or classes; a name that matches nothing is an
    error, so a typo never quietly trains on the validation classes.
    """
    names = set(holdout)
    groups = {dataset.group_name(g) for g in range(dataset.num_groups)}
    classes = {dataset.class_name(g, c) for g in range(dataset.num_groups) for c in range(dataset.num_classes(g))}
    unknown = sorted(names - groups - classes)
    if unknown:
        raise ParamembedError(f"holdout names no alphabet or class of the dataset: {', '.join(unknown[:5])}")

    def keep(g: int, c: int) -> bool:
        inside = dataset.group_name(g) in names or dataset.class_name(g, c) in names
        return inside == held

    return keep

def get_dataset(source: str, split: str, spec: InputSpec, min_images: int = 1,
                holdout: list[str] | None = None, rotations: bool = False, limits: ArchiveLimits = DATASET_LIMITS,
                cache_arrays: bool = True):
    """A dataset by name or path, for one split ("train", "validation" or "test").

    `limits` bound what an archive may unpack to: `archives.UPLOAD_LIMITS` for a visitor's file.
    `cache_arrays=False` keeps the decoded images in memory only (a visitor's upload leaves no file behind).
    """
    dataset = _split(source, split, spec, min_images, holdout or [], limits, cache_arrays)
    return RotatedClasses(dataset) if rotations else dataset


def _split(source: str, split: str, spec: InputSpec, min_images: int, holdout: list[str], limits: ArchiveLimits,
           cache_arrays: bool = True):
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
    if not (Path(source).is_dir() or Path(source).is_file()):  # a device such as /dev/zero is neither
        raise ParamembedError(
            f"unknown dataset {source!r}: not 'procedural', 'procedural-photo', or an existing folder / archive"
        )
    dataset = FolderDataset(source, spec, min_images=min_images, limits=limits, cache_arrays=cache_arrays)
    if split == "test":
        return dataset
    if holdout:
        return ClassSubset(dataset, holdout_filter(dataset, holdout, held=split == "validation"))
    if split == "validation":
        return ClassSubset(dataset, lambda g, c: c % 5 == 4)
    return ClassSubset(dataset, lambda g, c: c % 5 != 4)
