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

import hashlib
import math
import numbers
import unicodedata
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from paramembed.config import ModelConfig
from paramembed.data.episodes import TaskBatch
from paramembed.data.preprocess import images_to_batch, query_chunks
from paramembed.errors import ParamembedError
from paramembed.methods import METHODS, check_method_for, eval_mode
from paramembed.models.backbone import get_backbone
from paramembed.models.baselines import MamlHead, finetune_heads, maml_adapt
from paramembed.models.classifier import GeneratedClassifier
from paramembed.models.generators import get_generator
from paramembed.models.transduction import QueryRefinement

FEATURE_MEMO_SIZE = 4096  # photos whose frozen-backbone features are remembered (5 KB each at D = 1280)
LABEL_TYPES = (str, int, float)  # bool is refused: True == 1 would merge two classes
# Queries go through preprocessing and the backbone this many at a time: memory stays at one
# chunk's activations (about 0.2 MB per 28x28 glyph in the first layer) whatever the query count.
PREDICT_CHUNK = 256
# A CPU's backbone pass outside training reads at most this many images: batched adaptation was
# slower than task by task when a pass held every task (`bench --only batched` sweeps the sizes).
CPU_IMAGES_PER_PASS = 64


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
        if isinstance(label, float) and not math.isfinite(label):
            # NaN != NaN: every NaN would become a class of its own, all named "nan".
            raise ParamembedError(f"support label {i} is {label!r}; a class label must be a name or a finite number")
        values.append(_label_value(label))
    kinds = sorted({type(v).__name__ for v in values})
    if len(kinds) > 1:
        raise ParamembedError(f"support labels mix types ({', '.join(kinds)}); use one type so that e.g. 1 and '1' cannot be confused")
    order = list(dict.fromkeys(values))
    if len(order) < 2:
        raise ParamembedError("a task needs at least two classes")
    index = {value: i for i, value in enumerate(order)}
    return [str(value) for value in order], [index[value] for value in values]


def _label_value(label: str | int | float) -> str | int | float:
    """A label as compared: text in Unicode NFC (a typed "é" and a pasted "e\u0301" are one class), ints as int."""
    if isinstance(label, str):
        return unicodedata.normalize("NFC", str(label))
    return int(label) if isinstance(label, numbers.Integral) else label


