"""Cached backbone features of a dataset: what a generator on a frozen backbone trains and is measured on.

    feats = cached_features(backbone, "caltech101_85.tar.gz", spec, holdout=[...], held=False)
    feats.images(keys)            # (B, D) float32 features: a `ClassDataset` like any image set

A frozen backbone gives every image the same features in every task, so they are computed once
(streamed in chunks: a 100k-photo set never sits in memory as pixels) and kept on disk under the
cache root, keyed by the files, the input spec and the backbone. `TaskSampler`, `evaluate` and
training then draw tasks from features exactly as they would from images; `FeatureSet.is_features`
tells them not to run the backbone again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from paramembed.config import InputSpec
from paramembed.data.folders import cache_root, discover_layout, unpack_archive
from paramembed.data.grouped import GroupedRows
from paramembed.data.preprocess import image_to_tensor
from paramembed.errors import ParamembedError


class FeatureSet(GroupedRows):
    """Features grouped like a `FolderDataset`: groups (alphabets / sources) of classes of rows.

    features: (N, D) float16; class c of group g is rows offsets[g][c]..offsets[g][c+1].
    """

    is_features = True

    def __init__(self, features: torch.Tensor, groups: list[str], classes: list[list[str]], offsets: list[list[int]]):
        self.features = features
        self._groups, self._classes, self._offsets = groups, classes, offsets

    @property
    def groups(self) -> list[str]:
        return self._groups

    @property
    def feature_dim(self) -> int:
        return self.features.shape[1]

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        """(B, D) float32 features for (group, class, drawing) keys (named `images` for `TaskSampler`)."""
        rows = torch.tensor([self._offsets[g][c] + d for g, c, d in keys], dtype=torch.long)
        return self.features[rows].float().numpy()


def concat_feature_sets(sets: dict[str, FeatureSet]) -> FeatureSet:
    """Several sources as one set whose groups are the sources (so a task can keep to one source)."""
    feats, groups, classes, offsets, start = [], [], [], [], 0
    for name, s in sets.items():
        for g in range(s.num_groups):
            groups.append(name if s.num_groups == 1 else f"{name}/{s.groups[g]}")
            classes.append(list(s._classes[g]))
            offsets.append([start + o for o in s._offsets[g]])
        feats.append(s.features)
        start += len(s.features)
    return FeatureSet(torch.cat(feats), groups, classes, offsets)


def select_classes(layout, holdout: list[str], held: bool) -> list[tuple[str, list[tuple[str, list[int]]]]]:
    """Keep the held-out groups/classes (held=True) or the rest.

    One holdout list may name the classes of several sources (a photo model's Caltech and
    Tiny-ImageNet classes), so only a list that names nothing in this source is refused.
    """
    names = {g for g, _ in layout} | {c for _, cs in layout for c, _ in cs}
    if holdout and not names.intersection(holdout):
        raise ParamembedError(f"holdout names no alphabet or class of the dataset: {', '.join(list(holdout)[:5])}")
    out = []
    for group, classes in layout:
        kept = [(c, rows) for c, rows in classes if (group in holdout or c in holdout) == held]
        if kept:
            out.append((group, kept))
    return out


def _cache_key(source: Path, spec: InputSpec, backbone_name: str, per_class: int) -> str:
    stat = source.stat()
    blob = json.dumps([str(source.resolve()), stat.st_size, stat.st_mtime_ns, vars(spec), backbone_name, per_class])
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@torch.inference_mode()
def compute_features(backbone: torch.nn.Module, files: list[Path], spec: InputSpec, batch_size: int = 64,
                     progress: bool = False) -> torch.Tensor:
    """Image files -> (N, D) float16 features, decoded and embedded `batch_size` at a time."""
    device = next(backbone.parameters()).device
    backbone.eval()
    out = []
    for i in tqdm(range(0, len(files), batch_size), disable=not progress, desc="features", unit="batch"):
        chunk = torch.stack([image_to_tensor(f, spec, name=str(f)) for f in files[i : i + batch_size]])
        chunk = chunk.to(device).contiguous(memory_format=torch.channels_last)
        out.append(backbone(chunk).float().cpu().half())
    return torch.cat(out)


def source_features(backbone: torch.nn.Module, backbone_name: str, source: Path, spec: InputSpec, per_class: int = 0,
                    progress: bool = False) -> tuple[torch.Tensor, list[tuple[str, list[tuple[str, list[int]]]]]]:
    """Every class of a folder / archive (at most `per_class` images each, 0: all) -> (features (N, D), layout).

    The layout names each class's rows: [(group, [(class, rows)])]. Computed once per source,
    spec and backbone and kept under `<cache root>/features/`; later calls read it back.
    """
    key = _cache_key(source, spec, backbone_name, per_class)
    path = cache_root() / "features" / f"{source.name.split('.')[0]}-{key}.safetensors"
    root = unpack_archive(source) if source.is_file() else source
    files: list[Path] = []
    layout = []
    for group, classes in discover_layout(root):
        members = []
        for name, images in classes:
            images = images[:per_class] if per_class else images
            members.append((name, list(range(len(files), len(files) + len(images)))))
            files.extend(images)
        layout.append((group, members))
    if path.exists():
        feats = load_file(str(path))["features"]
        if len(feats) == len(files):
            return feats, layout
    feats = compute_features(backbone, files, spec, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({"features": feats.contiguous()}, str(tmp))
    os.replace(tmp, path)
    return feats, layout


def cached_features(backbone: torch.nn.Module, backbone_name: str, source: str | Path, spec: InputSpec,
                    holdout: list[str] = (), held: bool = False, per_class: int = 0, min_images: int = 1,
                    progress: bool = False) -> FeatureSet:
    """Features of a folder / archive's classes: the held-out ones if `held`, else the others.

    At most `per_class` images of a class (0: all); classes with fewer than `min_images` images
    are left out (what one task needs).
    """
    source = Path(source)
    if not source.exists():
        raise ParamembedError(f"dataset {str(source)!r} does not exist")
    all_feats, layout = source_features(backbone, backbone_name, source, spec, per_class, progress)
    groups, classes, offsets, rows = [], [], [], []
    for group, members in select_classes(layout, list(holdout), held):
        members = [(c, r) for c, r in members if len(r) >= min_images]
        if not members:
            continue
        groups.append(group)
        classes.append([c for c, _ in members])
        group_offsets = []
        for _, class_rows in members:
            group_offsets.append(len(rows))
            rows.extend(class_rows)
        offsets.append(group_offsets + [len(rows)])
    if not rows:
        raise ParamembedError(f"dataset {str(source)!r} has no class with at least {min_images} images here")
    return FeatureSet(all_feats[torch.tensor(rows)], groups, classes, offsets)
