"""The runs a page reads, loaded through :func:`defstab_lib.runs.load` (the missing ones trained unless
``stored_only``), and handed to :mod:`defstab_lib.analysis` as results.

- :func:`load_runs` -- the trained runs of a chapter's experiments, from its parameters;
- :func:`load_evidence` -- everything the report's eight tests read (:class:`~defstab_lib.analysis.report.Evidence`),
  the random networks of claims 1 and 4 included (:func:`random_networks`);
- :func:`load_inputs` -- what the declared specifications read beside the evidence (BatchNorm-calibrated
  initialisations, other profiles' runs, the ablation's cells), from the store alone;
- :func:`load_cells` -- the ablation's runs by cell (:class:`~defstab_lib.analysis.ablation.AblationRuns`);
- :func:`compare_profiles`, :func:`compare_ablations` -- every profile's verdicts from the stored results alone
  (:class:`~defstab_lib.analysis.compare.ProfileVerdicts`: the verdicts, or what is missing);
- :func:`load_pilots` -- the ``standard`` profile's length pilots that are stored.

A chapter that reads trained runs loads them in one call::

    loaded = chapters.load_runs("pooling", params)
    results, groups = loaded.results["pooling"], loaded.groups["pooling"]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import analysis, runs
from ..analysis.ablation import BASELINE, AblationRuns, cell_name, factor_verdicts
from ..analysis.compare import ProfileVerdicts, compared_profiles
from ..analysis.length import pilot_configs
from ..analysis.report import DRAWS, SIGMAS, Evidence, all_verdicts
from ..runs.experiments import ablation_cells, get_experiment, label_contrast
from ..runs.load import compute_note
from ..runs.store import Results, ResultsStore
from ..runs.untrained import RandomNetworks
from ..vocabulary import DOWNSAMPLING
from .page import resolve_device, validate
from .registry import get

__all__ = ["ChapterRuns", "ASK_ABOVE_S", "ASK", "ask_to_train", "load_runs", "report_configs", "load_evidence",
           "load_inputs", "page_inputs", "random_networks",
           "run_command",
           "compute_command", "RANDOM_NETWORK_KINDS", "load_cells", "stored_counts", "compare_profiles",
           "compare_ablations", "load_pilots"]


def run_command(experiment: str, profile: str, *, dataset: str | None = None, seeds: int | None = None) -> str:
    """The command that trains ``experiment``'s runs with every option given (``dataset`` only where the
    experiment takes one), as a hint says it.

    >>> run_command("pooling", "paper", dataset="cifar10", seeds=5)
    '`python -m defstab_lib run pooling --profile paper --dataset cifar10 --seeds 5`'
    >>> run_command("synthetic", "cpu", dataset="cifar10")
    '`python -m defstab_lib run synthetic --profile cpu`'
    """
    options = (([f"--dataset {dataset}"] if dataset is not None and get_experiment(experiment).takes_dataset else [])
               + ([f"--seeds {seeds}"] if seeds is not None else []))
    return f"`python -m defstab_lib run {' '.join([experiment, '--profile', profile, *options])}`"


def compute_command(profile: str, *, dataset: str | None = None) -> str:
    """The command that computes the report's stored computations (the random networks of claims 1 and 4,
    :func:`random_networks` of each of :data:`RANDOM_NETWORK_KINDS` at the report's parameters).

    >>> compute_command("smoke", dataset="mnist")
    '`python -m defstab_lib compute --profile smoke --dataset mnist`'
    """
    return f"`python -m defstab_lib compute --profile {profile}" + (f" --dataset {dataset}`" if dataset else "`")


@dataclasses.dataclass(frozen=True)
class ChapterRuns:
    """The trained runs a chapter reads, as :func:`load_runs` returns them.

    Attributes:
        configs: ``{experiment: [RunConfig, ...]}``, one entry per run experiment the chapter reads in its profile
            (:meth:`ChapterSpec.experiments_for`).
        results: ``{experiment: [Results, ...]}``, in the order of ``configs``.
        groups: ``{experiment: {unit: [Results, ...]}}``: the runs by the experiment's unit
            (:attr:`defstab_lib.runs.Experiment.unit`): by downsampling layer (in the order of the chapter's
            ``downsampling`` parameter, else of :data:`defstab_lib.vocabulary.DOWNSAMPLING`) or, for the synthetic
            tasks, by strength ``C`` (ascending).
        device: the chapter's ``device`` parameter resolved (``"cpu"``, ``"cuda"``, ...): where runs not stored are
            trained (and what else the chapter computes, computed).
        trained: how many of the runs were not stored, and so were trained by this call.
    """

    configs: dict[str, list]
    results: dict[str, list]
    groups: dict[str, dict[Any, list]]
    device: str
    trained: int

    @property
    def all_results(self) -> list:
        """Every run, the experiments one after the other."""
        return [r for rs in self.results.values() for r in rs]

    def compute_note(self) -> str:
        """One sentence on where and how long the runs took, and how many this render trained
        (:func:`defstab_lib.runs.load.compute_note`)."""
        return compute_note(self.all_results, self.trained)

    def show_recipe(self) -> None:
        """Display what these runs are beside what the paper ran, one column per experiment, stated from their
        configs (:func:`defstab_lib.analysis.recipe_html`): the table every training chapter shows by its
        parameters."""
        from IPython.display import HTML, display  # optional dependency: present wherever a notebook runs

        display(HTML(analysis.recipe_html(self.results)))


def _experiment_kwargs(experiment: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``runs.experiment_configs`` that a chapter's parameters set: ``seeds`` and the
    options the experiment takes (:attr:`defstab_lib.runs.Experiment.options`; strengths sorted, each once).

    >>> _experiment_kwargs("synthetic", {"seeds": 2, "strengths": [4.0, 1.0, 4.0], "classes": 10, "profile": "cpu"})
    {'seeds': 2, 'strengths': [1.0, 4.0], 'classes': 10}
    >>> _experiment_kwargs("pooling", {"seeds": 3, "dataset": "mnist", "profile": "cpu"})
    {'seeds': 3, 'dataset': 'mnist'}
    """
    kwargs: dict[str, Any] = {"seeds": params["seeds"]} if "seeds" in params else {}  # else the profile's
    for option in get_experiment(experiment).options:
        if option in params:
            kwargs[option] = sorted(set(params[option])) if option == "strengths" else params[option]
    return kwargs


