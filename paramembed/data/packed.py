"""Real held-out handwriting shipped with the app, in one small file: `assets/omniglot-holdout.npz`.

The shipped glyph models never saw five whole Omniglot alphabets (the configs' `holdout`); those
alphabets' drawings, 1-bit at `SIDE` x `SIDE` pixels and bit-packed, make the playground's real
sample tasks. `scripts/pack_omniglot_holdout.py` writes the file from the Omniglot background set
(MIT licence, Lake, Salakhutdinov & Tenenbaum 2015, github.com/brendenlake/omniglot; the file's
`attribution` field and assets/omniglot-holdout.txt say so).

    dataset = PackedGlyphs(HOLDOUT_FILE, spec)   # a class dataset, like FolderDataset: TaskSampler reads it
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from paramembed.checkpoint import ASSETS
from paramembed.data.grouped import GroupedRows
from paramembed.errors import ParamembedError

HOLDOUT_FILE = ASSETS.parent / "omniglot-holdout.npz"
SIDE = 48  # pixels: 105x105 drawings shrunk 2.2x keep their strokes; the models read 28x28 anyway
ATTRIBUTION = ("Omniglot (Lake, Salakhutdinov & Tenenbaum 2015, Science 350:1332), background set, "
               "https://github.com/brendenlake/omniglot, MIT licence. Alphabets held out of paramembed's training.")


def pack(groups: list[tuple[str, list[tuple[str, list[Image.Image]]]]], out: Path, side: int = SIDE) -> Path:
    """[(alphabet, [(character, [drawings])])] -> a compressed .npz of 1-bit `side` x `side` drawings."""
    bits, group_of, class_names, counts, group_names = [], [], [], [], []
    for g, (group, classes) in enumerate(groups):
        group_names.append(group)
        for name, drawings in classes:
            class_names.append(name)
            group_of.append(g)
            counts.append(len(drawings))
            for img in drawings:
                # Ink is dark on white paper; a pixel is ink when over a quarter of its area was ink.
                ink = 1.0 - np.asarray(img.convert("L").resize((side, side), Image.Resampling.BOX), np.float32) / 255.0
                bits.append(np.packbits(ink > 0.25))
    np.savez_compressed(out, bits=np.stack(bits), side=side, groups=np.array(group_names), class_group=np.array(group_of),
                        class_names=np.array(class_names), counts=np.array(counts), attribution=ATTRIBUTION)
    return out


class PackedGlyphs(GroupedRows):
    """The packed file as a class dataset for one `InputSpec` (the interface TaskSampler reads)."""

    split = "holdout"

    def __init__(self, path: str | Path, spec):
        from paramembed.data.preprocess import image_to_tensor

        path = Path(path)
        if not path.is_file():
            raise ParamembedError(f"{path}: no packed held-out handwriting here (scripts/pack_omniglot_holdout.py makes it)")
        with np.load(path, allow_pickle=False) as f:
            side = int(f["side"])
            ink = np.unpackbits(f["bits"], axis=1)[:, : side * side].reshape(-1, side, side)
            self._groups = [str(g) for g in f["groups"]]
            class_group, names, counts = f["class_group"], f["class_names"], f["counts"]
        self.spec = spec
        self._classes: list[list[str]] = [[] for _ in self._groups]
        self._offsets: list[list[int]] = [[] for _ in self._groups]
        start = 0
        for g, name, n in zip(class_group, names, counts):
            self._classes[int(g)].append(str(name))
            self._offsets[int(g)].append(start)
            start += int(n)
        for g in range(len(self._groups)):
            self._offsets[g].append(self._offsets[g + 1][0] if g + 1 < len(self._groups) else start)
        # Drawn as the people drew them (dark ink on white), then through the models' own preprocessing.
        paper = ((1 - ink) * 255).astype(np.uint8)
        self.data = np.stack([(image_to_tensor(Image.fromarray(p), spec).numpy() * 255 + 0.5).astype(np.uint8)
                              for p in paper])

    @property
    def channels(self) -> int:
        return self.spec.channels

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray:
        rows = [self._offsets[g][c] + d for g, c, d in keys]
        return self.data[rows].astype(np.float32) / 255.0
