"""The experiments of the book, one record each (:class:`Experiment`), in one registry (:data:`EXPERIMENTS`).

An experiment is a set of stored results that chapters read.  Everything the library knows about one lives in its
record: what it is, whether its runs are trained (from a profile) or computed (keyed by parameters), which stage of
a profile sizes its runs, their labels, augmentation and protocol, the options it takes, how its runs group into
units, which profiles' campaigns have it, and the driver that builds its configs.  Code that needs to know any of
this reads the record (:func:`get_experiment`); no other module compares an experiment's name
(``tests/test_layering.py`` checks).  Adding an experiment is one record and its driver, :func:`register`\\ ed
(``tests/runs/test_experiments.py`` adds a toy one).

Trained experiments (each run a :class:`~defstab_lib.runs.config.RunConfig`, stored as ``<experiment>/<key>.json``):

- ``pooling`` (Figures 3 and 6a/b): the CIFAR network with each of the five downsampling layers, trained on real
  labels; measured at initialisation, during and after training.
- ``random-labels`` (Figures 6c and 7): the same networks trained on uniform random labels, fixed per example.
- ``matched-real`` (claim 7's contrast): the same networks trained on *real* labels by the random-label recipe
  (same training subset, epochs, learning rate, no augmentation), so that random and real labels differ in the
  labels alone.  Profiles with ``matched_contrast`` (``standard``) test claim 7 against these runs; the older ones
  against their ``pooling`` runs (:func:`label_contrast`).
- ``synthetic`` (Figure 5): the synthetic deformation tasks of section 4.3, one per strength C.
- ``worst-case`` (the chapter "Worst-case deformations and relative stability"): a network with pooling
  (max-pool) and one without (subsample), trained on real labels with flip-crop augmentation, always measured
  with protocol 2 (worst cases, relative stability, label flips, dense trajectories; see
  :mod:`defstab_lib.runs.protocol`), whatever the profile's own protocol.  Where a profile's ``pooling`` runs are
  that recipe already (``standard``), they are its ``worst-case`` runs: nothing is trained twice.
- ``ablation`` (the chapter "What teaches stability?"): one network without pooling and one with
  (:data:`~defstab_lib.runs.profiles.ABLATION_NETWORKS`), each factor of
  :data:`~defstab_lib.runs.profiles.ABLATION_FACTORS` moved away from the profile's own recipe one at a time
  (augmentation, weight decay, training length), :data:`~defstab_lib.runs.profiles.ABLATION_SEEDS`
  initialisations per cell.  The profile's own recipe is the baseline cell and is not retrained: it is the
  ``pooling`` experiment's runs of those networks and seeds (:func:`ablation_baseline`).
- ``pilot-length``, ``pilot-synthetic``: pilot runs kept in the store, each trained once to fix a rule
  (``results/pilot-*/RULE.md``); no profile has them and no driver makes them again.

Computed experiments (nothing trained; one stored record per parameter set): ``pooling-init`` and ``smooth-init``
(random networks of Figures 3a/c and 4, :mod:`defstab_lib.runs.untrained`) and ``kernel-baselines`` (the kernel
view's measurements, :mod:`defstab_lib.runs.kernel_view`) and ``bn-init`` (each pooling and ablation run's initial
network with BatchNorm calibrated on its training images, :mod:`defstab_lib.runs.bn_init`).

Initial weights: under protocol 1 the weights are drawn from the run's seed alone, so within a seed the
subsample, max-pool and average-pool networks (same parameter shapes) start from the same convolution weights,
and the random-label and synthetic runs reuse them: a paired design.  Under protocol 2 they are an independent draw
per (architecture, seed) (:func:`defstab_lib.runs.config.init_seed`); the training subset and batch order still
depend on the seed alone (the networks of one seed see the same data), and one architecture and seed start from
the same weights in every experiment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .. import checks
from ..tasks import MAX_CLASSES
from ..optim import OptimConfig
from ..vocabulary import DOWNSAMPLING, TRAINING_DATASETS
from .config import ArchConfig, DataConfig, ProbeConfig, RunConfig, measurement_protocol
from .profiles import (
    ABLATION_FACTORS,
    ABLATION_NETWORKS,
    ABLATION_SEEDS,
    STRENGTHS,
    WORST_CASE_DOWNSAMPLING,
    Profile,
    get_profile,
)
from .protocol import log_epochs

__all__ = ["Experiment", "EXPERIMENTS", "OPTIONS", "register", "unregister", "get_experiment", "trained_experiments",
           "experiment_configs", "label_contrast", "image_runs", "synthetic_runs", "worst_case_runs",
           "ablation_runs", "ablation_cells", "ablation_baseline", "ablation_level"]

#: Every option of :func:`experiment_configs` that an experiment may take (the others it refuses).
OPTIONS = ("dataset", "downsampling", "strengths", "classes")


def _every_profile(profile: Profile) -> bool:
    return True


def _no_profile(profile: Profile) -> bool:
    return False


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment of the book: what it is and how its runs are made.

    Attributes:
        name: its name, also its folder in the results store (``results/<name>/``).
        description: one line for ``python -m defstab_lib list``.
        trained: whether its results are trained runs (``RunConfig``) rather than computations keyed by parameters.
        driver: ``driver(experiment, profile, **options) -> [RunConfig]``, the configs of its runs in a profile
            (``options``: those of :attr:`options` that were given, validated by :func:`experiment_configs`);
            ``None`` for a computed experiment and for stored pilots that nothing makes again.
        stage: the :class:`~defstab_lib.runs.profiles.Profile` field (a ``Stage``) that sizes its runs: training
            images, epochs, learning rate, measurement epochs.
        labels: ``"real"`` or ``"random"``.
        augmentation: the training augmentation, or ``None`` for the profile's own recipe's.
        protocol: the measurement protocol, or ``None`` for the profile's.
        seeds: the :class:`~defstab_lib.runs.profiles.Profile` field giving its default number of seeds.
        options: the options of :func:`experiment_configs` it takes (a subset of :data:`OPTIONS`).
        networks: its downsampling layers when not given.
        unit: how its runs group into units for a chapter: ``"downsampling"`` (by network, in the order asked
            for), ``"strength"`` (by task strength C, ascending) or ``"cell"`` (by ablation cell,
            :func:`ablation_cells`).
        profiles: which profiles' campaigns have it (a predicate on the profile).
        contrast: where claim 7 reads its real-label runs from this experiment (a predicate on the profile), or
            ``None`` where it never does (:func:`label_contrast`).
        computed_by: for a computed experiment, the function that computes and stores it (its dotted name).
    """

    name: str
    description: str
    trained: bool = True
    driver: Callable[..., list[RunConfig]] | None = None
    stage: str = "real"
    labels: str = "real"
    augmentation: str | None = None
    protocol: int | None = None
    seeds: str = "seeds"
    options: tuple[str, ...] = ("dataset", "downsampling")
    networks: tuple[str, ...] = DOWNSAMPLING
    unit: str = "downsampling"
    profiles: Callable[[Profile], bool] = _every_profile
    contrast: Callable[[Profile], bool] | None = None
    computed_by: str = ""

    def __post_init__(self) -> None:
        bad = [o for o in self.options if o not in OPTIONS]
        if bad:
            raise ValueError(f"options: {bad} not allowed; allowed: {', '.join(OPTIONS)}")
        checks.choice("labels", self.labels, ("real", "random"))
        checks.choice("unit", self.unit, ("downsampling", "strength", "cell"))
        if not self.trained and (self.driver is not None or not self.computed_by):
            raise ValueError(f"computed experiment {self.name!r} needs computed_by and no driver")

    @property
    def runs(self) -> bool:
        """Whether a profile makes its runs (trained, with a driver): what ``run``, ``list`` and the campaign
        know."""
        return self.trained and self.driver is not None

    def in_campaign(self, profile: str) -> bool:
        """Whether ``profile``'s campaign (:mod:`defstab_lib.runs.campaign`) trains it."""
        return self.runs and self.profiles(get_profile(profile))

    @property
    def takes_dataset(self) -> bool:
        """Whether it trains on a dataset one chooses (``synthetic`` draws its images)."""
        return "dataset" in self.options


