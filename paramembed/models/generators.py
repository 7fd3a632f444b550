"""Parameter generators: support features + labels -> a `GeneratedClassifier`, in one forward pass.

All three share one interface, `generator(features, labels, ways, scale)`, with
features (T, S, D) for T tasks of S = ways*shots support examples and labels (T, S).

- `proto`: weight imprinting (Qi et al. 2018): each class's weight is its mean feature.
- `hyper`: a parameter generation network: each example is encoded, the codes are averaged per
  class into the class's parameter embedding, and an MLP decodes the embedding (with the task's
  context) into the class's weights.
- `latent`: LEO-style (Rusu et al. 2019): a relation network sees every pair of support examples,
  so each class's low-dimensional latent code depends on the other classes of the task; a
  stochastic decoder turns codes into weights, and optional gradient steps refine the codes.

`hyper` and `latent` decode a correction that is added to the imprinted prototype; the last
layer starts at zero, so meta-training starts from the imprinting baseline and only has to learn
what improves on it. Gradients flow from the query loss through the generated weights into the
generator and the backbone: nothing here writes into `.data`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from paramembed.methods import GENERATORS
from paramembed.models.classifier import GeneratedClassifier, class_means, cosine_logits


def mlp(sizes: list[int], zero_last: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    if zero_last:
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


class ProtoGenerator(nn.Module):
    """Prototypes as weights; no parameters of its own."""

    def forward(self, features: torch.Tensor, labels: torch.Tensor, ways: int, scale: torch.Tensor) -> GeneratedClassifier:
        protos = class_means(features, labels, ways)  # (T, N, D)
        bias = features.new_zeros(protos.shape[:2])
        return GeneratedClassifier(protos, bias, protos, scale)


class HyperGenerator(nn.Module):
    """Class-conditioned features -> MLP -> classifier weights.

    e_c = mean_{i in c} phi(x_i)                     (T, N, E)  the parameter embedding
    w_c = p_c + psi([e_c, e_c - mean_c' e_c'])       (T, N, D)
    b_c = beta(e_c)                                  (T, N)
    """

    def __init__(self, feature_dim: int, embedding_dim: int = 64, hidden_dim: int = 256):
        super().__init__()
        self.encode = mlp([feature_dim, hidden_dim, embedding_dim])
        self.decode = mlp([2 * embedding_dim, hidden_dim, feature_dim], zero_last=True)
        self.bias = mlp([embedding_dim, 1], zero_last=True)

    def forward(self, features: torch.Tensor, labels: torch.Tensor, ways: int, scale: torch.Tensor) -> GeneratedClassifier:
        protos = class_means(features, labels, ways)  # (T, N, D)
        codes = self.encode(features)  # (T, S, E)
        embedding = class_means(codes, labels, ways)  # (T, N, E)
        context = embedding.mean(1, keepdim=True).expand_as(embedding)  # (T, N, E)
        delta = self.decode(torch.cat([embedding, embedding - context], -1))  # (T, N, D)
        # Scale the correction to the prototype's size so it means the same at any feature norm.
        weights = protos + delta * protos.norm(dim=-1, keepdim=True).detach()
        return GeneratedClassifier(weights, self.bias(embedding).squeeze(-1), embedding, scale)


class LatentGenerator(nn.Module):
    """LEO-style latent parameter embedding.

    h_i = enc(x_i)                                            (T, S, E)
    r_i = mean_j rel([h_i, h_j])   over all support pairs     (T, S, 2E)
    (mu_c, log sigma_c) = class mean of r_i;  z_c ~ N(mu_c, sigma_c) in training, mu_c otherwise
    z_c <- z_c - lr * d support_loss / d z_c     (latent_steps times)
    w_c = p_c + dec(z_c)
    """

    def __init__(self, feature_dim: int, embedding_dim: int = 64, hidden_dim: int = 256, steps: int = 0, step_size: float = 1.0):
        super().__init__()
        self.encode = nn.Linear(feature_dim, embedding_dim)
        self.relate = mlp([2 * embedding_dim, hidden_dim, hidden_dim, 2 * embedding_dim])
        self.decode = mlp([embedding_dim, hidden_dim, feature_dim], zero_last=True)
        self.bias = mlp([embedding_dim, 1], zero_last=True)
        self.steps = steps
        self.step_size = step_size
        self.kl_weight = 1e-3

    def weights_from_codes(self, z: torch.Tensor, protos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return protos + self.decode(z) * protos.norm(dim=-1, keepdim=True).detach(), self.bias(z).squeeze(-1)

    def forward(self, features: torch.Tensor, labels: torch.Tensor, ways: int, scale: torch.Tensor) -> GeneratedClassifier:
        T, S, _ = features.shape
        protos = class_means(features, labels, ways)  # (T, N, D)
        h = self.encode(features)  # (T, S, E)
        pairs = torch.cat([h.unsqueeze(2).expand(T, S, S, -1), h.unsqueeze(1).expand(T, S, S, -1)], -1)  # (T, S, S, 2E)
        r = self.relate(pairs).mean(2)  # (T, S, 2E)
        stats = class_means(r, labels, ways)  # (T, N, 2E)
        mu, log_sigma = stats.chunk(2, dim=-1)
        sigma = F.softplus(log_sigma) + 1e-4
        z = mu + sigma * torch.randn_like(mu) if self.training else mu
        kl = (0.5 * (mu**2 + sigma**2) - torch.log(sigma) - 0.5).mean()
        if self.steps:
            z = self._refine(z, protos, features, labels, scale)
        weights, bias = self.weights_from_codes(z, protos)
        return GeneratedClassifier(weights, bias, z, scale, aux_loss=self.kl_weight * kl)

    def _refine(self, z, protos, features, labels, scale):
        # Gradient steps in the low-dimensional code space (LEO's inner loop): second-order while
        # meta-training so the generator learns codes that refine well, first-order otherwise.
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            for _ in range(self.steps):
                weights, bias = self.weights_from_codes(z, protos)
                loss = F.cross_entropy(cosine_logits(features, weights, bias, scale).flatten(0, 1), labels.flatten())
                (grad,) = torch.autograd.grad(loss, z, create_graph=self.training)
                z = z - self.step_size * grad
        return z if self.training else z.detach()


def get_generator(name: str, feature_dim: int, embedding_dim: int = 64, hidden_dim: int = 256, steps: int = 0, step_size: float = 1.0) -> nn.Module:
    """The network of a generator method (`paramembed.methods.GENERATORS`: hyper, latent, proto)."""
    builders = {
        "hyper": lambda: HyperGenerator(feature_dim, embedding_dim, hidden_dim),
        "latent": lambda: LatentGenerator(feature_dim, embedding_dim, hidden_dim, steps, step_size),
        "proto": ProtoGenerator,
    }
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; known generators: {', '.join(GENERATORS)}")
    return builders[name]()
