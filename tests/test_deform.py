"""Tests of defstab_lib.deform: exactness against scipy, conventions, autograd, determinism, dtypes, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.interpolate import RBFInterpolator

from defstab_lib import deform as D
from defstab_lib.deform import grids

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _pixels(height: int, width: int) -> np.ndarray:
    """(H*W, 2) pixel centres (x, y), row by row."""
    xs, ys = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _scipy_field(displacements: torch.Tensor, grid: int, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) field from scipy's thin-plate-spline RBF fitted on the same control points."""
    cp = D.control_points(grid, size, dtype=torch.float64).numpy()
    rbf = RBFInterpolator(cp, displacements.double().cpu().numpy(), kernel="thin_plate_spline")
    return rbf(_pixels(*size)).reshape(size[0], size[1], 2)


def _scipy_warp(image: np.ndarray, field: np.ndarray, mode: str, cval: float = 0.0) -> np.ndarray:
    """(C, H, W) image read at p + field(p) by scipy's bilinear map_coordinates."""
    height, width = image.shape[1:]
    ys, xs = np.meshgrid(np.arange(height, dtype=float), np.arange(width, dtype=float), indexing="ij")
    coords = np.stack([ys + field[..., 1], xs + field[..., 0]])
    return np.stack([ndimage.map_coordinates(ch, coords, order=1, mode=mode, cval=cval) for ch in image])


# ----------------------------------------------------------------------------------------------- control points


def test_control_points_span_the_image_row_by_row():
    pts = D.control_points(5, (17, 41))
    assert pts.shape == (25, 2) and pts.dtype == torch.float32
    assert pts[0].tolist() == [0.0, 0.0] and pts[4].tolist() == [40.0, 0.0]
    assert pts[20].tolist() == [0.0, 16.0] and pts[24].tolist() == [40.0, 16.0]
    assert pts[1].tolist() == [10.0, 0.0] and pts[5].tolist() == [0.0, 4.0]  # x varies fastest


# ------------------------------------------------------------------------------------------------- exactness


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


def test_deform_matches_scipy_pipeline_one_image_at_a_time():
    g = torch.Generator().manual_seed(3)
    images = torch.rand(2, 3, 24, 20, generator=g, dtype=torch.float64)
    deformed, d = D.deform(images, 4, 3.0, generator=g)
    for i in range(2):
        ref = _scipy_warp(images[i].numpy(), _scipy_field(d[i], 4, (24, 20)), mode="reflect")
        assert np.abs(deformed[i].numpy() - ref).max() < 1e-9


# ----------------------------------------------------------------------------------------- warp conventions


@pytest.mark.parametrize(
    "fill,expected",
    [
        ("reflection", [2.0, 3.0, 3.0, 2.0]),  # about the outer edge at x = 3.5: x = 4 reads 3, x = 5 reads 2
        ("border", [2.0, 3.0, 3.0, 3.0]),
        ("zeros", [2.0, 3.0, 0.0, 0.0]),
        (7.0, [2.0, 3.0, 7.0, 7.0]),
    ],
)
def test_warp_reads_at_p_plus_field_and_fills_outside(fill, expected):
    x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 2, 4)
    field = torch.zeros(1, 2, 4, 2)
    field[..., 0] = 2.0  # every output pixel reads the input two columns to its right
    out = D.warp(x, field, fill=fill)
    assert out[0, 0, 0].tolist() == expected


@pytest.mark.parametrize(
    "fill,mode,cval", [("reflection", "reflect", 0.0), ("border", "nearest", 0.0), ("zeros", "grid-constant", 0.0),
                       (0.5, "grid-constant", 0.5)]
)
def test_warp_matches_scipy_map_coordinates(fill, mode, cval):
    g = torch.Generator().manual_seed(4)
    images = torch.rand(2, 2, 9, 11, generator=g, dtype=torch.float64)
    field = (torch.rand(2, 9, 11, 2, generator=g, dtype=torch.float64) - 0.5) * 8  # reaches outside the image
    out = D.warp(images, field, fill=fill)
    for i in range(2):
        ref = _scipy_warp(images[i].numpy(), field[i].numpy(), mode=mode, cval=cval)
        assert np.abs(out[i].numpy() - ref).max() < 1e-12


