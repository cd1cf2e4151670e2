"""Experiments (sets of runs that a chapter needs) and profiles (how big to make them).

Experiments:

- ``pooling`` (Figures 3 and 6a/b): the CIFAR network with each of the five downsampling layers, trained on real
  labels; measured at initialisation, during and after training.
- ``random-labels`` (Figures 6c and 7): the same networks trained on uniform random labels, fixed per example.
- ``matched-real`` (claim 7's contrast): the same networks trained on *real* labels by the random-label recipe
  (same training subset, epochs, learning rate, no augmentation), so that random and real labels differ in the
  labels alone.  Profiles with ``matched_contrast`` (``standard``) test claim 7 against these runs; the older ones
  against their ``pooling`` runs.
- ``synthetic`` (Figure 5): the synthetic deformation tasks of section 4.3, one per strength C.
- ``ablation`` (the chapter "What teaches stability?"): one network without pooling and one with
  (:data:`ABLATION_NETWORKS`), each factor of :data:`ABLATION_FACTORS` moved away from the profile's own recipe
  one at a time (augmentation, weight decay, training length), :data:`ABLATION_SEEDS` initialisations per cell.
  The profile's own recipe is the baseline cell and is not retrained: it is the ``pooling`` experiment's runs of
  those networks and seeds (:func:`ablation_baseline`).
- ``worst-case`` (the chapter "Worst-case deformations and relative stability"): a network with pooling
  (max-pool) and one without (subsample), trained on real labels with flip-crop augmentation, always measured
  with protocol 2 (worst cases, relative stability, label flips, dense trajectories; see
  :mod:`defstab_lib.runs.protocol`), whatever the profile's own protocol.  Where a profile's ``pooling`` runs are
  that recipe already (``standard``), they are its ``worst-case`` runs: nothing is trained twice.

Measurement protocol: a profile's ``protocol`` (1 for every profile here, so that their stored results keep their
keys) is that of its ``pooling``, ``random-labels`` and ``synthetic`` runs.  A protocol-2 profile measures after
1/8, 1/4, 1/2 of the first epoch and after epochs 1, 2, 4, 8, ... (:func:`defstab_lib.runs.protocol.log_epochs`)
instead of its stages' ``measure_epochs``.

Initial weights: under protocol 1 the weights are drawn from the run's seed alone, so within a seed the
subsample, max-pool and average-pool networks (same parameter shapes) start from the same convolution weights,
and the random-label and synthetic runs reuse them: a paired design.  Under protocol 2 they are an independent draw
per (architecture, seed) (:func:`defstab_lib.runs.config.init_seed`); the training subset and batch order still
depend on the seed alone (the networks of one seed see the same data), and one architecture and seed start from
the same weights in every experiment.

Profiles:

- ``smoke``: a few seconds a run on a CPU, under a minute or two for a whole experiment (tiny networks, a few
  hundred images, one or two epochs; a fresh process first spends seconds importing torch);
  for tests and CI.  Its numbers say nothing about the paper.
- ``cpu``: every experiment of the book on Fashion-MNIST in under two hours on two CPU cores (measured: the 42
  runs took 6,298 s on one core of a shared two-core AMD EPYC machine, 2 to 5 minutes each; Figure 4's random
  networks and the kernel baselines 4 minutes more).  Reduced from the paper's settings in exactly these ways: networks
  at half width (16, 32, 64, 128 filters instead of 32, 64, 128, 256); 3 seeds instead of 5; real labels trained
  on a fixed random subset of 20,000 of the 60,000 training images for 8 epochs; random labels on 2,000 images
  for 40 epochs (long enough to fit them all); the synthetic tasks on 4,000 fresh examples per epoch for 20
  epochs; test accuracy on 5,000 test images.
- ``standard``: the campaign's profile (issue 16), the standard crop-and-flip recipe at a width a CPU affords:
  half width, all 60,000 training images with pad-and-random-crop plus horizontal flip for
  :data:`STANDARD_EPOCHS` epochs, 5 independent initialisations per architecture (protocol 2), bfloat16
  autocast training (validated against float32 by ``benchmarks/bench_precision.py``; measurements in float32),
  test accuracy on all 10,000 test images.  Random labels are fitted as Zhang et al. fitted them (no
  augmentation, 2,000 images, 40 epochs) and compared with real labels on the same recipe (``matched-real``).
  The synthetic tasks draw 512 fresh examples per epoch for 40 epochs, measured after every epoch, and are
  compared at the matched training loss ``synthetic_matched_loss`` (1 nat) while their filters still change
  (:mod:`defstab_lib.analysis.matched`; the pilots and the rule that chose this: ``results/pilot-synthetic/RULE.md``).
- ``paper``: the paper's settings on the full dataset: full width, 5 seeds, all training images, 30 epochs of SGD
  with a cosine schedule (trained to convergence on Fashion-MNIST and CIFAR-10), random labels for 100 epochs;
  meant for a GPU.

Everything else (probe: 128 test images, 3x3 grid, 2 px; SGD with Nesterov momentum 0.9, weight decay 5e-4,
batch 128) is the same in every profile but ``smoke``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import checks
from ..tasks import MAX_CLASSES
from ..train import OptimConfig
from ..vocabulary import DOWNSAMPLING, TRAINING_DATASETS
from .config import ArchConfig, DataConfig, ProbeConfig, RunConfig, measurement_protocol
from .protocol import log_epochs

__all__ = ["PROFILES", "EXPERIMENTS", "ABLATION_NETWORKS", "ABLATION_FACTORS", "ABLATION_SEEDS", "ablation_cells",
           "ablation_baseline", "ablation_level", "DOWNSAMPLING", "STRENGTHS", "WORST_CASE_DOWNSAMPLING", "Profile", "get_profile",
           "experiment_configs"]

STRENGTHS = (1.0, 2.0, 3.0, 4.0)
#: The ``cpu`` profile's ``worst-case`` runs: training images and epochs (sized so that its 6 runs train in about
#: a quarter of an hour on one core).
WORST_CASE_CPU_TRAIN, WORST_CASE_CPU_EPOCHS = 8_000, 4

EXPERIMENTS: dict[str, str] = {
    "pooling": "the five downsampling variants trained on real labels (Figures 3, 6a/b)",
    "random-labels": "the five downsampling variants trained on random labels (Figures 6c, 7)",
    "matched-real": "the five downsampling variants trained on real labels by the random-label recipe (claim 7's "
                    "matched contrast)",
    "synthetic": "synthetic deformation tasks of strength C = 1..4 (Figure 5)",
    "worst-case": "a pooled and an unpooled network with flip-crop augmentation, measured with protocol 2",
    "ablation": "a network without pooling and one with, augmentation, weight decay and training length moved one at "
                "a time from the profile's recipe",
}

#: The ablation's networks: one without pooling, one with.
ABLATION_NETWORKS = ("subsample", "maxpool")
#: The ablation's factors and their levels (weight decay: none, the default 5e-4, ten times it; length: a quarter
#: of the profile's epochs or all of them).  A profile's own recipe is the baseline level of every factor.
ABLATION_FACTORS: dict[str, tuple] = {
    "augmentation": ("none", "flip-crop", "flip-crop-tps"),
    "weight_decay": (0.0, 5e-4, 5e-3),
    "length": ("quarter", "full"),
}
#: Initialisations per ablation cell (fewer where the profile has fewer seeds).
ABLATION_SEEDS = 3

#: The ``standard`` profile's epochs over all 60,000 training images (chosen from the length pilots, see
#: ``results/pilot-length/``).
STANDARD_EPOCHS = 16

#: The networks of the ``worst-case`` experiment by default: one with pooling and one without.
WORST_CASE_DOWNSAMPLING = ("subsample", "maxpool")


@dataclasses.dataclass(frozen=True)
class Stage:
    """How one kind of run is sized in a profile."""

    train_size: int | None
    epochs: int
    lr: float = 0.05
    measure_epochs: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Profile:
    """How big every experiment is.  See the module docstring for what each profile reduces and why."""

    name: str
    width: float
    seeds: int
    batch_size: int
    test_size: int | None
    probe_images: int
    real: Stage
    random: Stage
    synthetic: Stage
    synthetic_test_size: int
    warmup_epochs: float = 0.0
    worst_case: Stage = Stage(train_size=512, epochs=2)
    worst_case_seeds: int = 1
    protocol: int = 1
    augmentation: str = "none"
    precision: str = "auto"
    matched_contrast: bool = False
    synthetic_matched_loss: float | None = None


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", width=0.125, seeds=1, batch_size=64, test_size=256, probe_images=16,
        real=Stage(train_size=512, epochs=2, measure_epochs=(1,)),
        random=Stage(train_size=256, epochs=2, lr=0.02),
        synthetic=Stage(train_size=256, epochs=1),
        synthetic_test_size=128,
        worst_case=Stage(train_size=256, epochs=1),
    ),
    "cpu": Profile(
        "cpu", width=0.5, seeds=3, batch_size=128, test_size=5000, probe_images=128,
        real=Stage(train_size=20_000, epochs=8, measure_epochs=(1, 2, 4)),
        random=Stage(train_size=2_000, epochs=40, lr=0.02, measure_epochs=(10, 20)),
        synthetic=Stage(train_size=4_000, epochs=20, measure_epochs=(5, 10)),
        synthetic_test_size=1000,
        warmup_epochs=0.5,
        worst_case=Stage(train_size=WORST_CASE_CPU_TRAIN, epochs=WORST_CASE_CPU_EPOCHS),
        worst_case_seeds=3,
    ),
    "paper": Profile(
        "paper", width=1.0, seeds=5, batch_size=128, test_size=None, probe_images=128,
        real=Stage(train_size=None, epochs=30, measure_epochs=(1, 2, 5, 10, 20)),
        random=Stage(train_size=None, epochs=100, lr=0.02, measure_epochs=(10, 25, 50)),
        synthetic=Stage(train_size=20_000, epochs=20),
        synthetic_test_size=2000,
        warmup_epochs=1.0,
        worst_case=Stage(train_size=None, epochs=30),
        worst_case_seeds=5,
    ),
    "standard": Profile(
        "standard", width=0.5, seeds=5, batch_size=128, test_size=None, probe_images=128,
        real=Stage(train_size=None, epochs=STANDARD_EPOCHS),
        random=Stage(train_size=2_000, epochs=40, lr=0.02),
        synthetic=Stage(train_size=512, epochs=40, measure_epochs=tuple(range(1, 40))),
        synthetic_test_size=1000,
        warmup_epochs=0.5,
        worst_case=Stage(train_size=None, epochs=STANDARD_EPOCHS),
        worst_case_seeds=5,
        protocol=2, augmentation="flip-crop", precision="bf16", matched_contrast=True, synthetic_matched_loss=1.0,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (``ValueError`` listing the profiles otherwise)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; allowed: {', '.join(PROFILES)}")
    return PROFILES[name]


def _check_list(name: str, values: Sequence, allowed: Sequence | None = None) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list, got {values!r}")
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"{name}: {bad} not allowed; allowed: {', '.join(map(str, allowed))}")
    return checks.unique(name, values)


#: Which options of :func:`experiment_configs` each experiment uses: the others are refused, not dropped.
OPTIONS = {"pooling": ("dataset", "downsampling"), "random-labels": ("dataset", "downsampling"),
           "matched-real": ("dataset", "downsampling"), "ablation": ("dataset", "downsampling"),
           "synthetic": ("strengths", "classes"), "worst-case": ("dataset", "downsampling")}


def experiment_configs(
    experiment: str,
    profile: str = "cpu",
    *,
    dataset: str | None = None,
    seeds: int | None = None,
    downsampling: Sequence[str] | None = None,
    strengths: Sequence[float] | None = None,
    classes: int | None = None,
    epochs: int | None = None,
) -> list[RunConfig]:
    """Every run of ``experiment`` in ``profile``.

    Args:
        experiment: one of :data:`EXPERIMENTS`.
        profile: one of :data:`PROFILES`.
        dataset: ``"fashion-mnist"`` (default), ``"mnist"`` or ``"cifar10"`` (``pooling``, ``random-labels``).
        seeds: number of seeds (0, 1, ..., seeds - 1); default: the profile's.
        downsampling: the variants of ``pooling`` and ``random-labels`` (default: all five) or ``worst-case``
            (default: :data:`WORST_CASE_DOWNSAMPLING`), each once.
        strengths: the deformation strengths C of ``synthetic`` (default :data:`STRENGTHS`), each once.
        classes: the number of classes K of ``synthetic`` (default 10).
        epochs: override the profile's number of epochs (> 0; measurement epochs beyond it are dropped).

    Raises:
        ValueError: an unknown experiment, profile, dataset or variant, a repeated variant or strength,
            seeds/epochs < 1, or an option the experiment does not use (:data:`OPTIONS`: it would be silently
            dropped); raised before any work.
        TypeError: seeds, epochs or classes that are not ints (no silent float -> int).

    >>> len(experiment_configs("pooling", "smoke", downsampling=["maxpool", "strided"], seeds=2))
    4
    >>> experiment_configs("pooling", "smoke", strengths=[1.0])
    Traceback (most recent call last):
    ...
    ValueError: strengths does not apply to experiment 'pooling' (it uses: dataset, downsampling)
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; allowed: {', '.join(EXPERIMENTS)}")
    if experiment == "ablation":
        return [c for cells in ablation_cells(profile, dataset=dataset, seeds=seeds, downsampling=downsampling,
                                              epochs=epochs).values() for c in cells]
    given = {"dataset": dataset, "downsampling": downsampling, "strengths": strengths, "classes": classes}
    for option, value in given.items():
        if value is not None and option not in OPTIONS[experiment]:
            raise ValueError(f"{option} does not apply to experiment {experiment!r} "
                             f"(it uses: {', '.join(OPTIONS[experiment])})")
    p = get_profile(profile)
    dataset = "fashion-mnist" if dataset is None else dataset
    if dataset not in TRAINING_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(TRAINING_DATASETS)}")
    if experiment == "worst-case" and _worst_case_is_pooling(p):
        return experiment_configs("pooling", profile, dataset=dataset, seeds=seeds or p.worst_case_seeds,
                                  downsampling=downsampling or WORST_CASE_DOWNSAMPLING, epochs=epochs)
    default_seeds = p.worst_case_seeds if experiment == "worst-case" else p.seeds
    n_seeds = default_seeds if seeds is None else checks.positive_int("seeds", seeds)
    if epochs is not None:
        checks.positive_int("epochs", epochs)
    classes = 10 if classes is None else checks.positive_int("classes", classes, minimum=2, maximum=MAX_CLASSES)
    protocol = 2 if experiment == "worst-case" else p.protocol
    probe = ProbeConfig(images=p.probe_images, bound_images=min(32, p.probe_images), protocol=protocol)
    stage = {"pooling": p.real, "random-labels": p.random, "matched-real": p.random, "synthetic": p.synthetic,
             "worst-case": p.worst_case}[experiment]
    n_epochs = epochs or stage.epochs
    optim = OptimConfig(lr=stage.lr, warmup_epochs=min(p.warmup_epochs, n_epochs / 2))
    # protocol 2: the dense trajectory, plus any epochs the stage asks for (standard's synthetic runs: every epoch)
    dense = probe.measures.dense
    measure_epochs = sorted({*log_epochs(n_epochs), *stage.measure_epochs}) if dense else stage.measure_epochs
    common = dict(
        experiment=experiment, optim=optim, epochs=n_epochs, batch_size=p.batch_size, probe=probe,
        measure_epochs=tuple(e for e in measure_epochs if e < n_epochs), profile=profile, precision=p.precision,
    )
    configs = []
    if experiment == "synthetic":
        for c in _check_list("strengths", STRENGTHS if strengths is None else strengths):
            checks.nonnegative_float("strengths", c)
            data = DataConfig(dataset="synthetic", train_size=stage.train_size, test_size=p.synthetic_test_size,
                              strength=float(c), classes=classes)
            for seed in range(n_seeds):
                configs.append(RunConfig(data=data, arch=ArchConfig(width=p.width), seed=seed, **common))
        return configs
    labels = "random" if experiment == "random-labels" else "real"
    augmentation = {"worst-case": "flip-crop", "pooling": p.augmentation}.get(experiment, "none")
    data = DataConfig(dataset=dataset, labels=labels, train_size=stage.train_size, test_size=p.test_size,
                      augmentation=augmentation)
    if downsampling is None:
        downsampling = WORST_CASE_DOWNSAMPLING if experiment == "worst-case" else DOWNSAMPLING
    for variant in _check_list("downsampling", downsampling, DOWNSAMPLING):
        for seed in range(n_seeds):
            configs.append(RunConfig(data=data, arch=ArchConfig(downsampling=variant, width=p.width), seed=seed,
                                     **common))
    return configs


