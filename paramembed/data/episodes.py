"""Few-shot tasks: an N-way K-shot sampler with Q queries per class.

Any dataset with alphabets (groups) of classes of drawings works: the procedural
`GlyphAlphabets`, a `FolderDataset`, the procedural photo classes. It only needs
`num_groups`, `num_classes(g)`, `num_drawings(g, c)`, `class_name(g, c)` and `images(keys)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol

import numpy as np
import torch

from paramembed.errors import ParamembedError


class ClassDataset(Protocol):
    channels: int
    image_size: int
    num_groups: int

    def num_classes(self, group: int) -> int: ...
    def num_drawings(self, group: int, cls: int) -> int: ...
    def class_name(self, group: int, cls: int) -> str: ...
    def group_name(self, group: int) -> str: ...
    def images(self, keys: list[tuple[int, int, int]]) -> np.ndarray: ...


@dataclass
class Task:
    """One few-shot task; support and query are ordered class by class.

    support: (ways*shots, C, S, S), support_labels: (ways*shots,) in 0..ways-1
    query:   (ways*queries, C, S, S), query_labels: (ways*queries,), or None when unknown
    """

    support: torch.Tensor
    support_labels: torch.Tensor
    query: torch.Tensor
    query_labels: torch.Tensor | None
    class_names: list[str]
    groups: list[str] = field(default_factory=list)

    @property
    def ways(self) -> int:
        return len(self.class_names)

    @property
    def shots(self) -> int:
        return len(self.support_labels) // self.ways


@dataclass
class TaskBatch:
    """Several tasks of the same shape stacked for one forward pass.

    support: (tasks, ways*shots, C, S, S), support_labels: (tasks, ways*shots)
    query:   (tasks, ways*queries, C, S, S), query_labels: (tasks, ways*queries)
    """

    support: torch.Tensor
    support_labels: torch.Tensor
    query: torch.Tensor
    query_labels: torch.Tensor
    ways: int
    shots: int

    def to(self, device: torch.device, non_blocking: bool = False) -> "TaskBatch":
        return TaskBatch(
            self.support.to(device, non_blocking=non_blocking),
            self.support_labels.to(device, non_blocking=non_blocking),
            self.query.to(device, non_blocking=non_blocking),
            self.query_labels.to(device, non_blocking=non_blocking),
            self.ways,
            self.shots,
        )


def stack_tasks(tasks: list[Task]) -> TaskBatch:
    return TaskBatch(
        torch.stack([t.support for t in tasks]),
        torch.stack([t.support_labels for t in tasks]),
        torch.stack([t.query for t in tasks]),
        torch.stack([t.query_labels for t in tasks]),
        tasks[0].ways,
        tasks[0].shots,
    )


class TaskSampler:
    """Draws reproducible N-way K-shot tasks from a `ClassDataset`.

    Args:
        dataset: where the classes come from.
        queries: query drawings per class (Q).
        within_alphabet: probability that a task takes all its classes from one alphabet
            (the Lake et al. 2015 protocol); 0 gives random-class tasks.
        seed: tasks are a pure function of (seed, task index).
    """

    def __init__(self, dataset: ClassDataset, queries: int = 5, within_alphabet: float = 0.0, seed: int = 0):
        self.dataset = dataset
        self.queries = queries
        self.within_alphabet = within_alphabet
        self.seed = seed
        sizes = [dataset.num_classes(g) for g in range(dataset.num_groups)] if dataset.num_groups <= 10_000 else None
        self._group_sizes = np.array(sizes) if sizes is not None else None

    def check(self, ways: int, shots: int) -> None:
        """Raise a clear error when the dataset cannot give `ways`-way `shots`-shot tasks."""
        if ways < 2:
            raise ParamembedError(f"a task needs at least 2 ways, got {ways}")
        if shots < 1:
            raise ParamembedError(f"a task needs at least 1 shot, got {shots}")
        if self._group_sizes is None:
            return
        need = shots + self.queries
        usable = sum(
            1
            for g in range(self.dataset.num_groups)
            for c in range(self.dataset.num_classes(g))
            if self.dataset.num_drawings(g, c) >= need
        )
        if usable < ways:
            raise ParamembedError(
                f"dataset has {usable} classes with at least {need} images (shots {shots} + queries {self.queries}); "
                f"a {ways}-way task needs {ways}"
            )

    def _classes(self, rng: np.random.Generator, ways: int, within: bool) -> list[tuple[int, int]]:
        ds = self.dataset
        if within:
            if self._group_sizes is not None:
                candidates = np.flatnonzero(self._group_sizes >= ways)
                if len(candidates) == 0:
                    raise ParamembedError(f"no alphabet has {ways} classes for a within-alphabet task")
                group = int(rng.choice(candidates))
            else:
                while True:
                    group = int(rng.integers(ds.num_groups))
                    if ds.num_classes(group) >= ways:
                        break
            return [(group, int(c)) for c in rng.choice(ds.num_classes(group), ways, replace=False)]
        if self._group_sizes is not None:
            # Uniform over all classes: index the flattened list.
            cumulative = np.cumsum(self._group_sizes)
            flat = rng.choice(int(cumulative[-1]), ways, replace=False)
            groups = np.searchsorted(cumulative, flat, side="right")
            starts = cumulative - self._group_sizes
            return [(int(g), int(f - starts[g])) for g, f in zip(groups, flat)]
        chosen: set[tuple[int, int]] = set()
        while len(chosen) < ways:
            group = int(rng.integers(ds.num_groups))
            chosen.add((group, int(rng.integers(ds.num_classes(group)))))
        return sorted(chosen, key=lambda gc: rng.random())

    def task_keys(self, index: int, ways: int, shots: int, within: bool | None = None):
        """Task number `index`'s classes and (group, class, drawing) keys, without loading images.

        The same (seed, index) always gives the same task, whichever method evaluates it.
        Returns (classes [(group, class)], support keys, query keys), class by class.
        """
        rng = np.random.default_rng([self.seed, index])
        draw = rng.random()
        if within is None:
            within = bool(draw < self.within_alphabet)
        classes = self._classes(rng, ways, within)
        need = shots + self.queries
        support_keys, query_keys = [], []
        for g, c in classes:
            available = self.dataset.num_drawings(g, c)
            if available < need:
                raise ParamembedError(
                    f"class {self.dataset.class_name(g, c)!r} has {available} images; shots {shots} + queries {self.queries} needs {need}"
                )
            drawings = rng.choice(available, need, replace=False)
            support_keys += [(g, c, int(d)) for d in drawings[:shots]]
            query_keys += [(g, c, int(d)) for d in drawings[shots:]]
        return classes, support_keys, query_keys

    def sample(self, index: int, ways: int, shots: int, within: bool | None = None) -> Task:
        """Task number `index` of this sampler's seed, with its images."""
        classes, support_keys, query_keys = self.task_keys(index, ways, shots, within)
        images = torch.from_numpy(self.dataset.images(support_keys + query_keys))
        n_support = len(support_keys)
        return Task(
            support=images[:n_support],
            support_labels=torch.arange(ways).repeat_interleave(shots),
            query=images[n_support:],
            query_labels=torch.arange(ways).repeat_interleave(self.queries),
            class_names=[self.dataset.class_name(g, c) for g, c in classes],
            groups=[self.dataset.group_name(g) for g, _ in classes],
        )

    def batches(
        self,
        tasks_per_batch: int,
        ways: tuple[int, int],
        shots: tuple[int, int],
        start: int = 0,
        stride: int = 1,
    ) -> Iterator[TaskBatch]:
        """Endless batches; ways and shots are drawn per batch from the inclusive ranges.

        `start`/`stride` let several processes (DDP ranks, data workers) draw disjoint tasks from
        one seed scheme: batch b of rank r uses task indices from batch number start + b*stride.
        """
        batch = start
        while True:
            yield self.batch_at(batch, tasks_per_batch, ways, shots)
            batch += stride

    def batch_at(self, batch: int, tasks_per_batch: int, ways: tuple[int, int], shots: tuple[int, int]) -> TaskBatch:
        """Batch number `batch` of this seed: ways and shots drawn from the inclusive ranges."""
        rng = np.random.default_rng([self.seed, 1_000_003, batch])
        n = int(rng.integers(ways[0], ways[-1] + 1))
        k = int(rng.integers(shots[0], shots[-1] + 1))
        return stack_tasks([self.sample(batch * tasks_per_batch + i, n, k) for i in range(tasks_per_batch)])


