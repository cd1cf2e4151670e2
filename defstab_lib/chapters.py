"""The book's chapters: their parameters, how they are validated, and what each chapter shows about its run.

Every chapter notebook in ``book/`` has an entry in :data:`CHAPTERS`.  The entry names the chapter's papermill
parameters (type, allowed values), the *smoke* parameters with which the tests execute it in seconds, and the
experiments whose stored results it reads (so that ``make book`` re-executes it only when those change, and
``python -m defstab_lib status`` can say what is stored).

A chapter notebook uses this module in the cell after its ``parameters`` cell::

    from defstab_lib import chapters
    params = chapters.validate("data", n_per_source=n_per_source, seed=seed)
    chapters.show_parameters("data", params)

A chapter that reads trained runs loads them (training what is not stored) in one call, :func:`load_runs`::

    loaded = chapters.load_runs("pooling", params)
    results, groups = loaded.results["pooling"], loaded.groups["pooling"]

:func:`validate` raises a :class:`ValueError` that names the bad parameter and what is allowed, before any
expensive work.  :func:`glue` stores a value for the page's prose (myst-nb ``glue``) and still works where
myst-nb is not installed (in Colab, say), where it only returns the value.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import html
import importlib
import io
import json
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt

from . import analysis, checks, runs
from .analysis.report import label_contrast
from .provenance import resolve_device as _resolve_device
from .runs.campaign import campaign_experiments
from .tasks import MAX_CLASSES
from .vocabulary import DOWNSAMPLING, TRAINING_DATASETS

__all__ = ["Param", "ChapterSpec", "SEED_PARAM", "DEVICE_PARAM", "CHAPTERS", "get", "validate", "injected_parameters",
           "show_parameters", "glue", "glue_all", "resolve_device", "html_table", "ChapterRuns", "load_runs",
           "FIGURE_DPI", "results_file", "computation_file", "figure_bundle", "show_figure"]


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
            raise TypeError(f"{what} must be of type {kind.__name__}; {self._allowed()}")
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
            (:func:`defstab_lib.analysis.report.label_contrast`: ``matched-real`` where the profile has
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
        out = tuple(e for e in self.experiments if e not in runs.EXPERIMENTS or e in used)
        if self.label_contrast:
            contrast = label_contrast(profile)
            out = tuple(e for e in out if e not in ("pooling", "matched-real") or e == contrast)
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
_RUN_SMOKE = {"profile": "smoke", "seeds": 1, "device": "cpu"}

_register(
    ChapterSpec(
        name="pooling",
        title="Pooling and learned stability",
        params=(TRAIN_DATASET_PARAM, PROFILE_PARAM, RUN_SEEDS_PARAM, RUN_DOWNSAMPLING_PARAM, TRAIN_DEVICE_PARAM),
        smoke=_RUN_SMOKE,
        experiments=("pooling", "pooling-init"),
    )
)


_register(
    ChapterSpec(
        name="synthetic_tasks",
        title="Tasks that demand stability",
        params=(
            PROFILE_PARAM,
            Param("seeds", int, "training runs per strength (bands: +-2 standard deviations over them)", minimum=1, maximum=100),
            Param("strengths", list, "deformation strengths C of the tasks, pixels", item_kind=float, minimum=0.0,
                  min_length=2),
            Param("classes", int, "classes K of each task, each one real MNIST image", minimum=2, maximum=MAX_CLASSES),
            TRAIN_DEVICE_PARAM,
        ),
        smoke={**_RUN_SMOKE, "strengths": [1.0, 4.0]},
        experiments=("synthetic",),
    )
)


# Random labels compare with claim 7's real-label contrast of the profile (the report's): the matched-real runs in
# a profile with matched_contrast (the pooling runs' recipe differs in more than the labels), else the pooling runs.
for _name, _title, _experiments in (
    ("smoothness", "Training smooths filters", ("pooling", "random-labels")),
    ("random_labels", "Random labels", ("random-labels", "pooling", "matched-real")),
):
    _register(
        ChapterSpec(
            name=_name,
            title=_title,
            params=(TRAIN_DATASET_PARAM, PROFILE_PARAM, RUN_SEEDS_PARAM, RUN_DOWNSAMPLING_PARAM, TRAIN_DEVICE_PARAM),
            smoke=_RUN_SMOKE,
            experiments=_experiments,
            label_contrast=_name == "random_labels",
        )
    )


_register(
    ChapterSpec(
        name="report",
        title="Does it reproduce?",
        params=(
            TRAIN_DATASET_PARAM, PROFILE_PARAM, RUN_SEEDS_PARAM,
            Param("sigmas", list, "Figure 4: smoothing standard deviations, pixels", item_kind=float, minimum=0.0,
                  min_length=2),
            Param("smooth_seeds", int, "claims 1 and 4: independent random networks per downsampling variant and "
                  "per sigma (at the trained networks' width and at full width)", minimum=1, maximum=1000),
            TRAIN_DEVICE_PARAM,
        ),
        smoke={**_RUN_SMOKE, "sigmas": [0.0, 2.0], "smooth_seeds": 2},
        experiments=("pooling", "random-labels", "matched-real", "synthetic", "smooth-init", "pooling-init"),
    )
)


_register(
    ChapterSpec(
        name="kernel_view",
        title="The kernel view of stability",
        params=(
            TRAIN_DATASET_PARAM, PROFILE_PARAM,
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
            TRAIN_DEVICE_PARAM,
        ),
        # Under 60 s alone on 2 cores: one network with and one without pooling (the comparisons need both kinds),
        # three CKNs (no pooling and two pooled scales, so that the 1/sigma law is fitted) and one scattering scale.
        smoke={**_RUN_SMOKE, "downsampling": ["maxpool", "strided"], "pool_sigmas": [0.0, 1.0, 2.0], "n_anchors": 8,
               "scattering_J": [2]},
        experiments=("pooling", "kernel-baselines"),
    )
)


_register(
    ChapterSpec(
        name="worst_case",
        title="Worst-case deformations and relative stability",
        params=(
            TRAIN_DATASET_PARAM, PROFILE_PARAM,
            Param("seeds", int, "networks per downsampling layer, each an independent draw of the initial weights",
                  minimum=1, maximum=100),
            RUN_DOWNSAMPLING_PARAM, TRAIN_DEVICE_PARAM,
        ),
        smoke=_RUN_SMOKE,
        experiments=("worst-case",),
    )
)


# The chapter "What teaches stability?" (the ablation, defstab_lib.analysis.ablation): its profile parameter says
# what the profile means here (whose recipe the factors are moved from); its choices are PROFILE_PARAM's.
_register(
    ChapterSpec(
        name="what_teaches_stability",
        title="What teaches stability?",
        params=(
            TRAIN_DATASET_PARAM,
            Param("profile", str, "whose recipe the factors are moved from: smoke (seconds), cpu (no augmentation), "
                  "standard (flip-crop) or paper (GPU); see defstab_lib.runs.profiles", choices=PROFILE_PARAM.choices),
            Param("seeds", int, "initialisations per cell, each network's weights and data order shared by its cells "
                  "(the verdicts' independent units)", minimum=1, maximum=100),
            TRAIN_DEVICE_PARAM,
        ),
        smoke=_RUN_SMOKE,
        experiments=("ablation", "pooling"),
    )
)


def get(name: str) -> ChapterSpec:
    """The registered chapter called ``name`` (a ``ValueError`` lists the known names otherwise)."""
    try:
        return CHAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown chapter {name!r}; known chapters: {', '.join(CHAPTERS)}") from None


def validate(chapter: str, **values: Any) -> dict[str, Any]:
    """Check a chapter's parameters and return them as a dict, in the registered order.

    Raises:
        ValueError: a parameter is missing, unknown, or has a value that is not allowed (the message names it
            and lists what is allowed).
        TypeError: a parameter has the wrong type.

    >>> validate("data", n_per_source=3, seed=0)
    {'n_per_source': 3, 'seed': 0}
    >>> validate("data", n_per_source=0, seed=0)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'n_per_source' = 0 is below the minimum; allowed: int >= 1 and <= 20
    """
    spec = get(chapter)
    names = [p.name for p in spec.params]
    unknown = sorted((set(values) | set(injected_parameters())) - set(names))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {chapter!r}; its parameters are {names} "
                         f"(a list is passed to papermill as YAML: -y 'downsampling: [maxpool, strided]')")
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"missing parameter(s) {missing} for chapter {chapter!r}")
    checked = {p.name: p.check(values[p.name]) for p in spec.params}
    if "device" in checked:
        _resolve_device(checked["device"])  # a device this machine lacks stops the chapter here, before any work
    return checked


def injected_parameters() -> list[str]:
    """The names papermill injected into the running notebook kernel (its ``# Parameters`` cell), ``[]`` outside
    one: :func:`validate` refuses those the chapter does not have, so that ``-p seed 7`` for a chapter whose
    parameter is ``seeds`` stops the notebook instead of running on the defaults."""
    try:
        from IPython import get_ipython  # optional dependency: only a notebook kernel has injected parameters
    except ImportError:
        return []
    shell = get_ipython()
    if shell is None:
        return []
    names: list[str] = []
    for source in shell.user_ns.get("In", []):
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                     if isinstance(t, ast.Name)]
    return names


def resolve_device(device: str = "auto") -> str:
    """A chapter's ``device`` parameter as a device name: ``'auto'`` becomes ``'cuda'`` when a CUDA device is
    present and ``'cpu'`` otherwise (:func:`defstab_lib.provenance.resolve_device`, whose ``ValueError`` lists
    the allowed names).

    >>> resolve_device("cpu")
    'cpu'
    """
    return str(_resolve_device(device))


@dataclasses.dataclass(frozen=True)
class ChapterRuns:
    """The trained runs a chapter reads, as :func:`load_runs` returns them.

    Attributes:
        configs: ``{experiment: [RunConfig, ...]}``, one entry per run experiment the chapter reads in its profile
            (:meth:`ChapterSpec.experiments_for`).
        results: ``{experiment: [Results, ...]}``, in the order of ``configs``.
        groups: ``{experiment: {setting: [Results, ...]}}``: the runs by downsampling layer (in the order of the
            chapter's ``downsampling`` parameter, else of :data:`defstab_lib.vocabulary.DOWNSAMPLING`) or, for
            the synthetic tasks, by strength ``C`` (ascending).
        device: the chapter's ``device`` parameter resolved (``"cpu"``, ``"cuda"``, ...): where runs not stored are
            trained (and what else the chapter computes, computed).
        to_train: how many of the runs were not stored, and so were trained by this call.
    """

    configs: dict[str, list]
    results: dict[str, list]
    groups: dict[str, dict[Any, list]]
    device: str
    to_train: int

    @property
    def all_results(self) -> list:
        """Every run, the experiments one after the other."""
        return [r for rs in self.results.values() for r in rs]

    def compute_note(self) -> str:
        """One sentence on where and how long the runs took, and how many this render trained
        (:func:`defstab_lib.analysis.compute_note`)."""
        return analysis.compute_note(self.all_results, self.to_train)

    def show_recipe(self) -> None:
        """Display what these runs are beside what the paper ran, one column per experiment, stated from their
        configs (:func:`defstab_lib.analysis.recipe_html`): the table every training chapter shows by its
        parameters."""
        from IPython.display import HTML, display  # optional dependency: present wherever a notebook runs

        display(HTML(analysis.recipe_html(self.results)))


def _experiment_kwargs(experiment: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``runs.experiment_configs`` that a chapter's parameters set.

    >>> _experiment_kwargs("synthetic", {"seeds": 2, "strengths": [4.0, 1.0, 4.0], "classes": 10, "profile": "cpu"})
    {'seeds': 2, 'strengths': [1.0, 4.0], 'classes': 10}
    >>> _experiment_kwargs("pooling", {"seeds": 3, "dataset": "mnist", "profile": "cpu"})
    {'seeds': 3, 'dataset': 'mnist'}
    """
    kwargs: dict[str, Any] = {"seeds": params["seeds"]}
    if experiment == "synthetic":
        if "strengths" in params:
            kwargs["strengths"] = sorted(set(params["strengths"]))
        if "classes" in params:
            kwargs["classes"] = params["classes"]
        return kwargs
    if "dataset" in params:
        kwargs["dataset"] = params["dataset"]
    if "downsampling" in params:
        kwargs["downsampling"] = params["downsampling"]
    return kwargs


def load_runs(chapter: str, params: Mapping[str, Any]) -> ChapterRuns:
    """Load the runs of a chapter's experiments from the results store, training (and storing) those that are not
    stored: the set-up of every chapter that reads trained runs.

    For each experiment the chapter reads in its ``profile`` (:meth:`ChapterSpec.experiments_for`) that trains runs
    (:data:`defstab_lib.runs.EXPERIMENTS`), in the registered order, the configs of the chapter's ``profile``
    are built from its parameters (``dataset``, ``seeds``, ``downsampling``; for the synthetic tasks ``strengths``
    and ``classes``), the runs not yet stored are counted, and :func:`defstab_lib.runs.run_configs` loads or
    trains them on the chapter's ``device`` (:func:`resolve_device`).

    Args:
        chapter: a registered chapter name.
        params: its parameters, as :func:`validate` returns them (validated again here).

    Raises:
        ValueError: an unknown chapter, a bad parameter, or a chapter that reads no trained runs; before any work.
    """
    spec = get(chapter)
    params = validate(chapter, **params)
    experiments = ([e for e in spec.experiments_for(params["profile"]) if e in runs.EXPERIMENTS]
                   if "profile" in params else [])  # a chapter without a profile trains nothing
    if not experiments:
        raise ValueError(f"chapter {chapter!r} reads no trained runs (its experiments: {list(spec.experiments)}); "
                         f"load_runs serves the chapters that do")
    configs = {e: runs.experiment_configs(e, params["profile"], **_experiment_kwargs(e, params))
               for e in experiments}
    store = runs.ResultsStore()
    to_train = sum(not store.exists(c) for cs in configs.values() for c in cs)
    device = resolve_device(params["device"])
    results = {e: runs.run_configs(cs, device=device) for e, cs in configs.items()}
    groups = {}
    for e, rs in results.items():
        if e == "synthetic":
            groups[e] = analysis.group_by(rs, "strength", order=sorted({r.config.data.strength for r in rs}))
        else:
            groups[e] = analysis.group_by(rs, order=params.get("downsampling", DOWNSAMPLING))
    return ChapterRuns(configs=configs, results=results, groups=groups, device=device, to_train=to_train)


def html_table(rows: Sequence[Mapping[str, Any]], *, caption: str = "", css_class: str = "defstab-table",
               code_columns: Sequence[str] = ()) -> str:
    """An HTML table with one row per mapping (columns from the first row's keys); values are escaped.

    >>> html_table([{"a": 1, "b": "<x>"}])
    '<table class="defstab-table"><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>&lt;x&gt;</td></tr></tbody></table>'
    """
    if not rows:
        raise ValueError("rows must not be empty")
    columns = list(rows[0])

    def cell(column: str, value: Any) -> str:
        text = html.escape(str(value))
        return f"<td><code>{text}</code></td>" if column in code_columns else f"<td>{text}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(c, row.get(c, "")) for c in columns) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="{css_class}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def parameters_html(chapter: str, params: Mapping[str, Any]) -> str:
    """An HTML table of a chapter's parameters: name, value, meaning."""
    spec = get(chapter)
    rows = [{"parameter": p.name, "value": repr(params[p.name]), "meaning": p.doc}
            for p in spec.params if p.name in params]
    return html_table(rows, caption="Parameters this page was rendered with", css_class="defstab-parameters",
                      code_columns=("parameter", "value"))


def show_parameters(chapter: str, params: Mapping[str, Any]) -> None:
    """Display the parameters table in the notebook (and on the rendered page)."""
    from IPython.display import HTML, display  # optional dependency: present wherever a notebook runs

    display(HTML(parameters_html(chapter, params)))


def glue_all(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`glue` every ``{name: value}`` of a mapping (e.g. the numbers an ``analysis`` function returns for a
    page's prose); return them as a dict.

    The convention tests cannot read these names from the notebook's code: the chapter tests check, by executing
    it, that every name the prose refers to was glued.
    """
    return {name: glue(name, value) for name, value in values.items()}


def glue(name: str, value: Any, *, display: bool = False) -> Any:
    """Store ``value`` under ``name`` for the page's prose (``{glue:text}`name``` in markdown); return it.

    Uses myst-nb's ``glue``; where myst-nb is not installed (Colab) the value is only returned.
    """
    try:
        from myst_nb import glue as _glue  # optional dependency: not in Colab
    except ImportError:  # pragma: no cover - exercised in Colab, not in CI
        return value
    _glue(name, value, display=display)
    return value


# ------------------------------------------------------------------------------------------------ figures

#: The resolution of a figure's PNG: twice matplotlib's screen dpi of the book's style (``plots.RC_PARAMS``,
#: 110), so that a figure scaled to a phone's 400 px column (``book/static/defstab.css`` keeps it 660 CSS px wide
#: there) stays sharp on screens of 2-3 device pixels per CSS pixel.
FIGURE_DPI = 220


def results_file(item: Any) -> str:
    """The stored-results file a figure was drawn from, as ``"results/<experiment>/<key>.json"`` (relative to the
    repository; the store's layout, whatever ``$DEFSTAB_RESULTS`` points at).

    ``item``: a trained run (:class:`defstab_lib.runs.Results`), a stored computation's record (a mapping with
    ``experiment`` and ``key``, as :meth:`defstab_lib.runs.ResultsStore.computed` returns it), a stored computation
    read through ``defstab_lib.runs`` (:class:`~defstab_lib.runs.KernelBaselines`, the CNN translation sweeps, the
    random networks of ``smooth_init``/``pooling_init``: see :func:`computation_file`), or such a path itself.

    >>> results_file({"experiment": "smooth-init", "key": "0123456789abcdef"})
    'results/smooth-init/0123456789abcdef.json'
    >>> results_file("results/pooling/0aedf9e311f390fc.json")
    'results/pooling/0aedf9e311f390fc.json'
    >>> results_file(3)
    Traceback (most recent call last):
    ...
    TypeError: results item 3 is not a run (Results), a stored computation or a 'results/<experiment>/<key>.json' path
    """
    if isinstance(item, str):
        if not (item.startswith("results/") and item.endswith(".json") and item.count("/") == 2):
            raise ValueError(f"results path {item!r} is not of the form 'results/<experiment>/<key>.json'")
        return item
    if isinstance(item, runs.Results):
        return f"results/{item.config.experiment}/{item.key}.json"
    if isinstance(item, Mapping) and "experiment" in item and "key" in item:
        return f"results/{item['experiment']}/{item['key']}.json"
    if hasattr(item, "provenance") and (hasattr(item, "params") or hasattr(item, "conditions")):
        return computation_file(item)
    raise TypeError(f"results item {item!r} is not a run (Results), a stored computation or a "
                    f"'results/<experiment>/<key>.json' path")


def computation_file(computed: Any, store: runs.ResultsStore | None = None) -> str:
    """The file of a stored computation read through ``defstab_lib.runs``, as ``"results/<experiment>/<key>.json"``.

    The kernel baselines and the CNN translation sweeps carry their parameters, whose key names the file
    (:func:`defstab_lib.runs.store.computation_key`).  The random networks (``runs.smooth_init``,
    ``runs.pooling_init``) carry only the stored provenance; their file is the one of the store that holds that
    provenance (its date and wall time make it unique).

    Raises:
        LookupError: no file of the store holds it (it was computed in another store).
    """
    store = store or runs.ResultsStore()
    candidates = [p for p in store.root.glob("*/*.json") if "_work" not in p.parts]
    if hasattr(computed, "params"):
        for experiment in sorted({p.parent.name for p in candidates}):
            key = runs.store.computation_key(experiment, computed.params)
            if (store.root / experiment / f"{key}.json").is_file():
                return f"results/{experiment}/{key}.json"
    else:
        for p in candidates:
            if p.parent.name not in ("smooth-init", "pooling-init"):
                continue
            record = json.loads(p.read_text())
            if record.get("provenance") == computed.provenance:
                return f"results/{p.parent.name}/{p.name}"
    raise LookupError(f"no file of the results store at {store.root} holds {type(computed).__name__} "
                      f"(provenance {computed.provenance})")


def _check_drawn_by(drawn_by: str) -> None:
    """``drawn_by`` names a callable of the library (``"defstab_lib.plots.profiles.plot_profiles"``)."""
    module_name, _, attr = drawn_by.rpartition(".") if isinstance(drawn_by, str) else ("", "", "")
    try:
        target = getattr(importlib.import_module(module_name), attr) if module_name.startswith("defstab_lib") \
            else None
    except (ImportError, AttributeError):
        target = None
    if not callable(target):
        raise ValueError(f"drawn_by must name a function of the library ('defstab_lib.plots.x.f'), got {drawn_by!r}")


def figure_bundle(fig, alt: str, *, drawn_by: str, results: Sequence[Any] = ()) -> tuple[dict, dict]:
    """A matplotlib figure as one output's ``(data, metadata)``: its PNG (at :data:`FIGURE_DPI`) and SVG, with
    ``metadata["image/png"]["defstab"]`` = ``{"alt", "drawn_by", "results"}``, which
    :func:`defstab_lib.book.figure_provenance` reads when the book is built.

    Args:
        fig: a ``matplotlib.figure.Figure`` (saved with a tight bounding box, as the notebook's inline backend
            shows it).
        alt: what the figure shows, in a sentence (the page's alt text): at least three words.
        drawn_by: the library function that drew it, ``"defstab_lib.plots.<module>.<function>"``.
        results: what it was drawn from: runs, stored computations or their paths (see :func:`results_file`).

    Raises:
        ValueError, TypeError: a bad ``alt``, ``drawn_by`` or ``results`` item, before anything is rendered.
    """
    if not isinstance(alt, str) or len(alt.split()) < 3:
        raise ValueError(f"alt must be a sentence saying what the figure shows (three words or more), got {alt!r}")
    _check_drawn_by(drawn_by)
    files = list(dict.fromkeys(results_file(r) for r in results))
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    fig.savefig(svg, format="svg", bbox_inches="tight")
    data = {"image/png": base64.b64encode(png.getvalue()).decode("ascii"), "image/svg+xml": svg.getvalue(),
            "text/plain": alt}
    metadata = {"image/png": {"defstab": {"alt": alt, "drawn_by": drawn_by, "results": files}}}
    return data, metadata


def show_figure(fig, alt: str, *, drawn_by: str, results: Sequence[Any] = ()) -> None:
    """Display a matplotlib figure with its provenance (:func:`figure_bundle`: PNG, SVG, alt text, the function
    that drew it, the stored results it was drawn from) as one output, and close it.

    A chapter calls it where it would call ``plt.show()``::

        chapters.show_figure(fig, f"Sensitivity per layer of {n} networks ...",
                             drawn_by="defstab_lib.plots.profiles.plot_profiles", results=loaded.all_results)
    """
    from IPython.display import display  # optional dependency: present wherever a notebook runs

    data, metadata = figure_bundle(fig, alt, drawn_by=drawn_by, results=results)
    display(data, raw=True, metadata=metadata)
    plt.close(fig)
