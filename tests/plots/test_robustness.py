"""defstab_lib.plots.robustness: one claim under each declared specification, a forest plot."""

from __future__ import annotations

import dataclasses

import matplotlib
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import pytest

from defstab_lib import plots
from defstab_lib.analysis import Rule, judge
from defstab_lib.plots.provenance import drawn_by
from defstab_lib.plots.robustness import plot_robustness, plot_robustness_grid
from defstab_lib.plots.verdicts import VERDICT_COLORS

matplotlib.use("Agg")


@dataclasses.dataclass
class Spec:
    name: str
    group: str
    primary: bool
    verdict: object


def _verdict(units, scale="log", verdict=None):
    v = judge(claim="c", figure="F", statistic="s", what="A ÷ B", units=units, rule=Rule(-1, 0.1, "why."), runs=6,
              scale=scale)
    if verdict is not None:  # a verdict the rules of another analysis gave
        v.verdict = verdict
    return v


def _specs(scale="log"):
    return [Spec("pre-registered: layers 7-12", "primary", True, _verdict([-0.5, -0.4, -0.45], scale)),
            Spec("layers 1-12", "layers", False, _verdict([-0.3, 0.2, -0.1], scale)),
            Spec("layers 10-12, the last ones before the classifier", "layers", False,
                 _verdict([0.3, 0.35, 0.4], scale)),
            Spec("subsample alone", "architecture", False, _verdict([-0.6], scale)),
            Spec("avgpool alone", "architecture", False, _verdict([-0.2, 0.1, 0.0], scale, "uninformative"))]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _lines(ax, kind):
    return {line.get_gid().removeprefix(kind + " "): line for line in ax.get_lines()
            if (line.get_gid() or "").startswith(kind + " ")}


def test_one_row_per_specification_in_order_with_the_primary_in_bold():
    specs = _specs()
    ax = plot_robustness(specs)
    labels = ax.get_yticklabels()
    assert len(ax.get_yticks()) == len(specs)
    assert [t.get_text().replace("\n", " ") for t in labels] == [s.name for s in specs]
    assert [t.get_fontweight() for t in labels] == ["bold"] + ["normal"] * (len(specs) - 1)
    assert max(len(line) for t in labels for line in t.get_text().split("\n")) <= 30  # wrapped for a phone
    ys = list(ax.get_yticks())
    assert ys == sorted(ys) and ax.get_ylim()[0] > ax.get_ylim()[1]  # the first specification on top


def test_each_ci_bar_and_dot_has_its_verdicts_colour():
    specs = _specs()
    ax = plot_robustness(specs)
    bars, dots = _lines(ax, "ci"), _lines(ax, "effect")
    assert set(bars) == {s.name for s in specs if s.verdict.has_ci}
    assert {s.verdict.verdict for s in specs} >= {"supported", "contradicted", "uninformative", "inconclusive"}
    for s in specs:
        color = mcolors.to_hex(VERDICT_COLORS[s.verdict.verdict])
        assert mcolors.to_hex(dots[s.name].get_color()) == color
        if s.verdict.has_ci:
            assert mcolors.to_hex(bars[s.name].get_color()) == color
            assert list(bars[s.name].get_xdata()) == pytest.approx([s.verdict.ci_low, s.verdict.ci_high])
    assert dots["pre-registered: layers 7-12"].get_markersize() > dots["layers 1-12"].get_markersize()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["supported", "contradicted", "inconclusive", "uninformative"]


def test_a_specification_without_a_ci_gets_its_dot_and_says_so():
    ax = plot_robustness(_specs())
    assert "subsample alone" in _lines(ax, "effect") and "subsample alone" not in _lines(ax, "ci")
    assert "no CI" in [t.get_text() for t in ax.texts]


