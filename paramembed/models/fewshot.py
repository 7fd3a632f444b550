"""`FewShotModel`: backbone + parameter generator + cosine classifier, and the public adapt/predict.

The main path, task -> features -> generated weights -> predictions:

    feats = model.features(support)                       # (ways*shots, D)
    clf   = model.generator(feats, labels, ways, scale)   # GeneratedClassifier: (ways, D) weights
    probs = softmax(clf.logits(model.features(query)))    # (queries, ways)

`adapt` and `predict` wrap that for raw images (PIL, arrays or tensors): preprocessing follows the
model's `InputSpec`, so callers never resize or invert anything themselves.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from paramembed.config import ModelConfig
from paramembed.data.episodes import TaskBatch
from paramembed.data.preprocess import images_to_batch
from paramembed.errors import ParamembedError
from paramembed.models.backbone import get_backbone
from paramembed.models.baselines import MamlHead, finetune_head, maml_adapt
from paramembed.models.classifier import GeneratedClassifier
from paramembed.models.generators import ProtoGenerator, get_generator

METHODS = ("hyper", "latent", "proto", "maml", "finetune")


class FewShotModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        spec = config.input
        maml = config.generator == "maml"
        self.backbone = get_backbone(
            config.backbone,
            in_channels=spec.channels,
            width=config.width,
            image_size=spec.image_size,
            track_running_stats=not maml,
        )
        dim = self.backbone.feature_dim
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        if maml:
            self.generator = None
            self.maml_head = MamlHead(dim)
        else:
            self.generator = get_generator(
                config.generator, dim, config.embedding_dim, config.hidden_dim, config.latent_steps, config.latent_lr
            )

    @property
    def method(self) -> str:
        return self.config.generator

    @property
    def device(self) -> torch.device:
        return self.log_scale.device

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> (B, D)."""
        return self.backbone(images)

    # ---------------------------------------------------------------- batched tasks (training)
    def forward(self, batch: TaskBatch) -> tuple[torch.Tensor, GeneratedClassifier]:
        """A batch of tasks -> query logits (tasks, ways*queries, ways) and the classifier."""
        if self.method == "maml":
            return self._maml_forward(batch)
        T, S = batch.support_labels.shape
        images = torch.cat([batch.support.flatten(0, 1), batch.query.flatten(0, 1)])  # one backbone pass
        feats = self.features(images)  # (T*S + T*Q, D)
        support_feats = feats[: T * S].view(T, S, -1)  # (T, S, D)
        query_feats = feats[T * S :].view(T, -1, feats.shape[-1])  # (T, Q, D)
        clf = self.generator(support_feats, batch.support_labels, batch.ways, self.scale)
        return clf.logits(query_feats), clf

    def _maml_forward(self, batch: TaskBatch) -> tuple[torch.Tensor, GeneratedClassifier]:
        c = self.config
        logits, weights, biases, fast = [], [], [], []
        for t in range(batch.support.shape[0]):
            params, w, b = maml_adapt(
                self.backbone, self.maml_head, self.scale, batch.support[t], batch.support_labels[t], batch.ways,
                c.maml_steps, c.maml_lr, c.maml_first_order, create_graph=self.training,
            )
            q = torch.func.functional_call(self.backbone, params, (batch.query[t],))
            clf = GeneratedClassifier(w[None], b[None], w[None], self.scale)
            logits.append(clf.logits(q[None])[0])
            weights.append(w)
            biases.append(b)
            fast.append(params)
        w, b = torch.stack(weights), torch.stack(biases)
        return torch.stack(logits), GeneratedClassifier(w, b, w, self.scale, fast_weights=fast)

    # ---------------------------------------------------------------- one task (the public API)
    def adapt(self, support_images, support_labels: Sequence, method: str | None = None) -> GeneratedClassifier:
        """Generate a classifier for one task.

        support_images: PIL images, arrays or tensors (raw: preprocessing is applied here), or a
            preprocessed (S, C, H, W) tensor.
        support_labels: S class labels (ints or names); classes are numbered in order of first
            appearance and their names kept in `clf.labels`.
        method: None for the model's own generator; `proto` (imprinting) and `finetune` (a
            linear head trained for 100 steps) work with any model's backbone.
        Returns a GeneratedClassifier with weights (1, ways, D).
        """
        method = method or self.method
        if method not in METHODS:
            raise ParamembedError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
        if method in ("hyper", "latent", "maml") and method != self.method:
            raise ParamembedError(f"method {method!r} needs a {method} model; this model is {self.method!r}")
        names = list(dict.fromkeys(str(label) for label in support_labels))
        if len(names) < 2:
            raise ParamembedError("a task needs at least two classes")
        labels = torch.tensor([names.index(str(label)) for label in support_labels], device=self.device)
        images = images_to_batch(support_images, self.config.input).to(self.device)
        if len(images) != len(labels):
            raise ParamembedError(f"{len(images)} support images but {len(labels)} labels")
        was_training = self.training
        self.eval()
        try:
            if method == "maml":
                params, w, b = maml_adapt(
                    self.backbone, self.maml_head, self.scale.detach(), images, labels, len(names),
                    self.config.maml_steps, self.config.maml_lr, True, create_graph=False,
                )
                clf = GeneratedClassifier(w[None], b[None], w[None], self.scale, fast_weights=[params]).detach()
            else:
                # Inference mode is fastest, but its tensors cannot enter autograd, which the
                # latent generator's refinement steps and the fine-tuned head need.
                needs_grad = method == "finetune" or (method == "latent" and self.config.latent_steps > 0)
                with torch.no_grad() if needs_grad else torch.inference_mode():
                    feats = self.features(images)  # (S, D)
                    if method == "finetune":
                        clf = finetune_head(feats, labels, len(names))
                    else:
                        generator = ProtoGenerator() if method == "proto" else self.generator
                        clf = generator(feats[None], labels[None], len(names), self.scale).detach()
        finally:
            self.train(was_training)
        clf.labels = names
        return clf

    def adapt_tasks(self, support: torch.Tensor, support_labels: torch.Tensor, ways: int, method: str | None = None) -> GeneratedClassifier:
        """Batched adaptation: many preprocessed tasks through one backbone pass.

        support (T, S, C, H, W) model input, support_labels (T, S) in 0..ways-1 -> a classifier
        with weights (T, ways, D). Generator methods only (hyper, latent, proto): MAML and
        fine-tuning run gradient steps per task, which is exactly what this path avoids.
        """
        method = method or self.method
        if method not in ("hyper", "latent", "proto") or (method != "proto" and method != self.method):
            raise ParamembedError(f"batched adaptation needs a generator method (this model's {self.method!r} or 'proto'), got {method!r}")
        T, S = support_labels.shape
        was_training = self.training
        self.eval()
        try:
            needs_grad = method == "latent" and self.config.latent_steps > 0
            with torch.no_grad() if needs_grad else torch.inference_mode():
                feats = self.features(support.flatten(0, 1)).view(T, S, -1)  # (T, S, D)
                generator = ProtoGenerator() if method == "proto" else self.generator
                return generator(feats, support_labels, ways, self.scale).detach()
        finally:
            self.train(was_training)

    def predict(self, clf: GeneratedClassifier, query_images) -> torch.Tensor:
        """Raw query images -> (queries, ways) class probabilities."""
        images = images_to_batch(query_images, self.config.input).to(self.device)
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                if clf.fast_weights:
                    feats = torch.func.functional_call(self.backbone, clf.fast_weights[0], (images,))
                else:
                    feats = self.features(images)
                return F.softmax(clf.logits(feats[None])[0], dim=-1)
        finally:
            self.train(was_training)


def build_model(config: ModelConfig) -> FewShotModel:
    return FewShotModel(config)