#: Every registered experiment by name, in the order ``list``, ``status`` and the campaign give them.
EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to :data:`EXPERIMENTS` (``ValueError`` if its name is taken); returns it."""
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be an Experiment, got {type(experiment).__name__}")
    if experiment.name in EXPERIMENTS:
        raise ValueError(f"experiment {experiment.name!r} is already registered")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def unregister(name: str) -> Experiment:
    """Remove the experiment called ``name`` (``ValueError`` if there is none); returns its record."""
    return EXPERIMENTS.pop(get_experiment(name).name)


def get_experiment(name: str) -> Experiment:
    """The record of the experiment called ``name`` (``ValueError`` listing the experiments otherwise).

    >>> get_experiment("synthetic").unit, get_experiment("pooling-init").trained
    ('strength', False)
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; allowed: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def trained_experiments() -> tuple[str, ...]:
    """The experiments a profile trains (a driver builds their runs), in registry order.

    >>> trained_experiments()
    ('pooling', 'random-labels', 'matched-real', 'synthetic', 'worst-case', 'ablation')
    """
    return tuple(name for name, e in EXPERIMENTS.items() if e.runs)


def label_contrast(profile: str) -> str:
    """The experiment whose real-label runs claim 7 compares with random labels in ``profile``: ``"matched-real"``
    where the profile has ``matched_contrast``, else ``"pooling"`` (the records' :attr:`Experiment.contrast`).

    >>> label_contrast("cpu"), label_contrast("standard")
    ('pooling', 'matched-real')
    """
    p = get_profile(profile)
    found = [name for name, e in EXPERIMENTS.items() if e.contrast is not None and e.contrast(p)]
    if len(found) != 1:
        raise ValueError(f"profile {profile!r} has {len(found)} claim-7 contrasts ({found}); the records must give one")
    return found[0]


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
    """Every run of ``experiment`` in ``profile``, as its record's driver builds them.

    Args:
        experiment: a registered experiment that a profile trains (:func:`trained_experiments`).
        profile: one of :data:`~defstab_lib.runs.profiles.PROFILES`.
        dataset: ``"fashion-mnist"`` (default), ``"mnist"`` or ``"cifar10"`` (the experiments that take one).
        seeds: number of seeds (0, 1, ..., seeds - 1); default: the profile's.
        downsampling: the variants (default: the record's :attr:`Experiment.networks`), each once.
        strengths: the deformation strengths C of ``synthetic`` (default :data:`STRENGTHS`), each once.
        classes: the number of classes K of ``synthetic`` (default 10).
        epochs: override the profile's number of epochs (> 0; measurement epochs beyond it are dropped).

    Raises:
        ValueError: an unknown experiment, profile, dataset or variant, a repeated variant or strength,
            seeds/epochs < 1, or an option the experiment does not use (:attr:`Experiment.options`: it would be
            silently dropped); raised before any work.
        TypeError: seeds, epochs or classes that are not ints (no silent float -> int).

    >>> len(experiment_configs("pooling", "smoke", downsampling=["maxpool", "strided"], seeds=2))
    4
    >>> experiment_configs("pooling", "smoke", strengths=[1.0])
    Traceback (most recent call last):
    ...
    ValueError: strengths does not apply to experiment 'pooling' (it uses: dataset, downsampling)
    """
    e = EXPERIMENTS.get(experiment)
    if e is None or not e.runs:
        raise ValueError(f"unknown experiment {experiment!r}; allowed: {', '.join(trained_experiments())}")
    given = {"dataset": dataset, "downsampling": downsampling, "strengths": strengths, "classes": classes}
    for option, value in given.items():
        if value is not None and option not in e.options:
            raise ValueError(f"{option} does not apply to experiment {experiment!r} "
                             f"(it uses: {', '.join(e.options)})")
    get_profile(profile)
    options = {k: v for k, v in {**given, "seeds": seeds, "epochs": epochs}.items() if v is not None}
    return e.driver(e, profile, **options)


