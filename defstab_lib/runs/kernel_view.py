"""The experiments of the chapter "The kernel view of stability", measured once and stored: the kernel baselines
and the translation sweeps of the ``pooling`` runs' networks.

:func:`kernel_baselines` measures, on exactly the probe images and deformations of the ``pooling`` runs
(:func:`defstab_lib.runs.build_run_data` of the experiment's first run):

- **convolutional kernel networks** (:class:`~defstab_lib.kernels.CKN`: 3 layers of 3x3 patches, subsampling 2,
  anchors by spherical k-means on training images) whose every layer pools with a Gaussian of standard deviation
  ``sigma`` (pixels of the layer's input) for each ``sigma`` in ``pool_sigmas`` -- Gaussian pooling of growing
  scale, the family for which Bietti and Mairal prove their bound; anchors are refitted for every ``sigma`` and
  every seed;
- **scattering transforms** (:class:`~defstab_lib.kernels.Scattering`, orders 0-2, ``L`` orientations) averaged
  at scale ``2^J`` for each ``J`` in ``scattering_J`` (Mallat's bound);

and for each of them

- the **bound sweep** of the runs (the first ``bound_images`` probe images deformed at each strength, with the
  runs' own random deformations when ``strengths`` are the runs' ``bound_strengths``): per layer and image the
  change ``||r(tau x) - r(x)||`` relative to ``||r(x)||`` (``"change"``, as the runs store it) and relative to
  ``||x||`` (``"change_over_input"``, the bound's own normalisation);
- the same for **translations** of the same images by whole pixels (``||grad tau||_inf = 0``;
  :func:`~defstab_lib.translations.translation_sweep`, the translations that
  :func:`cnn_translation_sweeps` measures for the CNNs);
- the **per-layer sensitivity** (the paper's normalized cosine distance, with the runs' noise-matched control);
- the **test accuracy of a linear classifier** on the last layer's features (CKN: one per ``sigma``, anchors of
  seed 0; scattering: the largest ``J``; and the raw pixels as a reference), trained on the first ``n_train``
  images of the seed-0 run's training subset and tested on the runs' test subset
  (:func:`~defstab_lib.kernels.linear.linear_probe`).

Layers: the CKN's are ``0`` (input), ``1..3`` (each layer's pooled output); a scattering transform's are ``0``
(input), order 0, order 1, order 2 and ``"all"`` (every coefficient, the representation ``Phi``), so that the last
layer of every sweep is the whole representation.

The result is stored in the results store as ``kernel-baselines/<key>.json`` (keyed by every parameter), so that
the chapter and the report read the same numbers and a re-render computes nothing.

:func:`cnn_translation_sweeps` measures the same translations for the ``pooling`` runs' stored networks, at
initialisation and after training, from their checkpoints (no training), stored in the results store
(``kernel-baselines/<key>.json``, keyed by the runs and the bytes of their stored results, so that a clone
without the checkpoints still loads it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .. import checks
from ..kernels import CKN, Scattering, fit_anchors
from ..kernels.linear import linear_probe
from ..kernels.taps import FeatureTaps
from ..metrics import change_sweep, sensitivity_profile
from ..models import make_vgg
from ..provenance import resolve_device
from ..translations import TRANSLATION_LENGTHS, TRANSLATION_SEED_OFFSET, translation_sweep
from .config import run_key
from .execute import build_run_data
from .experiments import experiment_configs
from .kernel_records import FAMILIES, CNNTranslations, KernelBaselines
from .store import ResultsStore

__all__ = ["KernelBaselines", "kernel_baselines", "CNNTranslations", "cnn_translation_sweeps", "EXPERIMENT",
           "CKN_LAYERS", "FAMILIES"]

#: The results store's folder of the chapter's stored measurements (these and the CNNs' translation sweeps).
EXPERIMENT = "kernel-baselines"
#: Architecture of the CKN (fixed: part of every stored key through :func:`kernel_baselines`' parameters).
CKN_LAYERS = 3
CKN_PATCH = 3
CKN_SUBSAMPLING = 2
CKN_ALPHA = 4.0


@torch.no_grad()
def _features(model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int) -> torch.Tensor:
    """``(N, D)`` float32 flattened outputs of ``model`` for uint8 or float images, computed in batches."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].to(device)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        out.append(model(x).flatten(1).float())
    return torch.cat(out)


