"""Pick the photo backbone's input size by measured accuracy against CPU time.

Plain prototypes (imprinting) on ImageNet EfficientNet-Lite0 features, 5-way tasks on the 65
Caltech-101 *training* classes (the held-out ones are never looked at to choose), 600 seeded
episodes each, at every candidate size; then the backbone's forward speed at that size on this
CPU (channels-last, batch 50). Usage: python scripts/choose_photo_input.py [DATA folder] [sizes...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from paramembed.config import InputSpec, read_config_file
from paramembed.data.episodes import TaskSampler
from paramembed.data.features import cached_features
from paramembed.evaluation import mean_ci95
from paramembed.models.efficientnet import EfficientNetLite0
from paramembed.models.classifier import class_means, cosine_logits

ROOT = Path(__file__).resolve().parents[1]
data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
sizes = [int(s) for s in sys.argv[2:]] or [128, 160]
holdout = read_config_file(ROOT / "configs" / "photo.yaml")["holdout"]
backbone = EfficientNetLite0().to(memory_format=torch.channels_last)
for size in sizes:
    spec = InputSpec(channels=3, image_size=size, centre=False)
    start = time.perf_counter()
    feats = cached_features(backbone, "efficientnet_lite0", data / "caltech101_85.tar.gz", spec, holdout, held=False)
    extract = time.perf_counter() - start
    x = torch.rand(50, 3, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        backbone(x[:10])
        t = time.perf_counter()
        backbone(x)
        rate = 50 / (time.perf_counter() - t)
    for shots in (1, 5):
        sampler = TaskSampler(feats, queries=15, seed=0)
        accs = []
        for i in range(600):
            task = sampler.sample(i, 5, shots)
            protos = class_means(task.support[None], task.support_labels[None], 5)
            logits = cosine_logits(task.query[None], protos, protos.new_zeros(1, 5), torch.tensor(10.0))[0]
            accs.append((logits.argmax(-1) == task.query_labels).float().mean().item())
        mean, ci = mean_ci95(accs)
        print(f"{size} px  5-way {shots}-shot  {100 * mean:.1f} +- {100 * ci:.1f}%   forward {rate:.0f} img/s"
              f"   (features of {len(feats.features)} photos in {extract:.0f} s)", flush=True)
