"""Every verdict of a profile, from the results store: what the report page, the chapters and
``python -m defstab_lib report`` read.

:func:`defstab_lib.chapters.loading.load_evidence` gathers the stored runs of a profile (the trained experiments)
and the random networks of claims 1 and 4 (at the trained networks' width and at the paper's full width) into an
:class:`Evidence`; :func:`all_verdicts` runs the eight pre-registered tests of :mod:`.claims` on them; :func:`scale_rows` says what was run against what the paper
ran, from the runs' own configs (:mod:`.recipe`).

Claim 7 compares random with real labels.  A profile with ``matched_contrast`` (``standard``) has real-label runs
trained by the random labels' own recipe (the ``matched-real`` experiment), so that the two differ in the labels
alone, and the test reads those; the older profiles compare with their ``pooling`` runs, whose recipe differs in
more than the labels (:func:`label_contrast`; the statistic says which).

:func:`recipes_side_by_side` states several profiles' recipes beside one another and the paper's
(:mod:`.compare` puts their verdicts side by side).
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping, Sequence

from ..runs.config import init_seed
from ..runs.experiments import label_contrast
from ..runs.profiles import get_profile
from ..runs.store import Results
from ..runs.untrained import RandomNetworks, SmoothInit
from . import claims
from .recipe import PAPER, recipe
from .stats import CONTRADICTED, INCONCLUSIVE, NO_EFFECT, SUPPORTED, UNINFORMATIVE, VERDICTS
from .verdicts import Verdict

__all__ = ["summary_lines", "limitations", "Evidence", "pooling_verdict", "smoothing_verdict",
           "random_labels_verdict", "all_verdicts",
           "verdict_sources", "label_contrast", "contrast_words", "scale_rows",
           "recipes_side_by_side", "SIGMAS", "DRAWS"]

SIGMAS = (0.0, 0.5, 1.0, 2.0, 4.0)
DRAWS = 30


@dataclasses.dataclass
class Evidence:
    """What the tests read.  ``real``, ``random``, ``synthetic``: the ``pooling``, ``random-labels`` and
    ``synthetic`` runs; ``matched``: the ``matched-real`` runs (empty unless the profile has ``matched_contrast``);
    ``pooling_nets``/``smooth_nets``: ``{width: random networks}`` (the trained networks' width first, then the
    paper's 1.0)."""

    profile: str
    dataset: str
    real: list[Results]
    random: list[Results]
    synthetic: list[Results]
    pooling_nets: dict[float, RandomNetworks]
    smooth_nets: dict[float, SmoothInit]
    matched: list[Results] = dataclasses.field(default_factory=list)

    @property
    def width(self) -> float:
        return next(iter(self.pooling_nets))

    @property
    def contrast(self) -> list[Results]:
        """Claim 7's real-label runs: ``matched`` (the ``matched-real`` runs) in a profile with
        ``matched_contrast``, ``real`` (the ``pooling`` runs) otherwise (:func:`label_contrast`)."""
        if not get_profile(self.profile).matched_contrast:
            return self.real
        if not self.matched:
            raise ValueError(f"profile {self.profile!r} tests claim 7 against its matched-real runs, and this evidence "
                             f"holds none (load it with defstab_lib.chapters.load_evidence)")
        return self.matched


def contrast_words(random: Sequence[Results], real: Sequence[Results]) -> str:
    """Which real-label runs claim 7 reads, and whether their recipe is the random labels' (compared aspect by
    aspect from the configs, :func:`~defstab_lib.analysis.recipe.recipe`), in words for its statistic."""
    experiment = real[0].config.experiment
    a, b = recipe(random), recipe(real)
    differ = [k for k in ("augmentation", "training", "arithmetic") if a[k] != b[k]]
    if differ:
        return (f"the {experiment} runs, trained by another recipe than the random labels' (it differs in "
                f"{' and '.join(differ)}, not only in the labels)")
    return f"the {experiment} runs, trained by the random labels' own recipe (they differ in the labels alone)"


def pooling_verdict(nets: dict[float, RandomNetworks], trained: Sequence[Results] = ()) -> Verdict:
    """Claim 1 as the report states it: random networks at the trained width, with the full width and the trained
    runs' initialisations beside it."""
    first, *rest = nets.values()
    return claims.pooling_at_init(first, beside=[*rest] + ([list(trained)] if trained else []))


def smoothing_verdict(nets: dict[float, SmoothInit]) -> Verdict:
    """Claim 4 as the report states it: random networks at the trained width, the full width beside it."""
    first, *rest = nets.values()
    return claims.smoothing_stabilises(first, beside=rest)


def random_labels_verdict(random: Sequence[Results], real: Sequence[Results]) -> Verdict:
    """Claim 7 as the report states it: the random-label runs against ``real``, the profile's real-label contrast
    (:attr:`Evidence.contrast`, :func:`label_contrast`), which the statistic names (:func:`contrast_words`).  The
    random-labels chapter calls it too, so that its verdict is the report's."""
    return claims.random_labels_depend_on_architecture(random, real, contrast=contrast_words(random, real))


def _number(v: Verdict, key: str) -> Verdict:
    v.numbers["key"], v.numbers["number"] = key, claims.CLAIMS[key].number
    return v


def all_verdicts(ev: Evidence) -> list[Verdict]:
    """The eight verdicts in :data:`~.claims.CLAIMS`' order, headline first, then claims 1-7 (each with what is
    reported beside it), each numbered by its :class:`~.claims.Claim` (``numbers["key"]``, ``numbers["number"]``)."""
    out = {
        "headline": claims.unpooled_learn_stability(ev.real),
        "pooling": pooling_verdict(ev.pooling_nets, ev.real),
        "training-changes": claims.training_changes_pattern(ev.real),
        "convergence": claims.convergence_after_training(ev.real),
        "smoothing": smoothing_verdict(ev.smooth_nets),
        "synthetic": claims.stronger_tasks_smoother(ev.synthetic),
        "training-smooths": claims.training_smooths(ev.real),
        "random-labels": random_labels_verdict(ev.random, ev.contrast),
    }
    return [_number(out[key], key) for key in claims.CLAIMS]


def verdict_sources(ev: Evidence) -> dict[str, list]:
    """``{verdict key: what it reads}``, in :func:`all_verdicts`' order: the stored runs (``Results``) and random
    networks each verdict is computed from (the report's figures link to their files)."""
    pooling_nets = list(ev.pooling_nets.values())
    return {"headline": ev.real, "pooling": [*pooling_nets, *ev.real], "training-changes": ev.real,
            "convergence": ev.real, "smoothing": list(ev.smooth_nets.values()), "synthetic": ev.synthetic,
            "training-smooths": ev.real, "random-labels": [*ev.random, *ev.contrast]}


#: The sets of trained runs the report states the recipe of: ``(label, Evidence attribute)``.
_RUN_SETS = (("real labels", "real"), ("random labels", "random"), ("synthetic tasks", "synthetic"))


def _same_start(ev: Evidence) -> str:
    """Whether the random-label (and matched) and synthetic runs start from the weights of the real-label run of
    the same network and seed (computed with :func:`~defstab_lib.runs.config.init_seed`)."""
    first = {(r.config.arch, r.config.seed): init_seed(r.config) for r in ev.real}
    others = [r.config for r in [*ev.random, *ev.matched, *ev.synthetic]]
    paired = [c for c in others if (c.arch, c.seed) in first]
    if paired and all(init_seed(c) == first[(c.arch, c.seed)] for c in paired):
        return (f"the random-label{', matched real-label' if ev.matched else ''} and synthetic runs start from the "
                f"weights of the real-label run of the same network and seed")
    return "the random-label and synthetic runs start from weights of their own"


def _claim7_row(ev: Evidence) -> str:
    words = contrast_words(ev.random, ev.contrast)
    if ev.contrast is ev.real:
        return f"{words}: the real-label runs above"
    r = recipe(ev.contrast)
    return f"{words}: {r['training']}; augmentation: {r['augmentation']}"


def scale_rows(ev: Evidence) -> list[dict[str, str]]:
    """What was run against what the paper ran (columns ``""``, ``"this run"``, ``"the paper"``): the data, the
    network, the initialisations, augmentation, training, arithmetic and probe of every set of trained runs, each
    stated from the runs' configs (:func:`~defstab_lib.analysis.recipe.recipe`), and the random networks of
    claims 1 and 4."""
    return [{"": r[""], "this run": r[ev.profile], "the paper": r["the paper"]} for r in recipes_side_by_side([ev])]


def _rows(ev: Evidence) -> dict[str, str]:
    """``{aspect: phrase}`` of one profile's evidence (the ``this run`` column of :func:`scale_rows`)."""
    described = {label: recipe(getattr(ev, name)) for label, name in _RUN_SETS}

    def per_set(aspect: str) -> str:
        phrases = {label: r[aspect] for label, r in described.items()}
        if len(set(phrases.values())) == 1:
            return next(iter(phrases.values()))
        return "; ".join(f"{label}: {phrase}" for label, phrase in phrases.items())

    real = described["real labels"]
    nets = next(iter(ev.pooling_nets.values()))
    widths = " and ".join(f"×{w:g}" for w in ev.pooling_nets)
    return {
        "data": "; ".join(dict.fromkeys(r["data"] for r in described.values())),
        "network": f"{real['network']} (trained networks); random networks (claims 1 and 4) at {widths}",
        "initialisations": f"{real['initialisations']}; {_same_start(ev)}; {nets.draws} independent random "
                           f"networks (each with its own probe images) per variant and per σ",
        "augmentation": per_set("augmentation"),
        "training, real labels": real["training"],
        "training, random labels": described["random labels"]["training"],
        "claim 7's real labels": _claim7_row(ev),
        "training, synthetic tasks": described["synthetic tasks"]["training"],
        "arithmetic": per_set("arithmetic"),
        "probe": per_set("probe"),
        "measured": per_set("measured"),
    }


_PAPER_ROWS = {
    "data": PAPER["data"], "network": PAPER["network"], "initialisations": PAPER["initialisations"],
    "augmentation": PAPER["augmentation"], "training, real labels": PAPER["training"],
    "training, random labels": "as Zhang et al. (CIFAR-10); not stated further",
    "claim 7's real labels": "the real-label networks of Figures 3 and 6 (recipes not stated)",
    "training, synthetic tasks": "not stated", "arithmetic": PAPER["arithmetic"], "probe": PAPER["probe"],
    "measured": PAPER["measured"],
}


def recipes_side_by_side(evidence: Sequence[Evidence]) -> list[dict[str, str]]:
    """The recipe of each profile's evidence beside the others' and the paper's: one row per aspect, one column per
    profile (its name), then ``"the paper"``."""
    if not evidence:
        raise ValueError("evidence must hold at least one profile's Evidence")
    described = {ev.profile: _rows(ev) for ev in evidence}
    return [{"": aspect, **{p: rows[aspect] for p, rows in described.items()}, "the paper": paper}
            for aspect, paper in _PAPER_ROWS.items()]


def _names(vs: Sequence[Verdict]) -> str:
    """"claims 1 (pooling confers stability …) and 4 (…)": each claim's number and a short form of it."""
    short = [textwrap.shorten(v.claim.rstrip("."), 60, placeholder="…") for v in vs]
    items = [f"{v.numbers.get('number')} ({text[0].lower()}{text[1:]})" for v, text in zip(vs, short)]
    head = "claim " if len(items) == 1 else "claims "
    return head + (items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1])


