"""Distances between representations: cosine and Euclidean, between matching rows and between all pairs, and the
paper's normalized distance at one layer (mean paired distance over the median pairwise distance).

See :mod:`defstab_lib.metrics` for the definitions and the precision of each computation.
"""

from __future__ import annotations

import torch

#: The distances a profile is measured in.
METRICS: tuple[str, ...] = ("cosine", "euclidean")


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not allowed; allowed: {', '.join(repr(m) for m in METRICS)}")


def _flat64(reps: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(reps, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, ...), got {type(reps).__name__}")
    if reps.dim() < 1:
        raise ValueError(f"{name} must have a batch dimension (N, ...), got shape {tuple(reps.shape)}")
    return reps.reshape(reps.shape[0], -1).to(torch.float64)


def _cosine_from_inner(inner: torch.Tensor, sq_a: torch.Tensor, sq_b: torch.Tensor) -> torch.Tensor:
    """``1 - <a,b> / (|a| |b|)`` from inner products and squared norms (broadcasting), clamped to [0, 2]."""
    product = sq_a * sq_b
    both_zero = (sq_a == 0) & (sq_b == 0)
    similarity = torch.where(product > 0, inner / product.clamp_min(torch.finfo(product.dtype).tiny).sqrt(), 0.0)
    similarity = torch.where(both_zero, 1.0, similarity)
    return (1.0 - similarity).clamp(0.0, 2.0)


def paired_distances(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """Distances ``d(a_i, b_i)`` between matching rows, ``(N,)`` float64.

    Args:
        a, b: representations ``(N, ...)`` of the same shape (each image flattened to a vector).
        metric: ``"cosine"`` or ``"euclidean"``.

    >>> x = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    >>> paired_distances(x, torch.tensor([[0.0, 2.0], [3.0, 4.0]])).round(decimals=12)
    tensor([1., 0.], dtype=torch.float64)
    >>> paired_distances(x, 2 * x, "euclidean")
    tensor([1., 5.], dtype=torch.float64)
    """
    _check_metric(metric)
    a, b = _flat64(a, "a"), _flat64(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    cosine, euclidean = _paired(a, b)
    return cosine if metric == "cosine" else euclidean


def _paired(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and Euclidean distances ``(n,)`` (float64) between matching rows of ``(n, D)`` matrices.

    Computed from differences, without cancellation, so that float32 inputs keep float32's relative precision
    even for tiny distances: ``d_cos = |a/|a| - b/|b||² / 2`` and ``d_euc = |a - b|``.  Half precision is
    widened to float32 first.
    """
    dtype = torch.promote_types(a.dtype, torch.float32)
    a, b = a.to(dtype), b.to(dtype)
    norm_a, norm_b = torch.linalg.vector_norm(a, dim=1), torch.linalg.vector_norm(b, dim=1)
    tiny = torch.finfo(dtype).tiny
    unit_diff = a * (1.0 / norm_a.clamp_min(tiny))[:, None] - b * (1.0 / norm_b.clamp_min(tiny))[:, None]
    cosine = (torch.linalg.vector_norm(unit_diff, dim=1).to(torch.float64) ** 2 / 2).clamp(0.0, 2.0)
    zero_a, zero_b = norm_a == 0, norm_b == 0
    cosine = torch.where(zero_a & zero_b, 0.0, torch.where(zero_a | zero_b, 1.0, cosine))
    euclidean = torch.linalg.vector_norm(a - b, dim=1).to(torch.float64)
    return cosine, euclidean


def _pairwise(reps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and Euclidean distance matrices ``(N, N)`` of float64 ``(N, D)`` rows, from one Gram matrix."""
    gram = reps @ reps.T
    sq = gram.diagonal().clone()
    cosine = _cosine_from_inner(gram, sq[:, None], sq[None, :])
    euclidean = (sq[:, None] + sq[None, :] - 2.0 * gram).clamp_min(0.0).sqrt()
    cosine.fill_diagonal_(0.0)
    euclidean.fill_diagonal_(0.0)
    return cosine, euclidean


def pairwise_distances(reps: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """All distances ``d(r_i, r_j)``, an ``(N, N)`` float64 matrix with a zero diagonal.

    Computed from one Gram matrix ``R Rᵀ`` (memory ``N × N``, never ``N × N × D``).

    Args:
        reps: representations ``(N, ...)``, each image flattened to a vector.
        metric: ``"cosine"`` or ``"euclidean"``.

    >>> pairwise_distances(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]))
    tensor([[0., 1., 0.],
            [1., 0., 1.],
            [0., 1., 0.]], dtype=torch.float64)
    """
    _check_metric(metric)
    cosine, euclidean = _pairwise(_flat64(reps, "reps"))
    return cosine if metric == "cosine" else euclidean


def _upper_median(matrix: torch.Tensor) -> torch.Tensor:
    """Median of the entries above the diagonal (pairs i < j), as ``numpy.median``."""
    n = matrix.shape[0]
    rows, cols = torch.triu_indices(n, n, offset=1, device=matrix.device)
    return torch.quantile(matrix[rows, cols], 0.5)


def median_pairwise_distance(reps: torch.Tensor, metric: str = "cosine") -> float:
    """The median of ``d(r_i, r_j)`` over the pairs ``i < j`` (the normalisation of the paper's measure).

    Args:
        reps: representations ``(N, ...)`` with ``N >= 2``.
        metric: ``"cosine"`` or ``"euclidean"``.

    >>> median_pairwise_distance(torch.tensor([[0.0], [1.0], [3.0]]), "euclidean")   # pairs: 1, 3, 2
    2.0
    """
    _check_metric(metric)
    reps = _flat64(reps, "reps")
    if reps.shape[0] < 2:
        raise ValueError(f"reps must hold at least 2 images to form a pair, got {reps.shape[0]}")
    cosine, euclidean = _pairwise(reps)
    return float(_upper_median(cosine if metric == "cosine" else euclidean))


def normalized_distance(clean: torch.Tensor, deformed: torch.Tensor, metric: str = "cosine") -> float:
    """The paper's measure at one layer: ``mean_i d(clean_i, deformed_i) / median_{i<j} d(clean_i, clean_j)``.

    Args:
        clean: representations of the clean images ``(N, ...)``, ``N >= 2``.
        deformed: representations of their deformed (or noisy) versions, the same shape.
        metric: ``"cosine"`` (the normalized cosine distance) or ``"euclidean"``.

    >>> clean = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> normalized_distance(clean, clean)
    0.0
    """
    _check_metric(metric)
    c, d = _flat64(clean, "clean"), _flat64(deformed, "deformed")
    if c.shape != d.shape:
        raise ValueError(
            f"clean and deformed must have the same shape, got {tuple(clean.shape)} and {tuple(deformed.shape)}"
        )
    if c.shape[0] < 2:
        raise ValueError(f"clean must hold at least 2 images to form a pair, got {c.shape[0]}")
    index = METRICS.index(metric)
    return float(_paired(c, d)[index].mean() / _upper_median(_pairwise(c)[index]))