# ------------------------------------------------------------------------------------------------ drivers


def _check_list(name: str, values: Sequence, allowed: Sequence | None = None) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list, got {values!r}")
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"{name}: {bad} not allowed; allowed: {', '.join(map(str, allowed))}")
    return checks.unique(name, values)


def _common(e: Experiment, profile: str, seeds: int | None, epochs: int | None) -> tuple[int, dict]:
    """``(seeds, RunConfig fields)`` that every run of ``e`` in ``profile`` shares: the stage's training length,
    optimiser and measurement epochs, the probe, the precision."""
    p = get_profile(profile)
    n_seeds = getattr(p, e.seeds) if seeds is None else checks.positive_int("seeds", seeds)
    if epochs is not None:
        checks.positive_int("epochs", epochs)
    protocol = e.protocol or p.protocol
    probe = ProbeConfig(images=p.probe_images, bound_images=min(32, p.probe_images), protocol=protocol)
    stage = getattr(p, e.stage)
    n_epochs = epochs or stage.epochs
    optim = OptimConfig(lr=stage.lr, warmup_epochs=min(p.warmup_epochs, n_epochs / 2))
    # protocol 2: the dense trajectory, plus any epochs the stage asks for (standard's synthetic runs: every epoch)
    dense = probe.measures.dense
    measure_epochs = sorted({*log_epochs(n_epochs), *stage.measure_epochs}) if dense else stage.measure_epochs
    return n_seeds, dict(
        experiment=e.name, optim=optim, epochs=n_epochs, batch_size=p.batch_size, probe=probe,
        measure_epochs=tuple(m for m in measure_epochs if m < n_epochs), profile=profile, precision=p.precision,
    )


