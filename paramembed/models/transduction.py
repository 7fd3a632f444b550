"""Reading the unlabelled queries: generated weights refined by the task's own query set.

A support set of one photo per class says little about a class; the 75 unlabelled queries of the
same task say a lot about where its classes lie. Soft k-means (Ren et al. 2018, "Meta-learning
for semi-supervised few-shot classification") moves each class's weight towards the queries it
probably owns:

    p_qc = softmax_c(tau * cos(q, w_c))                                  (T, Q, N)
    w_c <- normalise((n_c * w_c + lam * sum_q p_qc q) / (n_c + lam * sum_q p_qc))

repeated `steps` times, with all vectors unit-normalised; n_c is the class's support count, so
a 5-shot class moves less than a 1-shot one. The temperature `tau` and the queries' weight `lam`
are learned with the generator (meta-training sees the same query sets), starting from values
that already help without training (tau 10, lam 1).

Predictions then depend on the whole query set: the app says so, and the report measures the
model with and without this step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class QueryRefinement(nn.Module):
    """(T, N, D) weights, (T, N) support counts, (T, Q, D) query features -> (T, N, D) refined weights."""

    def __init__(self, steps: int = 3):
        super().__init__()
        self.steps = steps
        self.log_temperature = nn.Parameter(torch.tensor(math.log(10.0)))
        self.log_query_weight = nn.Parameter(torch.tensor(0.0))

    def forward(self, weights: torch.Tensor, counts: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        tau, lam = self.log_temperature.exp(), self.log_query_weight.exp()
        w = F.normalize(weights.float(), dim=-1)
        q = F.normalize(queries.float(), dim=-1)
        n = counts.float().unsqueeze(-1)  # (T, N, 1)
        for _ in range(self.steps):
            p = torch.softmax(tau * torch.bmm(q, w.transpose(1, 2)), dim=-1)  # (T, Q, N)
            mass = lam * p.sum(1).unsqueeze(-1)  # (T, N, 1)
            pulled = lam * torch.bmm(p.transpose(1, 2), q)  # (T, N, D)
            w = F.normalize((n * w + pulled) / (n + mass), dim=-1)
        return w
