"""The verdicts of every profile side by side, from the stored results alone (the report page's "Every profile"
and ``python -m defstab_lib report --profiles``).

:func:`compare_profiles` loads, for each profile whose trained runs and random networks are all stored, its
evidence and its eight verdicts (:mod:`.report`, ``stored_only=True``: nothing is trained or computed), and for the
others counts what is stored (:func:`stored_counts`).  :func:`comparison_rows` gives one row per claim and one
column per complete profile, :func:`incomplete_note` says how much each other profile lacks, and
:func:`comparison_json` gives it all for a machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import runs
from ..runs.store import ResultsStore
from .report import Evidence, all_verdicts, load_evidence, recipes_side_by_side, report_configs
from .verdicts import Verdict, side_by_side, to_json, unit_words

__all__ = ["ProfileVerdicts", "stored_counts", "compared_profiles", "compare_profiles", "comparison_rows",
           "incomplete_note", "comparison_json"]


@dataclasses.dataclass
class ProfileVerdicts:
    """One profile in the comparison of profiles.

    Attributes:
        profile: its name.
        runs: ``{experiment: (stored, total)}``: the trained runs the report reads (:func:`stored_counts`).
        evidence, verdicts: when everything it needs is stored, its :class:`Evidence` and :func:`all_verdicts`;
            ``None`` otherwise.
        missing: otherwise, what is not stored (in words).
    """

    profile: str
    runs: dict[str, tuple[int, int]]
    evidence: Evidence | None = None
    verdicts: list[Verdict] | None = None
    missing: str = ""

    @property
    def complete(self) -> bool:
        return self.verdicts is not None

    @property
    def stored(self) -> int:
        return sum(n for n, _ in self.runs.values())

    @property
    def total(self) -> int:
        return sum(n for _, n in self.runs.values())


def stored_counts(profile: str, *, dataset: str = "fashion-mnist", store: ResultsStore | None = None
                  ) -> dict[str, tuple[int, int]]:
    """``{experiment: (stored, total)}`` of the trained runs the report reads in ``profile`` (its own seeds).

    Raises:
        ValueError: an unknown profile or dataset (before any work).
    """
    store = store or ResultsStore()
    return {e: (sum(store.exists(c) for c in cs), len(cs))
            for e, cs in report_configs(profile, dataset=dataset).items()}


def compared_profiles(first: str | None = None) -> list[str]:
    """The profiles the report compares: ``first`` (the page's own) first, then every profile but ``smoke``.

    >>> compared_profiles("smoke")[:2], "smoke" in compared_profiles("cpu")
    (['smoke', 'cpu'], False)
    """
    rest = [p for p in runs.PROFILES if p != "smoke"]
    if first is not None:
        runs.get_profile(first)
    return list(dict.fromkeys(([first] if first else []) + rest))


def compare_profiles(profiles: Sequence[str] | None = None, *, dataset: str = "fashion-mnist",
                     store: ResultsStore | None = None, known: Sequence[Evidence] = ()) -> list[ProfileVerdicts]:
    """Every profile's verdicts from the stored results alone (nothing is trained or computed), in order.

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
    given = {ev.profile: ev for ev in known}
    out = []
    for p in profiles:
        if p in given:
            ev = given[p]
            counts = {e: (len(rs), len(rs)) for e, rs in (("pooling", ev.real), ("random-labels", ev.random),
                                                           ("synthetic", ev.synthetic), ("matched-real", ev.matched))
                      if rs}
            out.append(ProfileVerdicts(p, counts, ev, all_verdicts(ev)))
            continue
        counts = stored_counts(p, dataset=dataset, store=store)
        item = ProfileVerdicts(p, counts)
        try:
            item.evidence = load_evidence(profile=p, dataset=dataset, stored_only=True, store=store, device="cpu")
            item.verdicts = all_verdicts(item.evidence)
        except LookupError as exc:
            item.missing = str(exc)
        out.append(item)
    return out


def comparison_rows(compared: Sequence[ProfileVerdicts]) -> list[dict[str, str]]:
    """The verdicts of every complete profile side by side (:func:`~.verdicts.side_by_side`): one row per claim
    (headline first), one column per profile with its verdict and effect with the 95% CI.

    Raises:
        ValueError: no profile is complete.
    """
    done = [c for c in compared if c.complete]
    if not done:
        raise ValueError("no profile has all its results stored: "
                         + "; ".join(f"{c.profile} {c.stored}/{c.total}" for c in compared))
    return side_by_side({c.profile: c.verdicts for c in done}, label_column="claim", label=_claim_label,
                        cell=_profile_cell)


def _claim_label(v: Verdict) -> str:
    return f"{v.numbers['number']}. {v.what} ({v.figure})"


def _profile_cell(v: Verdict) -> str:
    decide = f"; ~{v.n_needed} would decide it" if v.n_needed else ""
    return f"{v.verdict}: {v.value}, n = {v.n_independent} {unit_words(v)}{decide}"


def incomplete_note(compared: Sequence[ProfileVerdicts]) -> str:
    """One sentence per profile that is not complete: how many of its runs are stored, per experiment; ``""``
    when every profile is."""
    parts = []
    for c in compared:
        if c.complete:
            continue
        each = ", ".join(f"{e} {n}/{total}" for e, (n, total) in c.runs.items())
        why = "" if c.stored < c.total else f" (its trained runs are all stored, but not: {c.missing})"
        parts.append(f"The {c.profile} profile is incomplete: {c.stored} of its {c.total} runs are stored "
                     f"({each}){why}.")
    return " ".join(parts)


def comparison_json(compared: Sequence[ProfileVerdicts], *, dataset: str) -> dict:
    """The comparison for a machine: ``{"dataset", "profiles": {name: {"complete", "stored", "total", "runs",
    "recipe", "verdicts"}}}`` (``recipe`` and ``verdicts`` only when complete; each verdict as ``report --json``
    gives it)."""
    out = {}
    for c in compared:
        d: dict = {"complete": c.complete, "stored": c.stored, "total": c.total,
                   "runs": {e: {"stored": n, "total": t} for e, (n, t) in c.runs.items()}}
        if c.complete:
            d["recipe"] = {r[""]: r[c.profile] for r in recipes_side_by_side([c.evidence])}
            d["verdicts"] = [{"number": v.numbers["number"], **to_json(v)} for v in c.verdicts]
        else:
            d["missing"] = c.missing or f"{c.total - c.stored} of {c.total} runs"
        out[c.profile] = d
    return {"dataset": dataset, "profiles": out}
