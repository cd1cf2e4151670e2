"""Experiments that train nothing: networks measured at initialisation (Figure 4), stored like runs.

:func:`smooth_init` measures the CIFAR network initialised with Gaussian-smoothed filters (paper section 4.2) for a
range of σ: per-layer sensitivity to the paper's CIFAR deformations (3x3 grid, 2 px), the noise-matched control,
and the filters' normalized total variation.  The result is stored in the results store
(``smooth-init/<key>.json``, keyed by the parameters), so that the chapter and the reproduction report read the
same numbers and a re-render computes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from .store import ResultsStore

__all__ = ["SmoothInit", "smooth_init"]


@dataclasses.dataclass
class SmoothInit:
    """Figure 4's measurements; arrays are indexed by σ (in ``sigmas`` order), then network, then layer.

    Attributes:
        sigmas: the smoothing standard deviations, pixels, increasing.
        cosine, noise_cosine, ratio: ``(sigmas, seeds, layers)``: normalized cosine distance of the deformed
            images, of the noise-matched images, and deformation / noise (layer 0 = input).
        median: ``(sigmas, seeds, layers)``: median pairwise cosine distance between the clean images.
        smoothness: ``(sigmas, seeds, conv layers)``: TV/‖W‖₁ of the filters.
        n_images: images measured.
        dataset: where the images came from.
        provenance: device, wall time, versions (from the store).
    """

    sigmas: list[float]
    cosine: np.ndarray
    noise_cosine: np.ndarray
    ratio: np.ndarray
    median: np.ndarray
    smoothness: np.ndarray
    n_images: int
    dataset: str
    provenance: dict

    def by_sigma(self, field: str) -> dict[str, np.ndarray]:
        """``{"σ = s": (seeds, layers)}`` of one field, for the profile plots."""
        values = getattr(self, field)
        return {f"σ = {s:g}": values[i] for i, s in enumerate(self.sigmas)}


def smooth_init(
    *,
    dataset: str = "fashion-mnist",
    sigmas: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 4.0),
    seeds: int = 5,
    n_images: int = 128,
    downsampling: str = "maxpool",
    seed: int = 0,
    device: str = "auto",
    store: ResultsStore | None = None,
    force: bool = False,
) -> SmoothInit:
    """Measure (or load) Figure 4: networks with Gaussian-smoothed filters at initialisation.

    Args:
        dataset: ``"fashion-mnist"``, ``"mnist"`` or ``"cifar10"``; its test images (28x28 ones zero-padded to
            32x32).
        sigmas: smoothing standard deviations in pixels (``defstab_lib.models.make_vgg``'s ``smooth_sigma``).
        seeds: random networks per σ.
        n_images: images measured (chosen with ``seed``), each deformed once (3x3 grid, 2 px).
        downsampling: the network's downsampling layer.
        seed: seed of the images, their deformations, and (with the network's index) of the networks.
        device: where to compute (``"auto"``: CUDA when present); not part of the stored key.
        store: the results store (default: the one at :func:`~defstab_lib.runs.store.results_root`).
        force: measure again even if stored.
    """
    from .. import data, deform, metrics, models

    sigmas = sorted({float(s) for s in sigmas})
    params = {"dataset": dataset, "sigmas": sigmas, "seeds": int(seeds), "n_images": int(n_images),
              "downsampling": downsampling, "seed": int(seed)}

    def compute() -> dict:
        from ..provenance import resolve_device

        dev = resolve_device(device)
        source = data.load_dataset(dataset, "test")
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(len(source), generator=generator)[:n_images]
        images = source.float_images(chosen)
        if images.shape[-1] < 32:
            images = data.pad_to_size(images, 32)
        deformed, _ = deform.deform(images, 3, 2.0, generator=generator)
        images, deformed = images.to(dev), deformed.to(dev)
        out = {k: [] for k in ("cosine", "noise_cosine", "ratio", "median", "smoothness")}
        for sigma in sigmas:
            rows = {k: [] for k in out}
            for s in range(seeds):
                g = torch.Generator().manual_seed(seed * 1000 + s)
                model = models.make_vgg("cifar", downsampling, in_channels=images.shape[1], smooth_sigma=sigma,
                                        generator=g).to(dev)
                p = metrics.sensitivity_profile(model, images, deformed,
                                                generator=torch.Generator().manual_seed(seed * 1000 + s))
                rows["cosine"].append(p.normalized_cosine.tolist())
                rows["noise_cosine"].append(p.noise_normalized_cosine.tolist())
                rows["ratio"].append(p.cosine_ratio.tolist())
                rows["median"].append(p.cosine_median.tolist())
                rows["smoothness"].append(metrics.smoothness_profile(model))
            for k in out:
                out[k].append(rows[k])
        out["n_images"] = int(images.shape[0])
        out["dataset"] = f"{source.name} ({source.source})"
        return out

    record = (store or ResultsStore()).computed("smooth-init", params, compute, force=force, device=device)
    p = record["payload"]
    return SmoothInit(
        sigmas=sigmas, cosine=np.array(p["cosine"]), noise_cosine=np.array(p["noise_cosine"]),
        ratio=np.array(p["ratio"]), median=np.array(p["median"]), smoothness=np.array(p["smoothness"]),
        n_images=p["n_images"], dataset=p["dataset"], provenance=record["provenance"],
    )
