"""Honest confidence: one temperature per model, fitted on held-out tasks, and when to mark a prediction.

A cosine classifier's learned scale is tuned for training loss, not for probabilities that mean
what they say; temperature scaling (Guo et al. 2017) divides the logits by one number T fitted to
minimise the negative log-likelihood on held-out tasks. It never changes a prediction, only how
sure it claims to be.

    logits, labels = collect_logits(model, dataset, settings)   # (N, ways) per setting, pooled
    t = fit_temperature(logits, labels)
    ece(probs, labels)                                           # expected calibration error
    threshold = mark_threshold(probs, labels)                    # top probability below it: "low confidence"

`scripts/calibrate.py` runs this on any model folder and writes `calibration.json` beside its
weights: {"temperature", "mark_below", ...figures}; `paramembed.zoo.load_model` reads it, and
`FewShotModel.predict` then returns calibrated probabilities.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from paramembed.errors import ParamembedError

CALIBRATION = "calibration.json"
BINS = 10
MAX_RIGHT_MARKED = 0.20  # at most this share of right answers may carry the "low confidence" mark


@dataclass
class Calibration:
    """What `calibration.json` holds: the temperature, the mark's threshold, and how they were measured."""

    temperature: float = 1.0
    mark_below: float = 0.0  # calibrated top probability under which a prediction is marked (0: never)
    fitted_on: str = ""
    measured_on: str = ""
    ece_before: float | None = None
    ece_after: float | None = None
    wrong_marked: float | None = None  # share of wrong answers with the mark, on the measured half
    right_marked: float | None = None
    accuracy: float | None = None
    queries: int = 0
    reliability: list | None = None  # [[bin lower, bin upper, mean confidence, accuracy, count], ...] after

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CALIBRATION
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")
        return path


def read_calibration(folder: str | Path) -> Calibration | None:
    """The folder's calibration.json, or None when it has none (an unreadable one is an error)."""
    path = Path(folder) / CALIBRATION
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        cal = Calibration(**{k: v for k, v in data.items() if k in Calibration.__dataclass_fields__})
        t = float(cal.temperature)
    except (ValueError, TypeError) as err:
        raise ParamembedError(f"{path}: not a calibration file ({err})") from None
    if not (0.01 <= t <= 100.0):
        raise ParamembedError(f"{path}: temperature {t} is outside 0.01-100")
    return cal


def fit_temperature(logits: list[torch.Tensor], labels: list[torch.Tensor], steps: int = 200) -> float:
    """T > 0 minimising the NLL of softmax(logits / T); logits: per-setting (N, ways) tensors."""
    log_t = torch.zeros((), requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps, line_search_fn="strong_wolfe")
    logits = [z.detach().float() for z in logits]

    def closure():
        optimiser.zero_grad()
        loss = sum(F.cross_entropy(z / log_t.exp(), y, reduction="sum") for z, y in zip(logits, labels))
        loss = loss / sum(len(y) for y in labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.detach().exp())


def top_confidence(probs: list[torch.Tensor], labels: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """(top probability, whether it was right) for every query, pooled over settings."""
    conf = np.concatenate([p.max(-1).values.numpy() for p in probs])
    right = np.concatenate([(p.argmax(-1) == y).numpy() for p, y in zip(probs, labels)])
    return conf, right


def reliability(conf: np.ndarray, right: np.ndarray, bins: int = BINS) -> list[list[float]]:
    """[[lower, upper, mean confidence, accuracy, count]] for each non-empty bin of the top probability."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if inside.any():
            rows.append([float(lo), float(hi), float(conf[inside].mean()), float(right[inside].mean()), int(inside.sum())])
    return rows


def ece(conf: np.ndarray, right: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: |accuracy - confidence| per bin, weighted by the bin's share."""
    return float(sum(n * abs(acc - c) for _, _, c, acc, n in reliability(conf, right, bins)) / max(len(conf), 1))


def mark_threshold(conf: np.ndarray, right: np.ndarray, max_right_marked: float = MAX_RIGHT_MARKED) -> float:
    """The top-probability threshold that best separates wrong answers from right ones.

    Marking "top probability < threshold": among thresholds that mark at most `max_right_marked`
    of the right answers, the one with the largest (wrong marked - right marked) share.
    """
    if not right.any():
        return 1.0
    if right.all():
        return 0.0
    candidates = np.unique(np.concatenate([np.quantile(conf, np.linspace(0, 1, 401)), [0.0]]))
    best, best_gain = 0.0, -1.0
    for t in candidates:
        wrong_share, right_share = marked_shares(conf, right, float(t))
        if right_share <= max_right_marked and wrong_share - right_share > best_gain:
            best, best_gain = float(t), wrong_share - right_share
    return best


def marked_shares(conf: np.ndarray, right: np.ndarray, threshold: float) -> tuple[float, float]:
    """(share of wrong answers marked, share of right answers marked) at `threshold`."""
    marked = conf < threshold
    wrong_share = float(marked[~right].mean()) if (~right).any() else 0.0
    right_share = float(marked[right].mean()) if right.any() else 0.0
    return wrong_share, right_share


def reliability_svg(rows: list[list[float]], title: str, size: int = 240) -> str:
    """A reliability diagram as a small standalone SVG (no plotting library needed)."""
    pad, inner = 34, size - 44
    x = lambda v: pad + v * inner  # noqa: E731
    y = lambda v: size - pad + 10 - v * inner  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" font-family="sans-serif" font-size="10">',
             f'<rect width="{size}" height="{size}" fill="white"/>',
             f'<text x="{size / 2}" y="12" text-anchor="middle" font-size="11">{title}</text>',
             f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" stroke-dasharray="3,3"/>',
             f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(0)}" stroke="black"/>',
             f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(0)}" y2="{y(1)}" stroke="black"/>',
             f'<text x="{size / 2}" y="{size - 4}" text-anchor="middle">confidence (top probability)</text>',
             f'<text x="10" y="{size / 2}" text-anchor="middle" transform="rotate(-90 10 {size / 2})">accuracy</text>']
    for v in (0, 0.5, 1):
        parts.append(f'<text x="{x(v)}" y="{y(0) + 11}" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{x(0) - 3}" y="{y(v) + 3}" text-anchor="end">{v:g}</text>')
    for lo, hi, _, acc, _ in rows:
        parts.append(f'<rect x="{x(lo) + 1}" y="{y(acc)}" width="{x(hi) - x(lo) - 2}" height="{y(0) - y(acc)}" '
                     f'fill="#1f77b4" fill-opacity="0.75"/>')
    for lo, hi, conf, _, _ in rows:
        parts.append(f'<circle cx="{x(conf)}" cy="{y(conf)}" r="2" fill="#d62728"/>')
    parts.append("</svg>")
    return "\n".join(parts)
