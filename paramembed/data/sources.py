"""Where a run's training tasks come from: its dataset split, held-out classes, rotations, mixture.

Stage "frozen" draws the same tasks from cached backbone features instead of images
(`paramembed.data.features`): the backbone is fixed, so each image is embedded once.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from paramembed.config import TrainConfig
from paramembed.data.episodes import MixtureSampler, TaskSampler
from paramembed.data.registry import get_dataset


def training_data(config: TrainConfig, split: str = "train", min_images: int | None = None, source: str | None = None):
    """The run's `data` (or `source`) for `split`: held-out classes applied; rotated classes for training only.

    Classes with fewer than `min_images` images are left out (default: what one task needs).
    """
    need = min_images or (max(config.shots) + config.queries if split == "train" else config.val_shots + 5)
    if config.stage == "frozen":
        return frozen_features(config, source or config.data, split, need)
    return get_dataset(source or config.data, split, config.model.input, min_images=need, holdout=config.holdout,
                       rotations=config.rotations and split == "train")


def frozen_features(config: TrainConfig, source: str, split: str, min_images: int = 1):
    """A `FeatureSet` of `source`'s `split` through the run's fixed backbone (computed once, then cached)."""
    from paramembed.data.features import cached_features

    backbone, name = _fixed_backbone(config.model.backbone, config.init_from)
    holdout = [] if split == "test" else config.holdout
    return cached_features(backbone, name, source, config.model.input, holdout, held=split == "validation",
                           per_class=config.images_per_class, min_images=min_images)


@functools.lru_cache(maxsize=2)
def _fixed_backbone(backbone: str, init_from: str):
    """(backbone in eval mode, a name for the feature cache that changes with its weights)."""
    import torch

    from paramembed.checkpoint import WEIGHTS, init_backbone, read_model_config
    from paramembed.models.fewshot import FewShotModel

    if not init_from:
        from paramembed.models.backbone import get_backbone

        return get_backbone(backbone).eval().to(memory_format=torch.channels_last), backbone
    config, _ = read_model_config(Path(init_from))
    model = FewShotModel(config)
    init_backbone(model, init_from)
    digest = hashlib.sha1((Path(init_from) / WEIGHTS).read_bytes()).hexdigest()[:12]
    return model.backbone.eval(), f"{backbone}:{digest}"


def task_sampler(config: TrainConfig) -> TaskSampler | MixtureSampler:
    """Training tasks: from `data`, or a mixture of `data` and `mix_data` when `mix_weight` > 0."""
    c = config
    main = TaskSampler(training_data(c), queries=c.queries, within_alphabet=c.within_alphabet, seed=c.seed)
    if not c.mix_data or c.mix_weight <= 0:
        return main
    if c.stage == "frozen":
        extra_data = training_data(c, source=c.mix_data)
    else:
        extra_data = get_dataset(c.mix_data, "train", c.model.input, min_images=max(c.shots) + c.queries)
    extra = TaskSampler(extra_data, queries=c.queries, within_alphabet=c.within_alphabet, seed=c.seed + 1)
    return MixtureSampler([main, extra], [1.0 - c.mix_weight, c.mix_weight], seed=c.seed)
