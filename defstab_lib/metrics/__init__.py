"""Measurements: sensitivity of representations to deformation (paper section 2.1) and filter smoothness (4.1).

**Normalized cosine distance.**  For a layer's representation ``r`` (flattened to a vector per image), images
``x_1..x_N`` and their deformations ``τ(x_i)``::

    mean_i d(r(x_i), r(τ(x_i)))  /  median_{i<j} d(r(x_i), r(x_j))

with ``d`` the cosine distance ``1 - <a, b> / (|a| |b|)`` (the paper; N = 128), or the Euclidean distance
``|a - b|`` (the variant the paper reports as qualitatively similar).  The median is over the ``N (N - 1) / 2``
pairs ``i < j`` of the *same* clean images (never the zero diagonal); for an even number of pairs it is the
mean of the two middle values, as ``numpy.median``.  By convention the cosine distance between two zero vectors
is 0 and between a zero and a non-zero vector 1.  Distances between matching images are computed from
differences (no cancellation, so float32 keeps its relative precision even for distances of 1e-4); the pairwise
ones come from a float64 Gram matrix (``1 - cos`` cancels: deep layers of smooth networks reach medians of 1e-3).
Results are float64.

**Noise-matched control** (Petrini, Favero, Geiger, Wyart 2021, *Relative stability toward diffeomorphisms
indicates performance in deep nets*): the same measurement with ``x_i + η_i`` in place of ``τ(x_i)``, where
``η_i`` is isotropic Gaussian noise rescaled to the L2 norm of ``τ(x_i) - x_i`` (:func:`noise_matched`).  The
ratio deformation / noise (the median cancels) is their *relative stability* ``R_f``; they define it with mean
squared Euclidean distances, we report it in the profile's own metrics (cosine, and Euclidean not squared).

**Filter smoothness**: the normalized total variation ``TV(W) / |W|_1`` of a conv weight (:func:`filter_smoothness`),
0 for spatially constant filters and about 1.857 for the paper's random initialisation (the paper's footnote 1
says "approximately 1.87"; see :func:`filter_smoothness`).

The main entry point, :func:`sensitivity_profile`, measures every layer at once: per batch one forward pass of
the clean, deformed and noise-matched images together, in eval mode under ``no_grad``, on the images' device.

The package's modules, each re-exported here (``from defstab_lib import metrics; metrics.sensitivity_profile``):
:mod:`.distances` (cosine and Euclidean distances, the normalized distance at one layer), :mod:`.sensitivity`
(:func:`sensitivity_profile`, the noise-matched control), :mod:`.changes` (relative changes, the left side of the
Bietti-Mairal bound) and :mod:`.smoothness` (filter total variation).
"""

# NORMALISER_FLOOR is public but not in __all__, so it is re-exported as ``X as X`` (not part of ``import *``).
from .changes import change_sweep, relative_change
from .distances import (
    METRICS,
    median_pairwise_distance,
    normalized_distance,
    paired_distances,
    pairwise_distances,
)
from .sensitivity import (
    NORMALISER_FLOOR as NORMALISER_FLOOR,
    SensitivityProfile,
    noise_matched,
    normalized_cosine_distance,
    normalized_euclidean_distance,
    sensitivity_profile,
)
from .smoothness import filter_smoothness, smoothness_profile, total_variation

__all__ = [
    "METRICS",
    "paired_distances",
    "pairwise_distances",
    "median_pairwise_distance",
    "normalized_distance",
    "noise_matched",
    "SensitivityProfile",
    "sensitivity_profile",
    "normalized_cosine_distance",
    "normalized_euclidean_distance",
    "relative_change",
    "change_sweep",
    "total_variation",
    "filter_smoothness",
    "smoothness_profile",
]
