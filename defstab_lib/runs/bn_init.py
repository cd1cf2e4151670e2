"""The BN-calibrated initialisation of each trained run (the computed experiment ``bn-init``; nothing is trained).

Why: a run's epoch-0 measurement (:func:`defstab_lib.runs.execute.measure`) is taken in eval mode with
BatchNorm's initial running statistics (mean 0, variance 1), so every BatchNorm layer is the identity at
initialisation; after training BatchNorm normalises with the data's statistics.  "After / before training" then
also switches normalisation on.  This module gives a second "before": the *same* initial weights (rebuilt from the
run's config and :func:`~defstab_lib.runs.config.init_seed`) with BatchNorm's running statistics re-estimated on a
fixed set of the run's own training images (:data:`BN_IMAGES`, :data:`BN_BATCH`, :data:`BN_MOMENTUM`), not one
weight changed (asserted bit-exact), measured as the run measured its initialisation.

For each stored run (:func:`calibrated_init`):

1. the run's data are rebuilt (:func:`~defstab_lib.runs.execute.build_run_data`: the same probe, deformed and
   noise-matched images) and its initial network (:func:`initial_network`);
2. the network as built is measured and checked against the run's stored epoch-0 ``cosine`` and ``smoothness``
   (:func:`check_rebuilt`, tolerance :data:`RTOL`): a rebuilt network that is not the stored one is refused, naming
   the run's file;
3. BatchNorm is calibrated (:func:`calibrate_bn`) and the network measured again (:func:`measure_calibrated`):
   per-layer normalised cosine and Euclidean distances, the noise control, the medians, the raw per-image distances
   (rounded as protocol 2 stores them), the filters' smoothness (equal to the stored init's) and accuracy and loss
   on the first :data:`~defstab_lib.runs.protocol.TRAJECTORY_EVAL` training and test images;
4. the result is stored as a :class:`~defstab_lib.runs.records.Computed` record ``bn-init/<key>.json``
   (:func:`bn_params`: the run's key and the calibration's constants), atomically; a second call loads it.

Readers (light: no network is built): :func:`calibrated_inits` maps run keys to the calibrated epoch-0
:class:`~defstab_lib.runs.records.Measurement`, :func:`with_calibrated_init` swaps it into copies of the runs.

Command line: ``python -m defstab_lib compute --profile standard`` computes these records for the profile's stored
``pooling`` and ``ablation`` runs after the random networks; ``--only bn-init`` computes these alone
(:func:`calibrate_runs`).

Cost (measured here, one thread of a shared two-core AMD EPYC): see :data:`SECONDS_PER_RUN`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..metrics import sensitivity_profile, smoothness_profile
from ..models import make_vgg
from ..provenance import resolve_device
from ..train import evaluate
from . import protocol as v2
from .config import RunConfig, init_seed, run_key
from .experiments import experiment_configs, get_experiment
from .load import NotStored
from .execute import build_run_data
from .records import Computed, Measurement, Protocol2Fields, Results, computation_key
from .store import ResultsStore

__all__ = ["BN_IMAGES", "BN_BATCH", "BN_MOMENTUM", "RTOL", "ATOL", "EXPERIMENT", "SOURCES", "InitMismatch",
           "calibration_images", "bn_params", "initial_network", "check_rebuilt", "calibrate_bn", "measure_calibrated", "calibrated_init",
           "calibrate_runs", "source_runs", "calibrated_inits", "with_calibrated_init"]

#: The computed experiment's folder in the store.
EXPERIMENT = "bn-init"
#: The trained experiments whose runs are calibrated: the ones whose "after / before training" the chapters read
#: (the pooling networks and the ablation's cells).  A parameter of :func:`calibrate_runs`, checked against the
#: registry; not a name comparison.
SOURCES: tuple[str, ...] = ("pooling", "ablation")
#: Training images the running statistics are estimated on: the first ``BN_IMAGES`` of the run's own
#: *un-augmented* training images (``RunData.train_x``, the images its train accuracy is measured on), so that
#: every run of a seed is calibrated on the images it trained on, and no augmentation's randomness enters.
#: 5000 images (10 batches of :data:`BN_BATCH`) estimate a channel's mean and variance to about 1 % of its
#: standard deviation, far below the differences between layers that the measurements compare.
BN_IMAGES = 5000
#: Images per forward pass while calibrating: the statistics are averaged over equal batches of this size (a
#: batch's variance is the unbiased one PyTorch keeps); 500 divides :data:`BN_IMAGES`.
BN_BATCH = 500
#: BatchNorm's ``momentum`` while calibrating: ``None`` is PyTorch's cumulative moving average, so that after
#: ``reset_running_stats()`` the running statistics are the plain average of the batches' statistics (no weight on
#: the order of the batches); the modules' own momentum is restored afterwards.
BN_MOMENTUM = None
#: Relative tolerance, per layer, of the check that the rebuilt initial network is the stored run's
#: (:func:`check_rebuilt`).  From first principles: the same float32 network evaluated by different kernels (another
#: CPU's oneDNN, a GPU's cuDNN, another batch split) differs by sums of ~sqrt(fan-in) rounding errors per layer,
#: 1e-6..1e-4 relative over the 13 layers of the CIFAR network; the normalised distance is a ratio of means and
#: medians of such values and inherits that.  A different network (another seed, architecture or probe) differs by
#: far more than 1e-2 in most layers.  1e-3 sits between the two.  Observed here (CPU rebuild vs the stored
#: H200 and CPU measurements): see the report in the commit that stored ``results/bn-init``.
RTOL = 1e-3
#: Absolute floor of the same check (for values near 0: the input layer's smoothness is not stored, but a layer
#: could measure ~0 on a degenerate probe).
ATOL = 1e-6
#: Measured cost of one run's record (standard profile, half width, 5000 calibration images) on one thread of a
#: shared two-core AMD EPYC (load ~1): 11.6 s, the first in a process (loading the dataset) 16 s; for the estimate.
SECONDS_PER_RUN = 12.0


class InitMismatch(ValueError):
    """The rebuilt initial network does not reproduce a run's stored epoch-0 measurement (the message names the
    run's file, the field, the layer and both values)."""


