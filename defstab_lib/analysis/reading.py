"""How a reader reads a verdict: the one "How to read a verdict" box of the book (:func:`verdict_guide`, shown on the
report at :data:`~defstab_lib.vocabulary.VERDICT_GUIDE` and linked from every verdict table's "verdict" header) and
the few lines in which a page states one claim's verdict (:func:`claim_lines`), which leave the rule to that box
instead of repeating it under every claim.

The numbers in the box (the minimal effects, the sample size from which intervals are bootstrapped) are read from
the rules themselves (:mod:`.claims`, :mod:`.stats`), so the box cannot drift from what the tests do.
"""

from __future__ import annotations

import math

from ..vocabulary import VERDICT_GUIDE
from . import claims
from .stats import BOOTSTRAP_MIN_N, CONTRADICTED, INCONCLUSIVE, NO_EFFECT, SUPPORTED, UNINFORMATIVE
from .verdicts import Verdict, minimal_words, sentence, what_would_change

__all__ = ["verdict_guide", "claim_lines"]


def _factor(log_minimal: float) -> str:
    return f"{math.exp(log_minimal) - 1:.0%} (a factor {math.exp(log_minimal):.2f})"


def verdict_guide() -> str:
    """The "How to read a verdict" box, as Markdown: what the effect, the interval, ``n``, the minimal effect (and
    why a factor 1.10 the falling way reads 0.909×), each verdict word, "what would change it" and "holds in" mean.

    >>> text = verdict_guide()
    >>> "0.909× = 1 ÷ 1.10" in text and "10% (a factor 1.10)" in text and "3% (a factor 1.03)" in text
    True
    """
    sens = math.exp(claims.SENSITIVITY_MINIMAL)
    return "\n".join([
        "- **The effect** is a ratio, computed *within* each independent unit (one initialisation of the networks, "
        "or one independent random network) and averaged on the log scale: 0.60× means 40% lower, 1.50× 50% "
        "higher, 1× no change.",
        f"- **The 95% CI** is taken over those units, and **n** counts them (not runs or rows): Student's t below "
        f"{BOOTSTRAP_MIN_N} units, a BCa bootstrap from {BOOTSTRAP_MIN_N} on.",
        f"- **The minimal effect of interest** is the smallest change that counts, fixed with its reason before the "
        f"test was run: {_factor(claims.SENSITIVITY_MINIMAL)} for sensitivities, {_factor(claims.TV_MINIMAL)} for "
        f"filter roughness (TV), {_factor(claims.SPREAD_MINIMAL)} for the spread between architectures.  A factor "
        f"{sens:.2f} the falling way is 1 ÷ {sens:.2f}: where the paper says *lower*, the limit reads "
        f"0.909× = 1 ÷ 1.10 (9.1% lower), where it says *higher*, 1.10×.  The shaded band in every verdict figure "
        f"is the band of no meaningful effect, within the minimal effect either way.",
        f"- **The verdict.**  *{SUPPORTED}*: the CI lies on the paper's side of 1× and the estimate reaches the "
        f"minimal effect.  *{CONTRADICTED}*: the CI excludes 1× on the other side (an equivalence claim: the CI "
        f"lies wholly outside the band).  *{NO_EFFECT}*: the CI lies inside the band, and the quantity moved enough "
        f"that an effect could have shown.  *{INCONCLUSIVE}*: none of these; the verdict says about how many units "
        f"would decide it if the effect and spread stayed as observed.  *{UNINFORMATIVE}*: the measured quantity "
        f"moved too little to show the effect at all; more units would not help, another regime would.",
        "- **What would change it** names the nearest way new data could turn the verdict: the CI's end nearest to "
        "no effect crossing 1×, the estimate falling short of the minimal effect, or the number of units that "
        "would decide an inconclusive test.",
        "- **Holds in *k of m*** counts the declared specifications (other layer windows, distances, networks, "
        "BatchNorm at initialisation, recipes), fixed in code before any was computed, in which the claim is "
        "supported; the first is always the pre-registered one.",
    ])


def claim_lines(v: Verdict) -> list[str]:
    """The lines in which a page states one claim's verdict (Markdown): the verdict's sentence (linked to the
    :func:`verdict_guide` box), the statistic, the minimal effect with its reason, what would change it, and each
    verdict reported beside it; the rule itself is the box's.

    >>> v = claims.CLAIMS["pooling"].judge([-0.5, -0.4, -0.45], statistic="s", what="sensitivity, A ÷ B", runs=6)
    >>> lines = claim_lines(v)
    >>> lines[0].startswith("**supported: sensitivity") and VERDICT_GUIDE in lines[0]
    True
    >>> lines[2]  # doctest: +ELLIPSIS
    '*Minimal effect:* 0.909× (a factor 1.10 lower): the paper reads its sensitivity figures by eye, ...'
    """
    claim = claims.CLAIMS.get(v.numbers.get("key", "")) or next(
        (c for c in claims.CLAIMS.values() if c.statement == v.claim), None)
    why = claim.rule.why if claim is not None else ""
    lines = [f"**{sentence(v)}.** ([how to read a verdict]({VERDICT_GUIDE}))", f"*Statistic:* {v.statistic}.",
             f"*Minimal effect:* {minimal_words(v)}" + (f": {why}" if why else ".")]
    change = what_would_change(v)
    if change:
        lines.append(f"*What would change it:* {change}")
    lines += [f"*Beside it:* {sentence(b)} ({b.numbers.get('where') or b.statistic})." for b in v.beside]
    return lines