def _dataset(dataset: str | None) -> str:
    dataset = "fashion-mnist" if dataset is None else dataset
    if dataset not in TRAINING_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(TRAINING_DATASETS)}")
    return dataset


def image_runs(e: Experiment, profile: str, *, dataset: str | None = None, seeds: int | None = None,
               downsampling: Sequence[str] | None = None, epochs: int | None = None) -> list[RunConfig]:
    """The driver of the experiments that train networks on a dataset's images: each network of
    ``downsampling`` (default :attr:`Experiment.networks`) for each seed, with the record's stage, labels,
    augmentation and protocol."""
    dataset = _dataset(dataset)
    n_seeds, common = _common(e, profile, seeds, epochs)
    p = get_profile(profile)
    data = DataConfig(dataset=dataset, labels=e.labels, train_size=getattr(p, e.stage).train_size,
                      test_size=p.test_size, augmentation=p.augmentation if e.augmentation is None else e.augmentation)
    return [RunConfig(data=data, arch=ArchConfig(downsampling=variant, width=p.width), seed=seed, **common)
            for variant in _check_list("downsampling", e.networks if downsampling is None else downsampling,
                                       DOWNSAMPLING)
            for seed in range(n_seeds)]


def synthetic_runs(e: Experiment, profile: str, *, seeds: int | None = None, strengths: Sequence[float] | None = None,
                   classes: int | None = None, epochs: int | None = None) -> list[RunConfig]:
    """The driver of ``synthetic``: the synthetic deformation task of each strength C (default :data:`STRENGTHS`)
    with ``classes`` classes (default 10), each seed."""
    n_seeds, common = _common(e, profile, seeds, epochs)
    classes = 10 if classes is None else checks.positive_int("classes", classes, minimum=2, maximum=MAX_CLASSES)
    p = get_profile(profile)
    configs = []
    for c in _check_list("strengths", STRENGTHS if strengths is None else strengths):
        checks.nonnegative_float("strengths", c)
        data = DataConfig(dataset="synthetic", train_size=getattr(p, e.stage).train_size,
                          test_size=p.synthetic_test_size, strength=float(c), classes=classes)
        configs += [RunConfig(data=data, arch=ArchConfig(width=p.width), seed=seed, **common) for seed in range(n_seeds)]
    return configs


