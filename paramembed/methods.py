"""The method table: every way paramembed turns a support set into a classifier, stated once.

Everything that lists methods or branches on what a method needs (the model, training,
evaluation, the CLI, the benchmark, the app) reads this table instead of restating it.

    name      how it adapts                                   own model?  batched?  autograd?
    hyper     generator network, one forward pass              yes         yes       no
    latent    LEO-style generator (+ optional code steps)      yes         yes       if steps > 0
    proto     class means as weights (imprinting)              any         yes       no
    maml      gradient steps on the whole network              yes         no        yes
    finetune  a linear head trained on frozen features         any         no        yes
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from paramembed.errors import ParamembedError

if TYPE_CHECKING:  # only types: paramembed.config's checks read this table
    from torch import nn

    from paramembed.config import ModelConfig


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "generator": one forward pass; "gradient": optimisation steps per task
    any_backbone: bool  # works on any model's backbone (else needs a model trained with this method)
    batchable: bool  # many tasks adapt in one backbone pass (`FewShotModel.adapt_tasks`)
    trainable: bool  # a valid `ModelConfig.generator` to meta-train
    adapts_backbone: bool  # the backbone itself changes per task, so features cannot be cached
    summary: str  # one line for people (the app's method picker, the CLI's help)

    def needs_grad(self, config: ModelConfig) -> bool:
        """Whether adapting needs autograd (else it runs under `torch.inference_mode`)."""
        if self.kind == "gradient":
            return True
        return self.name == "latent" and config.latent_steps > 0


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("hyper", "generator", False, True, True, False,
               "parameter generation network: an MLP decodes each class's embedding into its weights"),
        Method("latent", "generator", False, True, True, False,
               "LEO-style: codes that see the whole task are decoded into weights"),
        Method("proto", "generator", True, True, True, False,
               "imprinting: each class's weight is the mean of its support features"),
        Method("maml", "gradient", False, False, True, True,
               "MAML baseline: the whole network takes gradient steps on the support set"),
        Method("finetune", "gradient", True, False, False, False,
               "baseline: a linear head trained for 100 steps on frozen features"),
    )
}
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)
TRAINABLE: tuple[str, ...] = tuple(n for n, m in METHODS.items() if m.trainable)
GENERATORS: tuple[str, ...] = tuple(n for n, m in METHODS.items() if m.kind == "generator")
ANY_BACKBONE: tuple[str, ...] = tuple(n for n, m in METHODS.items() if m.any_backbone)


def method_help(names: tuple[str, ...] = METHOD_NAMES) -> str:
    """Each named method and its summary on one line: the help text of the CLI's and the app's pickers."""
    return "; ".join(f"{name}: {METHODS[name].summary}" for name in names)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ParamembedError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]


def check_method_for(model_method: str, name: str) -> Method:
    """The method `name`, refused with a clear message when this model cannot run it."""
    method = get_method(name)
    if not method.any_backbone and name != model_method:
        raise ParamembedError(f"method {name!r} needs a {name} model; this model is {model_method!r}")
    return method


@contextmanager
def eval_mode(model: nn.Module, method: str | Method | None = None) -> Iterator[None]:
    """Run `model` in eval mode under the cheapest autograd mode `method` allows; restore after.

    Inference mode is fastest, but its tensors can never enter autograd, which gradient methods
    (MAML's inner loop, the fine-tuned head) and the latent generator's code steps need: those
    get `no_grad` and switch gradients back on where they take steps. None: inference only.
    """
    import torch  # here, not at the top: the CLI's parser reads the table without paying for torch

    if isinstance(method, str):
        method = get_method(method)
    needs_grad = method is not None and method.needs_grad(model.config)
    # Switching modes walks every submodule twice (~0.25 ms, 2% of adapting to a task): only a model
    # that has a module in training mode pays for it.
    training = {m for m in model.modules() if m.training}
    if training:
        model.eval()
    try:
        with torch.no_grad() if needs_grad else torch.inference_mode():
            yield
    finally:
        for m in training:
            m.training = True