@pytest.mark.parametrize("fill", ["reflection", "border", "zeros", 0.25])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_zero_displacements_give_the_identity_to_float_precision(fill, dtype):
    images = torch.rand(3, 2, 32, 28, generator=torch.Generator().manual_seed(5)).to(dtype)
    # grid_sample maps our normalised coordinates back to pixels with a rounding error of up to max(H, W) * eps
    # pixels (eps of the working dtype, float32 for half dtypes), and half dtypes round the result once more
    work_eps = torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).eps
    tol = 32 * work_eps + torch.finfo(dtype).eps * images.double().abs()
    out = D.apply_displacements(images, torch.zeros(3, 16, 2, dtype=dtype), fill=fill)
    assert out.dtype == dtype
    assert ((out.double() - images.double()).abs() <= tol).all()
    same, _ = D.deform(images, 3, 0.0, fill=fill)
    assert ((same.double() - images.double()).abs() <= tol).all()


def test_batched_fields_are_applied_image_by_image():
    g = torch.Generator().manual_seed(6)
    images = torch.rand(5, 3, 16, 24, generator=g)
    d = D.sample_displacements(5, 3, 2.0, generator=g)
    batched = D.apply_displacements(images, d)
    for i in range(5):
        one = D.warp(images[i : i + 1], D.displacement_field(d[i : i + 1], (16, 24)))
        assert torch.allclose(batched[i : i + 1], one, atol=1e-6)
    # one field for every image broadcasts
    shared = D.apply_displacements(images, d[:1])
    assert torch.allclose(shared, D.warp(images, D.displacement_field(d[:1], (16, 24))), atol=1e-6)


# ----------------------------------------------------------------------------------- randomness and autograd


def test_sampled_displacements_are_uniform_in_the_box():
    d = D.sample_displacements(4000, 3, 2.0, generator=torch.Generator().manual_seed(7))
    assert d.shape == (4000, 9, 2)
    assert d.abs().max() <= 2.0 and d.abs().max() > 1.99
    assert abs(d.mean().item()) < 0.02
    assert abs(d.var().item() - 4.0 / 3.0) < 0.02  # variance of U(-C, C) is C^2 / 3


def test_seeded_generator_is_deterministic_and_each_image_gets_its_own_field():
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(8))
    y1, d1 = D.deform(images, 3, 2.0, generator=torch.Generator().manual_seed(9))
    y2, d2 = D.deform(images, 3, 2.0, generator=torch.Generator().manual_seed(9))
    y3, d3 = D.deform(images, 3, 2.0, generator=torch.Generator().manual_seed(10))
    assert torch.equal(y1, y2) and torch.equal(d1, d2)
    assert not torch.equal(d1, d3)
    assert len({tuple(row.flatten().tolist()) for row in d1}) == 6
    assert torch.equal(D.apply_displacements(images, d1), y1)


def test_gradcheck_with_respect_to_displacements_and_images():
    g = torch.Generator().manual_seed(11)
    images = torch.rand(2, 2, 7, 8, generator=g, dtype=torch.float64)
    d = D.sample_displacements(2, 3, 1.5, generator=g, dtype=torch.float64).requires_grad_()
    for fill in ("reflection", "border", "zeros", 0.3):
        assert torch.autograd.gradcheck(lambda dd: D.apply_displacements(images, dd, fill=fill), (d,))
    assert torch.autograd.gradcheck(lambda dd: D.displacement_field(dd, (7, 8)), (d,))
    assert torch.autograd.gradcheck(lambda dd: D.warp(images, D.displacement_field(dd, (7, 8))), (d,))
    x = images.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda xx: D.apply_displacements(xx, d.detach()), (x,), fast_mode=True)


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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtype_and_device_follow_the_images(device, dtype):
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(12)).to(device)
    g = torch.Generator(device=device).manual_seed(13)
    y, d = D.deform(images.to(dtype), 3, 2.0, generator=g)
    assert y.dtype == dtype and d.dtype == dtype and y.device.type == device and d.device.type == device
    # the returned displacements reproduce the output exactly, and it is the float32 warp rounded to dtype
    assert torch.equal(D.apply_displacements(images.to(dtype), d), y)
    ref = D.apply_displacements(images.to(dtype).float(), d.float()).to(dtype)
    if dtype in (torch.float16, torch.bfloat16):
        assert torch.equal(y, ref)
    else:
        assert torch.allclose(y.double(), ref.double(), atol=1e-5)
    field = D.displacement_field(d, (32, 32))
    assert field.dtype == dtype and field.device.type == device


