"""Print the held-out validation alphabets / classes written into configs/*.yaml.

Deterministic (numpy seed 0) and whole: 5 of Omniglot's 30 background alphabets among those with
at least 20 characters (so within-alphabet 20-way tasks exist), and 30 of the 150 Tiny-ImageNet
classes. Usage: python scripts/choose_holdout.py [DATA folder, default ../shared/data]
"""

from __future__ import annotations

import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np

data = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data")
with tarfile.open(data / "omniglot_background.tar.gz") as tf:
    chars = Counter(Path(m.name).parts[2] for m in tf.getmembers() if m.isdir() and len(Path(m.name).parts) == 4)
eligible = sorted(a for a, n in chars.items() if n >= 20)
alphabets = sorted(np.random.default_rng(0).choice(eligible, 5, replace=False).tolist())
with tarfile.open(data / "tiny_imagenet32_150.tar.gz") as tf:
    wnids = sorted({Path(m.name).parts[2] for m in tf.getmembers() if m.isdir() and len(Path(m.name).parts) == 3
                    and Path(m.name).parts[1] == "train"})
classes = sorted(np.random.default_rng(0).choice(wnids, 30, replace=False).tolist())
print("omniglot holdout:", alphabets)
print("tiny-imagenet holdout:", classes)
with tarfile.open(data / "caltech101_85.tar.gz") as tf:
    caltech = sorted({Path(m.name).parts[1] for m in tf.getmembers() if m.isdir() and len(Path(m.name).parts) == 2})
print("caltech-101 holdout:", sorted(np.random.default_rng(0).choice(caltech, 20, replace=False).tolist()))
