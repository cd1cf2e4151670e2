"""One way to state verdicts (``defstab_lib/analysis/verdicts.py``): the glue scheme, JSON and rendering, the
rows with what is beside a verdict, verdicts side by side, the verdict table and the generic table."""

from __future__ import annotations

import re

import pytest

from defstab_lib.vocabulary import VERDICT_GUIDE

from defstab_lib import analysis, chapters
from defstab_lib.analysis import stats, tables, verdicts
from defstab_lib.analysis.claims import CLAIMS

from tests.helpers import VARIANTS, population


def _verdict(units=(-0.5, -0.4, -0.45), key="pooling", **numbers) -> verdicts.Verdict:
    return CLAIMS[key].judge(list(units), statistic="s", what="sensitivity, A ÷ B", runs=6, **numbers)


def test_the_glue_scheme_names_every_kind_once_per_claim():
    v = _verdict()
    v.beside = [_verdict((-0.3, -0.2, -0.25), role="beside", where="at width ×1")]
    glued = verdicts.glue_values(v, "training-changes")
    assert sorted(glued) == sorted(f"{k.replace('verdict_word', 'verdict')}_training_changes"
                                   + ("_word" if k == "verdict_word" else "") for k in verdicts.GLUE_KINDS)
    assert glued["verdict_training_changes"] == verdicts.sentence(v)
    assert glued["verdict_training_changes_word"] == v.verdict == stats.SUPPORTED
    assert glued["value_training_changes"] == v.value and glued["rule_training_changes"] == v.rule
    assert glued["change_training_changes"] == verdicts.what_would_change(v)
    assert glued["beside_training_changes"].endswith("(at width ×1)")
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", name) for name in glued)  # what {glue:text}`name` can refer to


def test_glue_ids_refuse_names_a_page_cannot_refer_to():
    assert verdicts.glue_id("random-labels") == "random_labels" == CLAIMS["random-labels"].glue_id
    for bad in ("a b", "", "x.y", 3):
        with pytest.raises(ValueError, match="key must be"):
            verdicts.glue_id(bad)


def test_nothing_beside_is_said_in_words():
    assert verdicts.glue_values(_verdict(), "H")["beside_H"] == "nothing is reported beside it"


def test_table_rows_put_each_verdict_before_what_is_beside_it():
    a, b = _verdict(), _verdict(key="smoothing")
    a.beside = [_verdict(role="beside"), _verdict(role="beside")]
    rows = verdicts.table_rows([a, b])
    assert rows[0] is a and rows[1:3] == a.beside and rows[3] is b and len(rows) == 4


def test_side_by_side_keeps_the_first_columns_order_and_refuses_ragged_columns():
    a, b = _verdict(), _verdict((0.5, 0.4, 0.45))
    rows = verdicts.side_by_side({"cpu": [a, b], "standard": [b, a]}, label_column="claim",
                                 label=lambda v: v.value, cell=lambda v: v.verdict)
    assert rows == [{"claim": a.value, "cpu": stats.SUPPORTED, "standard": stats.CONTRADICTED},
                    {"claim": b.value, "cpu": stats.CONTRADICTED, "standard": stats.SUPPORTED}]
    with pytest.raises(ValueError, match="as many verdicts"):
        verdicts.side_by_side({"cpu": [a, b], "standard": [a]}, label_column="c", label=str, cell=str)
    with pytest.raises(ValueError, match="at least one"):
        verdicts.side_by_side({}, label_column="c", label=str, cell=str)


def test_unit_words_count_draws_and_initialisations():
    assert verdicts.unit_words(_verdict(unit="draw")) == "draws"
    assert verdicts.unit_words(_verdict(unit="seed")) == "initialisations"


def test_the_verdict_table_marks_each_verdict_and_its_interval_for_the_browser():
    v = _verdict()
    v.numbers["number"] = "1"
    html = verdicts.verdict_table([v], caption="c")
    assert f"data-verdict='{v.verdict}'" in html and f"data-ci='{v.ci_low:.4g} to {v.ci_high:.4g}'" in html
    assert html.startswith(f"<table class='verdicts'><caption>c (<a class='defstab-guide' href='{VERDICT_GUIDE}'>") and "<td data-label='#'>1</td>" in html
    # n: the independent units it rests on; the verdict's header links to the one box that says how to read it
    assert f"<td data-label='n' class='n'>{v.n_independent} draws</td>" in html
    assert f"<th><a href='{VERDICT_GUIDE}'>verdict</a></th>" in html and "chapter" not in html
    v.numbers["key"] = "pooling"
    linked = verdicts.verdict_table([v], links={"pooling": "pooling.html"}, holds={"pooling": "3 of 4"})
    assert "<a href='pooling.html'>read</a>" in linked and "<td data-label='holds in' class='holds'>3 of 4</td>" in linked


def test_the_minimal_effect_is_said_the_way_it_is_crossed():
    v = _verdict()
    assert v.direction == -1 and verdicts.minimal_words(v).endswith("(a factor 1.10 lower)")
    assert v.verdict == "supported" and verdicts.minimal_words(v) in verdicts.what_would_change(v)