# -------------------------------------------------------------------------------------- norms and overshoot


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


# --------------------------------------------------------------------------------------------------- bad input


def _img(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: D.deform(_img(3, 32, 32), 3, 2.0), ValueError, "images must be 4-D"),
        (lambda: D.deform(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), 3, 2.0), TypeError, "images must be floating"),
        (lambda: D.deform(_img(1, 3, 8, 8).index_fill(3, torch.tensor([2]), float("nan")), 3, 2.0), ValueError,
         "images must be finite; found NaN or inf"),
        (lambda: D.deform(_img(1, 3, 8, 8).index_fill(2, torch.tensor([0]), float("inf")), 3, 2.0), ValueError,
         "images must be finite; found NaN or inf"),
        (lambda: D.warp(_img(1, 1, 8, 8), torch.full((1, 8, 8, 2), float("nan"))), ValueError, "field must be finite"),
        (lambda: D.apply_displacements(_img(1, 1, 8, 8), torch.full((1, 9, 2), float("inf"))), ValueError,
         "displacements must be finite"),
        (lambda: D.displacement_field(torch.full((1, 9, 2), float("nan")), (8, 8)), ValueError,
         "displacements must be finite"),
        (lambda: D.deform(_img(1, 3, 8, 8), 1, 2.0), ValueError, "grid must be >= 2"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3.0, 2.0), TypeError, "grid must be an int"),
        (lambda: D.sample_displacements(2, 1, 2.0), ValueError, "grid must be >= 2"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, -1.0), ValueError, "max_displacement must be a finite number"),
        (lambda: D.sample_displacements(2, 3, -0.5), ValueError, "max_displacement must be a finite number"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, float("nan")), ValueError, "max_displacement must be a finite"),
        (lambda: D.deform(_img(1, 3, 8, 12), 3, 8.0), ValueError, "max_displacement must be smaller than the image"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, "2"), TypeError, "max_displacement must be a real number"),
        (lambda: D.warp(_img(2, 3, 8, 8), torch.zeros(2, 8, 9, 2)), ValueError, "field has size"),
        (lambda: D.warp(_img(2, 3, 8, 8), torch.zeros(3, 8, 8, 2)), ValueError, "field holds 3 fields for 2"),
        (lambda: D.warp(_img(2, 3, 8, 8), torch.zeros(2, 8, 8)), ValueError, "field must have shape"),
        (lambda: D.apply_displacements(_img(2, 3, 8, 8), torch.zeros(3, 9, 2)), ValueError, "displacements hold 3"),
        (lambda: D.displacement_field(torch.zeros(1, 8, 2), (8, 8)), ValueError, "K = grid"),
        (lambda: D.displacement_field(torch.zeros(1, 9, 2, dtype=torch.int64), (8, 8)), TypeError,
         "displacements must be floating"),
        (lambda: D.displacement_field(torch.zeros(1, 9, 2), (1, 8)), ValueError, "size must be at least"),
        (lambda: D.deform(_img(1, 3, 8, 8), 3, 2.0, fill="wrap"), ValueError, "fill must be one of"),
        (lambda: D.sample_displacements(-1, 3, 2.0), ValueError, "n must be >= 0"),
        (lambda: D.sample_displacements(2, 3, 2.0, generator=0), TypeError, "generator must be"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