def _float_list(name: str, values: Sequence[float], *, minimum: float = 0.0, strict: bool = False) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of numbers, got {values!r}")
    out = [checks.nonnegative_float(name, v, strict=strict) for v in values]
    if any(v < minimum for v in out):
        raise ValueError(f"{name} must be >= {minimum}, got {values!r}")
    return out


def kernel_baselines(
    *,
    dataset: str = "fashion-mnist",
    profile: str = "cpu",
    strengths: Sequence[float] | None = None,
    pool_sigmas: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 4.0),
    seeds: int = 3,
    n_anchors: int = 64,
    scattering_J: Sequence[int] = (1, 2, 3),
    scattering_L: int = 8,
    translation_lengths: Sequence[int] = (1, 2, 3, 4),
    n_train: int = 5000,
    n_fit_images: int = 500,
    n_patches: int = 5000,
    kmeans_iter: int = 20,
    device: str = "auto",
    store=None,
    force: bool = False,
    stored_only: bool = False,
) -> KernelBaselines:
    """Measure (or load) the kernel baselines; see the module doc.

    Args:
        dataset: the ``pooling`` runs' dataset (``"fashion-mnist"``, ``"mnist"``, ``"cifar10"``).
        profile: the ``pooling`` runs' profile (``"smoke"``, ``"cpu"``, ``"paper"``): fixes the probe images, the
            deformations, the training subset and the test subset.
        strengths: deformation strengths ``C`` (pixels) of the bound sweep; ``None``: the runs' own
            ``bound_strengths`` (then the deformations are exactly the runs').
        pool_sigmas: the CKN's per-layer Gaussian pooling std (pixels of each layer's input), each ``>= 0``
            (0: subsampling without pooling).
        seeds: anchor draws (k-means initialisations and patch samples) per ``sigma``.
        n_anchors: anchors (= channels) of every CKN layer.
        scattering_J: averaging scales ``2^J`` of the scattering transforms (``2^J <= image size``).
        scattering_L: orientations per octave.
        translation_lengths: lengths of the translations, whole pixels.
        n_train: training images of the linear probes (at most the runs' training subset).
        n_fit_images, n_patches, kmeans_iter: images whose patches the anchors are fitted on, patches sampled per
            layer, k-means iterations.
        device: where to compute (``"auto"``: CUDA when present); not part of the stored key.
        store: the results store (default: :class:`~defstab_lib.runs.ResultsStore` at its default root).
        force: measure again even if stored.
        stored_only: raise ``LookupError`` (naming the file) instead of computing what is not stored.

    Raises:
        ValueError: a bad parameter, before any work.
    """
    if strengths is not None:
        strengths = _float_list("strengths", strengths, strict=True)
    pool_sigmas = _float_list("pool_sigmas", pool_sigmas)
    seeds = checks.positive_int("seeds", seeds)
    n_anchors = checks.positive_int("n_anchors", n_anchors)
    if isinstance(scattering_J, (str, bytes)) or not isinstance(scattering_J, Sequence) or not scattering_J:
        raise ValueError(f"scattering_J must be a non-empty list of ints >= 1, got {scattering_J!r}")
    scattering_J = sorted({checks.positive_int("scattering_J", j) for j in scattering_J})
    scattering_L = checks.positive_int("scattering_L", scattering_L)
    if isinstance(translation_lengths, (str, bytes)) or not isinstance(translation_lengths, Sequence) \
            or not translation_lengths:
        raise ValueError(f"translation_lengths must be a non-empty list of whole pixels >= 1, got "
                         f"{translation_lengths!r}")
    translation_lengths = [checks.positive_int("translation_lengths", t) for t in translation_lengths]
    n_train = checks.positive_int("n_train", n_train, minimum=10)
    n_fit_images = checks.positive_int("n_fit_images", n_fit_images)
    n_patches = checks.positive_int("n_patches", n_patches)
    kmeans_iter = checks.positive_int("kmeans_iter", kmeans_iter)
    if n_patches < n_anchors:
        raise ValueError(f"n_patches must be at least n_anchors={n_anchors}, got {n_patches}")
    config = experiment_configs("pooling", profile, dataset=dataset, seeds=1)[0]
    if strengths is not None:
        config = dataclasses.replace(config, probe=dataclasses.replace(config.probe, bound_strengths=tuple(strengths)))
    size = config.data.image_size
    if 2 ** scattering_J[-1] > size:
        raise ValueError(f"scattering_J must satisfy 2**J <= {size} (the image size), got {scattering_J}")
    params = {
        "layout": 2, "dataset": dataset, "profile": profile, "run": run_key(config),
        "strengths": list(config.probe.bound_strengths), "pool_sigmas": pool_sigmas, "seeds": seeds,
        "n_anchors": n_anchors, "ckn": {"layers": CKN_LAYERS, "patch": CKN_PATCH, "subsampling": CKN_SUBSAMPLING,
                                        "alpha": CKN_ALPHA},
        "scattering_J": scattering_J, "scattering_L": scattering_L, "translation_lengths": translation_lengths,
        "n_train": n_train,
        "n_fit_images": n_fit_images, "n_patches": n_patches, "kmeans_iter": kmeans_iter,
    }

    def compute() -> dict[str, Any]:
        return _compute(config, params, resolve_device(device))

    return KernelBaselines.from_computed((store or ResultsStore()).computed(
        EXPERIMENT, params, compute, force=force, device=device, stored_only=stored_only))