def test_the_one_generic_table_is_the_chapters_and_the_analysis_one():
    assert chapters.html_table is tables.html_table is analysis.html_table
    html = tables.html_table([{"a": "<x>", "b": 1}, {"a": "y"}], caption="t", code_columns=("b",))
    assert html == ('<table class="defstab-table"><caption>t</caption><thead><tr><th>a</th><th>b</th></tr></thead>'
                    "<tbody><tr><td>&lt;x&gt;</td><td><code>1</code></td></tr><tr><td>y</td><td><code></code></td>"
                    "</tr></tbody></table>")
    with pytest.raises(ValueError, match="rows"):
        tables.html_table([])


def test_json_and_rendering_of_a_verdict():
    v = analysis.pooling_at_init(population({"subsample": 0.3, "maxpool": 0.0, "avgpool": -0.05, "strided": 0.25,
                                             "strided-relu": 0.3}, {v: 0.1 for v in VARIANTS}))
    d = analysis.to_json(v)
    for field in ("claim", "figure", "statistic", "effect", "ci_low", "ci_high", "minimal_effect", "n_independent",
                  "verdict", "rule"):
        assert field in d
    assert "n_needed" not in d and d["minimal_effect"] == pytest.approx(1 / 1.1)
    assert "t-interval" in d["method"] and "Minimal effect" in d["rule"]
    assert "95% CI" in analysis.sentence(v) and "CI" in analysis.what_would_change(v)
    html = analysis.verdict_table([v])
    assert "data-verdict='supported'" in html and "95% CI" in html
    old = analysis.Verdict(claim="c", statistic="s", value="v", rule="r", verdict=analysis.NOT_SUPPORTED, runs=2)
    assert analysis.sentence(old) == "not supported: v"  # the first verdicts' fields still construct one


def test_a_no_difference_verdict_without_room_is_uninformative_everywhere():
    room = stats.Room(0.019, 0.058, "before the matched loss, training moved filter TV by 1.9% on average, less "
                                    "than twice the 3% margin (6%) needed to show a 3% difference between tasks")
    v = verdicts.judge(claim="c", figure="F", statistic="s", what="filter TV, A ÷ B", units=[0.01, -0.01, 0.0, 0.005],
                       rule=stats.Rule(-1, 0.03, "why."), runs=8, room=room)
    assert v.verdict == stats.UNINFORMATIVE and v.uninformative_reason == room.words and v.n_needed is None
    assert v.room == {"moved": 0.019, "needed": 0.058, "ok": False, "words": room.words}
    assert "uninformative otherwise" in v.rule and "6.0%" in v.rule
    assert verdicts.sentence(v).startswith("uninformative: filter TV") and room.words in verdicts.sentence(v)
    change = verdicts.what_would_change(v)
    assert "at least 6.0%" in change and "1.9%" in change
    d = verdicts.to_json(v)
    assert d["uninformative_reason"] == room.words and d["room"]["needed"] == 0.058 and "n_needed" not in d
    html = verdicts.verdict_table([v])
    assert "data-verdict='uninformative'" in html and "1.9% on average" in html


def test_room_enough_keeps_the_verdict_and_is_reported():
    room = stats.Room(0.2, 0.058, "training moved filter TV by 22%")
    v = verdicts.judge(claim="c", figure="F", statistic="s", what="w", units=[0.01, -0.01, 0.0, 0.005],
                       rule=stats.Rule(-1, 0.03, "why."), runs=8, room=room)
    plain = verdicts.judge(claim="c", figure="F", statistic="s", what="w", units=[0.01, -0.01, 0.0, 0.005],
                           rule=stats.Rule(-1, 0.03, "why."), runs=8)
    assert v.verdict == plain.verdict == stats.NO_EFFECT and v.uninformative_reason == ""
    d = verdicts.to_json(v)
    assert d["room"]["ok"] is True and "uninformative_reason" not in d
    assert "room" not in verdicts.to_json(plain) and plain.room is None
    similar = verdicts.judge(claim="c", figure="F", statistic="s", what="w", units=[0.01, -0.01, 0.0],
                             rule=stats.Rule(0, 0.1, "why."), runs=3, room=stats.Room(0.01, 0.2, "moved 1%"))
    assert similar.verdict == stats.UNINFORMATIVE and "supported (similar) only if" in similar.rule


def test_the_rule_text_of_a_tightened_rule_says_the_ci_clears_m():
    v = verdicts.judge(claim="c", figure="F", statistic="s", what="w", units=[-0.15, -0.11, -0.13],
                       rule=stats.Rule(-1, 0.1, "why.", clear=True), runs=3)
    assert "the CI lies beyond m" in v.rule and v.verdict == stats.INCONCLUSIVE and v.n_needed


def test_an_interval_is_printed_with_ends_that_differ_and_no_interval_where_units_agree():
    """cb67332 printed '95% CI 0.87× to 0.87×' for a narrow interval, and a width-0 interval as if it were one."""
    from defstab_lib.analysis.stats import interval
    from defstab_lib.analysis.verdicts import effect_words

    narrow = effect_words(interval([-0.1390, -0.1392, -0.1394]))
    ends = narrow.split("95% CI ")[1].rstrip(")").split(" to ")
    assert ends[0] != ends[1], narrow
    same = effect_words(interval([0.0, 0.0, 0.0]))
    assert "CI" not in same and "the same in all 3 units" in same
    assert effect_words(interval([0.0, 0.0, 0.0]), "linear").startswith("0 (the same")
