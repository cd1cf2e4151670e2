"""Image grids and deformation panels: the paper's Figures 1 and 2 (and image rows for Figure 5a).

Coordinates follow :mod:`defstab_lib.deform`: pixel ``(row i, column j)`` has its centre at ``(x, y) = (j, i)``,
``y`` pointing down, as ``imshow`` draws an image by default.  Arrows are drawn to scale (one pixel of displacement
is one pixel of image) unless ``arrow_scale`` says otherwise, and they follow the paper's Figure 2: **an arrow's
tip is an output pixel p and its tail is p + tau(p), the point of the original image that p's value is
interpolated from** ("the value at the tip of an arrow comes from around its tail").  An arrow therefore points
along ``-tau(p)``: the way the image content moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from .provenance import draws

__all__ = ["ARROW_COLOR", "SOURCE_COLOR", "show_image", "originals_and_deformed", "deformation_panels"]

#: Arrows (the field), outlined in black: readable over photographs (skin, orange, red) and on white.
ARROW_COLOR = "#22d3ee"
#: Where each control point's value comes from (the arrow tails of panel a).
SOURCE_COLOR = "#d62728"


def _as_hwc(image: torch.Tensor):
    """A ``(C, H, W)`` float image in [0, 1] as an array for ``imshow`` (grey for one channel)."""
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must be a (1 or 3, H, W) tensor, got {getattr(image, 'shape', type(image))}")
    image = image.detach().float().clamp(0, 1).cpu()
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()


@draws
def show_image(ax, image: torch.Tensor, *, title: str | None = None) -> None:
    """Draw a ``(C, H, W)`` image in [0, 1] on ``ax`` with pixel centres at integer ``(x, y)``, no ticks."""
    array = _as_hwc(image)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)


@draws
def originals_and_deformed(
    rows: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    pairs_per_row: int | None = None,
    cell_inches: float = 1.15,
):
    """Figure 1: pairs of an original image and its deformed version, side by side, one block per source.

    Args:
        rows: ``(label, originals, deformed)`` per block; ``originals`` and ``deformed`` are ``(n, C, H, W)``
            floats in [0, 1] of the same shape (``C`` = 1 or 3; sizes may differ between blocks).  The label is
            written above its block.
        pairs_per_row: pairs per line; a block with more pairs wraps onto further lines (default: all on one).
        cell_inches: width of one image, in inches.

    Returns:
        The matplotlib ``Figure``.
    """

    if not rows:
        raise ValueError("rows must hold at least one (label, originals, deformed) row")
    for label, originals, deformed in rows:
        if originals.shape != deformed.shape or originals.ndim != 4 or len(originals) == 0:
            raise ValueError(
                f"row {label!r}: originals {tuple(originals.shape)} and deformed {tuple(deformed.shape)} must be "
                "non-empty (n, C, H, W) of the same shape"
            )
    per_line = pairs_per_row or max(len(originals) for _, originals, _ in rows)
    lines = [math.ceil(len(originals) / per_line) for _, originals, _ in rows]
    label_inches, title_inches = 0.32, 0.24  # the block's label; an image's "original"/"deformed" title
    line_inches = cell_inches + title_inches
    heights = [label_inches + n * line_inches for n in lines]
    fig = plt.figure(figsize=(per_line * (2 * cell_inches + 0.25), sum(heights)))
    blocks = fig.subfigures(len(rows), 1, height_ratios=heights, squeeze=False)[:, 0]
    for block, height, n_lines, (label, originals, deformed) in zip(blocks, heights, lines, rows):
        block.suptitle(label, x=0.01, y=1 - 0.04 / height, ha="left", va="top", fontsize=11)
        grid = block.add_gridspec(n_lines, per_line, left=0.005, right=0.995,
                                  top=1 - (label_inches + title_inches) / height, bottom=0.01,
                                  wspace=0.08, hspace=title_inches / cell_inches)
        for i in range(len(originals)):
            pair = grid[i // per_line, i % per_line].subgridspec(1, 2, wspace=0.03)
            for k, images in enumerate((originals, deformed)):
                ax = block.add_subplot(pair[0, k])
                show_image(ax, images[i])
                ax.set_title("original" if k == 0 else "deformed", fontsize=9, pad=2)
    return fig


@draws
def deformation_panels(
    image: torch.Tensor,
    control_points: torch.Tensor,
    displacements: torch.Tensor,
    field: torch.Tensor,
    deformed: torch.Tensor,
    *,
    arrow_step: int | None = None,
    arrow_scale: float = 1.0,
    panel_inches: float = 3.1,
):
    """Figure 2: how a random deformation is made, in four panels.

    (a) the control points (dots: output positions, arrow tips) and their random sources (circles, arrow tails);
    (b) the thin-plate-spline field on a coarser grid of pixels; (c) the same field over the original image;
    (d) the deformed image.  Every arrow runs from ``p + tau(p)`` (tail) to ``p`` (tip).

    Args:
        image: ``(C, H, W)`` original image in [0, 1].
        control_points: ``(K, 2)`` control points ``(x, y)`` in pixels.
        displacements: ``(K, 2)`` their displacements in pixels (source = point + displacement).
        field: ``(H, W, 2)`` the interpolated field in pixels.
        deformed: ``(C, H, W)`` the deformed image.
        arrow_step: draw the field every ``arrow_step`` pixels (default: about 14 arrows per side).
        arrow_scale: arrows are drawn this many times longer than the displacement (1: to scale).
        panel_inches: width of one panel, in inches.

    Returns:
        The matplotlib ``Figure`` (2 x 2 panels).
    """
    height, width = image.shape[-2:]
    if field.shape != (height, width, 2) or deformed.shape != image.shape:
        raise ValueError(
            f"field {tuple(field.shape)} must be (H, W, 2) and deformed {tuple(deformed.shape)} must match the "
            f"image {tuple(image.shape)}"
        )
    if control_points.shape != displacements.shape or control_points.ndim != 2 or control_points.shape[1] != 2:
        raise ValueError("control_points and displacements must both be (K, 2)")
    if arrow_scale <= 0:
        raise ValueError(f"arrow_scale must be > 0, got {arrow_scale!r}")
    step = arrow_step or max(1, round(max(height, width) / 14))
    pts = control_points.detach().float().cpu()
    disp = displacements.detach().float().cpu() * arrow_scale
    ys = torch.arange(step // 2, height, step)
    xs = torch.arange(step // 2, width, step)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    tau = field.detach().float().cpu()[yy, xx] * arrow_scale  # (h, w, 2)
    scaled = "" if arrow_scale == 1 else f" (arrows x{arrow_scale:g})"

    fig, axes = plt.subplots(2, 2, figsize=(2 * panel_inches, 2 * panel_inches + 0.5))
    (a, b), (c, d) = axes
    quiver = dict(angles="xy", scale_units="xy", scale=1, pivot="tip", width=0.006, headwidth=3.5,
                  headlength=4, headaxislength=3.5, color=ARROW_COLOR, edgecolor="black", linewidth=0.3)

    # (a) control points and their sources: tail at the source p + d, tip at the control point p.
    a.quiver(pts[:, 0], pts[:, 1], -disp[:, 0], -disp[:, 1], **quiver)
    a.scatter(pts[:, 0] + disp[:, 0], pts[:, 1] + disp[:, 1], s=22, facecolors="none", edgecolors=SOURCE_COLOR,
              linewidths=1.2, zorder=3)
    a.scatter(pts[:, 0], pts[:, 1], s=14, color="black", zorder=4)
    a.set_title("(a) control points (dots) and\ntheir random sources (circles)" + scaled, fontsize=10)

    # (b) and (c): the interpolated field, tails at p + tau(p), tips at p.
    for ax in (b, c):
        ax.quiver(xx, yy, -tau[..., 0], -tau[..., 1], **quiver)
    b.scatter(pts[:, 0], pts[:, 1], s=10, color="black", zorder=4)
    b.set_title("(b) the thin-plate-spline field\n(tail: read from; tip: written to)" + scaled, fontsize=10)
    show_image(c, image)
    c.set_title("(c) the field over the image", fontsize=10)
    show_image(d, deformed)
    d.set_title("(d) the result", fontsize=10)

    margin = 0.5 + max(float(disp.abs().max()), float(tau.abs().max()), 0.0)
    for ax in (a, b):
        ax.set_xlim(-margin, width - 1 + margin)
        ax.set_ylim(height - 1 + margin, -margin)  # y down, as in the image panels
        ax.add_patch(plt.Rectangle((-0.5, -0.5), width, height, fill=False, edgecolor="0.6", linewidth=0.8))
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for ax in axes.flat:
        ax.set_aspect("equal")
    fig.tight_layout(pad=0.5, h_pad=1.2, w_pad=0.6)
    return fig
