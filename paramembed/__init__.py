"""paramembed: few-shot classifiers whose parameters are generated from the support set.

    from paramembed import load_model
    model = load_model()                                  # the default shipped model
    clf = model.adapt(support_images, support_labels)     # -> GeneratedClassifier
    probs = model.predict(clf, query_images)              # (queries, ways)
"""

from paramembed.checkpoint import save_model
from paramembed.config import InputSpec, ModelConfig, TrainConfig
from paramembed.errors import ParamembedError
from paramembed.methods import METHOD_NAMES as METHODS  # the names, as a tuple: what this export always was
from paramembed.models.classifier import GeneratedClassifier
from paramembed.models.fewshot import FewShotModel, build_model
from paramembed.zoo import list_models, load_model

__all__ = [
    "FewShotModel",
    "GeneratedClassifier",
    "InputSpec",
    "METHODS",
    "ModelConfig",
    "ParamembedError",
    "TrainConfig",
    "build_model",
    "list_models",
    "load_model",
    "save_model",
]
