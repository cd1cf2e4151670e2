"""Typed run configurations and their canonical keys.

A :class:`RunConfig` says everything a training run depends on.  Its :func:`run_key` is a stable hash of the
config and of its measurement protocol (``ProbeConfig.protocol``, one of :data:`PROTOCOLS`), the version of *what
a run measures*.  The key does not depend on the name of the profile that produced a config: two profiles asking
for the same run share its result.

Protocols (what :func:`defstab_lib.runs.execute.measure` stores; :mod:`defstab_lib.runs.protocol` for v2):

- **1** (the default, every run stored before protocol 2 existed): per-layer normalized distances and the noise
  control, filter TV and accuracies at initialisation, at ``measure_epochs`` and at the end, and the
  Bietti-Mairal sweep at initialisation and at the end.  Initial weights are drawn from ``seed`` alone, so the
  networks of one seed that have the same parameter shapes (subsample, max-pool and average-pool) start from the
  *same* convolution weights: a paired design the analysis must respect.
- **2**: protocol 1 plus the normalisers, the Euclidean noise control, per-image distances (at initialisation
  and at the end), worst-case deformations at the paper's budget, Petrini's sine-mode relative stability at the
  output, whole-pixel translation sweeps and ADef's label-flipping displacement (at the end), measured densely
  (after 1/8, 1/4 and 1/2 of the first epoch too).  Initial weights are an **independent draw per
  (architecture, seed)** (:func:`init_seed`): networks of one seed with different architectures share the
  training subset and the batch order (paired data), never their weights.  The same architecture and seed in two
  experiments (real and random labels, say) start from the same weights.

Keys of protocol 1 are exactly those computed before protocols existed: the probe's ``protocol`` field is left
out of the hashed config when it is 1, and the hashed version is 1.

A run's ``precision`` (``defstab_lib.train.PRECISIONS``) and whether it trains through ``torch.compile``
(``compile``) are part of its key, each left out of the hashed config at its default (``"auto"``, ``False``), so
that every run stored before the fields existed keeps its key.  bfloat16 changes the numbers.  Compiling changes
more than float rounding: on zero-padded images (Fashion-MNIST's 28x28 in 32x32) many ReLU and max-pool inputs
sit exactly on a tie, and the compiled backward takes another subgradient there (the first step's gradients
differ by about 1% in the first layers; 1e-5, rounding, on the same images with a little noise added;
``tests/runs/test_execute.py``), so a compiled run is another run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from ..checks import choice
from ..tasks import MAX_CLASSES, TEMPLATE_SOURCES
from ..optim import PRECISIONS, OptimConfig
from ..vocabulary import RUN_DATASETS

__all__ = [
    "PROTOCOL_VERSION",
    "PROTOCOLS",
    "MeasurementProtocol",
    "measurement_protocol",
    "init_seed",
    "DATASETS",
    "LABEL_MODES",
    "AUGMENTATIONS",
    "DataConfig",
    "ArchConfig",
    "ProbeConfig",
    "RunConfig",
    "run_key",
    "config_to_dict",
    "config_from_dict",
]

#: The newest measurement protocol (what a run stores); a config chooses its own with ``ProbeConfig.protocol``.
PROTOCOL_VERSION = 2


@dataclasses.dataclass(frozen=True)
class MeasurementProtocol:
    """What a measurement protocol measures and how its runs are keyed: the one place that tells the protocols
    apart (code asks these, never the protocol's number; see the module docstring).

    Attributes:
        number: the protocol (``ProbeConfig.protocol``).
        extended: its measurements hold the protocol-2 fields (``Measurement.v2``: normalisers, Euclidean noise
            control, worst cases, sine modes, per-image distances, translations, label flips), stored rounded
            (:mod:`defstab_lib.runs.protocol`) and on one JSON line.
        dense: it measures densely: inside the first epoch and at log-spaced epochs, with accuracies and losses of
            the light measurements in between on a subset (:data:`defstab_lib.runs.protocol.TRAJECTORY_EVAL`).
        independent_init: each (architecture, seed) draws its own initial weights (:func:`init_seed`); otherwise
            the seed alone does, shared by the architectures whose parameters have the same shapes.
        keyed: the hashed config names the protocol (protocol 1 leaves it out: keys from before protocols).
    """

    number: int
    extended: bool
    dense: bool
    independent_init: bool
    keyed: bool


#: Every protocol a config may ask for, by number (see the module docstring).
MEASUREMENT_PROTOCOLS = {
    1: MeasurementProtocol(1, extended=False, dense=False, independent_init=False, keyed=False),
    2: MeasurementProtocol(2, extended=True, dense=True, independent_init=True, keyed=True),
}
#: The protocols a config may ask for (see the module docstring).
PROTOCOLS = tuple(MEASUREMENT_PROTOCOLS)


def measurement_protocol(number: int) -> MeasurementProtocol:
    """What protocol ``number`` measures (:data:`MEASUREMENT_PROTOCOLS`).

    >>> measurement_protocol(2).dense, measurement_protocol(1).extended
    (True, False)
    >>> measurement_protocol(3)
    Traceback (most recent call last):
    ...
    ValueError: protocol must be one of (1, 2), got 3
    """
    if isinstance(number, bool) or number not in MEASUREMENT_PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {number!r}")
    return MEASUREMENT_PROTOCOLS[number]

DATASETS = RUN_DATASETS
LABEL_MODES = ("real", "random")
AUGMENTATIONS = ("none", "flip-crop", "flip-crop-tps")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What a run trains and tests on.

    Attributes:
        dataset: ``"fashion-mnist"``, ``"mnist"``, ``"cifar10"`` or ``"synthetic"`` (section 4.3's task).
        labels: ``"real"`` or ``"random"`` (uniform random labels fixed per example for the run).
        train_size: training images used (a fixed random subset drawn with the run's seed); ``None``: all.
            For the synthetic task: examples drawn per epoch.
        test_size: test images used (the first ones of a fixed permutation); ``None``: all.  For the synthetic
            task: size of its fixed test set.
        augmentation: ``"none"``, ``"flip-crop"`` (random horizontal flip and translation by up to 2 px) or
            ``"flip-crop-tps"`` (flip-crop, then a random thin-plate-spline deformation at the probe's strength).
        image_size: images are zero-padded to this size (Fashion-MNIST and MNIST: 28 -> 32).
        strength: synthetic task only: deformation strength C in pixels.
        classes: synthetic task only: number of classes K.
        templates: synthetic task only: where the templates come from (``defstab_lib.tasks.TEMPLATE_SOURCES``).
        grid: synthetic task only: control points per side of its deformations.
    """

    dataset: str = "fashion-mnist"
    labels: str = "real"
    train_size: int | None = None
    test_size: int | None = None
    augmentation: str = "none"
    image_size: int = 32
    strength: float = 0.0
    classes: int = 10
    templates: str = "foolbox-mnist"
    grid: int = 3

    def __post_init__(self) -> None:
        _check(self.dataset in DATASETS, f"dataset {self.dataset!r} is not allowed; allowed: {', '.join(DATASETS)}")
        _check(self.labels in LABEL_MODES, f"labels {self.labels!r} is not allowed; allowed: {', '.join(LABEL_MODES)}")
        _check(self.augmentation in AUGMENTATIONS,
               f"augmentation {self.augmentation!r} is not allowed; allowed: {', '.join(AUGMENTATIONS)}")
        for name in ("train_size", "test_size"):
            value = getattr(self, name)
            _check(value is None or (isinstance(value, int) and value > 0), f"{name} must be None or > 0, got {value!r}")
        _check(self.strength >= 0, f"strength must be >= 0, got {self.strength}")
        _check(2 <= self.classes <= MAX_CLASSES, f"classes must be in [2, {MAX_CLASSES}] (one template per class), "
                                                   f"got {self.classes}")
        _check(self.templates in TEMPLATE_SOURCES,
               f"templates {self.templates!r} is not allowed; allowed: {', '.join(TEMPLATE_SOURCES)}")
        _check(self.grid >= 2, f"grid must be >= 2, got {self.grid}")


@dataclasses.dataclass(frozen=True)
class ArchConfig:
    """The network: ``defstab_lib.models.make_vgg(spec, downsampling, width=..., smooth_sigma=...)``."""

    spec: str = "cifar"
    downsampling: str = "maxpool"
    width: float = 1.0
    smooth_sigma: float = 0.0

    def __post_init__(self) -> None:
        _check(self.width > 0, f"width must be > 0, got {self.width}")
        _check(self.smooth_sigma >= 0, f"smooth_sigma must be >= 0, got {self.smooth_sigma}")


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The fixed probe of a run: ``images`` test images, each deformed once by a fixed random deformation.

    Attributes:
        images: number of probe images N (the paper uses 128).
        grid: control points per side of the probe deformations (paper, CIFAR-10: 3).
        strength: maximum displacement C in pixels (paper, CIFAR-10: 2).
        seed: seed of the choice of images, of the deformations and of the noise-matched control.
        bound_strengths: strengths C (pixels) of the sweep for the Bietti-Mairal bound, measured at
            initialisation and at the end: per image, ``||tau||_inf``, ``||grad tau||_inf`` and the relative change
            of every layer (``defstab_lib.metrics.relative_change``).
        bound_images: probe images in that sweep (the first ones of the probe).
        protocol: what the run measures, one of :data:`PROTOCOLS` (see the module docstring); 1 by default, so
            that configs made before protocol 2 keep their keys.
    """

    images: int = 128
    grid: int = 3
    strength: float = 2.0
    seed: int = 0
    bound_strengths: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    bound_images: int = 32
    protocol: int = 1

    def __post_init__(self) -> None:
        _check(not isinstance(self.protocol, bool) and self.protocol in PROTOCOLS,
               f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        _check(self.images >= 3, f"probe images must be >= 3 (the median needs pairs), got {self.images}")
        _check(self.grid >= 2, f"probe grid must be >= 2, got {self.grid}")
        _check(self.strength > 0, f"probe strength must be > 0, got {self.strength}")
        object.__setattr__(self, "bound_strengths", tuple(float(c) for c in self.bound_strengths))
        _check(all(c > 0 for c in self.bound_strengths), f"bound_strengths must be > 0, got {self.bound_strengths}")
        _check(1 <= self.bound_images <= self.images,
               f"bound_images must be in [1, images={self.images}], got {self.bound_images}")

    @property
    def measures(self) -> MeasurementProtocol:
        """What this probe's protocol measures (:data:`MEASUREMENT_PROTOCOLS`)."""
        return MEASUREMENT_PROTOCOLS[self.protocol]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One training run.

    Attributes:
        experiment: the experiment it belongs to (its folder in the results store).
        data, arch, optim, probe: see their classes.
        epochs: training epochs (> 0).
        batch_size: images per optimiser step.
        seed: seed of the data order, the subset and random labels, and of the initial weights (protocol 1: the
            seed itself; protocol 2: :func:`init_seed`, an independent draw per architecture and seed).
        measure_epochs: epochs after which to measure, besides initialisation (0) and the end.
        profile: the profile that produced this config (informational: not part of the key).
        precision: the arithmetic of training and evaluation (``defstab_lib.train.PRECISIONS``): ``"auto"``
            (float32 on the CPU, bfloat16 autocast on CUDA), ``"float32"`` or ``"bf16"`` (bfloat16 autocast).
            Part of the key when it is not ``"auto"``.
        compile: train through ``torch.compile(model)`` (measurements use the model itself); a CPU pays one to
            three minutes of compiling first.  Part of the key when true (see the module docstring).
    """

    experiment: str
    data: DataConfig = DataConfig()
    arch: ArchConfig = ArchConfig()
    optim: OptimConfig = OptimConfig()
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    probe: ProbeConfig = ProbeConfig()
    measure_epochs: tuple[int, ...] = ()
    profile: str = ""
    precision: str = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        choice("precision", self.precision, PRECISIONS)
        _check(isinstance(self.compile, bool), f"compile must be True or False, got {self.compile!r}")
        _check(bool(self.experiment) and "/" not in self.experiment, f"bad experiment name {self.experiment!r}")
        _check(isinstance(self.epochs, int) and self.epochs > 0, f"epochs must be an int > 0, got {self.epochs!r}")
        _check(isinstance(self.batch_size, int) and self.batch_size > 0, f"batch_size must be > 0, got {self.batch_size!r}")
        _check(isinstance(self.seed, int) and self.seed >= 0, f"seed must be an int >= 0, got {self.seed!r}")
        object.__setattr__(self, "measure_epochs", tuple(sorted(set(int(e) for e in self.measure_epochs))))
        bad = [e for e in self.measure_epochs if not 0 < e <= self.epochs]
        _check(not bad, f"measure_epochs {bad} are outside 1..epochs={self.epochs}")

    @property
    def key(self) -> str:
        return run_key(self)

    @property
    def measured_epochs(self) -> tuple[int, ...]:
        """Every epoch at which the run measures: 0 (initialisation), ``measure_epochs`` and the last."""
        return tuple(sorted({0, *self.measure_epochs, self.epochs}))

    def describe(self) -> str:
        """One line for progress output and tables."""
        d, a = self.data, self.arch
        what = f"{d.dataset}" + (f" C={d.strength:g} K={d.classes}" if d.dataset == "synthetic" else "")
        what += " random labels" if d.labels == "random" else ""
        what += "" if d.augmentation == "none" else f" with {d.augmentation}"
        decay = ("" if self.optim.weight_decay == OptimConfig().weight_decay
                 else f", weight decay {self.optim.weight_decay:g}")
        decay += f", label smoothing {self.optim.label_smoothing:g}" if self.optim.label_smoothing else ""
        return (f"{self.experiment}: {a.downsampling} x{a.width:g} on {what}, {self.epochs} epochs{decay}, "
                f"seed {self.seed}" + ("" if self.precision == "auto" else f", {self.precision}")
                + (", compiled" if self.compile else ""))


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """A JSON-ready dict of ``config`` (tuples become lists).  The optimiser's ``label_smoothing`` is left out at
    its default 0, so that the runs stored before it existed keep their bytes and their keys.

    >>> "label_smoothing" in config_to_dict(RunConfig("demo"))["optim"]
    False
    """
    d = json.loads(json.dumps(dataclasses.asdict(config)))
    if not d["optim"]["label_smoothing"]:
        d["optim"].pop("label_smoothing")
    return d


def config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Inverse of :func:`config_to_dict`; raises ``ValueError`` on unknown or missing fields."""
    try:
        return RunConfig(
            experiment=d["experiment"],
            data=DataConfig(**d["data"]),
            arch=ArchConfig(**d["arch"]),
            optim=OptimConfig(**d["optim"]),
            epochs=d["epochs"],
            batch_size=d["batch_size"],
            seed=d["seed"],
            probe=ProbeConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d["probe"].items()}),
            measure_epochs=tuple(d.get("measure_epochs", ())),
            profile=d.get("profile", ""),
            precision=d.get("precision", "auto"),
            compile=d.get("compile", False),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a run config: {exc}") from exc