def test_ratios_are_drawn_on_a_log_axis_around_1x_and_differences_on_a_linear_axis_around_0():
    ax = plot_robustness(_specs())
    assert ax.get_xscale() == "log"
    assert list(_lines(ax, "no")["effect"].get_xdata()) == [1, 1]
    assert "1×" in [t.get_text() for t in ax.get_xticklabels()]
    m = _specs()[0].verdict.minimal_effect  # 0.91: at least 10% lower
    assert list(_lines(ax, "minimal")["effect"].get_xdata()) == pytest.approx([m, m])
    band, = [p for p in ax.patches if p.get_gid() == "no meaningful effect"]
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((m, 1 / m))
    ax = plot_robustness(_specs("linear"))
    assert ax.get_xscale() == "linear"
    assert list(_lines(ax, "no")["effect"].get_xdata()) == [0, 0]


def test_group_names_head_their_rows():
    ax = plot_robustness(_specs())
    assert [t.get_text() for t in ax.texts if t.get_text() != "no CI"] == ["primary", "layers", "architecture"]


def test_the_grid_has_one_panel_per_claim_titled_as_given():
    specs = _specs()
    fig = plot_robustness_grid([("1. first", specs), ("2. second", specs[:2])])
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["1. first", "2. second"]
    assert [len(ax.get_yticks()) for ax in fig.axes] == [5, 2]
    fig = plot_robustness_grid([("a", specs), ("b", specs), ("c", specs)], columns=2)
    assert sum(ax.get_visible() for ax in fig.axes) == 3


def test_the_figures_are_stamped_with_the_function_that_drew_them():
    ax = plot_robustness(_specs())
    assert drawn_by(ax.figure) == ("defstab_lib.plots.robustness.plot_robustness",)
    fig, given = plt.subplots()
    assert plot_robustness(_specs(), given) is given and drawn_by(fig) == (plot_robustness.drawn_by,)
    fig = plot_robustness_grid([("a", _specs())])
    assert drawn_by(fig) == ("defstab_lib.plots.robustness.plot_robustness_grid",)
    assert plots.plot_robustness is plot_robustness and plots.plot_robustness_grid is plot_robustness_grid


def test_the_figure_grows_with_its_rows():
    specs = _specs()
    more = [dataclasses.replace(specs[1], name=f"layers {i}-12") for i in range(2, 14)]  # 12 more, same group
    small, large = plot_robustness(specs[:2]).figure, plot_robustness(specs[:2] + more).figure
    assert large.get_figheight() - small.get_figheight() == pytest.approx(0.32 * 12, abs=0.05)


@pytest.mark.parametrize("specs, match", [
    ([], "specs must hold at least one"),
    ([Spec("a", "g", False, _verdict([-0.1, -0.2]))], "specs must hold exactly one primary"),
    ([Spec("a", "g", True, _verdict([-0.1, -0.2])), Spec("b", "g", True, _verdict([-0.1, -0.2]))],
     "specs must hold exactly one primary"),
    ([Spec("a", "g", True, _verdict([-0.1, -0.2])), Spec("b", "g", False, _verdict([-0.1, -0.2], "linear"))],
     "specs mix scales"),
])
def test_bad_specifications_are_refused_by_name(specs, match):
    with pytest.raises(ValueError, match=match):
        plot_robustness(specs)


@pytest.mark.parametrize("claims, columns, match", [
    ([], 1, "claims must hold at least one"),
    ([("ok", [Spec("a", "g", True, _verdict([-0.1, -0.2]))]), ("empty", [])], 1,
     r"claims\[1\] \('empty'\) must hold at least one"),
    ([("none primary", [Spec("a", "g", False, _verdict([-0.1, -0.2]))])], 1,
     r"claims\[0\] \('none primary'\) must hold exactly one primary"),
    ([("ok", [Spec("a", "g", True, _verdict([-0.1, -0.2]))])], 0, "columns must be at least 1"),
])
def test_bad_claims_are_refused_by_name(claims, columns, match):
    with pytest.raises(ValueError, match=match):
        plot_robustness_grid(claims, columns=columns)
