"""The one "How to read a verdict" box and the compact lines a page states a claim in
(``defstab_lib/analysis/reading.py``)."""

from __future__ import annotations

import math

from defstab_lib.analysis import claims, reading, stats
from defstab_lib.vocabulary import VERDICT_GUIDE


def test_the_guide_states_the_rules_own_numbers_and_every_verdict_word():
    text = reading.verdict_guide()
    for minimal in (claims.SENSITIVITY_MINIMAL, claims.TV_MINIMAL, claims.SPREAD_MINIMAL):
        assert f"a factor {math.exp(minimal):.2f}" in text
    assert f"0.909× = 1 ÷ {math.exp(claims.SENSITIVITY_MINIMAL):.2f}" in text
    assert f"below {stats.BOOTSTRAP_MIN_N} units" in text
    for word in stats.VERDICTS:
        assert f"*{word}*" in text, word


def test_a_claim_is_stated_in_a_few_lines_without_the_rule_that_the_guide_gives_once():
    inconclusive = claims.CLAIMS["headline"].judge([-0.3, 0.05, -0.2], statistic="s", what="w", runs=3)
    assert inconclusive.verdict == stats.INCONCLUSIVE
    lines = reading.claim_lines(inconclusive)
    assert len(lines) == 4 and VERDICT_GUIDE in lines[0]
    assert "would decide it" in lines[0] and "*What would change it:* About" in lines[3]
    assert not any("supported if the 95% CI" in line for line in lines)  # the rule is the guide's, once
    assert claims.CLAIMS["headline"].rule.why in lines[2]
