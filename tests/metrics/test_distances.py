"""Distances (``defstab_lib/metrics/distances.py``): normalized cosine and Euclidean distances against a
numpy loop, their invariances and precision, the median over pairs."""

import itertools
import math

import numpy as np
import pytest
import torch

from defstab_lib.metrics import (
    distances,
    median_pairwise_distance,
    normalized_distance,
    paired_distances,
    pairwise_distances,
)

from tests.helpers import gen, reference


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("n, shape", [(2, (5,)), (7, (3, 4, 4)), (10, (2, 3, 3))])
def test_agrees_with_a_numpy_loop_reference(metric, n, shape):
    g = gen(n)
    clean = torch.randn(n, *shape, generator=g)
    deformed = clean + 0.3 * torch.randn(n, *shape, generator=g)
    got = normalized_distance(clean, deformed, metric)
    assert math.isclose(got, reference(clean.numpy(), deformed.numpy(), metric), rel_tol=1e-10)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_pairwise_matrix_agrees_with_loops(metric):
    reps = torch.rand(6, 3, 2, 2, generator=gen(1))
    matrix = pairwise_distances(reps, metric)
    assert matrix.shape == (6, 6) and matrix.dtype == torch.float64
    for i, j in itertools.product(range(6), repeat=2):
        a, b = reps[i].double().flatten().numpy(), reps[j].double().flatten().numpy()
        if metric == "cosine":
            expected = 0.0 if i == j else 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        else:
            expected = np.linalg.norm(a - b)
        assert abs(float(matrix[i, j]) - expected) < 1e-12


def test_distance_of_a_representation_to_itself_is_zero():
    x = torch.randn(9, 4, 5, 5, generator=gen(2))
    assert torch.equal(paired_distances(x, x), torch.zeros(9, dtype=torch.float64))
    assert torch.equal(paired_distances(x, x, "euclidean"), torch.zeros(9, dtype=torch.float64))
    assert normalized_distance(x, x) == 0.0 and normalized_distance(x, x, "euclidean") == 0.0


def test_cosine_distance_values_and_zero_vectors():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [2.0, 2.0], [0.0, 0.0], [1.0, 0.0]])
    assert paired_distances(a, b).tolist() == pytest.approx([1.0, 2.0, 0.0, 0.0, 1.0], abs=1e-15)
    assert pairwise_distances(torch.cat([a, b])).min() >= 0


def test_tiny_distances_keep_their_relative_precision_in_float32():
    g = gen(8)
    a = torch.rand(4, 20000, generator=g)
    b = a + 1e-3 * torch.randn(4, 20000, generator=g)  # cosine distances of about 1e-7
    exact = paired_distances(a.double(), b.double())
    assert (exact < 1e-5).all()
    assert torch.allclose(distances._paired(a, b)[0], exact, rtol=1e-3)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_invariant_to_scaling_the_representation_by_a_positive_constant(metric):
    g = gen(3)
    clean = torch.rand(12, 8, 4, 4, generator=g, dtype=torch.float64)
    deformed = clean + 0.1 * torch.randn(12, 8, 4, 4, generator=g, dtype=torch.float64)
    base = normalized_distance(clean, deformed, metric)
    for c in (1e-3, 0.5, 7.0, 1e4):
        assert math.isclose(normalized_distance(c * clean, c * deformed, metric), base, rel_tol=1e-10)
    if metric == "cosine":  # cosine distance is even invariant per image
        scales = torch.rand(12, 1, 1, 1, generator=g, dtype=torch.float64) + 0.1
        assert math.isclose(normalized_distance(scales * clean, scales * deformed), base, rel_tol=1e-10)


def test_median_is_over_pairs_i_below_j_only():
    # three points on a line: pair distances 1, 3, 2 -> median 2.  With the zero diagonal the 9 entries of the
    # full matrix (0, 0, 0, 1, 1, 2, 2, 3, 3) would give 1; with the 6 ordered pairs (1, 1, 2, 2, 3, 3), 2 as well
    # but over a different set -- so also check four points, where counting the diagonal changes the answer.
    line = torch.tensor([[0.0], [1.0], [3.0]])
    assert median_pairwise_distance(line, "euclidean") == 2.0
    four = torch.tensor([[0.0], [1.0], [3.0], [7.0]])  # pairs: 1, 3, 7, 2, 6, 4 -> median (3 + 4) / 2
    assert median_pairwise_distance(four, "euclidean") == 3.5
    full = pairwise_distances(four, "euclidean").flatten()
    assert float(full.median()) != 3.5 and float(np.median(full.numpy())) != 3.5  # the wrong answers differ
    deformed = four + torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    assert normalized_distance(four, deformed, "euclidean") == 1.0 / 3.5


def test_at_least_two_images_are_needed():
    with pytest.raises(ValueError, match="at least 2"):
        normalized_distance(torch.rand(1, 3), torch.rand(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        median_pairwise_distance(torch.rand(1, 3))


def test_bad_metric_raises_listing_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: 'cosine', 'euclidean'"):
        normalized_distance(torch.rand(3, 2), torch.rand(3, 2), "l1")
