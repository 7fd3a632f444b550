"""Pre-training benchmark: the real-data pipeline's step against its FLOP bound, and its data share.

The shipped backbones are pre-trained on real Omniglot (28x28 grey, every class also rotated by
90/180/270 degrees) and on Tiny-ImageNet (32x32 colour). Both pipelines are timed here on in-memory
uint8 sets of the same shapes and class counts: pixel values do not change the arithmetic, so the
figure needs no dataset on disk. One step = building the batch (`pretraining_batch`: index,
rotate, augment) + the SGD step (`pretraining_step`), the very functions `pretrain` runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paramembed.bench.timing import rate
from paramembed.config import InputSpec, ModelConfig
from paramembed.models.fewshot import FewShotModel


@dataclass(frozen=True)
class Pipeline:
    channels: int
    size: int
    classes: int  # before rotations
    turns: int  # 4: each class also rotated by 90/180/270 degrees, as new classes
    augment: str


# The shapes of configs/glyph-backbone.yaml and configs/photo-backbone.yaml.
PIPELINES = {
    "omniglot x4 rotations": Pipeline(1, 28, 753, 4, "glyph"),
    "tiny-imagenet": Pipeline(3, 32, 120, 1, "photo"),
}
IMAGES_IN_MEMORY = 4096  # enough for random indexing to cost what it costs on the whole set
BATCH = 256  # the shipped configs' batch_size


def pretraining_section(machine: dict, device: torch.device, quick: bool) -> dict:
    return {name: _measure(p, machine, device, quick) for name, p in PIPELINES.items()}


def _measure(p: Pipeline, machine: dict, device: torch.device, quick: bool) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from paramembed.pretraining import pretraining_batch, pretraining_step

    g = torch.Generator().manual_seed(0)
    config = ModelConfig(generator="proto", input=InputSpec(channels=p.channels, image_size=p.size, centre=p.channels == 1))
    model = FewShotModel(config).to(device).to(memory_format=torch.channels_last).train()
    model.log_scale.requires_grad_(False)  # as in pretrain: the scale stays fixed
    head = nn.Parameter(F.normalize(torch.randn(p.classes * p.turns, model.backbone.feature_dim, generator=g), dim=-1).to(device))
    optimiser = torch.optim.SGD([q for q in model.parameters() if q.requires_grad] + [head], lr=0.01, momentum=0.9, nesterov=True)
    images = torch.randint(0, 256, (IMAGES_IN_MEMORY, p.channels, p.size, p.size), dtype=torch.uint8, generator=g).to(device)
    labels = torch.randint(0, p.classes, (IMAGES_IN_MEMORY,), generator=g).to(device)
    batch_size = 64 if quick else BATCH

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        picked = torch.randint(0, IMAGES_IN_MEMORY * p.turns, (batch_size,), generator=g).to(device)
        return pretraining_batch(images, labels, picked, p.turns, p.augment)

    x, y = batch()
    with FlopCounterMode(display=False) as counter:
        pretraining_step(model, head, optimiser, x, y)
    per_image = counter.get_total_flops() / batch_size
    seconds = 0.5 if quick else 6.0
    batches_per_s = rate(batch, device, seconds)
    steps_per_s = rate(lambda: pretraining_step(model, head, optimiser, *batch()), device, seconds)
    bound = machine["matmul_flops"] / per_image
    return {
        "batch_size": batch_size, "classes": p.classes * p.turns, "augment": p.augment,
        "flops_per_image": per_image,
        "images_per_s": steps_per_s * batch_size,
        "bound_images_per_s": bound,
        "fraction_of_bound": steps_per_s * batch_size / bound,
        "data_fraction": steps_per_s / batches_per_s,  # the share of a step spent building its batch
        "target": "pre-training reaches >= 50% of the measured FLOP bound",
    }