def _profile(model: nn.Module, layers: list, data, batch_size: int = 128) -> dict[str, list[float]]:
    # a kernel network with few anchors can map every probe image to one point at a layer: NaN there, not an error
    p = sensitivity_profile(model, data.probe, data.deformed, noise=data.noisy, layers=layers, batch_size=batch_size,
                            degenerate="nan")
    return {"cosine": p.normalized_cosine.tolist(), "noise_cosine": p.noise_normalized_cosine.tolist(),
            "median": p.cosine_median.tolist()}


def _compute(config, params: dict[str, Any], device: torch.device) -> dict[str, Any]:
    timing: dict[str, float] = {}
    start = time.perf_counter()
    data = build_run_data(config, device)
    m = data.bound[0][1].shape[0]
    probe_images = data.probe[:m]
    moved = [b[1] for b in data.bound]
    translations = translation_sweep(probe_images, params["translation_lengths"],
                                     generator=torch.Generator().manual_seed(config.probe.seed + TRANSLATION_SEED_OFFSET))
    shifted = [t[1] for t in translations]

    def sweeps_of(model: nn.Module, layers: list, batch_size: int) -> dict[str, Any]:
        return {"deformations": change_sweep(model, probe_images, moved, layers, batch_size=batch_size),
                "translations": change_sweep(model, probe_images, shifted, layers, batch_size=batch_size)}
    train_x = data.batches.images[: params["n_train"]]
    train_y = data.batches.labels[: params["n_train"]].to(device)
    fit_images = data.batches.images[: params["n_fit_images"]].to(device).float() / 255.0
    timing["data_s"] = time.perf_counter() - start

    # small batches on the CPU: the CKN's first layer makes (B, p, H, W) maps that leave the cache at B ~ 100
    small, large = (32, 256) if device.type == "cpu" else (256, 256)

    def probe_accuracy(model: nn.Module, seed: int, batch_size: int) -> dict[str, Any]:
        t = time.perf_counter()
        result = linear_probe(_features(model, train_x, device, batch_size), train_y,
                              _features(model, data.test_x, device, batch_size), data.test_y,
                              generator=torch.Generator().manual_seed(seed)).to_json()
        timing["linear_probe_s"] = timing.get("linear_probe_s", 0.0) + time.perf_counter() - t
        return result

    pixels = probe_accuracy(nn.Identity(), 0, large)
    ckn = {"pool_sigmas": params["pool_sigmas"], "pooling_scales": [], "sweeps": [], "profiles": [], "accuracy": []}
    for sigma in params["pool_sigmas"]:
        sweeps, profiles = [], []
        for seed in range(params["seeds"]):
            t = time.perf_counter()
            g = torch.Generator().manual_seed(seed)
            net = CKN(fit_images.shape[1], (params["n_anchors"],) * CKN_LAYERS, patch_sizes=CKN_PATCH,
                      subsamplings=CKN_SUBSAMPLING, pool_sigmas=sigma, alphas=CKN_ALPHA, generator=g).to(device)
            fit_anchors(net, fit_images, n_patches=params["n_patches"], n_iter=params["kmeans_iter"], generator=g,
                        batch_size=small)
            timing["ckn_fit_s"] = timing.get("ckn_fit_s", 0.0) + time.perf_counter() - t
            t = time.perf_counter()
            taps = FeatureTaps(net, CKN_LAYERS)
            sweeps.append(sweeps_of(taps, taps.layer_keys(), small))
            profiles.append(_profile(taps, taps.layer_keys(), data, small))
            timing["ckn_measure_s"] = timing.get("ckn_measure_s", 0.0) + time.perf_counter() - t
            if seed == 0:
                ckn["pooling_scales"].append(net.pooling_scales()[-1])
                ckn["accuracy"].append(probe_accuracy(net, seed, small))
        ckn["sweeps"].append(sweeps)
        ckn["profiles"].append(profiles)

    scattering = {"J": params["scattering_J"], "L": params["scattering_L"], "sweeps": [], "profiles": []}
    shape = tuple(data.probe.shape[-2:])
    for j in params["scattering_J"]:
        t = time.perf_counter()
        transform = Scattering(shape, J=j, L=params["scattering_L"]).to(device)
        taps = FeatureTaps(transform, 3, concat=True)
        scattering["sweeps"].append(sweeps_of(taps, taps.layer_keys(), 128))
        scattering["profiles"].append(_profile(taps, taps.layer_keys(), data))
        timing["scattering_measure_s"] = timing.get("scattering_measure_s", 0.0) + time.perf_counter() - t
        if j == params["scattering_J"][-1]:
            scattering["accuracy"] = probe_accuracy(transform, 0, large)

    return {
        "dataset": data.description,
        "probe": {"n_images": int(data.probe.shape[0]), "bound_images": int(m), "grid": config.probe.grid,
                  "strength": config.probe.strength},
        "sweep": {"strengths": [b[0] for b in data.bound], "max_displacement": [b[2] for b in data.bound],
                  "max_jacobian": [b[3] for b in data.bound]},
        "translation_sweep": {"strengths": [t[0] for t in translations],
                              "max_displacement": [t[2] for t in translations],
                              "max_jacobian": [t[3] for t in translations]},
        "ckn": ckn,
        "scattering": scattering,
        "pixels": {"accuracy": pixels},
        "n_train": int(train_x.shape[0]), "n_test": int(data.test_x.shape[0]),
        "timing": {k: round(v, 2) for k, v in timing.items()},
    }


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cnn_translation_sweeps(configs: Sequence, *, lengths: Sequence[int] = TRANSLATION_LENGTHS, store=None,
                           device: str = "auto", force: bool = False, stored_only: bool = False) -> CNNTranslations:
    """Measure (or load) the translation sweep of stored ``pooling`` runs at initialisation and after training.

    Protocol-2 runs measured this sweep themselves (at :data:`TRANSLATION_LENGTHS`): it is read from their stored
    results (``"change"`` only, rounded to 4 significant digits).  Otherwise every run's initial and final weights
    are loaded from its checkpoints; the first ``bound_images`` probe images are translated by each strength
    (:func:`translation_sweep`, drawn with the probe's seed ``+ TRANSLATION_SEED_OFFSET``: the same translations
    for every run and for the kernel baselines), and the change of every layer is recorded as in the runs' own
    sweep (``"change"``, relative to ``||r(x)||``, and ``"change_over_input"``).

    Args:
        configs: runs of one experiment sharing one probe (e.g. ``experiment_configs("pooling", profile)``), all
            stored (their checkpoints are needed only to compute the sweep, not to load it).
        lengths: translation lengths, whole pixels (see :func:`translation_sweep`).
        store: the results store (default: the one at :func:`~defstab_lib.runs.results_root`).
        device: where to compute (``"auto"``: CUDA when present); not part of the stored key.
        force: measure again even if stored.
        stored_only: raise ``LookupError`` (naming the file) instead of computing what is not stored.

    Raises:
        ValueError: no configs, configs with different probes, or a run that is not stored; before any work.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one run")
    probe = configs[0].probe
    if any(c.probe != probe or c.data != configs[0].data for c in configs):
        raise ValueError("configs must share one dataset and one probe (one experiment at one profile)")
    store = store or ResultsStore()
    missing = [c.describe() for c in configs if not store.exists(c)]
    if missing:
        raise ValueError(f"these runs are not stored (run them first): {missing[:3]}"
                         + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise ValueError(f"lengths must be a non-empty list of whole pixels >= 1, got {lengths!r}")
    lengths = [checks.positive_int("lengths", t) for t in lengths]
    # protocol-2 runs measured this very sweep themselves, at initialisation and at the end (the same images,
    # lengths and draw, :func:`defstab_lib.runs.protocol.translation_probe`): read from their stored results,
    # no weights needed (runs trained elsewhere bring back their results, not always their checkpoints)
    own = probe.measures.extended and lengths == list(TRANSLATION_LENGTHS)
    params = {
        "measurement": "the runs' own protocol-2 translation sweeps" if own else "translation sweeps of stored runs",
        "lengths": lengths,
        # keyed by each run's stored result (committed), not by its checkpoints (not committed): a fresh clone
        # loads this computation without the weights, and a run trained again (a new result) invalidates it
        "runs": {run_key(c): _file_digest(store.path(c)) for c in configs},
    }

    def stored_sweeps() -> dict[str, Any]:
        results = [store.load(c) for c in configs]
        first = results[0].initial.v2.translations
        return {"sweep": {k: first[k] for k in ("strengths", "max_displacement", "max_jacobian")},
                "runs": {r.key: {"init": {"change": r.initial.v2.translations["change"]},
                                 "final": {"change": r.final.v2.translations["change"]}} for r in results}}

    def compute() -> dict[str, Any]:
        if own:
            return stored_sweeps()
        dev = resolve_device(device)
        data = build_run_data(configs[0], dev)
        images = data.probe[: probe.bound_images]
        sweep = translation_sweep(images, lengths,
                                  generator=torch.Generator().manual_seed(probe.seed + TRANSLATION_SEED_OFFSET))
        moved = [s[1] for s in sweep]
        out = {}
        for config in configs:
            a = config.arch
            model = make_vgg(a.spec, a.downsampling, in_channels=data.in_channels, num_classes=data.num_classes,
                             width=a.width, smooth_sigma=a.smooth_sigma,
                             generator=torch.Generator().manual_seed(config.seed)).to(dev)
            out[run_key(config)] = {}
            for which in ("init", "final"):
                model.load_state_dict(store.load_checkpoint(config, which))
                out[run_key(config)][which] = change_sweep(model, images, moved, list(range(model.num_layers)))
        return {"sweep": {"strengths": [float(t) for t in lengths], "max_displacement": [s[2] for s in sweep],
                          "max_jacobian": [s[3] for s in sweep]},
                "runs": out}

    return CNNTranslations.from_computed(store.computed(EXPERIMENT, params, compute, force=force, device=device,
                                                        stored_only=stored_only))