def _groups(experiment: str, results: list[Results], params: Mapping[str, Any]) -> dict[Any, list[Results]]:
    """The runs of ``experiment`` by its unit (:attr:`defstab_lib.runs.Experiment.unit`)."""
    unit = get_experiment(experiment).unit
    if unit == "strength":
        return analysis.group_by(results, "strength", order=sorted({r.config.data.strength for r in results}))
    return analysis.group_by(results, unit, order=params.get("downsampling", DOWNSAMPLING))


#: A chapter trains what is not stored without being asked only when that is estimated to take at most this long
#: on this machine (the smoke budget: every chapter's smoke parameters render in under a minute on 2 cores).
ASK_ABOVE_S = 60.0
#: How a page's reader asks a chapter to train more (named when it stops).
ASK = "-p train True (papermill: True, capitalised), or train = True in the notebook's parameters cell"


def ask_to_train(train: bool) -> dict[str, Any]:
    """The keyword arguments of :func:`defstab_lib.runs.load` for a chapter's ``train`` parameter: without it, the
    missing runs are trained only if they take at most :data:`ASK_ABOVE_S` here (else
    :class:`~defstab_lib.runs.load.NotAsked`, naming :data:`ASK`).

    >>> ask_to_train(True), ask_to_train(False)["budget_s"]
    ({}, 60.0)
    """
    return {} if train else {"budget_s": ASK_ABOVE_S, "ask": ASK}