def calibration_images(config: RunConfig) -> int:
    """How many training images ``config``'s record is calibrated on: :data:`BN_IMAGES`, or all of the run's
    training images when it has fewer (the ``smoke`` profile's runs; then the last batch is smaller and, with
    :data:`BN_MOMENTUM`, weighs as much as a full one)."""
    return min(BN_IMAGES, config.data.train_size or BN_IMAGES)


def bn_params(config: RunConfig) -> dict:
    """The stored parameters (and so the key) of ``config``'s record: the run and the calibration's constants."""
    return {"experiment": config.experiment, "run": run_key(config), "images": calibration_images(config),
            "batch": BN_BATCH, "momentum": BN_MOMENTUM}


def _check_source(results: Results) -> None:
    """Refuse a run this computation does not cover, with the reason."""
    if not isinstance(results, Results):
        raise TypeError(f"results must be a stored run (Results), got {type(results).__name__}")
    config = results.config
    get_experiment(config.experiment)  # an unknown experiment: ValueError listing the known ones
    if config.experiment not in SOURCES:
        raise ValueError(f"results: {results.file} is a run of {config.experiment!r}; BN-calibrated "
                         f"initialisations are computed for the runs of {', '.join(SOURCES)} only")
    if not results.measurements or results.measurements[0].epoch != 0:
        raise ValueError(f"results: {results.file} has no epoch-0 measurement to check the rebuilt network against")


def initial_network(config: RunConfig, in_channels: int, num_classes: int,
                    device: torch.device | str = "cpu") -> nn.Module:
    """``config``'s network at initialisation, exactly as ``_train`` builds it (weights drawn on the CPU from
    :func:`~defstab_lib.runs.config.init_seed`, then moved to ``device``), in training mode like a fresh module."""
    a = config.arch
    return make_vgg(a.spec, a.downsampling, in_channels=in_channels, num_classes=num_classes, width=a.width,
                    smooth_sigma=a.smooth_sigma,
                    generator=torch.Generator().manual_seed(init_seed(config))).to(device)


