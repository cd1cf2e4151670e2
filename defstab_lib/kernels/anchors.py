"""Anchor points learned without labels: patches sampled from images, then spherical k-means.

Mairal (2016) and Bietti and Mairal choose each layer's anchors ``z_1..z_p`` on the unit sphere by spherical
k-means on normalised patches of that layer's input; the Nystrom features then approximate the patch kernel
best where patches are dense.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import checks
from .functional import NORM_SQ_EPS, _patch_padding, normalize_rows

__all__ = ["sample_patches", "spherical_kmeans"]


def sample_patches(x: torch.Tensor, patch_size: int, n_patches: int, *, generator: torch.Generator,
                   padding: str = "same", min_norm: float = 1e-3, chunk: int = 256) -> torch.Tensor:
    """``n_patches`` patches drawn uniformly, without replacement, among the patches of ``x`` whose norm
    exceeds ``min_norm`` (the all-zero background of Fashion-MNIST would otherwise dominate).

    Args:
        x: feature maps, shape ``(B, C, H, W)``.
        patch_size: ``k``.
        n_patches: how many to draw, ``>= 1``.
        generator: the source of randomness (on ``x``'s device or the CPU).
        padding: ``"same"`` or ``"valid"``, as the layer that will use the anchors.
        min_norm: patches with Euclidean norm ``<= min_norm`` (unit of ``x``) are never drawn.
        chunk: images whose patch norms are computed at a time (memory only; the result does not depend on it).

    Returns:
        ``(n_patches, C k^2)`` raw (not normalised) patches, flattened as a conv weight ``(C, k, k)``, in the
        order of the draw.

    Raises:
        ValueError: fewer than ``n_patches`` patches are above ``min_norm``.

    >>> g = torch.Generator().manual_seed(0)
    >>> sample_patches(torch.rand(2, 1, 8, 8), 3, 10, generator=g).shape
    torch.Size([10, 9])
    """
    checks.check_tensor("x", x, "B C H W")
    pad = _patch_padding(patch_size, padding)
    n_patches = checks.positive_int("n_patches", n_patches)
    min_norm = checks.nonnegative_float("min_norm", min_norm)
    chunk = checks.positive_int("chunk", chunk)
    c = x.shape[1]
    box = torch.ones(1, c, patch_size, patch_size, dtype=x.dtype, device=x.device)
    valid = []
    for start in range(0, x.shape[0], chunk):
        norm_sq = F.conv2d(x[start:start + chunk].pow(2), box, padding=pad)
        valid.append((norm_sq.flatten(1) > max(min_norm**2, NORM_SQ_EPS)).cpu())
    valid = torch.cat(valid)  # (B, L) bool
    flat = valid.flatten().nonzero().squeeze(1)
    if flat.numel() < n_patches:
        raise ValueError(f"n_patches must be at most the {flat.numel()} patches with norm > min_norm={min_norm}; "
                         f"got {n_patches!r}")
    perm = torch.randperm(flat.numel(), generator=generator, device=generator.device).cpu()
    chosen = flat[perm[:n_patches]].to(x.device)
    h_out, w_out = x.shape[2] + 2 * pad - patch_size + 1, x.shape[3] + 2 * pad - patch_size + 1
    image, pos = chosen // (h_out * w_out), chosen % (h_out * w_out)
    offsets = torch.arange(patch_size, device=x.device)
    rows = (pos // w_out)[:, None] + offsets  # (n, k) rows of the padded maps
    cols = (pos % w_out)[:, None] + offsets
    channels = torch.arange(c, device=x.device)
    padded = F.pad(x, (pad, pad, pad, pad))
    patches = padded[image[:, None, None, None], channels[None, :, None, None], rows[:, None, :, None],
                     cols[:, None, None, :]]  # (n, C, k, k): gathers only the drawn patches
    return patches.reshape(n_patches, c * patch_size**2)


def spherical_kmeans(x: torch.Tensor, n_clusters: int, *, generator: torch.Generator, n_iter: int = 30) -> torch.Tensor:
    """Spherical k-means: unit centroids maximising the summed cosine similarity of points to their centroid.

    Points are normalised first.  Centroids start at ``n_clusters`` distinct points drawn with ``generator``;
    each iteration assigns every point to its most similar centroid and sets each centroid to the normalised
    sum of its points.  A centroid left without points is moved to the point worst explained by the current
    centroids (no further randomness).  Stops early when assignments no longer change.

    Args:
        x: points, shape ``(n, d)``; rows of norm ~0 are not allowed.
        n_clusters: ``p``, ``1 <= p <= n``.
        generator: the source of randomness of the initialisation.
        n_iter: maximum number of iterations, ``>= 1``.

    Returns:
        ``(p, d)`` unit-norm centroids, dtype and device of ``x``.

    >>> g = torch.Generator().manual_seed(0)
    >>> pts = torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.1, 1.0], [-0.1, 1.0]])
    >>> c = spherical_kmeans(pts, 2, generator=g)
    >>> sorted(c.argmax(dim=1).tolist())
    [0, 1]
    """
    checks.check_tensor("x", x, "n d")
    n_clusters = checks.positive_int("n_clusters", n_clusters)
    n_iter = checks.positive_int("n_iter", n_iter)
    if n_clusters > x.shape[0]:
        raise ValueError(f"n_clusters must be at most the number of points {x.shape[0]}, got {n_clusters!r}")
    if bool((x.pow(2).sum(1) <= NORM_SQ_EPS).any()):
        raise ValueError("x must have no row of norm ~0 (normalised patches are undefined there); "
                         "drop them, e.g. with sample_patches(min_norm=...)")
    x = normalize_rows(x)
    init = torch.randperm(x.shape[0], generator=generator, device=generator.device)[:n_clusters]
    centroids = x[init.to(x.device)].clone()
    assign = None
    for _ in range(n_iter):
        sim = x @ centroids.T
        best, new_assign = sim.max(dim=1)
        if assign is not None and torch.equal(new_assign, assign):
            break
        assign = new_assign
        one_hot = F.one_hot(assign, n_clusters).to(x.dtype)  # (n, p): a matmul, deterministic on GPUs
        sums = one_hot.T @ x
        counts = one_hot.sum(0)
        empty = (counts == 0).nonzero().squeeze(1)
        if empty.numel():
            worst = best.argsort()[: empty.numel()]
            sums[empty] = x[worst]
        centroids = normalize_rows(sums)
    return centroids