def check_support_not_blank(images: torch.Tensor) -> None:
    """Refuse a support image that is one flat value after preprocessing: a blank page teaches nothing."""
    flat = images.flatten(1)  # (S, C*H*W)
    blank = (flat.amax(1) - flat.amin(1)) == 0
    if bool(blank.any()):
        first = int(blank.nonzero()[0]) + 1
        raise ParamembedError(f"support image {first} is blank (one flat colour, nothing drawn): a class needs something to learn from")


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
        self.refinement = QueryRefinement(config.query_steps) if config.query_steps else None

    @property
    def method(self) -> str:
        return self.config.generator

    @property
    def device(self) -> torch.device:
        return self.log_scale.device

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    @property
    def transductive(self) -> bool:
        """Whether the model's own method reads the unlabelled queries (ModelConfig.query_steps > 0)."""
        return self.refinement is not None

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> (B, D).

        A frozen pretrained backbone is costly (ImageNet EfficientNet: ~10 ms a photo on a CPU)
        and gives an image the same features in every task, so outside training they are
        remembered by the input's bytes: editing a task or re-running it embeds only what is new.
        """
        if not getattr(self.backbone, "frozen", False) or torch.is_grad_enabled() or images.device.type == "meta":
            return self.backbone(images)
        return self._memo_features(images)

    def _features_in_passes(self, images: torch.Tensor) -> torch.Tensor:
        """`features`, at most CPU_IMAGES_PER_PASS images a pass on a CPU outside training: (B, C, S, S) -> (B, D).

        Many tasks in one pass (`adapt_tasks`) made activations of hundreds of MB, and the CPU
        then ran slower batched than task by task; passes that fit its caches do not. Only where
        a pass's result does not depend on the others in it: batch norm with running statistics
        (MAML's backbone normalises with the batch's own, so it keeps one pass).
        """
        if (self.device.type != "cpu" or torch.is_grad_enabled() or len(images) <= CPU_IMAGES_PER_PASS
                or any(isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.track_running_stats
                       for m in self.backbone.modules())):
            return self.features(images)
        return torch.cat([self.features(chunk) for chunk in images.split(CPU_IMAGES_PER_PASS)])

    def _memo_features(self, images: torch.Tensor) -> torch.Tensor:
        memo = self.__dict__.setdefault("_feature_memo", OrderedDict())  # not a module attribute: never saved
        keys = [hashlib.blake2b(image.detach().cpu().contiguous().numpy().tobytes(), digest_size=16).digest()
                for image in images]
        todo = [i for i, key in enumerate(keys) if key not in memo]
        if todo:
            for i, feat in zip(todo, self.backbone(images[todo])):
                memo[keys[i]] = feat
        out = torch.stack([memo[key] for key in keys])
        if not torch.is_inference_mode_enabled():
            out = out.clone()  # memo tensors may come from inference mode, which autograd refuses to save
        for key in keys:
            memo.move_to_end(key)
        while len(memo) > FEATURE_MEMO_SIZE:
            memo.popitem(last=False)
        return out

    # ---------------------------------------------------------------- the one adaptation path
    def generate(
        self, support: torch.Tensor, support_labels: torch.Tensor, ways: int, method: str | None = None,
        query: torch.Tensor | None = None, use_queries: bool = True,
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
        feats = self._features_in_passes(images)  # (T*S + T*Q, D)
        query_feats = None if query is None else feats[T * S :].view(T, -1, feats.shape[-1])  # (T, Q, D)
        clf = self.classifier_from_features(feats[: T * S].view(T, S, -1), support_labels, ways, m.name, use_queries)
        return clf, query_feats

    def classifier_from_features(self, support_feats: torch.Tensor, support_labels: torch.Tensor, ways: int,
                                 method: str | None = None, use_queries: bool = True) -> GeneratedClassifier:
        """The head of a method that keeps the backbone fixed: (T, S, D) features, (T, S) -> (T, ways, D) weights.

        Generator methods decode the features in one pass; gradient ones train a head on them.
        Evaluation calls this directly on cached features. A transductive model's own method
        returns a classifier that refines its weights with the queries it is given
        (`GeneratedClassifier.refine`); `use_queries=False` measures the same model without that step.
        """
        m = check_method_for(self.method, method or self.method)
        if m.adapts_backbone:
            raise ParamembedError(f"method {m.name!r} adapts the backbone itself, so it cannot work from fixed features")
        if m.kind == "gradient":
            return finetune_heads(support_feats, support_labels, ways)
        # Another method than the model's own is parameter-free (the table's any_backbone), so a fresh one is it.
        generator = self.generator if m.name == self.method else get_generator(m.name, support_feats.shape[-1])
        clf = generator(support_feats, support_labels, ways, self.scale)
        if self.refinement is not None and m.name == self.method and use_queries:
            weights, counts = clf.weights, F.one_hot(support_labels, ways).sum(1)  # (T, N, D), (T, N)
            clf.refine = lambda query_feats: self.refinement(weights, counts, query_feats)
        return clf

    def forward_features(self, batch: TaskBatch) -> tuple[torch.Tensor, GeneratedClassifier]:
        """`forward` for a batch of cached features (stage "frozen"): support (T, S, D), query (T, Q, D)."""
        clf = self.classifier_from_features(batch.support, batch.support_labels, batch.ways)
        return clf.logits(batch.query), clf

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
    def adapt(self, support_images, support_labels: Sequence, method: str | None = None, use_queries: bool = True) -> GeneratedClassifier:
        """Generate a classifier for one task.

        support_images: PIL images, arrays or tensors (raw: preprocessing is applied here), or a
            preprocessed (S, C, H, W) tensor.
        support_labels: S class labels: names (str) or ids (int), or a tensor/array of ids. Classes
            are numbered in order of first appearance and their names kept in `clf.labels`; one
            type per task, and no None.
        method: None for the model's own generator; `proto` (imprinting) and `finetune` (a
            linear head trained for 100 steps) work with any model's backbone.
        use_queries: for a transductive model (`model.transductive`), whether `predict` may refine
            the weights with the whole batch of queries it is given (False: each query on its own).
        Returns a GeneratedClassifier with weights (1, ways, D).
        """
        m = check_method_for(self.method, method or self.method)
        names, ids = class_ids(support_labels)
        images = images_to_batch(support_images, self.config.input).to(self.device)
        if len(images) != len(ids):
            raise ParamembedError(f"{len(images)} support images but {len(ids)} labels")
        check_support_not_blank(images)
        labels = torch.tensor(ids, device=self.device)
        with eval_mode(self, m):
            clf, _ = self.generate(images[None], labels[None], len(names), m.name, use_queries=use_queries)  # (1, ways, D)
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
        """Raw query images -> (queries, ways) class probabilities.

        Queries are preprocessed and embedded PREDICT_CHUNK at a time, so memory does not grow with
        their number. A transductive classifier (`clf.transductive`) reads the queries together:
        each one's probabilities depend on the others given in the same call.
        """
        return self.classify(clf, query_images)[0]

    def classify(self, clf: GeneratedClassifier, query_images) -> tuple[torch.Tensor, GeneratedClassifier]:
        """`predict`, and the classifier as it was applied: (queries, ways) probabilities, weights (1, ways, D).

        For a transductive classifier the returned one holds the weights after refinement by these
        queries (what the app shows and explains); otherwise it is `clf` itself. Only the features
        of all queries are held at once, (queries, D): the refinement needs them together.
        """
        self.check_classifier(clf)
        chunks = []
        with eval_mode(self):
            for images in query_chunks(query_images, self.config.input, PREDICT_CHUNK):
                images = images.to(self.device)  # (chunk, C, S, S)
                if clf.fast_weights:
                    chunks.append(torch.func.functional_call(self.backbone, clf.fast_weights[0], (images,)))
                else:
                    chunks.append(self.features(images))
            feats = torch.cat(chunks)[None]  # (1, Q, D)
            probs = F.softmax(clf.logits(feats)[0] / self.temperature, dim=-1)  # calibrated when the model has a temperature
            if clf.refine is None:
                return probs, clf
            return probs, replace(clf, weights=clf.weights_for(feats), refine=None)

    def check_classifier(self, clf: GeneratedClassifier) -> None:
        """Refuse a classifier this model cannot use (another backbone's, or one without classes), in one line."""
        if not isinstance(clf, GeneratedClassifier):
            raise ParamembedError(f"expected the GeneratedClassifier that adapt() returned, got {type(clf).__name__}")
        dim = self.backbone.feature_dim
        if clf.weights.dim() != 3 or clf.weights.shape[1] < 1:
            raise ParamembedError(f"the classifier has weights of shape {list(clf.weights.shape)}; expected (tasks, ways >= 1, {dim})")
        if clf.weights.shape[-1] != dim:
            raise ParamembedError(f"the classifier's weights have {clf.weights.shape[-1]} features but this model's backbone "
                                  f"gives {dim}: it was generated by another model; use that one")
        if clf.fast_weights:
            mine = {name: tuple(p.shape) for name, p in self.backbone.named_parameters()}
            theirs = {name: tuple(t.shape) for name, t in clf.fast_weights[0].items()}
            if any(mine.get(name) != shape for name, shape in theirs.items()):
                raise ParamembedError("the classifier's adapted backbone (fast weights) does not fit this model's backbone: "
                                      "it was generated by another model; use that one")


def build_model(config: ModelConfig) -> FewShotModel:
    return FewShotModel(config)