def _worst(stored: Sequence[float], rebuilt: Sequence[float]) -> tuple[int, float]:
    """The layer with the largest ``|a - b| / (RTOL |a| + ATOL)`` and that ratio (> 1: out of tolerance)."""
    ratios = [abs(a - b) / (RTOL * max(abs(a), abs(b)) + ATOL) for a, b in zip(stored, rebuilt)]
    i = max(range(len(ratios)), key=ratios.__getitem__)
    return i, ratios[i]


def check_rebuilt(results: Results, cosine: Sequence[float], smoothness: Sequence[float]) -> dict:
    """Raise :class:`InitMismatch` naming ``results``' file unless the rebuilt network's per-layer ``cosine``
    (normalised cosine distance, layers 0..L-1) and ``smoothness`` (per conv layer) are the stored epoch-0 values
    within :data:`RTOL` (relative, per layer; :data:`ATOL` absolute floor).

    Returns:
        ``{"cosine": max relative difference, "smoothness": ...}`` (for the record's provenance).
    """
    stored = results.measurements[0]
    out = {}
    for field, rebuilt in (("cosine", cosine), ("smoothness", smoothness)):
        expected = getattr(stored, field)
        if len(expected) != len(rebuilt):
            raise InitMismatch(f"{results.file}: the rebuilt initial network has {len(rebuilt)} layers of {field} "
                               f"where the stored epoch 0 has {len(expected)}")
        i, ratio = _worst(expected, rebuilt)
        if not ratio <= 1.0:  # NaN fails too
            raise InitMismatch(
                f"{results.file}: the rebuilt initial network does not reproduce the stored epoch-0 {field}: layer "
                f"{i} stored {expected[i]!r}, rebuilt {rebuilt[i]!r} (beyond relative {RTOL:g}); the file is not "
                f"this config's run, or the network's construction changed since it was trained")
        out[field] = max((abs(a - b) / max(abs(a), abs(b), ATOL) for a, b in zip(expected, rebuilt)), default=0.0)
    return out


def _batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def calibrate_bn(model: nn.Module, images: torch.Tensor, *, batch: int = BN_BATCH) -> int:
    """Re-estimate every BatchNorm layer's running mean and variance of ``model`` on ``images``, in place; no
    parameter changes (asserted: every parameter bit-identical before and after).

    Args:
        model: a network with BatchNorm layers, on ``images``' device.
        images: ``(n, C, H, W)`` uint8 (0..255, divided by 255 as :func:`~defstab_lib.train.evaluate` does) or
            float in [0, 1].
        batch: images per forward pass; the running statistics become the average of the batches' statistics
            (:data:`BN_MOMENTUM`).

    Returns:
        the number of batches averaged.  The model is left in eval mode, each BatchNorm with its own momentum.
    """
    norms = _batchnorms(model)
    if not norms:
        raise ValueError("model: has no BatchNorm layer to calibrate")
    if images.ndim != 4 or images.shape[0] < 1:
        raise ValueError(f"images: expected (n, C, H, W) with n >= 1, got shape {tuple(images.shape)}")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = BN_MOMENTUM
        m.train()
    batches = 0
    with torch.no_grad():
        for i in range(0, images.shape[0], batch):
            x = images[i:i + batch]
            model(x.float().div(255.0) if x.dtype == torch.uint8 else x.float())
            batches += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert not changed, f"calibrating BatchNorm changed parameters {changed}"
    return batches


def _profile_measurement(model: nn.Module, data, n_eval: int) -> Measurement:
    """Every epoch-0 field of ``model`` (eval mode) on ``data``'s probe (float32), with accuracy and loss on the
    first ``n_eval`` training and test images (float32)."""
    profile = sensitivity_profile(model, data.probe, data.deformed, noise=data.noisy)
    train_acc, train_loss = evaluate(model, data.train_x[:n_eval], data.train_y[:n_eval], precision="float32")
    test_acc, test_loss = evaluate(model, data.test_x[:n_eval], data.test_y[:n_eval], precision="float32")
    extra = Protocol2Fields(
        noise_euclidean=[float(v) for v in profile.noise_normalized_euclidean],
        median_cosine=[float(v) for v in profile.cosine_median],
        median_euclidean=[float(v) for v in profile.euclidean_median],
        per_image=v2.per_image(profile),
        eval_images=[len(data.train_y[:n_eval]), len(data.test_y[:n_eval])])
    return Measurement(
        epoch=0, cosine=[float(v) for v in profile.normalized_cosine],
        euclidean=[float(v) for v in profile.normalized_euclidean],
        noise_cosine=[float(v) for v in profile.noise_normalized_cosine],
        smoothness=[float(v) for v in smoothness_profile(model)],
        train_accuracy=train_acc, test_accuracy=test_acc, train_loss=train_loss, test_loss=test_loss,
        bound=None, v2=extra)


