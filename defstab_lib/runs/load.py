"""One way to load runs: :func:`load` reads a page's (or the command line's) runs from the results store and trains
what is missing, or, with ``stored_only``, trains nothing and says what is missing.

Every reader of trained runs goes through it -- the chapters (:mod:`defstab_lib.chapters.loading`), the report and
``python -m defstab_lib report`` -- so that what was loaded, how many runs this call trained and where they were
computed (:meth:`Loaded.compute_note`) are stated one way.  ``defstab_lib.analysis`` only receives the results.

    loaded = load({"pooling": experiment_configs("pooling", "cpu")}, stored_only=True)
    results, note = loaded.results["pooling"], loaded.compute_note()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence

from ..provenance import resolve_device
from .config import RunConfig
from .estimate import estimate, format_duration
from ..data import DatasetNotFoundError
from .execute import check_data, run_configs
from .parallel import plan_workers
from .store import Results, ResultsStore

__all__ = ["Loaded", "NotStored", "NotAsked", "load", "not_stored", "compute_note"]


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What :func:`load` loaded.

    Attributes:
        configs: ``{group: [RunConfig, ...]}`` as asked for (a group: an experiment, an ablation cell, ...).
        results: ``{group: [Results, ...]}``, in the order of ``configs`` (with ``partial``, the stored ones only).
        trained: how many runs were not stored, and so were trained by this call (0 with ``stored_only``).
        missing: ``{group: [RunConfig, ...]}`` not stored (only with ``stored_only`` and ``partial``; otherwise
            empty: they were trained, or :class:`NotStored` was raised).
    """

    configs: dict[Hashable, list[RunConfig]]
    results: dict[Hashable, list[Results]]
    trained: int = 0
    missing: dict[Hashable, list[RunConfig]] = dataclasses.field(default_factory=dict)

    @property
    def all_results(self) -> list[Results]:
        """Every run, the groups one after the other."""
        return [r for rs in self.results.values() for r in rs]

    def compute_note(self) -> str:
        """One sentence on where and how long the runs took, and how many this call trained (:func:`compute_note`)."""
        return compute_note(self.all_results, self.trained)


class NotStored(LookupError):
    """Some runs asked for with ``stored_only`` are not stored; ``missing`` is ``{group: [RunConfig, ...]}``."""

    def __init__(self, message: str, missing: Mapping[Hashable, Sequence[RunConfig]]) -> None:
        super().__init__(message)
        self.missing = {k: list(v) for k, v in missing.items()}


class NotAsked(LookupError):
    """The runs missing would take longer to train than the caller allows without being asked (``budget_s``):
    nothing was trained.  ``missing`` is ``{group: [RunConfig, ...]}``, ``seconds`` the estimate on this machine."""

    def __init__(self, message: str, missing: Mapping[Hashable, Sequence[RunConfig]], seconds: float) -> None:
        super().__init__(message)
        self.missing = {k: list(v) for k, v in missing.items()}
        self.seconds = seconds


def not_stored(configs: Mapping[Hashable, Sequence[RunConfig]], store: ResultsStore | None = None
               ) -> dict[Hashable, list[RunConfig]]:
    """``{group: the configs of the group that are not stored}``, every group listed (reads the store only)."""
    store = store or ResultsStore()
    return {k: [c for c in cs if not store.exists(c)] for k, cs in configs.items()}


def _message(missing: Mapping[Hashable, Sequence[RunConfig]]) -> str:
    """``"not stored: 25 runs of pooling, ... (profile paper); train them with `python -m defstab_lib run ...`"``."""
    profiles = ", ".join(dict.fromkeys(c.profile for cs in missing.values() for c in cs))
    return ("not stored: " + ", ".join(f"{len(cs)} runs of {k}" for k, cs in missing.items() if cs)
            + f" (profile {profiles}); train them with `python -m defstab_lib run EXPERIMENT --profile {profiles}`")


def _data_note(todo: Sequence[RunConfig]) -> str:
    """``""`` when the data of ``todo`` are on this machine, else what is missing and where it was looked for (only
    looking: nothing is downloaded before the user asks to train), so that asking is not the first of two stops."""
    try:
        check_data(list(todo), download=False, no_download="nothing is downloaded before you ask to train")
    except DatasetNotFoundError as exc:
        return f"; the data are not on this machine yet (training downloads them where a network is reachable): {exc}"
    return ""