def load_runs(chapter: str, params: Mapping[str, Any]) -> ChapterRuns:
    """Load the runs of a chapter's experiments from the results store, training (and storing) those that are not
    stored: the set-up of every chapter that reads trained runs.

    For each experiment the chapter reads in its ``profile`` (:meth:`ChapterSpec.experiments_for`) that trains runs
    (:func:`defstab_lib.runs.trained_experiments`), in the registered order, the configs of the chapter's
    ``profile`` are built from its parameters (``dataset``, ``seeds``, ``downsampling``; for the synthetic tasks
    ``strengths`` and ``classes``), and :func:`defstab_lib.runs.load` loads them or trains the missing ones on the
    chapter's ``device`` (:func:`resolve_device`) -- unless that would take more than :data:`ASK_ABOVE_S` here and
    the chapter's ``train`` parameter is false: then :class:`~defstab_lib.runs.load.NotAsked` says how long and how
    to ask, before any training.

    Args:
        chapter: a registered chapter name.
        params: its parameters, as :func:`validate` returns them (validated again here).

    Raises:
        ValueError: an unknown chapter, a bad parameter, or a chapter that reads no trained runs; before any work.
        NotAsked: the missing runs would take longer than :data:`ASK_ABOVE_S` and ``train`` is false.
    """
    spec = get(chapter)
    params = validate(chapter, **params)
    experiments = ([e for e in spec.experiments_for(params["profile"]) if get_experiment(e).runs]
                   if "profile" in params else [])  # a chapter without a profile trains nothing
    if not experiments:
        raise ValueError(f"chapter {chapter!r} reads no trained runs (its experiments: {list(spec.experiments)}); "
                         f"load_runs serves the chapters that do")
    configs = {e: runs.experiment_configs(e, params["profile"], **_experiment_kwargs(e, params))
               for e in experiments}
    device = resolve_device(params["device"])

    def describe(missing: dict) -> str:
        """What is missing, with the commands that train it carrying the chapter's dataset and seeds."""
        counts = ", ".join(f"{len(cs)} runs of {e}" for e, cs in missing.items() if cs)
        commands = " and ".join(run_command(e, params["profile"], dataset=params.get("dataset"),
                                            seeds=params.get("seeds")) for e, cs in missing.items() if cs)
        return f"not stored: {counts} (profile {params['profile']}); train them with {commands}"

    loaded = runs.load(configs, device=device, describe=describe, **ask_to_train(params.get("train", True)))
    groups = {e: _groups(e, rs, params) for e, rs in loaded.results.items()}
    return ChapterRuns(configs=loaded.configs, results=loaded.results, groups=groups, device=device,
                       trained=loaded.trained)


# ------------------------------------------------------------------------------------------------ the report


#: Independent random networks per setting where a profile needs fewer than :data:`DRAWS` (seconds, for CI).
_PROFILE_DRAWS = {"smoke": 2}
#: The random networks of the report's claims, ``{kind: (function, its sizes from (draws, sigmas))}``: claim 1's
#: (every downsampling variant) and claim 4's (maxpool networks smoothed with each σ).
_RANDOM_NETWORKS: dict[str, tuple[Callable[..., Any], Callable[[int, Sequence[float]], dict]]] = {
    "pooling": (runs.pooling_init, lambda n, sigmas: {"draws": n}),
    "smoothing": (runs.smooth_init, lambda n, sigmas: {"sigmas": sigmas, "seeds": n}),
}


def report_configs(profile: str, *, dataset: str = "fashion-mnist", seeds: int | None = None) -> dict[str, list]:
    """``{experiment: configs}`` of the trained runs the eight tests read in ``profile``: ``pooling``,
    ``random-labels``, ``synthetic`` and, where it is claim 7's contrast, ``matched-real``
    (:func:`~defstab_lib.runs.experiments.label_contrast`)."""
    read = ["pooling", "random-labels", "synthetic", label_contrast(profile)]
    return {e: runs.experiment_configs(e, profile, seeds=seeds,
                                       **({"dataset": dataset} if get_experiment(e).takes_dataset else {}))
            for e in dict.fromkeys(read)}