def measure_calibrated(model: nn.Module, data, images: int) -> tuple[Measurement, int]:
    """Calibrate ``model``'s BatchNorm on the first ``images`` of ``data.train_x`` (:func:`calibrate_bn`) and
    measure it (:func:`_profile_measurement`); returns the epoch-0 measurement and the batches averaged."""
    if data.train_x.shape[0] < images:
        raise ValueError(f"images: the run has {data.train_x.shape[0]} training images to calibrate on, fewer than "
                         f"{images}")
    batches = calibrate_bn(model, data.train_x[:images])
    return _profile_measurement(model, data, v2.TRAJECTORY_EVAL), batches


def _compute(results: Results, device: torch.device) -> dict:
    """The record's payload for ``results`` (see the module docstring, steps 1-3)."""
    data = build_run_data(results.config, device)
    model = initial_network(results.config, data.in_channels, data.num_classes, device)
    model.eval()
    profile = sensitivity_profile(model, data.probe, data.deformed, noise=data.noisy)
    as_built = {"cosine": [float(v) for v in profile.normalized_cosine],
                "smoothness": [float(v) for v in smoothness_profile(model)]}
    agreement = check_rebuilt(results, as_built["cosine"], as_built["smoothness"])
    measurement, batches = measure_calibrated(model, data, calibration_images(results.config))
    if measurement.smoothness != as_built["smoothness"]:
        raise AssertionError(f"{results.file}: smoothness changed by calibration (weights must not change)")
    return {"run_file": results.file, "measurement": measurement.to_json(), "as_built": as_built,
            "check": {"rtol": RTOL, "atol": ATOL, "max_relative_difference": agreement},
            "batches": batches, "arithmetic": "float32"}


def calibrated_init(results: Results, *, store: ResultsStore | None = None, device: str = "auto",
                    force: bool = False) -> Computed:
    """The stored ``bn-init`` record of ``results`` (a stored run of :data:`SOURCES`), computed and stored first
    when missing.

    Args:
        results: the run; its epoch-0 measurement is the reference of :func:`check_rebuilt`.
        store: the results store (default :class:`~defstab_lib.runs.store.ResultsStore`).
        device: where to compute (not part of the key).
        force: compute again even if stored.

    Raises:
        InitMismatch: the rebuilt network does not reproduce the stored epoch 0 (names the run's file).
        ValueError: ``results`` is not a run of :data:`SOURCES`.
    """
    _check_source(results)
    dev = resolve_device(device)
    return (store or ResultsStore()).computed(EXPERIMENT, bn_params(results.config), lambda: _compute(results, dev),
                                              force=force, device=device)


def source_runs(profile: str, *, store: ResultsStore | None = None, dataset: str = "fashion-mnist",
                experiments: Sequence[str] = SOURCES) -> tuple[list[Results], int]:
    """The stored runs of ``profile``'s ``experiments`` (each run once: the ablation's baseline cell is pooling
    runs) and how many of their configs are not stored (skipped)."""
    store = store or ResultsStore()
    seen: dict[str, RunConfig] = {}
    for name in experiments:
        for config in experiment_configs(name, profile, dataset=dataset):
            seen.setdefault(run_key(config), config)
    stored = [store.load(c) for c in seen.values()]
    return [r for r in stored if r is not None], sum(r is None for r in stored)