def summary_lines(verdicts: Sequence[Verdict], holds: Mapping[str, tuple[int, int]], *, profile: str,
                  dataset: str) -> list[str]:
    """The book's answer in plain sentences, from the verdicts (:func:`all_verdicts`, the headline first) and in how
    many declared specifications each holds (``{key: (k, m)}``): the count of each verdict, the headline, what is
    supported, what is not settled and why, what is contradicted (where anything is), and the scale of the runs."""
    by = {k: [v for v in verdicts if v.verdict == k and v.numbers.get("key") != "headline"] for k in VERDICTS}
    head = next((v for v in verdicts if v.numbers.get("key") == "headline"), None)
    counts = ", ".join(f"{sum(v.verdict == k for v in verdicts)} {k}" for k in VERDICTS
                       if any(v.verdict == k for v in verdicts))
    lines = [f"Of the paper's headline and its {len(verdicts) - (head is not None)} claims tested here: {counts}."]
    if head is not None:
        k, m = holds.get("headline", (0, 0))
        lines.append(f"The headline -- {head.claim[0].lower()}{head.claim[1:].rstrip('.')} -- is **{head.verdict}**: "
                     f"{head.what} {head.value}, and it holds in {k} of {m} declared analyses.")
    if by[SUPPORTED]:
        lines.append(f"Supported: {_names(by[SUPPORTED])}.")
    unsettled = by[INCONCLUSIVE] + by[UNINFORMATIVE] + by[NO_EFFECT]
    if unsettled:
        lines.append("Not settled by these runs: " + "; ".join(
            f"{_names([v])}, {v.verdict}" + (f" ({v.uninformative_reason})" if v.uninformative_reason else
                                             f" (about {v.n_needed} initialisations would decide it)" if v.n_needed
                                             else "") for v in unsettled) + ".")
    if by[CONTRADICTED]:
        lines.append(f"Contradicted: {_names(by[CONTRADICTED])}.")
    lines.append(f"Every number is from the `{profile}` profile's runs on {dataset}, smaller than the paper's "
                 f"(the report's table says how): read each verdict as a verdict at that scale.")
    return lines


