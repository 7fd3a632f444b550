"""Where a run's training tasks come from: its dataset split, held-out classes, rotations, mixture."""

from __future__ import annotations

from paramembed.config import TrainConfig
from paramembed.data.episodes import MixtureSampler, TaskSampler
from paramembed.data.registry import get_dataset


def training_data(config: TrainConfig, split: str = "train", min_images: int | None = None):
    """The run's `data` for `split`: held-out classes applied; rotated classes for training only.

    Classes with fewer than `min_images` images are left out (default: what one task needs).
    """
    need = min_images or (max(config.shots) + config.queries if split == "train" else config.val_shots + 5)
    return get_dataset(config.data, split, config.model.input, min_images=need, holdout=config.holdout,
                       rotations=config.rotations and split == "train")


def task_sampler(config: TrainConfig) -> TaskSampler | MixtureSampler:
    """Training tasks: from `data`, or a mixture of `data` and `mix_data` when `mix_weight` > 0."""
    c = config
    main = TaskSampler(training_data(c), queries=c.queries, within_alphabet=c.within_alphabet, seed=c.seed)
    if not c.mix_data or c.mix_weight <= 0:
        return main
    extra_data = get_dataset(c.mix_data, "train", c.model.input, min_images=max(c.shots) + c.queries)
    extra = TaskSampler(extra_data, queries=c.queries, within_alphabet=c.within_alphabet, seed=c.seed + 1)
    return MixtureSampler([main, extra], [1.0 - c.mix_weight, c.mix_weight], seed=c.seed)