def random_networks(kind: str, *, profile: str = "cpu", dataset: str = "fashion-mnist", draws: int | None = None,
                    sigmas: Sequence[float] = SIGMAS, device: str = "auto", stored_only: bool = False,
                    store: ResultsStore | None = None) -> dict[float, RandomNetworks]:
    """``{width: networks}`` of claim 1 (``kind="pooling"``: every downsampling variant) or claim 4
    (``"smoothing"``: maxpool networks smoothed with each σ), at the profile's trained width and at the paper's
    full width; ``draws`` independent draws per setting (default :data:`~defstab_lib.analysis.report.DRAWS`, 2 in
    the smoke profile), each probed with the profile's number of images; computed and stored unless
    ``stored_only`` (then ``LookupError`` when not stored)."""
    if kind not in _RANDOM_NETWORKS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _RANDOM_NETWORKS))}, got {kind!r}")
    p = runs.get_profile(profile)
    n = draws if draws is not None else _PROFILE_DRAWS.get(profile, DRAWS)
    common = dict(dataset=dataset, n_images=p.probe_images, device=device, store=store, stored_only=stored_only)
    compute, sizes = _RANDOM_NETWORKS[kind]
    return {w: compute(width=w, **sizes(n, sigmas), **common) for w in [p.width] + ([1.0] if p.width != 1.0 else [])}


#: The kinds of random networks the report reads (:func:`random_networks`), in order.
RANDOM_NETWORK_KINDS = tuple(_RANDOM_NETWORKS)


def _missing_networks(common: dict, sigmas: Sequence[float]) -> list[str]:
    """The messages of the random networks of the report that are not stored (each names its file)."""
    out = []
    for kind in RANDOM_NETWORK_KINDS:
        try:
            random_networks(kind, **({"sigmas": sigmas} if kind == "smoothing" else {}), **common)
        except LookupError as exc:
            out.append(str(exc).split("; compute it by", 1)[0])
    return out


def load_evidence(*, profile: str = "cpu", dataset: str = "fashion-mnist", seeds: int | None = None,
                  sigmas: Sequence[float] = SIGMAS, draws: int | None = None, device: str = "auto",
                  stored_only: bool = False, store: ResultsStore | None = None, train: bool = True
                  ) -> tuple[Evidence, runs.Loaded]:
    """``(evidence, loaded)``: everything the eight tests read, loaded (or, unless ``stored_only``, trained and
    computed) -- the trained runs of :func:`report_configs` and the random networks -- and the trained runs as
    :func:`defstab_lib.runs.load` loaded them (its compute note, the runs it trained).  With ``train`` false the
    missing runs are trained only if that takes at most :data:`ASK_ABOVE_S` here (:func:`ask_to_train`).

    Raises:
        LookupError: ``stored_only`` and something is not stored (the message says what and how to make it).
        ValueError: bad parameters (from :func:`~defstab_lib.runs.experiment_configs`), before any work.
    """
    store = store or ResultsStore()
    common = dict(profile=profile, dataset=dataset, draws=draws, device=device, stored_only=stored_only, store=store)

    def describe(missing: dict) -> str:
        """What is missing, trained runs and stored computations alike, with the commands that make each, carrying
        every option given (so that a hint followed makes what was missing)."""
        counts = ", ".join(f"{len(cs)} runs of {e}" for e, cs in missing.items() if cs)
        commands = " and ".join(run_command(e, profile, dataset=dataset, seeds=seeds)
                                for e, cs in missing.items() if cs)
        text = f"not stored: {counts} (profile {profile}); train them with {commands}" if counts else ""
        networks = _missing_networks(common, sigmas)
        if networks:
            text += ("; " if text else "not stored: ") + "; ".join(networks) + (
                f" (random networks, no training); compute them with {compute_command(profile, dataset=dataset)}"
                f" (or render the report chapter, book/report.ipynb)")
        return text

    loaded = runs.load(report_configs(profile, dataset=dataset, seeds=seeds), stored_only=stored_only,
                       device=device, store=store, describe=describe, **ask_to_train(train))
    try:
        nets = {"pooling_nets": random_networks("pooling", **common),
                "smooth_nets": random_networks("smoothing", sigmas=sigmas, **common)}
    except LookupError:  # stored_only, and some are not stored: say which, and the command that computes them
        raise LookupError(describe({})) from None
    found = loaded.results
    evidence = Evidence(
        profile=profile, dataset=dataset, real=found["pooling"], random=found["random-labels"],
        synthetic=found["synthetic"], **nets, matched=found.get("matched-real", []),
    )
    return evidence, loaded