class MixtureSampler:
    """Batches from several `TaskSampler`s: batch b comes from source i with probability weights[i].

    Which source serves a batch is a pure function of (seed, b), so ranks and workers that split
    the batch numbers between them still see the stated mixture. Whole batches come from one
    source because tasks of one batch are stacked into one tensor.
    """

    def __init__(self, samplers: list[TaskSampler], weights: list[float], seed: int = 0):
        if len(samplers) != len(weights) or not samplers:
            raise ParamembedError("a mixture needs one weight per source")
        total = float(sum(weights))
        if total <= 0 or min(weights) < 0:
            raise ParamembedError(f"mixture weights must be non-negative and not all zero, got {weights}")
        self.samplers, self.seed = samplers, seed
        self.cumulative = np.cumsum(np.asarray(weights, dtype=np.float64) / total)

    def source_of(self, batch: int) -> int:
        draw = np.random.default_rng([self.seed, 2_000_003, batch]).random()
        return int(min(np.searchsorted(self.cumulative, draw, side="right"), len(self.samplers) - 1))

    def batches(self, tasks_per_batch: int, ways: tuple[int, int], shots: tuple[int, int], start: int = 0, stride: int = 1):
        batch = start
        while True:
            yield self.samplers[self.source_of(batch)].batch_at(batch, tasks_per_batch, ways, shots)
            batch += stride
