"""Why a query got its prediction: the whole path from its features to its probabilities.

    why = explain_query(model, clf, support, support_labels, query, index=3)
    why.cosine      # (ways,)  cosine between the query's features and each generated weight
    why.probs       # (ways,)  equals model.predict(clf, query)[3]
    why.proto_probs # (ways,)  what plain class means (imprinting) would have said

A generated classifier scores a query as  logit_c = scale * cos(f(x), w_c) + b_c  (cosine metric),
or  logit_c = <f(x)/|f(x)|, w_c> + b_c  for the fine-tuned linear head; the softmax of the logits
is the prediction. Setting the same numbers beside the prototype classifier's (w_c = the mean
support feature of class c, b_c = 0) shows what generating the weights changed over averaging.

Also here: when a prediction deserves little trust (`confidence`), and the confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from paramembed.errors import ParamembedError
from paramembed.models.classifier import GeneratedClassifier, class_means

# A prediction is "low confidence" when either holds:
# - its top probability is under LOW_CONFIDENCE_FACTOR x chance (1/ways): the model barely prefers
#   any class. 1.5x chance is 30% at 5 ways, 7.5% at 20 ways: above it, the top class stands out.
# - the top two probabilities are within MIN_MARGIN of each other: a coin toss between two classes,
#   however sure the model is that it is one of them (e.g. 0.48 vs 0.45).
LOW_CONFIDENCE_FACTOR = 1.5
MIN_MARGIN = 0.10


@dataclass
class Explanation:
    """One query's path through a generated classifier and through the prototype classifier.

    N = ways, D = the backbone's feature dimension; every array is float32 numpy.

    feature:       (D,)  the query's backbone features f(x) (MAML: through its adapted backbone)
    metric:        "cosine" (logits = scale * cosine + bias) or "linear" (fine-tuned head:
                   logits = normalised feature . weight + bias, no scale)
    cosine:        (N,)  cos(f(x), w_c) for each generated class weight w_c
    scale:         the classifier's temperature (1.0 for the linear head, which has none)
    bias:          (N,)  b_c
    logits:        (N,)  what the classifier computes from the above
    probs:         (N,)  softmax(logits / T): the model's predicted probabilities for this query (T: the
                         model's calibrated temperature, 1 when it has none)
    proto_cosine:  (N,)  cos(f(x), p_c) with p_c the mean support feature of class c
    proto_scale:   the model's learned scale, which the prototype classifier uses too
    proto_logits:  (N,)  proto_scale * proto_cosine (no bias)
    proto_probs:   (N,)  softmax(proto_logits)
    weight_vs_mean: (N,) cos(w_c, p_c): 1.0 where the generated weight is just the class mean
    deciding:      (k,)  the features worth showing: all of them up to 32, else the 32 whose class
                   weights differ most (`deciding_features`), in feature order
    support_cosine: (S,) cos(f(x), f(s_i)) for every support image: which examples it looks most like
    temperature: the model's calibrated temperature (probs = softmax(logits / temperature))
    """

    feature: np.ndarray
    metric: str
    cosine: np.ndarray
    scale: float
    bias: np.ndarray
    logits: np.ndarray
    probs: np.ndarray
    proto_cosine: np.ndarray
    proto_scale: float
    proto_logits: np.ndarray
    proto_probs: np.ndarray
    weight_vs_mean: np.ndarray
    deciding: np.ndarray | None = None  # set by explain_query
    support_cosine: np.ndarray | None = None
    temperature: float = 1.0

    @property
    def prediction(self) -> int:
        return int(self.probs.argmax())

    @property
    def proto_prediction(self) -> int:
        return int(self.proto_probs.argmax())


def _features(model, clf: GeneratedClassifier, images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, D) through the backbone the classifier reads (MAML's adapted one)."""
    images = images.to(model.device)
    if clf.fast_weights:
        return torch.func.functional_call(model.backbone, clf.fast_weights[0], (images,))
    return model.features(images)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def explain_query(
    model, clf: GeneratedClassifier, support: torch.Tensor, support_labels: Sequence[int], query: torch.Tensor, index: int
) -> Explanation:
    """Explain query `index` of a one-task classifier from `model.adapt`.

    model: the FewShotModel that generated `clf` (its backbone reads the images)
    clf: weights (1, N, D), bias (1, N)
    support: (S, C, H, W) preprocessed support images; support_labels: S class ids in 0..N-1
    query: (Q, C, H, W) preprocessed queries; index: which one, 0..Q-1
    """
    if clf.weights.shape[0] != 1:
        raise ParamembedError(f"explain_query needs a one-task classifier, got {clf.weights.shape[0]} tasks")
    if not 0 <= index < len(query):
        raise ParamembedError(f"no query number {index + 1} (the task has {len(query)})")
    ways = clf.ways
    labels = torch.as_tensor(list(support_labels), device=model.device)
    if len(labels) != len(support) or labels.min() < 0 or labels.max() >= ways:
        raise ParamembedError(f"support labels should be {len(support)} class ids in 0..{ways - 1}")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            # The whole query batch, as `predict` runs it: a MAML backbone normalises with batch
            # statistics, so one query alone would get different features.
            feature = _features(model, clf, query)[index : index + 1]  # (1, D)
            support_feats = _features(model, clf, support)  # (S, D)
            logits = clf.logits(feature[None])[0, 0]  # (N,): the classifier's own computation
            weights = clf.weights[0].float()  # (N, D)
            means = class_means(support_feats[None].float(), labels[None], ways)[0]  # (N, D)
            q = F.normalize(feature[0].float(), dim=-1)  # (D,)
            cosine = F.normalize(weights, dim=-1) @ q  # (N,)
            proto_cosine = F.normalize(means, dim=-1) @ q  # (N,)
            proto_scale = model.scale.detach().float()
            proto_logits = proto_scale * proto_cosine
            weight_vs_mean = (F.normalize(weights, dim=-1) * F.normalize(means, dim=-1)).sum(-1)  # (N,)
            deciding = deciding_features(weights)
            support_cosine = F.normalize(support_feats.float(), dim=-1) @ q  # (S,)
    finally:
        model.train(was_training)
    linear = clf.metric == "linear"
    temperature = float(getattr(model, "temperature", 1.0))  # calibration: as `predict` divides the logits
    return Explanation(
        feature=_numpy(feature[0]),
        metric=clf.metric,
        cosine=_numpy(cosine),
        scale=1.0 if linear else float(clf.scale),
        bias=_numpy(clf.bias[0]),
        logits=_numpy(logits),
        probs=_numpy(F.softmax(logits / temperature, dim=-1)),
        proto_cosine=_numpy(proto_cosine),
        proto_scale=float(proto_scale),
        proto_logits=_numpy(proto_logits),
        deciding=deciding.cpu().numpy(),
        proto_probs=_numpy(F.softmax(proto_logits / temperature, dim=-1)),
        weight_vs_mean=_numpy(weight_vs_mean),
        support_cosine=_numpy(support_cosine),
        temperature=temperature,
    )


