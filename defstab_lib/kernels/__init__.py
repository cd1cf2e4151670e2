"""The kernel view of stability (Bietti and Mairal): convolutional kernel networks and a scattering baseline.

- :mod:`~defstab_lib.kernels.functional` -- the kernel ``kappa(t) = exp(alpha (t - 1))``, patches, the kernel map,
  the stable Nystrom projection ``kappa(Z Z^T)^(-1/2)``, Gaussian pooling, kernel approximation error;
- :mod:`~defstab_lib.kernels.anchors` -- patch sampling and spherical k-means (anchors without labels);
- :mod:`~defstab_lib.kernels.ckn` -- :class:`CKNLayer`, :class:`CKN` (``forward_features``: 0 = input, ``k`` =
  layer ``k``'s output) and layer-wise unsupervised :func:`fit_anchors`;
- :mod:`~defstab_lib.kernels.training` -- end-to-end training of the anchors with a head;
- :mod:`~defstab_lib.kernels.scattering` -- kymatio's 2-D scattering with the same probing interface;
- :mod:`~defstab_lib.kernels.bound` -- least-squares fits of the Bietti-Mairal bound's terms, with standard errors;
- :mod:`~defstab_lib.kernels.linear` -- a linear probe (logistic regression) on fixed features;
- :mod:`~defstab_lib.kernels.taps` -- :class:`FeatureTaps`: a kernel model's features as named submodules, for the
  probe and the metrics.

A leaf of the library: nothing here trains a CNN, reads the results store or knows the book's experiments (the
kernel-view chapter's stored measurements are :mod:`defstab_lib.runs.kernel_view`).

>>> g = torch.Generator().manual_seed(0)
>>> net = fit_anchors(CKN(1, (8, 16)), torch.rand(8, 1, 16, 16), n_patches=200, generator=g)
>>> [tuple(f.shape) for f in net.forward_features(torch.rand(2, 1, 16, 16))]
[(2, 1, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]
"""

import torch  # noqa: F401 - the doctest above runs in this namespace

from .anchors import sample_patches, spherical_kmeans
from .ckn import CKN, CKNLayer, default_pool_sigma, fit_anchors
from .functional import (
    exp_kernel,
    extract_patches,
    gaussian_pool,
    gaussian_window,
    homogeneous_kernel,
    inverse_sqrt_psd,
    kernel_approximation_error,
    kernel_map,
    normalize_rows,
    nystrom_features,
    nystrom_matrix,
)
from .scattering import Scattering, import_scattering2d
from .taps import FeatureTaps
from .training import linear_head, project_anchors_, train_end_to_end

__all__ = [
    "CKN",
    "CKNLayer",
    "FeatureTaps",
    "Scattering",
    "default_pool_sigma",
    "exp_kernel",
    "extract_patches",
    "fit_anchors",
    "gaussian_pool",
    "gaussian_window",
    "homogeneous_kernel",
    "import_scattering2d",
    "inverse_sqrt_psd",
    "kernel_approximation_error",
    "kernel_map",
    "linear_head",
    "normalize_rows",
    "nystrom_features",
    "nystrom_matrix",
    "project_anchors_",
    "sample_patches",
    "spherical_kmeans",
    "train_end_to_end",
]