def _stored_trained(profile: str, dataset: str, store: ResultsStore) -> Evidence | None:
    """Another profile's trained runs of the report, all stored, as an :class:`Evidence` without random networks
    (what a ``recipe`` specification reads); ``None`` where any is not stored."""
    try:
        loaded = runs.load(report_configs(profile, dataset=dataset), stored_only=True, store=store)
    except LookupError:
        return None
    found = loaded.results
    return Evidence(profile=profile, dataset=dataset, real=found["pooling"], random=found["random-labels"],
                    synthetic=found["synthetic"], pooling_nets={}, smooth_nets={},
                    matched=found.get("matched-real", []))


def _calibrated(results: Sequence[Results], store: ResultsStore) -> list[Results] | None:
    """``results`` with their BatchNorm-calibrated initialisation (:mod:`defstab_lib.runs.bn_init`), ``None``
    where any is not stored."""
    found = runs.calibrated_inits(results, store=store, stored_only=False)
    if not results or len(found) < len(results):
        return None
    return runs.with_calibrated_init(results, found)


def load_inputs(evidence: Evidence, *, store: ResultsStore | None = None) -> analysis.specifications.Inputs:
    """What the declared specifications (:mod:`defstab_lib.analysis.specifications`) read beside ``evidence``, all
    from the store (nothing is trained or computed here): the real-label runs with their BatchNorm-calibrated
    initialisation, every other profile whose report runs are all stored (its own calibrated ones too), and this
    profile's stored ablation cells.  What is not stored is left out; the specification that needs it then says
    so."""
    store = store or ResultsStore()
    recipes = {p: ev for p in runs.PROFILES if p != evidence.profile
               and (ev := _stored_trained(p, evidence.dataset, store)) is not None}
    try:
        cells, _ = load_cells(evidence.profile, dataset=evidence.dataset, stored_only=True, store=store)
        cells = {k: v for k, v in cells.cells.items() if k != BASELINE}
    except (LookupError, ValueError):
        cells = {}
    return analysis.specifications.Inputs(
        evidence=evidence, calibrated=_calibrated(evidence.real, store), recipes=recipes,
        recipes_calibrated={p: c for p, ev in recipes.items() if (c := _calibrated(ev.real, store)) is not None},
        cells=cells)


def page_inputs(params: Mapping[str, Any], *, real: Sequence[Results] = (), random: Sequence[Results] = (),
                synthetic: Sequence[Results] = (), matched: Sequence[Results] = (),
                pooling_nets: Mapping[float, RandomNetworks] | None = None,
                smooth_nets: Mapping[float, RandomNetworks] | None = None,
                store: ResultsStore | None = None) -> analysis.specifications.Inputs:
    """What a chapter's verdicts are judged on under their declared specifications: the runs and random networks
    the page loaded (for its ``params``' profile and dataset), with what :func:`load_inputs` adds from the store.
    A specification whose data the page does not have says so (it is listed, not computed).  A page without a
    ``profile`` parameter (the random networks of claim 4) reads the book's (:data:`defstab_lib.runs.BOOK_PROFILE`)
    for what the store adds.  A page that gives ``matched`` runs but no ``real`` ones (claim 7's page in a profile
    with a matched contrast) gets the profile's ``pooling`` runs of the same seeds and networks from the store
    when all are stored (claim 7's other baseline), nothing trained."""
    store = store or ResultsStore()
    profile = params.get("profile", runs.BOOK_PROFILE)
    if matched and not real:
        real = _stored_pooling(params, store)
    evidence = Evidence(profile=profile, dataset=params.get("dataset", "fashion-mnist"), real=list(real),
                        random=list(random), synthetic=list(synthetic), pooling_nets=dict(pooling_nets or {}),
                        smooth_nets=dict(smooth_nets or {}), matched=list(matched))
    return load_inputs(evidence, store=store)


