"""Experiments that train nothing: networks measured at initialisation (Figures 3a/c and 4), stored like runs.

Two stored computations, each a set of *independent draws*; in each draw one random initialisation and one fresh
probe (``n_images`` test images, each deformed once with the paper's CIFAR setting: 3x3 grid, 2 px) are measured
under every condition of the experiment, so that conditions are compared *within* a draw (paired) and draws are
independent of one another (network weights and probe images both vary between draws):

- :func:`smooth_init` (Figure 4, claim 4): the conditions are the smoothing σ of the filters; the same random
  draw is smoothed with every σ.
- :func:`pooling_init` (Figure 3a/c, claim 1): the conditions are the downsampling layers; the same generator
  builds every variant, so their convolutions start from the same weights.

Per network and layer each stores the normalized cosine distance (the paper's curve), its numerator (the mean
cosine distance between an image and its deformation) and denominator (the median cosine distance between two
different images), the noise-matched control, and the filters' normalized total variation, rounded to 4
significant digits to keep the JSON small.  Results live in the results store (``smooth-init/<key>.json``,
``pooling-init/<key>.json``, keyed by the parameters), so the chapters and the report read the same numbers and a
re-render computes nothing.

Cost (measured on one thread of a shared two-core AMD EPYC, load 5-10, 128 images): the stored sets of 150
networks (30 draws x 5 conditions) took 120 s (pooling-init) and 306 s (smooth-init) at half width, 822 s and
540 s at full width -- about 1 s and 4 s per network; alone on a core roughly half that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .. import data, deform, metrics, models
from ..checks import positive_int
from ..provenance import resolve_device
from ..vocabulary import DOWNSAMPLING
from .records import MAX_COSINE, MAX_NORMALISED_COSINE
from .store import Computed, CorruptResultError, ResultsStore

__all__ = ["RandomNetworks", "SmoothInit", "smooth_init", "pooling_init", "FIELDS"]

#: Per-layer fields of every network, ``(conditions, draws, layers)`` (``smoothness``: conv layers).
FIELDS = ("cosine", "distance", "median", "noise_cosine", "smoothness")


@dataclasses.dataclass
class RandomNetworks:
    """Random networks measured at initialisation; arrays are indexed by condition, then draw, then layer.

    Attributes:
        conditions: σ values (pixels, increasing) or downsampling names, in order.
        cosine: ``(conditions, draws, layers)`` normalized cosine distance (layer 0 = input); = distance / median.
        distance: the numerator, mean cosine distance between an image's and its deformation's representation.
        median: the denominator, median cosine distance between the representations of two different images.
        noise_cosine: normalized cosine distance of the noise-matched images.
        smoothness: ``(conditions, draws, conv layers)`` TV/‖W‖₁ of the filters.
        n_images: images per probe.
        width: channel multiplier of the networks (1.0 = the paper's).
        dataset: where the images came from.
        provenance: device, wall time, versions (from the store).
        source: the stored computation it was read from (its file: ``source.file``); ``None`` when built in
            memory.
    """

    conditions: list
    cosine: np.ndarray
    distance: np.ndarray
    median: np.ndarray
    noise_cosine: np.ndarray
    smoothness: np.ndarray
    n_images: int
    width: float
    dataset: str
    provenance: dict
    source: Computed | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def draws(self) -> int:
        """Independent draws (network and probe) per condition."""
        return int(self.cosine.shape[1])

    @property
    def ratio(self) -> np.ndarray:
        """``(conditions, draws, layers)`` deformation / noise-matched control (the relative stability)."""
        return self.cosine / self.noise_cosine

    def label(self, condition) -> str:
        return f"σ = {condition:g}" if isinstance(condition, float) else str(condition)

    def by_condition(self, field: str) -> dict[str, np.ndarray]:
        """``{label: (draws, layers)}`` of one field, for the profile plots."""
        values = getattr(self, field)
        return {self.label(c): values[i] for i, c in enumerate(self.conditions)}


class SmoothInit(RandomNetworks):
    """Figure 4's networks: the conditions are the smoothing σ (pixels)."""

    @property
    def sigmas(self) -> list[float]:
        return list(self.conditions)

    def by_sigma(self, field: str) -> dict[str, np.ndarray]:
        """``{"σ = s": (draws, layers)}`` of one field."""
        return self.by_condition(field)


def _round(values) -> list:
    """Nested lists of floats rounded to 4 significant digits."""
    return np.vectorize(lambda v: float(f"{v:.4g}"), otypes=[float])(np.asarray(values, dtype=float)).tolist()


def _measure(dataset: str, conditions: Sequence, build: Callable, draws: int, n_images: int, seed: int,
             device: str) -> dict:
    """Measure every condition in every draw; ``build(condition, generator, in_channels)`` returns the network."""
    dev = resolve_device(device)
    source = data.load_dataset(dataset, "test")
    out = {k: [[] for _ in conditions] for k in FIELDS}
    for d in range(draws):
        g = torch.Generator().manual_seed(seed * 100_000 + d)  # this draw's probe: images and deformations
        chosen = torch.randperm(len(source), generator=g)[:n_images]
        images = source.float_images(chosen)
        if images.shape[-1] < 32:
            images = data.pad_to_size(images, 32)
        deformed, _ = deform.deform(images, 3, 2.0, generator=g)
        images, deformed = images.to(dev), deformed.to(dev)
        for i, condition in enumerate(conditions):
            model = build(condition, torch.Generator().manual_seed(seed * 100_000 + d), images.shape[1]).to(dev)
            p = metrics.sensitivity_profile(model, images, deformed,
                                            generator=torch.Generator().manual_seed(seed * 100_000 + d))
            out["cosine"][i].append(p.normalized_cosine.tolist())
            out["distance"][i].append(p.cosine_deformed.mean(1).tolist())
            out["median"][i].append(p.cosine_median.tolist())
            out["noise_cosine"][i].append(p.noise_normalized_cosine.tolist())
            out["smoothness"][i].append(metrics.smoothness_profile(model))
    payload = {k: _round(v) for k, v in out.items()}
    payload["n_images"] = int(min(n_images, len(source)))
    payload["dataset"] = f"{source.name} ({source.source})"
    return payload


#: What each stored field can hold: ``distance`` and ``median`` are (means and medians of) cosine distances, in
#: [0, 2]; the normalised distances are at most :data:`~defstab_lib.runs.records.MAX_NORMALISED_COSINE` (the median
#: is refused at or below the metrics' floor); the filters' total variation is >= 0.
_BOUNDS = {"cosine": MAX_NORMALISED_COSINE, "distance": MAX_COSINE, "median": MAX_COSINE,
           "noise_cosine": MAX_NORMALISED_COSINE, "smoothness": np.inf}


def _check_ranges(computed: Computed, arrays: dict[str, np.ndarray]) -> None:
    """Raise :class:`CorruptResultError` naming the file and the field when a stored value is outside what its
    computation can produce (:data:`_BOUNDS`; NaN passes); its shapes are checked where they are used."""
    for field, high in _BOUNDS.items():
        values = arrays[field]
        bad = values[(values < 0) | (values > high)]
        if bad.size:
            raise CorruptResultError(f"{computed.path}: {field} holds {float(bad.flat[0])!r}, outside [0, {high:g}] (see "
                                     f"defstab_lib.runs.untrained._BOUNDS); delete the file or rerun with force to "
                                     f"recompute it")


def _load(cls, computed: Computed, conditions: list, width: float):
    p = computed.payload
    try:
        arrays = {k: np.array(p[k], dtype=float) for k in FIELDS}
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptResultError(f"{computed.path}: not a stored set of random networks ({type(exc).__name__}: "
                                 f"{exc}); delete the file or rerun with force to recompute it") from exc
    _check_ranges(computed, arrays)
    return cls(conditions=conditions, **arrays,
               n_images=p["n_images"], width=width, dataset=p["dataset"], provenance=computed.provenance,
               source=computed)


def _check(draws: int, n_images: int, width: float) -> None:
    positive_int("draws", draws)
    positive_int("n_images", n_images, minimum=2)  # the median distance needs pairs of images
    if not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")


def smooth_init(
    *,
    dataset: str = "fashion-mnist",
    sigmas: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 4.0),
    seeds: int = 30,
    n_images: int = 128,
    downsampling: str = "maxpool",
    width: float = 0.5,
    seed: int = 0,
    device: str = "auto",
    store: ResultsStore | None = None,
    force: bool = False,
    stored_only: bool = False,
) -> SmoothInit:
    """Measure (or load) Figure 4: networks with Gaussian-smoothed filters at initialisation.

    Args:
        dataset: ``"fashion-mnist"``, ``"mnist"`` or ``"cifar10"``; its test images (28x28 ones zero-padded to
            32x32).
        sigmas: smoothing standard deviations in pixels (``defstab_lib.models.make_vgg``'s ``smooth_sigma``).
        seeds: independent draws (network and probe); each is measured at every σ.
        n_images: images per probe, each deformed once (3x3 grid, 2 px).
        downsampling: the network's downsampling layer.
        width: channel multiplier (0.5: the ``cpu`` profile's trained networks; 1.0: the paper's).
        seed: seed of the draws.
        device: where to compute (``"auto"``: CUDA when present); not part of the stored key.
        store: the results store (default: the one at :func:`~defstab_lib.runs.store.results_root`).
        force: measure again even if stored.
        stored_only: raise ``LookupError`` (naming the file) instead of computing what is not stored.
    """
    _check(seeds, n_images, width)
    sigmas = sorted({float(s) for s in sigmas})
    if downsampling not in DOWNSAMPLING:
        raise ValueError(f"downsampling must be one of {', '.join(DOWNSAMPLING)}, got {downsampling!r}")
    params = {"dataset": dataset, "sigmas": sigmas, "seeds": int(seeds), "n_images": int(n_images),
              "downsampling": downsampling, "width": float(width), "seed": int(seed), "probe": "per-draw"}

    def build(sigma, generator, channels):
        return models.make_vgg("cifar", downsampling, in_channels=channels, width=width, smooth_sigma=sigma,
                               generator=generator)

    computed = (store or ResultsStore()).computed(
        "smooth-init", params, lambda: _measure(dataset, sigmas, build, seeds, n_images, seed, device), force=force,
        device=device, stored_only=stored_only)
    return _load(SmoothInit, computed, sigmas, float(width))


