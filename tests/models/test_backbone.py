"""Conv-4's inference copy: batch norm folded into the convolutions, never stale."""

import torch

from paramembed.models.backbone import Conv4


def trained_a_little(net: Conv4) -> Conv4:
    """Non-trivial batch-norm statistics and affine weights, so a wrong fold shows."""
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(3):
        opt.zero_grad()
        net(torch.rand(8, 1, 28, 28) * 3).square().mean().backward()
        opt.step()
    return net.eval()


def reference(net: Conv4, images: torch.Tensor) -> torch.Tensor:
    """The layers as trained (batch norm on its own), NCHW: what `folded` must reproduce."""
    with torch.no_grad():
        return net.layers(images).flatten(1)


def test_the_folded_layers_give_the_trained_layers_outputs():
    torch.manual_seed(0)
    net, images = trained_a_little(Conv4(width=16)), torch.rand(5, 1, 28, 28)
    with torch.inference_mode():
        assert torch.allclose(net(images), reference(net, images), atol=1e-5)
    assert net.folded() is not net.layers


def test_the_fold_follows_every_weight_change():
    torch.manual_seed(1)
    net, images = trained_a_little(Conv4(width=16)), torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        before = net(images)
    trained_a_little(net)  # optimizer steps change the weights in place
    with torch.no_grad():
        after = net(images)
    assert not torch.allclose(before, after) and torch.allclose(after, reference(net, images), atol=1e-5)
    other = trained_a_little(Conv4(width=16))
    net.load_state_dict(other.state_dict())
    with torch.no_grad():
        assert torch.allclose(net(images), reference(other, images), atol=1e-5)


def test_training_and_batch_statistics_are_never_folded():
    maml_like = Conv4(width=8, track_running_stats=False).eval()
    assert maml_like.folded() is maml_like.layers  # batch statistics: nothing to fold
    net = Conv4(width=8).train()
    out = net(torch.rand(4, 1, 28, 28))
    assert out.requires_grad and "_folded" not in net.__dict__  # training never builds the copy