def _stored_pooling(params: Mapping[str, Any], store: ResultsStore) -> list[Results]:
    """The stored ``pooling`` runs at ``params``' profile, dataset, seeds and networks, or ``[]`` when some are not
    stored."""
    configs = runs.experiment_configs("pooling", params["profile"], dataset=params.get("dataset"),
                                      seeds=params.get("seeds"), downsampling=params.get("downsampling"))
    try:
        return list(runs.load({"pooling": configs}, stored_only=True, store=store, progress=False).results["pooling"])
    except LookupError:
        return []


# ------------------------------------------------------------------------------------------------ the ablation


def load_cells(profile: str = "cpu", *, dataset: str | None = None, seeds: int | None = None, device: str = "auto",
               stored_only: bool = False, store: ResultsStore | None = None, train: bool = True
               ) -> tuple[AblationRuns, runs.Loaded]:
    """``(runs by cell, loaded)``: the ablation's runs of ``profile`` by cell
    (:func:`~defstab_lib.runs.experiments.ablation_cells`), loaded from the store, the missing ones trained unless
    ``stored_only``, and the runs as :func:`defstab_lib.runs.load` loaded them.

    Args:
        profile: one of :data:`defstab_lib.runs.PROFILES`.
        dataset: as for :func:`~defstab_lib.runs.experiment_configs` (default Fashion-MNIST).
        seeds: initialisations per cell (default :data:`~defstab_lib.runs.profiles.ABLATION_SEEDS`, fewer where
            the profile has fewer).
        device: where to train what is missing.
        stored_only: refuse to train: raise ``LookupError`` instead.
        store: the results store (default :class:`~defstab_lib.runs.ResultsStore`).
        train: ``False``: train the missing runs only if that takes at most :data:`ASK_ABOVE_S` here
            (:func:`ask_to_train`; a chapter's ``train`` parameter).

    Raises:
        LookupError: ``stored_only`` and some runs are not stored (the message says which cells and how to make
            them), or (``NotAsked``) ``train`` is false and they would take longer than :data:`ASK_ABOVE_S`.
        ValueError, TypeError: bad parameters (from :func:`~defstab_lib.runs.experiments.ablation_cells`), before
            any work.
    """
    def describe(missing: dict) -> str:
        where = ", ".join(f"{len(cs)} of {cell_name(k)}" for k, cs in missing.items() if cs)
        command = run_command("ablation", profile, dataset=dataset, seeds=seeds)
        return (f"not stored: {where} (profile {profile}); train them with {command} (the baseline cell is the "
                f"pooling experiment's runs)")

    loaded = runs.load(ablation_cells(profile, dataset=dataset, seeds=seeds), stored_only=stored_only,
                       device=device, store=store, describe=describe, **ask_to_train(train))
    return AblationRuns(profile=profile, cells=loaded.results), loaded


# ------------------------------------------------------------------------------------------------ profiles compared


def _counts(results: Sequence[Results], configs: Sequence | None = None, store: ResultsStore | None = None
            ) -> dict[str, tuple[int, int]]:
    """``{experiment: (stored, total)}``: of ``configs`` in ``store``, else of ``results`` (all stored)."""
    if configs is None:
        return {e: (n, n) for e, n in _tally(r.config for r in results).items()}
    store = store or ResultsStore()
    totals, stored = _tally(configs), _tally(c for c in configs if store.exists(c))
    return {e: (stored.get(e, 0), n) for e, n in totals.items()}


def _tally(configs) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in configs:
        out[c.experiment] = out.get(c.experiment, 0) + 1
    return out


