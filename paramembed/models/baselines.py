"""Baselines that adapt by gradient descent instead of generating parameters.

- MAML (Finn et al. 2017): the whole network takes `steps` SGD steps on the support set; the
  head starts from one learned vector shared by every class, so any number of ways works.
- Fine-tuning a linear head on frozen features (Chen et al. 2019's "Baseline").
Both return a `GeneratedClassifier` so the rest of the library treats every method alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from paramembed.models.classifier import GeneratedClassifier, class_means, cosine_logits


class MamlHead(nn.Module):
    """The learned initial classifier: one weight vector and bias, copied to every class."""

    def __init__(self, feature_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(feature_dim) / feature_dim**0.5)
        self.bias = nn.Parameter(torch.zeros(()))


def maml_adapt(
    backbone: nn.Module,
    head: MamlHead,
    scale: torch.Tensor,
    support: torch.Tensor,
    labels: torch.Tensor,
    ways: int,
    steps: int,
    lr: float,
    first_order: bool,
    create_graph: bool,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One task's inner loop.

    support (S, C, H, W), labels (S,) -> (adapted backbone params, weights (N, D), bias (N)).
    `create_graph` keeps the graph for meta-training; `first_order` drops second derivatives.
    """
    params = dict(backbone.named_parameters())
    weights = head.weight.unsqueeze(0).expand(ways, -1)
    bias = head.bias.expand(ways)
    with torch.enable_grad():
        for _ in range(steps):
            if not create_graph:
                params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
                weights, bias = weights.detach().requires_grad_(True), bias.detach().requires_grad_(True)
            feats = functional_call(backbone, params, (support,))
            loss = F.cross_entropy(cosine_logits(feats[None], weights[None], bias[None], scale)[0], labels)
            names = list(params)
            grads = torch.autograd.grad(loss, [params[n] for n in names] + [weights, bias], create_graph=create_graph and not first_order)
            params = {n: params[n] - lr * g for n, g in zip(names, grads[: len(names)])}
            weights, bias = weights - lr * grads[-2], bias - lr * grads[-1]
    return params, weights, bias


def finetune_head(features: torch.Tensor, labels: torch.Tensor, ways: int, steps: int = 100, lr: float = 0.01) -> GeneratedClassifier:
    """Train a linear head on frozen support features: (S, D), (S,) -> classifier for one task."""
    features = features.detach().float()
    # Start from the normalised prototypes, scaled: the usual strong start for a linear probe.
    weights = (F.normalize(class_means(features[None], labels[None], ways)[0], dim=-1) * 5.0).requires_grad_(True)
    bias = torch.zeros(ways, device=features.device, requires_grad=True)
    feats = F.normalize(features, dim=-1)
    optimiser = torch.optim.Adam([weights, bias], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad(set_to_none=True)
            F.cross_entropy(feats @ weights.T + bias, labels).backward()
            optimiser.step()
    return GeneratedClassifier(
        weights.detach()[None],
        bias.detach()[None],
        weights.detach()[None],
        torch.ones((), device=features.device),
        metric="linear",
    )


def finetune_heads(features: torch.Tensor, labels: torch.Tensor, ways: int) -> GeneratedClassifier:
    """`finetune_head` for each of T tasks: (T, S, D), (T, S) -> a classifier with weights (T, ways, D)."""
    heads = [finetune_head(f, y, ways) for f, y in zip(features, labels)]
    return GeneratedClassifier(
        torch.cat([h.weights for h in heads]),
        torch.cat([h.bias for h in heads]),
        torch.cat([h.embedding for h in heads]),
        heads[0].scale,
        metric="linear",
    )