def ablation_level(config: RunConfig, factor: str):
    """The level of ``factor`` (a key of :data:`ABLATION_FACTORS`) that ``config`` trains with; ``"full"`` or
    ``"quarter"`` for ``length`` relative to the profile's epochs."""
    if factor == "augmentation":
        return config.data.augmentation
    if factor == "weight_decay":
        return config.optim.weight_decay
    if factor == "length":
        return "full" if config.epochs == get_profile(config.profile).real.epochs else "quarter"
    raise ValueError(f"unknown factor {factor!r}; allowed: {', '.join(ABLATION_FACTORS)}")


def ablation_baseline(profile: str = "cpu", **options) -> list[RunConfig]:
    """The ablation's baseline cell: the ``pooling`` runs of :data:`ABLATION_NETWORKS` (or ``downsampling``) for
    the first :data:`ABLATION_SEEDS` seeds (or ``seeds``); ``options`` as in :func:`experiment_configs`."""
    n = options.pop("seeds", None)
    n = min(ABLATION_SEEDS, get_profile(profile).seeds) if n is None else n
    options["downsampling"] = options.get("downsampling") or ABLATION_NETWORKS
    return experiment_configs("pooling", profile, seeds=n, **options)


def ablation_cells(profile: str = "cpu", **options) -> dict[tuple[str, object], list[RunConfig]]:
    """``{(factor, level): configs}`` of the ablation, the baseline cell first as ``("baseline", None)``.

    Every other cell is the baseline with one factor moved to one of its other levels (a one-factor-at-a-time
    design: 1 + 2 + 2 + 1 = 6 cells), each its own ``ablation`` run; the baseline's runs are the ``pooling``
    experiment's.  Initial weights, data order and probe are those of the baseline run of the same network and
    seed (protocol 2 draws the weights from the architecture and seed alone).

    >>> cells = ablation_cells("smoke")
    >>> [k for k in cells]  # doctest: +NORMALIZE_WHITESPACE
    [('baseline', None), ('augmentation', 'flip-crop'), ('augmentation', 'flip-crop-tps'), ('weight_decay', 0.0),
     ('weight_decay', 0.005), ('length', 'quarter')]
    >>> [c.epochs for c in cells[('length', 'quarter')]], cells[('weight_decay', 0.0)][0].optim.weight_decay
    ([1, 1], 0.0)
    """
    epochs = options.get("epochs")
    if epochs is not None:
        raise ValueError("epochs does not apply to experiment 'ablation' (its length factor sets the epochs)")
    options.pop("epochs", None)
    base = ablation_baseline(profile, **options)
    cells: dict[tuple[str, object], list[RunConfig]] = {("baseline", None): base}
    for factor, levels in ABLATION_FACTORS.items():
        for level in levels:
            if level == ablation_level(base[0], factor):
                continue
            cells[(factor, level)] = [_moved(c, factor, level) for c in base]
    return cells


def _moved(config: RunConfig, factor: str, level) -> RunConfig:
    """``config`` as an ``ablation`` run with ``factor`` at ``level``."""
    c = dataclasses.replace(config, experiment="ablation")
    if factor == "augmentation":
        return dataclasses.replace(c, data=dataclasses.replace(c.data, augmentation=level))
    if factor == "weight_decay":
        return dataclasses.replace(c, optim=dataclasses.replace(c.optim, weight_decay=level))
    epochs = max(1, c.epochs // 4)
    measure = log_epochs(epochs) if c.probe.measures.dense else tuple(e for e in c.measure_epochs if e < epochs)
    optim = dataclasses.replace(c.optim, warmup_epochs=min(get_profile(c.profile).warmup_epochs, epochs / 2))
    return dataclasses.replace(c, epochs=epochs, optim=optim, measure_epochs=tuple(e for e in measure if e < epochs))


def _worst_case_is_pooling(p: Profile) -> bool:
    """Whether the profile's ``pooling`` runs already are its ``worst-case`` runs (protocol 2, flip-crop, the same
    stage), so that the worst-case chapter reads them instead of training the same recipe again."""
    return measurement_protocol(p.protocol).extended and p.augmentation == "flip-crop" and p.worst_case == p.real