def pooling_init(
    *,
    dataset: str = "fashion-mnist",
    downsampling: Sequence[str] = DOWNSAMPLING,
    draws: int = 30,
    n_images: int = 128,
    width: float = 0.5,
    seed: int = 0,
    device: str = "auto",
    store: ResultsStore | None = None,
    force: bool = False,
    stored_only: bool = False,
) -> RandomNetworks:
    """Measure (or load) Figure 3a/c on many random networks: every downsampling variant at initialisation.

    Args:
        dataset: as :func:`smooth_init`.
        downsampling: the variants (:data:`~defstab_lib.vocabulary.DOWNSAMPLING`), each built in every draw from
            the same generator (shared convolution weights).
        draws: independent draws (network and probe).
        n_images, width, seed, device, store, force, stored_only: as :func:`smooth_init`.
    """
    _check(draws, n_images, width)
    variants = list(downsampling)
    bad = [v for v in variants if v not in DOWNSAMPLING]
    if bad or not variants or len(set(variants)) != len(variants):
        raise ValueError(f"downsampling must be distinct names from {', '.join(DOWNSAMPLING)}, got {variants!r}")
    params = {"dataset": dataset, "downsampling": variants, "draws": int(draws), "n_images": int(n_images),
              "width": float(width), "seed": int(seed), "probe": "per-draw"}

    def build(variant, generator, channels):
        return models.make_vgg("cifar", variant, in_channels=channels, width=width, generator=generator)

    computed = (store or ResultsStore()).computed(
        "pooling-init", params, lambda: _measure(dataset, variants, build, draws, n_images, seed, device),
        force=force, device=device, stored_only=stored_only)
    return _load(RandomNetworks, computed, variants, float(width))
