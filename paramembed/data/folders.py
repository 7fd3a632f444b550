"""Folder datasets: the torchvision Omniglot layout and the generic ImageFolder layout.

    Omniglot:     root/[images_background/]<Alphabet>/<character>/<image>.png   (groups = alphabets)
    ImageFolder:  root/<class>/<image>.{png,jpg,...}                            (one group)

A `.zip` or `.tar` (plain, `.gz` / `.tgz`, `.bz2`, `.xz`) is unpacked once into a cache folder, within limits on its size
(`archives.DATASET_LIMITS` by default; pass `archives.UPLOAD_LIMITS` for a training upload; the explorer unpacks a
visitor's archive itself, within `explorer_sources.UPLOAD_LIMITS`, and opens the folder with `cache_arrays=False`). Images are decoded with Pillow
into the model's input format (`InputSpec`) once, and kept in memory (and on disk, keyed by the
files and the spec) so that evaluation over a thousand episodes never decodes twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from paramembed.config import InputSpec
from paramembed.data.grouped import GroupedRows
from paramembed.data.archives import DATASET_LIMITS, ArchiveLimits, extract_archive
from paramembed.data.preprocess import IMAGE_SUFFIXES, image_to_tensor, open_image
from paramembed.errors import ParamembedError


SPLIT_FOLDERS = {"train", "val", "valid", "validation", "test"}


def cache_root() -> Path:
    return Path(os.environ.get("PARAMEMBED_CACHE", Path.home() / ".cache" / "paramembed"))


def unpack_archive(path: Path, limits: ArchiveLimits = DATASET_LIMITS) -> Path:
    """Unpack a .tar.gz/.tgz/.tar/.zip into the cache (once, within `limits`) and return the folder.

    The folder appears only complete: a refused or failed archive leaves nothing in the cache.
    """
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{limits}".encode()).hexdigest()[:12]
    dest = cache_root() / "unpacked" / f"{path.name.split('.')[0]}-{key}"
    if (dest / ".complete").exists():
        return dest
    if dest.exists():  # left half-written by an older version that unpacked in place
        shutil.rmtree(dest)
    return extract_archive(path, dest, limits)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def discover_layout(root: Path) -> list[tuple[str, list[tuple[str, list[Path]]]]]:
    """root -> [(group name, [(class name, [image paths])])], Omniglot or ImageFolder layout."""
    # Descend through single wrapper folders (an archive's top folder, images_background/).
    while True:
        dirs = _subdirs(root)
        if len(dirs) == 1 and not _image_files(root) and not _image_files(dirs[0]) and _subdirs(dirs[0]):
            root = dirs[0]
            continue
        break
    dirs = _subdirs(root)
    if not dirs:
        raise ParamembedError(f"{root}: no class folders found (expected <class>/<image> or <alphabet>/<character>/<image>)")
    if {d.name for d in dirs} <= SPLIT_FOLDERS and all(_subdirs(d) for d in dirs):
        # root/{train,val}/<class>/<image> (Tiny-ImageNet, many ImageFolder exports): one class
        # per name, its images from every split folder, so a class is never split in two.
        merged: dict[str, list[Path]] = {}
        for split in dirs:
            for c in _subdirs(split):
                merged.setdefault(c.name, []).extend(_image_files(c))
        return [(root.name, sorted(merged.items()))]
    omniglot = all(_subdirs(d) and not _image_files(d) for d in dirs)
    if omniglot:
        return [(d.name, [(c.name, _image_files(c)) for c in _subdirs(d)]) for d in dirs]
    return [(root.name, [(d.name, _image_files(d)) for d in dirs])]


class FolderDataset(GroupedRows):
    """Images from a folder (or archive), preprocessed for one `InputSpec`, grouped into alphabets."""

    def __init__(self, path: str | Path, spec: InputSpec, min_images: int = 1, limits: ArchiveLimits = DATASET_LIMITS,
                 cache_arrays: bool = True):
        path = Path(path)
        if not path.exists():
            raise ParamembedError(f"dataset {str(path)!r} does not exist")
        self.path = path
        root = unpack_archive(path, limits) if path.is_file() else path
        layout = discover_layout(root)
        self.spec = spec
        self._groups: list[str] = []
        self._classes: list[list[str]] = []
        self._offsets: list[list[int]] = []
        files: list[Path] = []
        skipped = 0
        for group, classes in layout:
            names, offsets = [], []
            for name, images in classes:
                if len(images) < min_images:
                    skipped += 1
                    continue
                names.append(name)
                offsets.append(len(files))
                files.extend(images)
            if names:
                self._groups.append(group)
                self._classes.append(names)
                self._offsets.append(offsets + [len(files)])
                # offsets[i]..offsets[i+1] are class i's rows
        if not files:
            detail = f" with at least {min_images} images" if skipped else ""
            raise ParamembedError(f"dataset {str(path)!r} has no class folder{detail}")
        self.skipped_classes = skipped
        self.files = files
        self.data = self._load(files, cache_arrays)

    def _load(self, files: list[Path], cache_arrays: bool = True) -> np.ndarray:
        """Every file decoded into one (N, C, S, S) uint8 array, cached on disk (keyed by files and spec) unless told not to."""
        stamp = hashlib.sha1(
            json.dumps([str(self.path.resolve()), len(files), str(files[0]), str(files[-1]), vars(self.spec)]).encode()
        ).hexdigest()[:16]
        cached = cache_root() / "arrays" / f"{stamp}.npy"
        if cache_arrays and cached.exists():
            arr = np.load(cached)
            if arr.shape[0] == len(files):
                return arr
        # Filled row by row: a list of float32 copies would hold 4x the array at its peak.
        arr = np.empty((len(files), self.spec.channels, self.spec.image_size, self.spec.image_size), np.uint8)
        for row, f in enumerate(files):
            arr[row] = (image_to_tensor(open_image(f, name=str(f)), self.spec).numpy() * 255.0 + 0.5).astype(np.uint8)
        if not cache_arrays:  # a visitor's upload: nothing of it outlives its own folder
            return arr
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, cached)
        return arr

    @property
    def channels(self) -> int:
        return self.spec.channels

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        """(B, C, S, S) float32 in [0, 1] for a list of (group, class, drawing)."""
        rows = [self._offsets[g][c] + d for g, c, d in keys]
        return self.data[rows].astype(np.float32) / 255.0
