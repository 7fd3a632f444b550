"""Save and load one task's GeneratedClassifier as a single safetensors file.

The file holds the generated weights, bias, parameter embedding and scale as tensors (MAML's
adapted backbone too, under `fast.`), and in its metadata the class labels, the metric, the model
it was generated with and that model's config. The classifier only means something next to the
backbone that produced it, so `load_classifier(..., model=...)` checks that they match.

    save_classifier(clf, "classifier.safetensors", model_ref="hyper", model_config=model.config)
    clf, meta = load_classifier("classifier.safetensors", model=load_model("hyper"))
    probs = model.predict(clf, query_images)
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from paramembed.config import ModelConfig, to_dict
from paramembed.errors import ParamembedError
from paramembed.models.classifier import GeneratedClassifier

FORMAT = "paramembed.classifier/1"
# A classifier is a few kilobytes (MAML's adapted Conv-4 about 0.5 MB); more is not one of ours, and a
# path such as /dev/zero would otherwise be read forever.
MAX_CLASSIFIER_BYTES = 64 * 2**20
TENSORS = ("weights", "bias", "embedding", "scale")
METRICS = ("cosine", "linear")
# What makes two models' features the same space (a different generator means another trained
# model); adaptation-only settings such as latent_steps or maml_lr do not matter to a classifier.
SAME_MODEL_FIELDS = ("generator", "backbone", "width", "input")


def classifier_to_bytes(clf: GeneratedClassifier, model_ref: str = "", model_config: ModelConfig | None = None,
                        labels: list[str] | None = None, class_names: list[str] | None = None) -> bytes:
    """Serialise one task's classifier (weights (1, N, D)) to safetensors bytes.

    `labels`: the class labels to store, when they differ from `clf.labels` (the app stores the
    names its page shows, "Class A", and keeps the sampled classes' full names in `class_names`).
    """
    # Copies, not views: imprinting's embedding *is* its weights, and safetensors refuses shared storage.
    tensors = {
        "weights": clf.weights.detach().float().cpu().clone(memory_format=torch.contiguous_format),
        "bias": clf.bias.detach().float().cpu().clone(memory_format=torch.contiguous_format),
        "embedding": clf.embedding.detach().float().cpu().clone(memory_format=torch.contiguous_format),
        "scale": torch.as_tensor(clf.scale).detach().float().cpu().reshape(()).contiguous(),
    }
    if clf.fast_weights:
        tensors.update({f"fast.{k}": v.detach().float().cpu().contiguous() for k, v in clf.fast_weights[0].items()})
    metadata = {
        "format": FORMAT,
        "labels": json.dumps(list(labels if labels is not None else clf.labels)),
        "class_names": json.dumps(list(class_names if class_names is not None else clf.labels)),
        "metric": clf.metric,
        "model": model_ref,
        "config": json.dumps(to_dict(model_config)) if model_config is not None else "",
    }
    return save_bytes(tensors, metadata=metadata)


def save_classifier(clf: GeneratedClassifier, path: str | Path, model_ref: str = "", model_config: ModelConfig | None = None) -> Path:
    path = Path(path)
    path.write_bytes(classifier_to_bytes(clf, model_ref, model_config))
    return path


def _metadata(data: bytes, label: str) -> dict[str, str]:
    # safetensors layout: 8-byte little-endian header length, then a JSON header.
    if len(data) < 8:
        raise ParamembedError(f"{label}: too short to be a safetensors file")
    (size,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + size])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ParamembedError(f"{label}: not a safetensors file") from None
    return header.get("__metadata__", {}) if isinstance(header, dict) else {}


def load_classifier(source: str | Path | bytes, model=None) -> tuple[GeneratedClassifier, dict[str, Any]]:
    """Read a classifier saved by `save_classifier`: returns (classifier, metadata).

    metadata: {"labels", "metric", "model" (the name or folder it came from), "config"}.
    With `model`, the classifier is moved to its device and checked against its feature size.
    """
    label = "classifier" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        source = _read_bounded(Path(source), label)
    if len(source) > MAX_CLASSIFIER_BYTES:
        raise ParamembedError(f"{label}: over {MAX_CLASSIFIER_BYTES // 2**20} MB, too large to be a classifier file")
    meta = _metadata(source, label)
    if meta.get("format") != FORMAT:
        raise ParamembedError(f"{label}: not a paramembed classifier file")
    try:
        tensors = load_bytes(source)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ParamembedError(f"{label}: corrupt classifier file ({err})") from None
    missing = [name for name in TENSORS if name not in tensors]
    if missing:
        raise ParamembedError(f"{label}: has no {', '.join(repr(m) for m in missing)} tensor{'s' if len(missing) > 1 else ''}")
    labels = _json_field(meta, "labels", label)
    config = _json_field(meta, "config", label) if meta.get("config") else None
    metric = meta.get("metric", "cosine")
    weights = tensors["weights"]
    if weights.dim() != 3 or weights.shape[0] != 1:
        raise ParamembedError(f"{label}: weights should be (1, ways, features), got {list(weights.shape)}")
    if tuple(tensors["bias"].shape) != tuple(weights.shape[:2]):
        raise ParamembedError(f"{label}: bias should be {list(weights.shape[:2])}, got {list(tensors['bias'].shape)}")
    if not isinstance(labels, list) or len(labels) != weights.shape[1] or not all(isinstance(x, str) for x in labels):
        raise ParamembedError(f"{label}: its labels should be a list of {weights.shape[1]} class names, got {labels!r}")
    if metric not in METRICS:
        raise ParamembedError(f"{label}: unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if config is not None and not isinstance(config, dict):
        raise ParamembedError(f"{label}: its config metadata should be a mapping, got {type(config).__name__}")
    _check_classifier_tensors(tensors, weights, label)
    fast = {k[len("fast.") :]: v for k, v in tensors.items() if k.startswith("fast.")}
    clf = GeneratedClassifier(
        weights, tensors["bias"], tensors["embedding"], tensors["scale"].reshape(()),
        labels=labels, fast_weights=[fast] if fast else None, metric=metric,
    )
    info = {"labels": clf.labels, "metric": clf.metric, "model": meta.get("model", ""), "config": config}
    if model is not None:
        made_with = info["model"] or "unknown"
        if config is not None:
            differs = _first_difference(config, to_dict(model.config))
            if differs:
                raise ParamembedError(
                    f"{label}: made with a model whose {differs}; a classifier only works with the model "
                    f"that generated it: load that one ({made_with})"
                )
        dim = model.backbone.feature_dim
        if clf.weights.shape[-1] != dim:
            raise ParamembedError(
                f"{label}: its weights have {clf.weights.shape[-1]} features but this model's backbone gives {dim}; "
                f"load the model it was made with ({made_with})"
            )
        try:
            model.check_classifier(clf)  # MAML's fast weights against this backbone, among others
        except ParamembedError as err:
            raise ParamembedError(f"{label}: {err}") from None
        clf = _to(clf, model.device)
    return clf, info


def _read_bounded(path: Path, label: str) -> bytes:
    """A regular file's bytes, at most MAX_CLASSIFIER_BYTES + 1 of them (a device or a pipe is refused unread)."""
    try:
        if not path.is_file():
            raise ParamembedError(f"{label}: not a file" if path.exists() else f"{label}: no such file")
        with path.open("rb") as f:
            return f.read(MAX_CLASSIFIER_BYTES + 1)
    except OSError as err:
        raise ParamembedError(f"{label}: cannot read ({err.strerror or err})") from None


def _check_classifier_tensors(tensors: dict[str, torch.Tensor], weights: torch.Tensor, label: str) -> None:
    """Every tensor floating point and finite, the weights holding at least one class, the scale one number."""
    from paramembed.checkpoint import check_tensors  # the same rule as a model's weights

    check_tensors(tensors, label)
    if weights.shape[1] < 1 or weights.shape[2] < 1:
        raise ParamembedError(f"{label}: holds no classes (weights {list(weights.shape)})")
    if tensors["scale"].numel() != 1:
        raise ParamembedError(f"{label}: its scale should be one number, got shape {list(tensors['scale'].shape)}")
    embedding = tensors["embedding"]
    if embedding.dim() != 3 or tuple(embedding.shape[:2]) != tuple(weights.shape[:2]):
        raise ParamembedError(f"{label}: embedding should be (1, {weights.shape[1]}, E), got {list(embedding.shape)}")


def _json_field(meta: dict[str, str], name: str, label: str) -> Any:
    if name not in meta:
        raise ParamembedError(f"{label}: its metadata has no {name!r}")
    try:
        return json.loads(meta[name])
    except (json.JSONDecodeError, TypeError) as err:
        raise ParamembedError(f"{label}: its {name!r} metadata is not valid JSON ({err})") from None


def _first_difference(saved: dict[str, Any], mine: dict[str, Any], where: str = "", fields: tuple[str, ...] = SAME_MODEL_FIELDS) -> str | None:
    """The first of `fields` where the classifier's model config and this model's differ, as
    "generator is 'hyper', this model's 'latent'"; None when they agree.

    A field the saved config lacks (written before the field existed) is not a difference.
    """
    for key in fields or tuple(mine):
        if key not in saved or key not in mine:
            continue
        a, b = saved[key], mine[key]
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{where}{key}.", ())
            if found:
                return found
        elif a != b:
            return f"{where}{key} is {a!r}, this model's {b!r}"
    return None


def _to(clf: GeneratedClassifier, device: torch.device) -> GeneratedClassifier:
    return GeneratedClassifier(
        clf.weights.to(device),
        clf.bias.to(device),
        clf.embedding.to(device),
        clf.scale.to(device),
        list(clf.labels),
        [{k: v.to(device) for k, v in fw.items()} for fw in clf.fast_weights] if clf.fast_weights else None,
        metric=clf.metric,
    )


def usage_snippet(model_ref: str, filename: str = "classifier.safetensors") -> str:
    """Python that loads a downloaded classifier with the library and predicts one image."""
    return f'''from PIL import Image
from paramembed import load_model
from paramembed.export import load_classifier

model = load_model({model_ref!r})
clf, meta = load_classifier({filename!r}, model=model)
probs = model.predict(clf, [Image.open("query.png")])  # (queries, ways)
print(clf.labels[int(probs[0].argmax())], float(probs[0].max()))
'''


# ============ ONNX: the adapted classifier that runs anywhere ============
ONNX_FORMAT = "paramembed.onnx/1"


class _AdaptedClassifier(torch.nn.Module):
    """Backbone + this task's generated head in one module: (N, C, S, S) model input -> (N, ways) probabilities."""

    def __init__(self, model, clf: GeneratedClassifier):
        super().__init__()
        import copy

        self.backbone = copy.deepcopy(model.backbone).cpu().eval()
        if clf.fast_weights:  # MAML: the backbone adapted to this task
            self.backbone.load_state_dict({k: v.detach().cpu() for k, v in clf.fast_weights[0].items()}, strict=False)
        self.register_buffer("weights", clf.weights[0].detach().float().cpu().clone())  # (ways, D)
        self.register_buffer("bias", clf.bias[0].detach().float().cpu().clone())  # (ways,)
        self.scale = float(clf.scale)
        self.linear = clf.metric == "linear"
        self.temperature = float(getattr(model, "temperature", 1.0))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        q = F.normalize(self.backbone(images).float(), dim=-1)  # (N, D)
        w = self.weights if self.linear else F.normalize(self.weights, dim=-1)
        logits = q @ w.t() * (1.0 if self.linear else self.scale) + self.bias  # (N, ways)
        return torch.softmax(logits / self.temperature, dim=-1)


def classifier_to_onnx(model, clf: GeneratedClassifier, labels: list[str] | None = None) -> bytes:
    """The adapted classifier (backbone + generated head, calibrated) as ONNX bytes.

    Input `images`: (N, C, S, S) float32 in [0, 1] as the model reads them (`InputSpec`: size,
    channels; glyphs light ink on dark); output `probs`: (N, ways). The class labels, the input
    spec and the temperature are in the file's metadata. Runs with onnxruntime alone.
    """
    import io
    import warnings

    if clf.fast_weights:
        raise ParamembedError("ONNX export is not available for MAML classifiers: their backbone normalises each batch "
                              "of queries with that batch's own statistics; use the safetensors download")
    spec = model.config.input
    module = _AdaptedClassifier(model, clf).eval()
    example = torch.zeros(1, spec.channels, spec.image_size, spec.image_size)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, input_names=["images"], output_names=["probs"],
                          dynamic_axes={"images": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)
    try:
        import onnx
    except ImportError:  # metadata is a nicety; the graph is what runs
        return buffer.getvalue()
    proto = onnx.load_from_string(buffer.getvalue())
    meta = {"format": ONNX_FORMAT, "labels": json.dumps(list(labels if labels is not None else clf.labels)),
            "input": json.dumps(vars(spec)), "temperature": str(module.temperature)}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def onnx_snippet(filename: str = "classifier.onnx") -> str:
    """Python that runs a downloaded ONNX classifier with onnxruntime only (no paramembed)."""
    return f'''import json
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession({filename!r})
meta = session.get_modelmeta().custom_metadata_map
labels, spec = json.loads(meta["labels"]), json.loads(meta["input"])
# images: float32 (N, channels, size, size) in [0, 1], prepared as the model reads them
# ({{spec}}: glyphs are light ink on a dark background, centred; photos are RGB centre crops)
images = np.zeros((1, spec["channels"], spec["image_size"], spec["image_size"]), np.float32)
probs = session.run(["probs"], {{"images": images}})[0]
print(labels[int(probs[0].argmax())], float(probs[0].max()))'''
