"""The trained runs a chapter reads: built from its parameters, loaded from the results store, the missing ones
trained (:func:`load_runs`).

A chapter that reads trained runs loads them in one call::

    loaded = chapters.load_runs("pooling", params)
    results, groups = loaded.results["pooling"], loaded.groups["pooling"]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .. import analysis, runs
from ..vocabulary import DOWNSAMPLING
from .page import resolve_device, validate
from .registry import get

__all__ = ["ChapterRuns", "load_runs"]


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