def worst_case_runs(e: Experiment, profile: str, *, dataset: str | None = None, seeds: int | None = None,
                    downsampling: Sequence[str] | None = None, epochs: int | None = None) -> list[RunConfig]:
    """The driver of ``worst-case``: :func:`image_runs`, or the profile's ``pooling`` runs of those networks where
    they are the same recipe (protocol 2, flip-crop, the same stage), so that nothing is trained twice."""
    p = get_profile(profile)
    if measurement_protocol(p.protocol).extended and p.augmentation == e.augmentation and getattr(p, e.stage) == p.real:
        return experiment_configs("pooling", profile, dataset=_dataset(dataset), seeds=seeds or getattr(p, e.seeds),
                                  downsampling=downsampling or e.networks, epochs=epochs)
    return image_runs(e, profile, dataset=dataset, seeds=seeds, downsampling=downsampling, epochs=epochs)


def ablation_runs(e: Experiment, profile: str, **options) -> list[RunConfig]:
    """The driver of ``ablation``: the runs of every cell, the baseline's first (:func:`ablation_cells`; they are
    the ``pooling`` experiment's runs, which the campaign counts there)."""
    return [c for configs in ablation_cells(profile, **options).values() for c in configs]


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


def _matched_contrast(profile: Profile) -> bool:
    return profile.matched_contrast


def _not_matched_contrast(profile: Profile) -> bool:
    return not profile.matched_contrast


_IMAGES = "the five downsampling variants trained on"
for _record in (
    Experiment("pooling", f"{_IMAGES} real labels (Figures 3, 6a/b)", driver=image_runs,
               contrast=_not_matched_contrast),
    Experiment("random-labels", f"{_IMAGES} random labels (Figures 6c, 7)", driver=image_runs, stage="random",
               labels="random", augmentation="none"),
    Experiment("matched-real", f"{_IMAGES} real labels by the random-label recipe (claim 7's matched contrast)",
               driver=image_runs, stage="random", augmentation="none", profiles=_matched_contrast,
               contrast=_matched_contrast),
    Experiment("synthetic", "synthetic deformation tasks of strength C = 1..4 (Figure 5)", driver=synthetic_runs,
               stage="synthetic", augmentation="none", options=("strengths", "classes"), networks=("maxpool",),
               unit="strength"),
    Experiment("worst-case", "a pooled and an unpooled network with flip-crop augmentation, measured with protocol 2",
               driver=worst_case_runs, stage="worst_case", augmentation="flip-crop", protocol=2,
               seeds="worst_case_seeds", networks=WORST_CASE_DOWNSAMPLING),
    Experiment("ablation", "a network without pooling and one with, augmentation, weight decay and training length "
                           "moved one at a time from the profile's recipe",
               driver=ablation_runs, networks=ABLATION_NETWORKS, unit="cell"),
    Experiment("pooling-init", "the five downsampling variants at initialisation, many random draws (claim 1)",
               trained=False, computed_by="defstab_lib.runs.untrained.pooling_init", profiles=_no_profile),
    Experiment("smooth-init", "max-pool networks at initialisation with Gaussian-smoothed filters (Figure 4, claim 4)",
               trained=False, computed_by="defstab_lib.runs.untrained.smooth_init", profiles=_no_profile),
    Experiment("kernel-baselines", "kernel networks and scattering on the pooling runs' probe, and the pooling "
                                   "networks' translation sweeps (the kernel view)",
               trained=False, computed_by="defstab_lib.runs.kernel_view.kernel_baselines", profiles=_no_profile),
    Experiment("bn-init", "each stored pooling and ablation run's initial network with BatchNorm's running "
                          "statistics estimated on its training images (no weight changed)",
               trained=False, computed_by="defstab_lib.runs.bn_init.calibrate_runs", profiles=_no_profile),
    Experiment("imagenet-network", "a network trained on ImageNet beside random initialisations of its architecture, "
                                   "on the packaged natural images (the chapter \"A network trained on ImageNet\")",
               trained=False, computed_by="defstab_lib.runs.imagenet.imagenet_network", profiles=_no_profile),
    Experiment("pilot-length", "pilot runs of an early length rule (kept; results/pilot-length/RULE.md)",
               profiles=_no_profile),
    Experiment("pilot-synthetic", "pilot runs of the synthetic tasks that fixed the matched-loss rule (kept; "
                                  "results/pilot-synthetic/RULE.md)", unit="strength", profiles=_no_profile),
):
    register(_record)
del _record
