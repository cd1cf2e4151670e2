"""Layer probes: the paper's layer numbering on our VGG, named modules with hooks on any model."""

import pytest
import torch
import torchvision
from torch import nn

from defstab_lib.models import make_vgg
from defstab_lib.probe import default_layers, iter_representations, representations


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def cifar():
    return make_vgg("cifar", "strided-relu", in_channels=1, generator=gen()).eval()


def all_hooks(model):
    return [h for m in model.modules() for h in (*m._forward_hooks.values(), *m._forward_pre_hooks.values())]


def test_numbering_follows_figure_3(cifar):
    x = torch.rand(3, 1, 32, 32, generator=gen(1))
    reps = representations(cifar, x)
    assert len(reps) == 13
    assert reps[0] is x  # layer 0 is the input
    with torch.no_grad():
        h = x
        for k, layer in enumerate(cifar.layers, start=1):
            h = layer(h)
            assert torch.equal(reps[k], h)
    # conv layers and the strided-relu downsampling are read after their ReLU
    for k, kind in enumerate(cifar.layer_kinds):
        if kind in ("conv", "strided-relu"):
            assert reps[k].min() >= 0
    assert [tuple(r.shape[1:]) for r in reps[1:]] == [
        (32, 32, 32), (32, 32, 32), (32, 16, 16),
        (64, 16, 16), (64, 16, 16), (64, 8, 8),
        (128, 8, 8), (128, 8, 8), (128, 4, 4),
        (256, 4, 4), (256, 4, 4), (256, 2, 2),
    ]  # fmt: skip


def test_strided_relu_layer_is_read_after_its_relu(cifar):
    x = torch.rand(2, 1, 32, 32, generator=gen(2))
    (before,) = representations(cifar, x, [2])
    (rep,) = representations(cifar, x, [3])
    conv, bn, relu = cifar.layers[2]
    with torch.no_grad():
        assert torch.equal(rep, relu(bn(conv(before))))


def test_requested_order_duplicates_and_early_stop(cifar):
    x = torch.rand(2, 1, 32, 32, generator=gen(3))
    full = representations(cifar, x)
    picked = representations(cifar, x, [5, 0, 5, 2])
    for got, k in zip(picked, [5, 0, 5, 2]):
        assert torch.equal(got, full[k])
    # asked for layer 2 only, the network stops there: later layers never run
    ran = []
    handle = cifar.layers[3].register_forward_hook(lambda *a: ran.append(True))
    try:
        list(iter_representations(cifar, x, [2]))
    finally:
        handle.remove()
    assert ran == []


def test_names_and_numbers_agree_on_our_vgg(cifar):
    x = torch.rand(2, 1, 32, 32, generator=gen(4))
    by_number = representations(cifar, x, [1, 3])
    by_name = representations(cifar, x, ["layers.0", "layers.2", 1])
    assert torch.equal(by_number[0], by_name[0]) and torch.equal(by_number[1], by_name[1])
    assert torch.equal(by_name[2], by_number[0])
    # a name can also reach inside a layer: the conv before BatchNorm and ReLU can be negative
    (pre,) = representations(cifar, x, ["layers.0.0"])
    assert pre.min() < 0
    assert all_hooks(cifar) == []


def test_resnet18_by_module_names():
    model = torchvision.models.resnet18(num_classes=10).eval()
    assert default_layers(model) == [0, "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    x = torch.rand(2, 3, 64, 64, generator=gen(5))
    with torch.no_grad():
        bn1, relu, layer2, fc = representations(model, x, ["bn1", "relu", "layer2", "fc"])
        expected_bn1 = model.bn1(model.conv1(x))
        expected_layer2 = model.layer2(model.layer1(model.maxpool(model.relu(expected_bn1.clone()))))
        logits = model(x)
    # resnet's ReLU is in place: the probe keeps bn1's output as it was, not as the ReLU overwrote it
    assert bn1.min() < 0 and torch.allclose(bn1, expected_bn1)
    assert torch.allclose(relu, expected_bn1.clamp_min(0))
    assert torch.allclose(layer2, expected_layer2, atol=1e-6)
    assert layer2.shape == (2, 128, 8, 8)
    assert torch.allclose(fc, logits)
    assert all_hooks(model) == []


def test_module_run_twice_gives_its_last_output():
    block = torchvision.models.resnet18().layer1[0].eval()  # its `relu` runs twice per forward
    x = torch.rand(1, 64, 8, 8, generator=gen(6))
    with torch.no_grad():
        (relu,) = representations(block, x, ["relu"])
        assert torch.equal(relu, block(x))


def test_hooks_are_removed_when_the_forward_raises():
    model = torchvision.models.resnet18()
    with pytest.raises(RuntimeError):
        representations(model, torch.rand(1, 5, 32, 32), ["layer1", "layer1.0.conv1", "fc"])  # 5 channels: conv1 fails
    assert all_hooks(model) == []

    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)

        def forward(self, x):
            self.a(x)
            raise KeyError("boom")

    boom = Boom()
    with pytest.raises(KeyError):
        representations(boom, torch.rand(2, 4), ["a", "b"])
    assert all_hooks(boom) == []


def test_model_mode_and_grad_mode_are_left_alone(cifar):
    cifar.train()
    try:
        x = torch.rand(2, 1, 32, 32, generator=gen(7))
        (rep,) = representations(cifar, x, [4])
        assert cifar.training and rep.requires_grad
    finally:
        cifar.eval()


@pytest.mark.parametrize(
    "layers, error, match",
    [
        ([13], ValueError, r"allowed: layer numbers 0..12"),
        ([-1], ValueError, r"allowed: layer numbers 0..12"),
        (["layers.99"], ValueError, r"not a submodule of VGG; allowed: 0 \(the input\), 'layers', 'layers.0'"),
        ([1.5], TypeError, "must be an int"),
        ([], ValueError, "at least one layer"),
        (3, TypeError, "sequence"),
    ],
)
def test_bad_layers_raise_before_running(cifar, layers, error, match):
    ran = []
    handle = cifar.layers[0].register_forward_hook(lambda *a: ran.append(True))
    try:
        with pytest.raises(error, match=match):
            representations(cifar, torch.rand(1, 1, 32, 32), layers)
    finally:
        handle.remove()
    assert ran == []


def test_numbered_layers_other_than_the_input_need_our_vgg():
    with pytest.raises(ValueError, match=r"allowed: 0 \(the input\) or submodule names"):
        representations(torchvision.models.resnet18(), torch.rand(1, 3, 32, 32), [0, 3])


def test_non_tensor_output_raises_type_error():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    model = nn.Sequential(Pair())
    with pytest.raises(TypeError, match="not a Tensor"):
        representations(model, torch.rand(1, 2), ["0"])
    assert all_hooks(model) == []
