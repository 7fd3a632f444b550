"""The photo backbone really is ImageNet EfficientNet-Lite0: every tensor mapped, ImageNet classes predicted."""

from pathlib import Path

import pytest
import torch

from paramembed.config import InputSpec
from paramembed.data.preprocess import image_to_tensor
from paramembed.errors import ParamembedError
from paramembed.models.efficientnet import (
    EfficientNetLite0, PretrainedWeightsMissing, imagenet_network, imagenet_state_dict, map_state_dict,
)
from shared_data import SHARED_DATA

CALTECH = SHARED_DATA / "caltech101_85.tar.gz"


@pytest.fixture(scope="module")
def network():
    return imagenet_network().eval()


def test_every_tensor_of_the_package_is_mapped_and_used(network):
    source = imagenet_state_dict()
    assert len(source) == len(network.state_dict()) == 296
    loaded = network.state_dict()
    for (theirs, tensor), (ours, _) in zip(source.items(), loaded.items()):
        assert torch.equal(tensor, loaded[ours]), f"{theirs} -> {ours} not loaded"


def test_a_partial_or_misshapen_state_dict_is_refused(network):
    target = network.state_dict()
    source = imagenet_state_dict()
    with pytest.raises(PretrainedWeightsMissing, match="tensors"):
        map_state_dict(dict(list(source.items())[:-2]), target)
    broken = dict(source)
    broken["_conv_stem.weight"] = torch.zeros(3, 3, 3, 3)
    with pytest.raises(PretrainedWeightsMissing, match="does not fit"):
        map_state_dict(broken, target)


def test_backbone_scales_inputs_to_minus_one_one_and_pools_1280_features(network):
    backbone = EfficientNetLite0()
    x = torch.rand(2, 3, 128, 128)
    with torch.inference_mode():
        feats = backbone(x)
        expected = network.forward_head(network.forward_features(x * 2 - 1), pre_logits=True)
    assert feats.shape == (2, 1280)
    torch.testing.assert_close(feats, expected)


def test_backbone_is_frozen_and_stays_in_eval_mode():
    backbone = EfficientNetLite0()
    backbone.train()
    assert not backbone.training and not any(m.training for m in backbone.modules())
    assert not any(p.requires_grad for p in backbone.parameters())


def test_refuses_greyscale_input_channels():
    with pytest.raises(ParamembedError, match="3 channels"):
        EfficientNetLite0(in_channels=1)


# Caltech-101 folders whose objects are ImageNet classes, and a word of the ImageNet class name.
IMAGENET_CLASSES = {"accordion": "accordion", "airplanes": "airliner", "strawberry": "strawberry",
                    "umbrella": "umbrella", "soccer_ball": "soccer ball", "revolver": "revolver"}


@pytest.mark.skipif(not CALTECH.exists(), reason=f"Caltech-101 photos not found at {CALTECH} (../shared is absent)")
def test_predicts_the_imagenet_class_of_real_photos(network, tmp_path):
    import tarfile

    from timm.data import ImageNetInfo

    names = [ImageNetInfo().index_to_description(i).lower() for i in range(1000)]
    spec = InputSpec(channels=3, image_size=224, centre=False)
    images, wanted = [], []
    with tarfile.open(CALTECH) as tf:
        members = [m for m in tf.getmembers() if m.isfile() and Path(m.name).parts[1] in IMAGENET_CLASSES]
        for folder, word in IMAGENET_CLASSES.items():
            for m in sorted((m for m in members if Path(m.name).parts[1] == folder), key=lambda m: m.name)[:4]:
                images.append(image_to_tensor(tf.extractfile(m).read(), spec))
                wanted.append(word)
    with torch.inference_mode():
        top5 = network(torch.stack(images) * 2 - 1).topk(5, -1).indices
    hits = sum(any(word in names[i] for i in row.tolist()) for word, row in zip(wanted, top5))
    assert hits >= 0.8 * len(images), f"only {hits} of {len(images)} photos had their ImageNet class in the top 5"
