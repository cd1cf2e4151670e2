"""The training loop (``defstab_lib/train.py``): batch sources, schedules, weight decay, and learning a
separable task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from defstab_lib.train import OptimConfig, TensorBatches, evaluate, make_optimizer, train_epoch


def small_model() -> nn.Module:
    torch.manual_seed(0)  # the test's own model; the library never reads the global generator
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3))


def test_cosine_schedule_with_warmup():
    c = OptimConfig(lr=0.1, warmup_epochs=1)
    factors = [c.lr_factor(step, 10, 5) for step in range(50)]
    assert factors[0] == pytest.approx(0.1) and factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:])), "decreasing after warm-up"
    assert factors[-1] < 0.01


def test_weight_decay_spares_batchnorm_and_biases():
    model = small_model()
    optimizer, _ = make_optimizer(model, OptimConfig(weight_decay=1e-3), 10, 2)
    decayed, spared = optimizer.param_groups
    assert decayed["weight_decay"] == 1e-3 and all(p.ndim > 1 for p in decayed["params"])
    assert spared["weight_decay"] == 0 and all(p.ndim == 1 for p in spared["params"])


def test_tensor_batches_are_a_function_of_seed_and_epoch():
    images = torch.arange(10 * 4, dtype=torch.uint8).reshape(10, 1, 2, 2)
    labels = torch.arange(10)
    batches = TensorBatches(images, labels, 3, seed=1)
    assert len(batches) == 3
    a = [y.tolist() for _, y in batches.epoch(2)]
    assert a == [y.tolist() for _, y in TensorBatches(images, labels, 3, seed=1).epoch(2)]
    assert a != [y.tolist() for _, y in batches.epoch(3)]
    x, y = next(iter(batches.epoch(2)))
    assert x.dtype == torch.float32 and torch.allclose(x * 255, images[y].float())


def test_tensor_batches_bad_arguments():
    with pytest.raises(ValueError, match="batch_size=20 exceeds the 10 images"):
        TensorBatches(torch.zeros(10, 1, 2, 2), torch.zeros(10, dtype=torch.long), 20, seed=0)
    with pytest.raises(ValueError, match="labels must have shape"):
        TensorBatches(torch.zeros(10, 1, 2, 2), torch.zeros(9, dtype=torch.long), 2, seed=0)


def test_training_learns_a_separable_task_and_evaluate_restores_the_mode():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(3, (300,), generator=g)
    images = (labels.float()[:, None, None, None] / 2 + 0.05 * torch.randn(300, 1, 6, 6, generator=g)).clamp(0, 1)
    model = small_model()
    batches = TensorBatches(images, labels, 30, seed=0)
    optimizer, scheduler = make_optimizer(model, OptimConfig(lr=0.1), len(batches), 8)
    before, _ = evaluate(model, images, labels)
    stats = [train_epoch(model, batches, optimizer, scheduler, e, progress=False) for e in range(1, 9)]
    model.eval()
    after, loss = evaluate(model, images, labels)
    assert model.training is False, "evaluate restores the mode it found"
    assert after > 0.9 > before + 0.2 and loss < stats[0].loss
    assert stats[-1].images_per_s > 0 and stats[-1].epoch == 8


def test_label_smoothing_is_the_training_objective_and_refused_outside_0_1():
    """With smoothed targets a network that has learned the task keeps a loss floor (it cannot reach 0), so the
    same epoch reports a higher training loss; the smoothing is checked before any work."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(3, (300,), generator=g)
    images = (labels.float()[:, None, None, None] / 2 + 0.05 * torch.randn(300, 1, 6, 6, generator=g)).clamp(0, 1)
    losses = {}
    for eps in (0.0, 0.2):
        model = small_model()
        batches = TensorBatches(images, labels, 30, seed=0)
        optimizer, scheduler = make_optimizer(model, OptimConfig(lr=0.1, label_smoothing=eps), len(batches), 8)
        stats = [train_epoch(model, batches, optimizer, scheduler, e, progress=False, label_smoothing=eps)
                 for e in range(1, 9)]
        losses[eps] = stats[-1].loss
    assert losses[0.2] > losses[0.0] + 0.1
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        OptimConfig(label_smoothing=1.0)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        train_epoch(small_model(), TensorBatches(images, labels, 30, seed=0), None, None, 1, label_smoothing=-0.1)
