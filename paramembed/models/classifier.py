"""The generated classifier: what a parameter generator outputs for one task (or a batch of them).

A cosine classifier (Gidaris & Komodakis 2018; Qi et al. 2018): logits are a learned scale times
the cosine between a query's features and each class's generated weight vector, plus a bias.
Cosine logits make weights generated from 1 shot and from 10 shots comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass
class GeneratedClassifier:
    """Parameters generated for `tasks` tasks of `ways` classes each.

    weights:   (tasks, ways, D)  one weight vector per class, in the backbone's feature space
    bias:      (tasks, ways)
    embedding: (tasks, ways, E)  the per-class parameter embedding the weights were decoded from
    scale:     ()                the cosine classifier's learned temperature
    labels:    the class names, index = class id (filled in by `FewShotModel.adapt`)
    fast_weights: MAML only: the backbone parameters after its inner loop (one dict per task)
    aux_loss:  a regulariser to add to the training loss (the latent generator's KL term)
    metric:    "cosine" (every generator) or "linear" (the fine-tuned head baseline)
    refine:    transductive models only: (tasks, queries, D) query features -> (tasks, ways, D)
               weights refined by the unlabelled queries (`paramembed.models.transduction`);
               `logits` applies it, so a prediction depends on the whole query set
    """

    weights: torch.Tensor
    bias: torch.Tensor
    embedding: torch.Tensor
    scale: torch.Tensor
    labels: list[str] = field(default_factory=list)
    fast_weights: list[dict[str, torch.Tensor]] | None = None
    aux_loss: torch.Tensor | None = None
    metric: str = "cosine"
    refine: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def ways(self) -> int:
        return self.weights.shape[1]

    @property
    def transductive(self) -> bool:
        return self.refine is not None

    def weights_for(self, features: torch.Tensor) -> torch.Tensor:
        """The weights that classify these (tasks, queries, D) queries: (tasks, ways, D)."""
        return self.refine(features) if self.refine is not None else self.weights

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(tasks, queries, D) query features -> (tasks, queries, ways) logits."""
        if self.metric == "linear":
            q = F.normalize(features.float(), dim=-1)
            return torch.bmm(q, self.weights.float().transpose(1, 2)) + self.bias.unsqueeze(1)
        return cosine_logits(features, self.weights_for(features), self.bias, self.scale)

    def detach(self) -> "GeneratedClassifier":
        return GeneratedClassifier(
            self.weights.detach(),
            self.bias.detach(),
            self.embedding.detach(),
            self.scale.detach(),
            list(self.labels),
            [{k: v.detach() for k, v in fw.items()} for fw in self.fast_weights] if self.fast_weights else None,
            metric=self.metric,
            refine=_detached(self.refine) if self.refine is not None else None,
        )


def _detached(refine: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda features: refine(features).detach()


def cosine_logits(features: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(T, Q, D), (T, N, D), (T, N), () -> (T, Q, N)."""
    q = F.normalize(features.float(), dim=-1)
    w = F.normalize(weights.float(), dim=-1)
    return scale * torch.bmm(q, w.transpose(1, 2)) + bias.unsqueeze(1)


def class_means(features: torch.Tensor, labels: torch.Tensor, ways: int) -> torch.Tensor:
    """Per-class mean of support features: (T, S, D), (T, S) -> (T, N, D)."""
    one_hot = F.one_hot(labels, ways).to(features.dtype)  # (T, S, N)
    counts = one_hot.sum(1).clamp_min(1.0)  # (T, N)
    return torch.bmm(one_hot.transpose(1, 2), features) / counts.unsqueeze(-1)
