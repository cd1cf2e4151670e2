"""The verdicts of every profile side by side, from the stored results alone (the report page's "Every profile"
and ``python -m defstab_lib report --profiles``).

:func:`defstab_lib.chapters.loading.compare_profiles` loads, for each profile whose trained runs and random networks
are all stored, its evidence and its eight verdicts (:mod:`.report`, ``stored_only=True``: nothing is trained or
computed), and for the others counts what is stored, as :class:`ProfileVerdicts`.  :func:`comparison_rows` gives one row per claim and one
column per complete profile, :func:`incomplete_note` says how much each other profile lacks, and
:func:`comparison_json` gives it all for a machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ..runs.profiles import PROFILES, get_profile
from .report import recipes_side_by_side
from .verdicts import Verdict, side_by_side, to_json, unit_words

__all__ = ["ProfileVerdicts", "compared_profiles", "comparison_rows", "incomplete_note", "comparison_json"]


@dataclasses.dataclass
class ProfileVerdicts:
    """One profile in the comparison of profiles.

    Attributes:
        profile: its name.
        runs: ``{experiment: (stored, total)}``: the trained runs its verdicts read.
        evidence, verdicts: when everything it needs is stored, what the verdicts read (the report's
            :class:`~defstab_lib.analysis.report.Evidence`, the ablation's
            :class:`~defstab_lib.analysis.ablation.AblationRuns`) and the verdicts; ``None`` otherwise.
        missing: otherwise, what is not stored (in words).
    """

    profile: str
    runs: dict[str, tuple[int, int]]
    evidence: Any = None
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


def compared_profiles(first: str | None = None) -> list[str]:
    """The profiles the report compares: ``first`` (the page's own) first, then every profile but ``smoke``.

    >>> compared_profiles("smoke")[:2], "smoke" in compared_profiles("cpu")
    (['smoke', 'cpu'], False)
    """
    rest = [p for p in PROFILES if p != "smoke"]
    if first is not None:
        get_profile(first)
    return list(dict.fromkeys(([first] if first else []) + rest))


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
