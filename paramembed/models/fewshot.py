"""`FewShotModel`: backbone + parameter generator + cosine classifier, and the public adapt/predict.

The main path, task -> features -> generated weights -> predictions:

    feats = model.features(support)                       # (ways*shots, D)
    clf   = model.generator(feats, labels, ways, scale)   # GeneratedClassifier: (ways, D) weights
    probs = softmax(clf.logits(model.features(query)))    # (queries, ways)

Every adaptation (training's forward, `adapt`, `adapt_tasks`) goes through one path, `generate`:
generator methods decode features into weights, gradient methods take steps, as the method table
(`paramembed.methods`) says. `adapt` and `predict` wrap it for raw images (PIL, arrays or
tensors): preprocessing follows the model's `InputSpec`, so callers never resize or invert anything.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from paramembed.config import ModelConfig
from paramembed.data.episodes import TaskBatch
from paramembed.data.preprocess import images_to_batch
from paramembed.errors import ParamembedError
from paramembed.methods import METHODS, check_method_for, eval_mode
from paramembed.models.backbone import get_backbone
from paramembed.models.baselines import MamlHead, finetune_heads, maml_adapt
from paramembed.models.classifier import GeneratedClassifier
from paramembed.models.generators import get_generator

LABEL_TYPES = (str, int, float)  # bool is refused: True == 1 would merge two classes


def class_ids(support_labels: Any) -> tuple[list[str], list[int]]:
    """S support labels -> (class names in order of first appearance, S class ids).

    Labels keep their identity: they are compared by value and type, so `1` and `"1"` would be two
    classes, and a task that mixes types is refused rather than guessed at. A tensor or array of
    labels is read by its values (never by its repr); None is not a label.
    """
    if isinstance(support_labels, (str, bytes)):
        raise ParamembedError("support labels should be a sequence of labels, one per image, not one string")
    if hasattr(support_labels, "tolist"):  # torch.Tensor / np.ndarray
        if getattr(support_labels, "ndim", 1) != 1:
            raise ParamembedError(f"support labels should be one label per image (1-D), got shape {tuple(support_labels.shape)}")
        support_labels = support_labels.tolist()
    values = []
    for i, label in enumerate(support_labels):
        if hasattr(label, "item") and getattr(label, "ndim", None) == 0:  # a 0-d tensor or numpy scalar
            label = label.item()
        if label is None:
            raise ParamembedError(f"support label {i} is None; every support image needs a class label")
        if isinstance(label, bool) or not isinstance(label, LABEL_TYPES):
            raise ParamembedError(f"support label {i} is {label!r} ({type(label).__name__}); labels are class names (str) or ids (int)")
        values.append(str(label) if isinstance(label, str) else int(label) if isinstance(label, numbers.Integral) else label)
    kinds = sorted({type(v).__name__ for v in values})
    if len(kinds) > 1:
        raise ParamembedError(f"support labels mix types ({', '.join(kinds)}); use one type so that e.g. 1 and '1' cannot be confused")
    order = list(dict.fromkeys(values))
    if len(order) < 2:
        raise ParamembedError("a task needs at least two classes")
    index = {value: i for i, value in enumerate(order)}
    return [str(value) for value in order], [index[value] for value in values]


class FewShotModel(nn.Module):
    # Calibration (paramembed.calibration): `predict` divides the logits by `temperature`; the zoo
    # sets both from the model folder's calibration.json. Plain attributes, not in the state dict.
    temperature: float = 1.0
    calibration = None

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        spec = config.input
        adapts_backbone = config.generator in METHODS and METHODS[config.generator].adapts_backbone
        self.backbone = get_backbone(
            config.backbone,
            in_channels=spec.channels,
            width=config.width,
            image_size=spec.image_size,
            # A backbone adapted per task normalises with its batch's statistics (MAML's inner loop).
            track_running_stats=not adapts_backbone,
        )
        dim = self.backbone.feature_dim
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        if adapts_backbone:
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

    # ---------------------------------------------------------------- the one adaptation path
    def generate(
        self, support: torch.Tensor, support_labels: torch.Tensor, ways: int, method: str | None = None, query: torch.Tensor | None = None
    ) -> tuple[GeneratedClassifier, torch.Tensor | None]:
        """Adapt to T preprocessed tasks -> (classifier with weights (T, ways, D), query features).

        support (T, S, C, H, W), support_labels (T, S) in 0..ways-1; query (T, Q, C, H, W) or None
        -> query features (T, Q, D) as the adapted network sees them (through MAML's adapted
        backbone), or None. Runs under the caller's autograd mode: training differentiates
        through it, `adapt` wraps it in `eval_mode`.
        """
        m = check_method_for(self.method, method or self.method)
        if m.adapts_backbone:
            return self._adapt_backbone(support, support_labels, ways, query)
        T, S = support_labels.shape
        images = support.flatten(0, 1)
        if query is not None:
            images = torch.cat([images, query.flatten(0, 1)])  # one backbone pass for both
        feats = self.features(images)  # (T*S + T*Q, D)
        query_feats = None if query is None else feats[T * S :].view(T, -1, feats.shape[-1])  # (T, Q, D)
        return self.classifier_from_features(feats[: T * S].view(T, S, -1), support_labels, ways, m.name), query_feats

    def classifier_from_features(self, support_feats: torch.Tensor, support_labels: torch.Tensor, ways: int, method: str | None = None) -> GeneratedClassifier:
        """The head of a method that keeps the backbone fixed: (T, S, D) features, (T, S) -> (T, ways, D) weights.

        Generator methods decode the features in one pass; gradient ones train a head on them.
        Evaluation calls this directly on cached features.
        """
        m = check_method_for(self.method, method or self.method)
        if m.adapts_backbone:
            raise ParamembedError(f"method {m.name!r} adapts the backbone itself, so it cannot work from fixed features")
        if m.kind == "gradient":
            return finetune_heads(support_feats, support_labels, ways)
        # Another method than the model's own is parameter-free (the table's any_backbone), so a fresh one is it.
        generator = self.generator if m.name == self.method else get_generator(m.name, support_feats.shape[-1])
        return generator(support_feats, support_labels, ways, self.scale)

    def _adapt_backbone(self, support, support_labels, ways, query) -> tuple[GeneratedClassifier, torch.Tensor | None]:
        # MAML: task by task, since every task gets its own copy of the backbone's parameters.
        c = self.config
        meta_training = self.training and torch.is_grad_enabled()
        scale = self.scale if meta_training else self.scale.detach()
        weights, biases, fast, query_feats = [], [], [], []
        for t in range(support.shape[0]):
            params, w, b = maml_adapt(
                self.backbone, self.maml_head, scale, support[t], support_labels[t], ways,
                c.maml_steps, c.maml_lr, c.maml_first_order, create_graph=meta_training,
            )
            if query is not None:
                query_feats.append(torch.func.functional_call(self.backbone, params, (query[t],)))  # (Q, D)
            weights.append(w)
            biases.append(b)
            fast.append(params)
        w = torch.stack(weights)  # (T, ways, D)
        clf = GeneratedClassifier(w, torch.stack(biases), w, scale, fast_weights=fast)
        return clf, torch.stack(query_feats) if query is not None else None

    # ---------------------------------------------------------------- batched tasks (training)
    def forward(self, batch: TaskBatch) -> tuple[torch.Tensor, GeneratedClassifier]:
        """A batch of tasks -> query logits (tasks, ways*queries, ways) and the classifier."""
        clf, query_feats = self.generate(batch.support, batch.support_labels, batch.ways, query=batch.query)
        return clf.logits(query_feats), clf

    # ---------------------------------------------------------------- one task (the public API)
    def adapt(self, support_images, support_labels: Sequence, method: str | None = None) -> GeneratedClassifier:
        """Generate a classifier for one task.

        support_images: PIL images, arrays or tensors (raw: preprocessing is applied here), or a
            preprocessed (S, C, H, W) tensor.
        support_labels: S class labels: names (str) or ids (int), or a tensor/array of ids. Classes
            are numbered in order of first appearance and their names kept in `clf.labels`; one
            type per task, and no None.
        method: None for the model's own generator; `proto` (imprinting) and `finetune` (a
            linear head trained for 100 steps) work with any model's backbone.
        Returns a GeneratedClassifier with weights (1, ways, D).
        """
        m = check_method_for(self.method, method or self.method)
        names, ids = class_ids(support_labels)
        images = images_to_batch(support_images, self.config.input).to(self.device)
        if len(images) != len(ids):
            raise ParamembedError(f"{len(images)} support images but {len(ids)} labels")
        labels = torch.tensor(ids, device=self.device)
        with eval_mode(self, m):
            clf, _ = self.generate(images[None], labels[None], len(names), m.name)  # (1, ways, D)
        clf = clf.detach()
        clf.labels = names
        return clf

    def adapt_tasks(self, support: torch.Tensor, support_labels: torch.Tensor, ways: int, method: str | None = None) -> GeneratedClassifier:
        """Batched adaptation: many preprocessed tasks through one backbone pass.

        support (T, S, C, H, W) model input, support_labels (T, S) in 0..ways-1 -> a classifier
        with weights (T, ways, D). Batchable methods only (the table's `batchable`: hyper, latent,
        proto): MAML and fine-tuning run gradient steps per task, which is what this path avoids.
        """
        m = check_method_for(self.method, method or self.method)
        if not m.batchable:
            batchable = ", ".join(n for n, other in METHODS.items() if other.batchable)
            raise ParamembedError(f"batched adaptation needs a generator method ({batchable}), got {m.name!r}")
        with eval_mode(self, m):
            clf, _ = self.generate(support, support_labels, ways, m.name)
        return clf.detach()

    def predict(self, clf: GeneratedClassifier, query_images) -> torch.Tensor:
        """Raw query images -> (queries, ways) class probabilities (calibrated when the model has a temperature)."""
        images = images_to_batch(query_images, self.config.input).to(self.device)
        with eval_mode(self):
            if clf.fast_weights:
                feats = torch.func.functional_call(self.backbone, clf.fast_weights[0], (images,))
            else:
                feats = self.features(images)
            return F.softmax(clf.logits(feats[None])[0] / self.temperature, dim=-1)


def build_model(config: ModelConfig) -> FewShotModel:
    return FewShotModel(config)