def stored_counts(profile: str, *, dataset: str = "fashion-mnist", store: ResultsStore | None = None
                  ) -> dict[str, tuple[int, int]]:
    """``{experiment: (stored, total)}`` of the trained runs the report reads in ``profile`` (its own seeds).

    Raises:
        ValueError: an unknown profile or dataset (before any work).
    """
    return _counts((), [c for cs in report_configs(profile, dataset=dataset).values() for c in cs], store)


def _compare(profiles: Sequence[str], known: Mapping[str, Any], *, configs: Callable[[str], list],
             load: Callable[[str], Any], judge: Callable[[Any], list], results: Callable[[Any], list],
             store: ResultsStore) -> list[ProfileVerdicts]:
    """The one comparison loader: per profile, its verdicts from what it has stored (``known``: loaded already,
    used as it is), or its counts and what is missing."""
    out = []
    for p in profiles:
        if p in known:
            out.append(ProfileVerdicts(p, _counts(results(known[p])), known[p], judge(known[p])))
            continue
        item = ProfileVerdicts(p, _counts((), configs(p), store))
        try:
            item.evidence = load(p)
            item.verdicts = judge(item.evidence)
        except LookupError as exc:
            item.missing = str(exc)
        out.append(item)
    return out


def compare_profiles(profiles: Sequence[str] | None = None, *, dataset: str = "fashion-mnist",
                     store: ResultsStore | None = None, known: Sequence[Evidence] = ()) -> list[ProfileVerdicts]:
    """Every profile's eight verdicts from the stored results alone (nothing is trained or computed), in order.

    A profile whose trained runs (:func:`stored_counts`) and random networks are all stored gets its evidence and
    verdicts (loaded with ``stored_only=True`` at the profile's defaults); the others get their counts and what is
    missing.  ``known``: evidence already loaded (the page's own profile, at its parameters), used as it is.

    Raises:
        ValueError: an unknown or repeated profile, or an unknown dataset (before any work).
    """
    profiles = compared_profiles() if profiles is None else list(profiles)
    for p in profiles:
        runs.get_profile(p)
    if len(set(profiles)) != len(profiles):
        raise ValueError(f"profiles must each be given once, got {profiles}")
    store = store or ResultsStore()
    return _compare(
        profiles, {ev.profile: ev for ev in known}, store=store, judge=all_verdicts,
        configs=lambda p: [c for cs in report_configs(p, dataset=dataset).values() for c in cs],
        load=lambda p: load_evidence(profile=p, dataset=dataset, stored_only=True, store=store, device="cpu")[0],
        results=lambda ev: [*ev.real, *ev.random, *ev.synthetic, *ev.matched])


def compare_ablations(own: AblationRuns, *, dataset: str | None = None,
                      store: ResultsStore | None = None) -> list[ProfileVerdicts]:
    """The factor verdicts at every recipe whose ablation is stored: ``own`` (the page's profile, as loaded) first,
    then each other profile but ``smoke`` whose cells are all stored (at its default seeds; nothing is trained);
    for the others, what is missing (:attr:`ProfileVerdicts.missing`).

    The same factor can teach a network differently from another recipe: this is how a reader sees whether an
    effect found at one recipe holds at the other.
    """
    store = store or ResultsStore()
    return _compare(
        compared_profiles(own.profile), {own.profile: own}, store=store,
        judge=lambda ab: factor_verdicts(ab.cells),
        configs=lambda p: [c for cs in ablation_cells(p, dataset=dataset).values() for c in cs],
        load=lambda p: load_cells(p, dataset=dataset, stored_only=True, store=store)[0],
        results=lambda ab: ab.all_results)


# ------------------------------------------------------------------------------------------------ the length pilots


def load_pilots(store: ResultsStore | None = None, profile: str = "standard") -> tuple[list[Results], list]:
    """``(stored pilot runs, configs of the pilots not stored)``
    (:func:`~defstab_lib.analysis.length.pilot_configs`): reads the store, trains nothing."""
    loaded = runs.load({"pilots": pilot_configs(profile)}, stored_only=True, partial=True, store=store)
    return loaded.results["pilots"], loaded.missing.get("pilots", [])
