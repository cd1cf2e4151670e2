"""Control grids and the thin-plate-spline operator (``defstab_lib/deform/grids.py``): control points, affine
fields reproduced, the cache, the overshoot bound."""

from __future__ import annotations

import math

import torch

from defstab_lib import deform as D
from defstab_lib.deform import grids

from tests.helpers import _pixels


def test_control_points_span_the_image_row_by_row():
    pts = D.control_points(5, (17, 41))
    assert pts.shape == (25, 2) and pts.dtype == torch.float32
    assert pts[0].tolist() == [0.0, 0.0] and pts[4].tolist() == [40.0, 0.0]
    assert pts[20].tolist() == [0.0, 16.0] and pts[24].tolist() == [40.0, 16.0]
    assert pts[1].tolist() == [10.0, 0.0] and pts[5].tolist() == [0.0, 4.0]  # x varies fastest


def test_operator_reproduces_affine_fields_and_rows_sum_to_one():
    size = (20, 30)
    op = D.tps_operator(4, size, dtype=torch.float64)
    assert torch.allclose(op.sum(1), torch.ones(600, dtype=torch.float64), atol=1e-12)
    m = torch.tensor([[0.05, -0.02], [0.03, 0.01]], dtype=torch.float64)
    b = torch.tensor([1.5, -0.5], dtype=torch.float64)
    cp = D.control_points(4, size, dtype=torch.float64)
    field = D.displacement_field((cp @ m.T + b)[None], size)[0]
    want = torch.from_numpy(_pixels(*size)) @ m.T + b
    assert torch.allclose(field.reshape(-1, 2), want, atol=1e-10)


def test_cached_operator_works_with_autograd_after_inference_mode():
    D.clear_cache()
    images = torch.rand(2, 1, 12, 12)
    with torch.inference_mode():
        D.apply_displacements(images, torch.zeros(2, 9, 2))  # builds the operator inside inference mode
    d = torch.ones(2, 9, 2, requires_grad=True)
    D.apply_displacements(images, d).sum().backward()
    assert d.grad is not None and torch.isfinite(d.grad).all()
    op = D.tps_operator(3, (12, 12))
    assert not op.requires_grad and not op.is_inference()


def test_cache_is_bounded():
    D.clear_cache()
    for n in range(D.CACHE_SIZE + 5):
        D.displacement_field(torch.zeros(1, 4, 2), (4 + n, 5))
    assert len(grids._OPERATORS) == D.CACHE_SIZE


def test_overshoot_bound_is_attained_and_never_exceeded():
    size, c = (32, 32), 2.0
    bound = D.overshoot_bound(3, size)
    assert 1.0 < bound < 2.0
    d = D.sample_displacements(2000, 3, c, generator=torch.Generator().manual_seed(15), dtype=torch.float64)
    observed = D.displacement_field(d, size).abs().amax(dim=(1, 2, 3)) / c
    assert observed.max() <= bound + 1e-12
    op = D.tps_operator(3, size, dtype=torch.float64)
    worst = op.abs().sum(1).argmax()
    d_worst = (c * torch.sign(op[worst]))[None, :, None].expand(1, 9, 2).contiguous()
    field = D.displacement_field(d_worst, size)
    assert math.isclose(field.reshape(-1, 2)[worst, 0].item() / c, bound, rel_tol=1e-12)
