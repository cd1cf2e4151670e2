r"""Smooth random deformations of images: the paper's thin-plate-spline warps (Ruderman et al. 2018, section 2.1).

A deformation is drawn as in the paper: a ``grid x grid`` lattice of evenly spaced control points, each given a
random displacement uniform in ``[-C, C]`` in each direction (``C`` = ``max_displacement``, in pixels); the
displacement field over the whole image is the thin-plate spline (TPS) that interpolates those control
displacements; the image is resampled bilinearly.  The paper uses 5x5 points with C = 10 for ImageNet (224x224)
and 3x3 points with C = 2 for CIFAR-10 (32x32).

With the grid fixed, the TPS interpolant is *linear* in the control displacements: the field at the ``H*W``
pixel centres is ``A @ d`` for an ``(H*W, K)`` operator ``A`` that depends only on the grid and the image size.
We compute ``A`` once (in float64, cast to the working dtype) and cache it, so a batch of ``B`` images with ``B``
different random fields costs one small matrix product and one ``grid_sample``.

The package's modules, each re-exported here (``from defstab_lib import deform; deform.warp``):
:mod:`.grids` (control points, the TPS operator and its caches), :mod:`.fields` (random displacements, their
field at every pixel, field norms), :mod:`.warping` (resampling images: :func:`warp`, :func:`apply_displacements`,
:func:`deform`) and :mod:`.validation` (the argument checks all three share).

Conventions (and why)
---------------------
*Coordinates.*  Points and vectors are in pixels, ordered ``(x, y)`` = (column, row).  Pixel ``(i, j)`` (row
``i``, column ``j``) has its centre at ``(x, y) = (j, i)``; the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

*Direction of the field.*  Output pixel ``p`` reads the input at ``p + field(p)``: ``out(p) = in(p + tau(p))``.
This is the paper's Figure 2: "the value at the tip of an arrow is computed by bilinear interpolation around the
tail of the arrow", the tip being ``p`` and the tail ``p + tau(p)``.  (Bietti and Mairal write
``L_tau x(u) = x(u - tau(u))``; the sign flip changes neither ``||tau||_inf`` nor ``||grad tau||_inf``.)

*Control points* sit at pixel centres, evenly spaced from the first to the last pixel in each direction and
including the four corner pixels: ``x_j = j (W - 1) / (grid - 1)``, ``y_i = i (H - 1) / (grid - 1)``, listed
row by row (``k = i * grid + j``).  Why: then every pixel lies inside the convex hull of the control points, so
the field is *interpolated* everywhere and never extrapolated (outside the hull a TPS is dominated by its affine
part and grows without bound), and the border of the image is deformed like its interior, as in the paper's
Figure 2.  At a control point the field equals that point's displacement exactly.

*Fill.*  A sample that falls outside the image is filled by ``fill``: ``"reflection"`` (default) mirrors the
image about its outer edge (half-sample symmetric: the edge pixel repeats, as scipy's ``mode="reflect"``);
``"border"`` repeats the edge pixel; ``"zeros"`` reads 0; a number reads that constant.  Why reflection: samples
leave the image by up to about C pixels (10 px on ImageNet), and zeros would paint black bands along the border
that a network sees as new edges, so a stability measurement would partly measure the padding; reflection
continues the image without new edges and keeps local statistics; ``"border"`` smears the edge pixel into
streaks.  The paper does not say which it used.

*align_corners.*  We call ``grid_sample`` with ``align_corners=False`` (torch's default), whose normalised
coordinate ``-1`` is the *outer edge* of the first pixel, and convert pixel positions as
``x_norm = (2 x + 1) / W - 1``.  Both settings are exact when the conversion matches; we chose ``False`` so that
``"reflection"`` reflects about the image's edge (at ``True`` it reflects about the centres of the edge pixels,
dropping the edge pixel's duplicate) and so that the image is treated as ``W`` pixel *areas*, as torch's
resizing does.  Zero displacements give the identity to float rounding: ``grid_sample`` maps normalised
coordinates back to pixels with an error of up to ``max(H, W) * eps`` pixels, so values move by at most that
fraction of the local contrast (1.4e-5 for a 224x224 image in [0, 1] in float32; none when H and W are powers of
two).

*Precision.*  The operator is always computed in float64 and cast.  float32 and float64 work natively (the field
agrees with ``scipy.interpolate.RBFInterpolator(kernel="thin_plate_spline")`` to about 1e-5 px in float32).
float16 and bfloat16 images are warped in float32 and the result rounded to the input dtype, because a sampling
grid held in half precision is coarse (bfloat16 resolves only about 0.4 px across a 224-pixel image); the
result is therefore the float32 warp rounded to the input's dtype (relative error at most 2^-11 for float16,
2^-8 for bfloat16).  :func:`deform` rounds the displacements it draws to the image's dtype *before* warping, so
the displacements it returns reproduce its output exactly (in bfloat16 they are multiples of 1/16 px between 8
and 16 px, a slightly coarser distribution than float32's).

*Cache.*  Operators are kept per (grid, size, device, dtype) in a least-recently-used cache of at most
:data:`CACHE_SIZE` entries, each ``(K + 2) * H * W`` numbers (5.4 MB for 224x224 with 5x5 points in float32),
beside a cache of as many identity grids (``2 * H * W`` numbers) and a cache of the 4 most recent float64 operators
on the CPU, from which the others are cast.  They are built outside inference mode and never modified in place,
so they are safe to reuse under autograd (a tensor made under ``torch.inference_mode`` could not be saved for a
later backward pass).  :func:`clear_cache` empties them.
"""

from .fields import displacement_field, field_norms, random_field_norms, sample_displacements
from .grids import CACHE_SIZE, clear_cache, control_points, overshoot_bound, tps_operator
from .validation import FILLS
from .warping import apply_displacements, deform, warp

__all__ = [
    "FILLS",
    "CACHE_SIZE",
    "control_points",
    "sample_displacements",
    "displacement_field",
    "warp",
    "apply_displacements",
    "deform",
    "field_norms",
    "random_field_norms",
    "overshoot_bound",
    "tps_operator",
    "clear_cache",
]