def calibrate_runs(profile: str, *, store: ResultsStore | None = None, dataset: str = "fashion-mnist",
                   device: str = "auto", force: bool = False, experiments: Sequence[str] = SOURCES,
                   report: Callable[[str], None] | None = print) -> list[Computed]:
    """Compute (or load) the ``bn-init`` record of every stored run of ``profile``'s ``experiments`` (default: the
    ``pooling`` and ``ablation`` runs, :func:`source_runs`), one line per run to ``report`` with its time and the
    time left; configs not stored are skipped and counted."""
    bad = [e for e in experiments if e not in SOURCES]
    if bad or not experiments:
        raise ValueError(f"experiments must be some of {', '.join(SOURCES)}, got {list(experiments)!r}")
    store = store or ResultsStore()
    todo, skipped = source_runs(profile, store=store, dataset=dataset, experiments=experiments)
    say = report or (lambda line: None)
    missing = {r.key for r in todo if force or not store.file(EXPERIMENT, _key(r)).exists()}
    say(f"bn-init: {len(todo)} stored runs of {', '.join(experiments)} ({profile}), {len(missing)} to compute "
        f"(about {len(missing) * SECONDS_PER_RUN / 60:.0f} min at {SECONDS_PER_RUN:.0f} s a run); {skipped} not "
        f"stored, skipped")
    out, spent, done = [], 0.0, 0
    for i, r in enumerate(todo, 1):
        start = time.perf_counter()
        computed = calibrated_init(r, store=store, device=device, force=force)
        if r.key in missing:
            spent, done = spent + time.perf_counter() - start, done + 1
            left = (len(missing) - done) * spent / done
            say(f"  [{i}/{len(todo)}] {r.file}: {time.perf_counter() - start:.1f} s, in {computed.file} "
                f"(about {left / 60:.1f} min left)")
        out.append(computed)
    return out


def _key(results: Results) -> str:
    return computation_key(EXPERIMENT, bn_params(results.config))


def calibrated_inits(results: Sequence[Results], *, store: ResultsStore | None = None,
                     stored_only: bool = True) -> dict[str, Measurement]:
    """``{run_key(config): the calibrated epoch-0 Measurement}`` of each run of ``results``, read from the store
    (no network is built).

    Args:
        results: stored runs of :data:`SOURCES`.
        store: the results store.
        stored_only: ``True``: raise :class:`~defstab_lib.runs.load.NotStored` naming the command that computes
            what is missing; ``False``: leave the missing ones out of the mapping.

    Raises:
        NotStored: ``stored_only`` and some runs have no record (``missing``: ``{"bn-init": [configs]}``).
        CorruptResultError: a stored record is not valid (names its file).
    """
    store = store or ResultsStore()
    out, missing = {}, []
    for r in results:
        _check_source(r)
        try:
            computed = store.computed(EXPERIMENT, bn_params(r.config), None, stored_only=True)
        except LookupError:
            missing.append(r.config)
            continue
        m = Measurement.from_json(computed.payload["measurement"])
        m.validate(str(computed.path))
        out[r.key] = m
    if missing and stored_only:
        profiles = " ".join(dict.fromkeys(c.profile for c in missing))
        raise NotStored(f"not stored: the BN-calibrated initialisation of {len(missing)} runs (profile {profiles}); "
                        f"compute them with `python -m defstab_lib compute --profile {profiles} --only bn-init`",
                        {EXPERIMENT: missing})
    return out


def with_calibrated_init(results: Sequence[Results], calibrated: dict[str, Measurement]) -> list[Results]:
    """Copies of ``results`` whose epoch-0 measurement is the calibrated one of ``calibrated``
    (:func:`calibrated_inits`); every other measurement, the history and provenance are the run's own.

    A run without a calibrated measurement is refused (``ValueError`` naming its file): a mix of calibrated and
    uncalibrated initialisations would compare unlike things silently.
    """
    absent = [r.file for r in results if r.key not in calibrated]
    if absent:
        raise ValueError(f"calibrated: no BN-calibrated initialisation for {len(absent)} runs ({', '.join(absent[:3])}"
                         f"{', ...' if len(absent) > 3 else ''}); compute them with `python -m defstab_lib compute "
                         f"--only bn-init`")
    out = []
    for r in results:
        m = calibrated[r.key]
        if r.measurements[0].epoch != 0 or len(m.cosine) != len(r.measurements[0].cosine):
            raise ValueError(f"calibrated: the measurement for {r.file} does not replace its epoch 0 (layers "
                             f"{len(m.cosine)} vs {len(r.measurements[0].cosine)})")
        out.append(dataclasses.replace(r, measurements=[m, *r.measurements[1:]]))
    return out

