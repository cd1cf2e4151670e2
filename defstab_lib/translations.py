"""Translations by whole pixels: the deformations with ``||grad tau||_inf = 0``, which isolate the Bietti-Mairal
bound's ``||tau||_inf`` term.

The sweep that every ``pooling`` run stores deforms images by random thin-plate splines of growing strength;
growing a random deformation scales ``||tau||_inf`` and ``||grad tau||_inf`` together, so a fit of the change on
both cannot tell their slopes apart (:mod:`defstab_lib.kernels.bound`).  A translation by ``t`` pixels has
``||tau||_inf = t`` and ``grad tau = 0``: the bound then reads ``||Phi(L_tau x) - Phi(x)|| <= C2 t / sigma_n ||x||``,
the term that pooling controls.

:func:`translation_sweep` shifts images by a whole number ``t`` of pixels along a random axis direction per image
(:func:`defstab_lib.deform.warp` of a constant field, with the deformations' reflection fill), in the layout of a
run's sweep.  Whole pixels, because a sub-pixel shift on the pixel grid is not a pure translation: bilinear
resampling also blurs the image (by ``f (1 - f)`` of the second difference at a fractional offset ``f``), and a
representation with wide pooling, nearly invariant to the shift, still sees the blur: measured, the change of such
a representation at a 0.5 px shift can exceed its change at 1 px.  An integer shift samples pixel centres exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import _random, checks
from .deform import field_norms, warp

__all__ = ["translation_sweep", "TRANSLATION_LENGTHS", "TRANSLATION_SEED_OFFSET"]

#: Default translation lengths, whole pixels.
TRANSLATION_LENGTHS = (1, 2, 3, 4)

#: The translations of a probe with seed ``s`` are drawn with ``torch.Generator().manual_seed(s + 300)`` (the runs'
#: deformation sweep uses ``s + 100 + i``).
TRANSLATION_SEED_OFFSET = 300


def translation_sweep(images: torch.Tensor, lengths: Sequence[int] = TRANSLATION_LENGTHS, *,
                      generator: torch.Generator | None = None
                      ) -> list[tuple[float, torch.Tensor, list[float], list[float]]]:
    """Every image shifted by ``t`` whole pixels, for each ``t`` in ``lengths``, along one of the four axis
    directions (right, left, down, up) drawn uniformly per image and length.

    Args:
        images: ``(M, C, H, W)`` float images.
        lengths: translation lengths ``t``, whole pixels, each ``>= 1``.
        generator: draws the directions (on the CPU; ``None``: a fresh OS-seeded generator).

    Returns:
        per length ``(t, translated (M, C, H, W), ||tau||_inf (M,) = t, ||grad tau||_inf (M,) = 0)``, the
        layout of :attr:`defstab_lib.runs.RunData.bound`; the norms are measured on the field
        (:func:`defstab_lib.deform.field_norms`).

    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> t, moved, disp, jac = translation_sweep(x, [1], generator=torch.Generator().manual_seed(0))[0]
    >>> t, disp, jac, moved[0, 0].tolist()      # shifted by one pixel to the right (reflection at the edge)
    (1.0, [1.0], [0.0], [[1.0, 2.0, 3.0, 3.0], [5.0, 6.0, 7.0, 7.0], [9.0, 10.0, 11.0, 11.0], [13.0, 14.0, 15.0, 15.0]])
    """
    checks.check_tensor("images", images, "M C H W")
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise ValueError(f"lengths must be a non-empty list of whole pixels >= 1, got {lengths!r}")
    lengths = [checks.positive_int("lengths", t) for t in lengths]
    generator = _random.check_generator(generator)
    m, _, h, w = images.shape
    axes = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # (dx, dy) unit steps
    out = []
    for t in lengths:
        direction = torch.randint(0, 4, (m,), generator=generator, device=generator.device).cpu()
        field = (t * axes[direction])[:, None, None, :].expand(m, h, w, 2)
        field = field.to(device=images.device, dtype=images.dtype).contiguous()
        disp, jac = field_norms(field)
        out.append((float(t), warp(images, field), disp.tolist(), jac.tolist()))
    return out