def limitations(ev: Evidence, verdicts: Sequence[Verdict]) -> list[str]:
    """What the book's answer does not cover, in plain sentences stated from the evidence and the verdicts: the data
    and the width of the trained networks, the recipe, the initialisations and what more of them would decide, what
    could not be measured, and what was not run at all."""
    rows = _rows(ev)
    seeds = sorted({r.config.seed for r in ev.real})
    width = ev.width
    lines = [
        f"**Data.**  Every trained network here saw {rows['data'].split(';')[0]}; none saw CIFAR-10 or ImageNet, "
        f"the paper's data.  The CIFAR-10 profile runs with one command where the data can be downloaded (the "
        f"README says how); the chapter on an ImageNet-trained network measures a published network, not one "
        f"trained here.",
        f"**Width.**  The trained networks are ×{width:g} of the paper's width "
        f"({rows['network'].split(';')[0].split(': ', 1)[-1]}); "
        f"only the random networks of claims 1 and 4 are also measured at full width.",
        f"**Recipe.**  The paper does not state its training recipe; the runs here use one: "
        f"{rows['training, real labels']}; augmentation: {rows['augmentation']}.  Each claim's declared "
        f"specifications re-judge it under other recipes, and the chapter *What teaches stability?* moves one part "
        f"of the recipe at a time.",
        f"**Initialisations.**  {len(seeds)} per setting (seeds {', '.join(map(str, seeds))}); the trained runs are "
        f"measured on one probe of images, so their intervals leave out the probe's own variation (each claim's "
        f"*probe resampled* specification shows how much wider they are with it).",
    ]
    inconclusive = [v for v in verdicts if v.verdict == INCONCLUSIVE]
    if inconclusive:
        lines.append("**Not decided.**  " + "; ".join(
            f"{_names([v])} is inconclusive" + (f": about {v.n_needed} initialisations would decide it"
                                                 if v.n_needed else "") for v in inconclusive) + ".")
    uninformative = [v for v in verdicts if v.verdict == UNINFORMATIVE]
    if uninformative:
        lines.append("**Could not be measured.**  " + "; ".join(
            f"{_names([v])}: " + _lower_first(v.uninformative_reason or "the quantity had no room to move")
            for v in uninformative)
            + ".  A regime where the quantity moves is needed, not more initialisations.")
    return lines


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
