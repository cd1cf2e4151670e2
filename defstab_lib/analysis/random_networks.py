"""The numbers Figure 4's chapter states about its random networks (:class:`~defstab_lib.runs.SmoothInit`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..runs.untrained import SmoothInit

__all__ = ["smoothing_numbers"]


def smoothing_numbers(result: SmoothInit) -> dict[str, Any]:
    """What the smooth-init chapter glues: the last layer at the smallest and largest σ (mean and standard
    deviation over draws), whether it falls monotonically with σ, the layers that fall with every step of σ, the
    filters' TV, the deformation / noise ratio, and the last layer's numerator and denominator.  Sensitivities
    are normalized cosine distances; the layer-wise means exclude the input (layer 0)."""
    cos = result.cosine  # (sigmas, draws, layers)
    sig = result.sigmas
    means = cos.mean(1)  # (sigmas, layers)
    falls = np.all(np.diff(means, axis=0) < 0, axis=0)
    last = means[:, -1]
    sd = (lambda a: float(a.std(ddof=1)) if a.size > 1 else float("nan"))  # noqa: E731
    ratio = result.ratio[..., 1:].mean((1, 2))
    return {
        "sigma_small": f"{sig[0]:g}", "sigma_large": f"{sig[-1]:g}",
        "last_small": float(last[0]), "last_small_sd": sd(cos[0, :, -1]),
        "last_large": float(last[-1]), "last_large_sd": sd(cos[-1, :, -1]),
        "last_change": 100 * float(last[-1] / last[0] - 1),
        "last_monotone": "falls monotonically" if falls[-1] else "does not fall monotonically",
        "sigma_best_last": f"{sig[int(np.argmin(last))]:g}",
        "n_falling": int(falls[1:].sum()), "n_layers": int(means.shape[1] - 1),
        "mean_change": 100 * float(np.mean(means[-1, 1:] / means[0, 1:] - 1)),
        "tv_small": float(result.smoothness[0].mean()), "tv_large": float(result.smoothness[-1].mean()),
        "ratio_small": float(ratio[0]), "ratio_large": float(ratio[-1]),
        "ratio_direction": "grows" if ratio[-1] > ratio[0] else "does not grow",
        "median_last_small": float(result.median[0, :, -1].mean()),
        "median_last_large": float(result.median[-1, :, -1].mean()),
        "distance_last_small": float(result.distance[0, :, -1].mean()),
        "distance_last_large": float(result.distance[-1, :, -1].mean()),
        "n_networks": int(cos.shape[0] * cos.shape[1]), "n_images_used": int(result.n_images),
    }