def run_key(config: RunConfig) -> str:
    """The canonical key of a run: 16 hex digits of SHA-256 over its config (:func:`config_to_dict`, which leaves out
    the optimiser's ``label_smoothing`` at 0; without ``profile``, and without ``precision`` and ``compile`` at their
    defaults ``"auto"`` and ``False``) and protocol.

    >>> run_key(RunConfig("demo")) == run_key(RunConfig("demo", profile="cpu"))
    True
    >>> run_key(RunConfig("demo")) == run_key(RunConfig("demo", seed=1))
    False
    >>> run_key(RunConfig("demo")) == run_key(RunConfig("demo", precision="bf16"))
    False
    >>> run_key(RunConfig("demo")) == run_key(RunConfig("demo", compile=True))
    False
    >>> run_key(RunConfig("demo")) == run_key(RunConfig("demo", optim=OptimConfig(label_smoothing=0.1)))
    False
    """
    d = config_to_dict(config)
    d.pop("profile")
    protocol = config.probe.protocol
    if not config.probe.measures.keyed:  # the keys of runs stored before protocols were a field stay as they were
        d["probe"].pop("protocol")
    if d["precision"] == "auto":  # ... and so do those of runs stored before precision and compile were fields
        d.pop("precision")
    if not d["compile"]:
        d.pop("compile")
    blob = json.dumps({"protocol": protocol, "config": d}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def init_seed(config: RunConfig) -> int:
    """The seed of a run's initial weights.

    Protocol 1: ``config.seed`` (the networks of one seed with the same parameter shapes share their weights).
    Protocol 2: 63 bits of SHA-256 over the architecture and the seed, an independent draw per (architecture,
    seed) -- the same for that architecture and seed in every experiment and dataset.

    >>> a = RunConfig("x", probe=ProbeConfig(protocol=2))
    >>> init_seed(a) == init_seed(RunConfig("y", probe=ProbeConfig(protocol=2)))
    True
    >>> init_seed(a) == init_seed(dataclasses.replace(a, arch=ArchConfig(downsampling="subsample")))
    False
    >>> init_seed(RunConfig("x", seed=3))
    3
    """
    if not config.probe.measures.independent_init:
        return config.seed
    blob = json.dumps({"arch": dataclasses.asdict(config.arch), "seed": config.seed}, sort_keys=True)
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big") >> 1
