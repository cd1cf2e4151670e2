"""A grid of real sample images, one row per source (the data chapter)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from .provenance import draws

__all__ = ["sample_grid"]


@draws
def sample_grid(
    rows: Sequence[tuple[str, torch.Tensor, Sequence[str]]],
    *,
    cell_inches: float = 1.0,
    title_chars: int = 12,
):
    """One row of images per source.

    Args:
        rows: ``(row label, images, captions)`` per row; ``images`` is ``(n, C, H, W)`` float in ``[0, 1]``
            (``C`` = 1 or 3; sizes may differ between rows), ``captions`` one short string per image.
        cell_inches: width and height of one image, in inches.
        title_chars: captions are cut to this many characters.

    Returns:
        The matplotlib ``Figure``.
    """
    if not rows:
        raise ValueError("rows must hold at least one (label, images, captions) row")
    ncols = max(len(images) for _, images, _ in rows)
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(cell_inches * ncols + 1.2, cell_inches * 1.25 * len(rows)), squeeze=False
    )
    for r, (label, images, captions) in enumerate(rows):
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"row {label!r}: images must be (n, 1 or 3, H, W), got {tuple(images.shape)}")
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c >= len(images):
                continue
            image = images[c].detach().float().clamp(0, 1).cpu()
            if image.shape[0] == 1:
                ax.imshow(image[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(image.permute(1, 2, 0), interpolation="nearest")
            ax.set_title(str(captions[c])[:title_chars], fontsize=8, pad=2)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10, labelpad=8)
    fig.tight_layout(pad=0.4, w_pad=0.2, h_pad=0.6)
    return fig
