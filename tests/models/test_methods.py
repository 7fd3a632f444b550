"""The method table and `eval_mode`, the one place that picks the autograd mode for adapting."""

import pytest
import torch

from paramembed import METHODS as PUBLIC_METHODS
from paramembed import ModelConfig, ParamembedError, build_model
from paramembed.methods import ANY_BACKBONE, GENERATORS, METHOD_NAMES, METHODS, TRAINABLE, check_method_for, eval_mode, get_method, method_help


def test_the_table_and_its_views():
    assert METHOD_NAMES == ("hyper", "latent", "proto", "maml", "finetune") == PUBLIC_METHODS
    assert GENERATORS == ("hyper", "latent", "proto") and TRAINABLE == ("hyper", "latent", "proto", "maml")
    assert ANY_BACKBONE == ("proto", "finetune")
    assert all(f"{m.name}: {m.summary}" in method_help() for m in METHODS.values())


def test_unknown_and_foreign_methods_are_refused():
    with pytest.raises(ParamembedError, match="unknown method 'magic'; known methods: hyper, latent"):
        get_method("magic")
    with pytest.raises(ParamembedError, match="method 'latent' needs a latent model; this model is 'hyper'"):
        check_method_for("hyper", "latent")
    assert check_method_for("maml", "finetune").name == "finetune"


@pytest.mark.parametrize(
    "generator, method, steps, grad",
    [("hyper", None, 0, False), ("hyper", "proto", 0, False), ("hyper", "finetune", 0, True),
     ("latent", "latent", 0, False), ("latent", "latent", 2, True), ("maml", "maml", 0, True)],
)
def test_eval_mode_picks_no_grad_only_when_the_method_needs_autograd(generator, method, steps, grad):
    model = build_model(ModelConfig(generator=generator, width=8, latent_steps=steps)).train()
    with eval_mode(model, method):
        assert not model.training
        assert torch.is_inference_mode_enabled() == (not grad)
        assert not torch.is_grad_enabled()
    assert model.training and not torch.is_inference_mode_enabled() and torch.is_grad_enabled()


def test_eval_mode_restores_eval_mode_and_survives_errors():
    model = build_model(ModelConfig(width=8)).eval()
    with pytest.raises(RuntimeError, match="boom"):
        with eval_mode(model, "proto"):
            raise RuntimeError("boom")
    assert not model.training
    with pytest.raises(ParamembedError, match="unknown method"):
        with eval_mode(model, "magic"):
            pass


def test_eval_mode_puts_every_module_in_eval_and_gives_each_its_own_mode_back():
    model = build_model(ModelConfig(width=8)).train()
    model.backbone.eval()  # a frozen part kept in eval while the rest trains
    before = {name: m.training for name, m in model.named_modules()}
    with eval_mode(model, "hyper"):
        assert not any(m.training for m in model.modules())
    assert {name: m.training for name, m in model.named_modules()} == before


def test_eval_mode_leaves_a_model_already_in_eval_untouched(monkeypatch):
    model = build_model(ModelConfig(width=8)).eval()
    monkeypatch.setattr(type(model), "train", lambda self, mode=True: pytest.fail("switched modes"))
    with eval_mode(model, "hyper"):
        pass