def nearest_support(why: Explanation, support_labels: Sequence[int], cls: int, k: int = 3) -> list[tuple[int, float]]:
    """The `k` support images of class `cls` the query looks most like: [(support index, cosine)], best first."""
    if why.support_cosine is None:
        return []
    mine = [i for i, label in enumerate(support_labels) if label == cls]
    mine.sort(key=lambda i: -float(why.support_cosine[i]))
    return [(i, float(why.support_cosine[i])) for i in mine[:k]]


def most_like(why: Explanation, support_labels: Sequence[int]) -> int:
    """The class of the single support image the query looks most like."""
    return int(support_labels[int(np.argmax(why.support_cosine))])


@dataclass(frozen=True)
class Confidence:
    low: bool
    reason: str  # why it is low, "" when it is not


def confidence(probs: Sequence[float] | torch.Tensor | np.ndarray, mark_below: float | None = None) -> Confidence:
    """One query's (ways,) probabilities -> whether to mark the prediction as low confidence.

    `mark_below`: a calibrated model's threshold (its calibration.json, fitted by
    scripts/calibrate.py on held-out tasks to catch most wrong answers and few right ones): the
    probabilities are calibrated, so the top one is the chance of being right. Without it, the
    rule of thumb below (near chance, or a near tie) decides.
    """
    p = np.sort(np.asarray(torch.as_tensor(probs, dtype=torch.float32).cpu()))[::-1]
    ways = len(p)
    if ways < 2:
        raise ParamembedError("confidence needs the probabilities of at least two classes")
    chance = 1.0 / ways
    if mark_below is not None and mark_below > 0:
        if p[0] < mark_below:
            return Confidence(True, f"calibrated: right about {p[0]:.0%} of the time at this probability "
                                    f"(marked under {mark_below:.0%})")
        return Confidence(False, "")
    if p[0] < LOW_CONFIDENCE_FACTOR * chance:
        return Confidence(True, f"top probability {p[0]:.0%} is near chance ({chance:.0%} at {ways} ways)")
    if p[0] - p[1] < MIN_MARGIN:
        return Confidence(True, f"the top two classes are {p[0] - p[1]:.0%} apart")
    return Confidence(False, "")


# A task is "near chance" when, on average, the model's top probability is under this multiple of
# chance (40% at 5 ways), or when its measured accuracy on the labelled queries is: the model then
# cannot tell the task's classes apart, whatever the individual cards say.
NEAR_CHANCE_FACTOR = 2.0


def near_chance(probs: torch.Tensor | np.ndarray, accuracy: float | None = None) -> tuple[bool, float, float]:
    """(whether the task is near chance, mean top probability, chance) for (queries, ways) probabilities."""
    p = np.asarray(torch.as_tensor(probs, dtype=torch.float32).cpu())
    if p.ndim != 2 or len(p) == 0:
        return False, 0.0, 0.0
    chance = 1.0 / p.shape[1]
    sure = float(p.max(1).mean())
    limit = min(NEAR_CHANCE_FACTOR * chance, 0.5 + chance / 2)
    return (sure < limit or (accuracy is not None and accuracy < limit)), sure, chance


def confusion_matrix(predictions: Sequence[int], labels: Sequence[int | None], ways: int) -> np.ndarray:
    """(ways, ways) counts: row = true class, column = predicted class; unlabelled queries skipped."""
    matrix = np.zeros((ways, ways), dtype=np.int64)
    for predicted, label in zip(predictions, labels):
        if label is not None:
            matrix[label, predicted] += 1
    return matrix


SHOWN_FEATURES = 32  # a heatmap column per feature stays readable up to about this many


def deciding_features(weights: torch.Tensor, k: int = SHOWN_FEATURES) -> torch.Tensor:
    """The k features whose (unit-normalised) class weights differ most between classes, in feature order.

    weights (N, D) -> (min(k, D),) indices. A 1,280-feature photo backbone cannot be shown as
    1,280 columns; these are the features that move the cosines apart, so they decide the answer.
    """
    w = F.normalize(weights.float(), dim=-1)
    if w.shape[1] <= k:
        return torch.arange(w.shape[1])
    spread = w.std(0) if w.shape[0] > 1 else w.abs()[0]
    return spread.topk(k).indices.sort().values