def load(configs: Mapping[Hashable, Sequence[RunConfig]], *, stored_only: bool = False, partial: bool = False,
         device: str = "auto", store: ResultsStore | None = None, jobs: int | None = None, progress: bool = True,
         describe: Callable[[dict[Hashable, list[RunConfig]]], str] | None = None, budget_s: float | None = None,
         ask: str = "") -> Loaded:
    """Load the runs of ``configs`` from the store, training (and storing) those that are not stored, unless
    ``stored_only``.

    Args:
        configs: ``{group: [RunConfig, ...]}``, e.g. ``{experiment: its configs}``; the runs of all groups are
            trained as one pool (:func:`defstab_lib.runs.run_configs`), then returned group by group.
        stored_only: train nothing: raise :class:`NotStored` (a ``LookupError``) naming what is missing and the
            command that makes it, or, with ``partial``, return what is stored and list the rest in
            :attr:`Loaded.missing`.
        partial: with ``stored_only``, return the stored runs instead of raising.
        device: where to train what is missing (``"auto"``, ``"cpu"``, ``"cuda"``, ...).
        store: the results store (default :class:`~defstab_lib.runs.ResultsStore`).
        jobs: worker processes training the missing runs (as :func:`defstab_lib.runs.run_configs`).
        progress: show progress bars while training.
        describe: ``describe(missing) -> message`` of :class:`NotStored` (default: ``"not stored: N runs of
            <group>, ... (profile P); train them with `python -m defstab_lib run EXPERIMENT --profile P`"``).
        budget_s: train the missing runs only if they are estimated to take at most this many seconds on this
            machine (:func:`defstab_lib.runs.estimate.estimate`, with the workers they would get); otherwise raise
            :class:`NotAsked`.  ``None``: no limit.
        ask: how the caller allows more (e.g. ``"-p train True"``), named in :class:`NotAsked`'s message.

    Raises:
        NotStored: ``stored_only`` (without ``partial``) and some runs are not stored; before any loading.
        NotAsked: the missing runs would take longer than ``budget_s``; before any training.
        TypeError: ``configs`` is not a mapping of groups to configs.
    """
    if not isinstance(configs, Mapping):
        raise TypeError(f"configs must be a mapping {{group: [RunConfig, ...]}}, got {type(configs).__name__}")
    configs = {k: list(v) for k, v in configs.items()}
    store = store or ResultsStore()
    missing = not_stored(configs, store)
    if stored_only and any(missing.values()):
        if not partial:
            raise NotStored((describe or _message)(missing), missing)
        configs_here = {k: [c for c in cs if c not in missing[k]] for k, cs in configs.items()}
        results = {k: [store.load(c) for c in cs] for k, cs in configs_here.items()}
        return Loaded(configs=configs, results=results, missing={k: v for k, v in missing.items() if v})
    todo = [c for cs in missing.values() for c in cs]
    if todo and budget_s is not None:
        dev = resolve_device(device)
        cost = estimate(todo, dev, jobs=plan_workers(jobs, len(todo), dev)[0])
        if cost.seconds > budget_s:
            raise NotAsked(f"{(describe or _message)(missing)} -- here that is {cost.describe()}, more than the "
                           f"{format_duration(budget_s)} allowed without asking"
                           + (f"; to train them here, pass {ask}" if ask else "") + _data_note(todo),
                           missing, cost.seconds)
    flat = run_configs([c for cs in configs.values() for c in cs], device=device, store=store, jobs=jobs,
                       progress=progress)
    results, start = {}, 0
    for k, cs in configs.items():
        results[k], start = flat[start:start + len(cs)], start + len(cs)
    return Loaded(configs=configs, results=results, trained=sum(len(v) for v in missing.values()))


def compute_note(results: Sequence[Results], trained: int = 0) -> str:
    """One sentence on where and how long the results took to compute, and whether this render trained any.

    >>> compute_note([])
    'no runs'
    """
    if not results:
        return "no runs"
    seconds = sum(float(r.provenance.get("wall_time_s", 0.0)) for r in results)
    devices = sorted({str(r.provenance.get("device_name", "unknown device")) for r in results})
    dates = sorted(str(r.provenance.get("date", ""))[:10] for r in results)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    done = (f"{trained} of them were trained while rendering this page" if trained
            else "all were loaded from the results store")
    return (f"{len(results)} runs, {seconds / 60:.1f} min of training and measuring in total on "
            f"{' and '.join(devices)} ({when}); {done}")
