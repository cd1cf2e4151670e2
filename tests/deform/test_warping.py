"""Warping images (``defstab_lib/deform/warping.py``): exact against scipy, conventions, autograd,
determinism, dtypes and devices."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from scipy import ndimage

from defstab_lib import deform as D

from tests.helpers import _scipy_field


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _scipy_warp(image: np.ndarray, field: np.ndarray, mode: str, cval: float = 0.0) -> np.ndarray:
    """(C, H, W) image read at p + field(p) by scipy's bilinear map_coordinates."""
    height, width = image.shape[1:]
    ys, xs = np.meshgrid(np.arange(height, dtype=float), np.arange(width, dtype=float), indexing="ij")
    coords = np.stack([ys + field[..., 1], xs + field[..., 0]])
    return np.stack([ndimage.map_coordinates(ch, coords, order=1, mode=mode, cval=cval) for ch in image])


def test_deform_matches_scipy_pipeline_one_image_at_a_time():
    g = torch.Generator().manual_seed(3)
    images = torch.rand(2, 3, 24, 20, generator=g, dtype=torch.float64)
    deformed, d = D.deform(images, 4, 3.0, generator=g)
    for i in range(2):
        ref = _scipy_warp(images[i].numpy(), _scipy_field(d[i], 4, (24, 20)), mode="reflect")
        assert np.abs(deformed[i].numpy() - ref).max() < 1e-9


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
    # the field is a float32 matmul over the 9 control points, and a batch of 5 may sum them in another order than a
    # batch of 1: each path is within 9 u32 * C * L pixels of the exact field (Higham's gamma_9; C = 2.0 the largest
    # |d|, L the TPS's Lebesgue constant), and bilinear sampling of images in [0, 1] moves by at most 1 per pixel
    # per coordinate, so the two outputs differ by at most 2 coordinates * 2 paths * 9 u32 C L
    u32 = torch.finfo(torch.float32).eps / 2
    atol = 2 * 2 * 9 * u32 * 2.0 * D.overshoot_bound(3, (16, 24))
    for i in range(5):
        one = D.warp(images[i : i + 1], D.displacement_field(d[i : i + 1], (16, 24)))
        assert torch.allclose(batched[i : i + 1], one, rtol=0, atol=atol)
    # one field for every image broadcasts
    shared = D.apply_displacements(images, d[:1])
    assert torch.allclose(shared, D.warp(images, D.displacement_field(d[:1], (16, 24))), rtol=0, atol=atol)


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
        # float64 against the float32 warp: the float32 field is off by at most 10 u32 C L pixels (rounding d, then
        # Higham's gamma_9 for the 9-term matmul; C = 2.0, L the Lebesgue constant) plus 32 eps32 from grid_sample's
        # normalised coordinates (see the test above); bilinear sampling of [0, 1] images moves at most 1 per pixel
        # per coordinate, and the output's own rounding and interpolation add a few u32
        u32 = torch.finfo(torch.float32).eps / 2
        atol = 2 * (10 * u32 * 2.0 * D.overshoot_bound(3, (32, 32)) + 32 * 2 * u32) + 4 * u32
        assert torch.allclose(y.double(), ref.double(), rtol=0, atol=atol)
    field = D.displacement_field(d, (32, 32))
    assert field.dtype == dtype and field.device.type == device
