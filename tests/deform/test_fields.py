"""Displacement fields (``defstab_lib/deform/fields.py``): exact against scipy's thin-plate spline, sampled
uniformly in the box, with exact norms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from defstab_lib import deform as D

from tests.helpers import _pixels, _scipy_field


@pytest.mark.parametrize(
    "grid,size,c", [(3, (32, 32), 2.0), (5, (224, 224), 10.0), (4, (17, 40), 3.0), (2, (8, 8), 1.0)]
)
def test_field_agrees_with_scipy_thin_plate_spline(grid, size, c):
    g = torch.Generator().manual_seed(1)
    d = D.sample_displacements(3, grid, c, generator=g, dtype=torch.float64)
    for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
        field = D.displacement_field(d.to(dtype), size)
        assert field.shape == (3, *size, 2) and field.dtype == dtype
        for i in range(3):
            err = np.abs(field[i].double().numpy() - _scipy_field(d[i], grid, size)).max()
            assert err <= tol, (dtype, err)


@pytest.mark.parametrize("grid,size", [(3, (33, 33)), (5, (225, 225)), (5, (29, 41))])
def test_field_equals_the_displacement_at_every_control_point(grid, size):
    d = D.sample_displacements(2, grid, 5.0, generator=torch.Generator().manual_seed(2))
    field = D.displacement_field(d, size)
    pts = D.control_points(grid, size).long()  # these sizes put every control point on a pixel centre
    at_points = field[:, pts[:, 1], pts[:, 0]]
    assert torch.equal(at_points, d)


def test_sampled_displacements_are_uniform_in_the_box():
    d = D.sample_displacements(4000, 3, 2.0, generator=torch.Generator().manual_seed(7))
    assert d.shape == (4000, 9, 2)
    assert d.abs().max() <= 2.0 and d.abs().max() > 1.99
    assert abs(d.mean().item()) < 0.02
    assert abs(d.var().item() - 4.0 / 3.0) < 0.02  # variance of U(-C, C) is C^2 / 3


def test_field_norms_are_exact_for_affine_fields():
    m = torch.tensor([[0.2, -0.1], [0.05, 0.3]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    pix = torch.from_numpy(_pixels(10, 14))
    field = (pix @ m.T + b).reshape(1, 10, 14, 2)
    max_disp, max_jac = D.field_norms(field)
    assert math.isclose(max_jac.item(), torch.linalg.matrix_norm(m, ord=2).item(), rel_tol=1e-12)
    assert math.isclose(max_disp.item(), (pix @ m.T + b).norm(dim=1).max().item(), rel_tol=1e-12)
    zero_disp, zero_jac = D.field_norms(torch.zeros(2, 5, 5, 2))
    assert zero_disp.tolist() == [0.0, 0.0] and zero_jac.tolist() == [0.0, 0.0]


def test_field_norms_of_sampled_fields_are_within_the_bounds():
    size = (33, 33)
    d = D.sample_displacements(200, 3, 2.0, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    max_disp, max_jac = D.field_norms(D.displacement_field(d, size))
    assert (max_disp >= d.norm(dim=-1).amax(dim=1) - 1e-12).all()  # control points are pixels at this size
    assert (max_disp <= math.sqrt(2) * 2.0 * D.overshoot_bound(3, size) + 1e-9).all()
    assert (max_jac > 0).all() and (max_jac < 1).all()


def test_random_field_norms_measure_the_fields_that_deform_draws():
    size = (20, 24)
    norms = D.random_field_norms(10, 3, 2.0, size, generator=torch.Generator().manual_seed(16), chunk=4)
    d = D.sample_displacements(10, 3, 2.0, generator=torch.Generator().manual_seed(16))
    field = D.displacement_field(d, size)
    tau, grad = D.field_norms(field)
    assert torch.allclose(norms["max_displacement"], tau.double(), atol=1e-6)
    assert torch.allclose(norms["max_jacobian"], grad.double(), atol=1e-6)
    assert torch.allclose(norms["max_component"], field.abs().amax(dim=(1, 2, 3)).double())
    with pytest.raises(ValueError, match="n must be"):
        D.random_field_norms(0, 3, 2.0, size)
