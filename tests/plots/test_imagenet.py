"""The ImageNet chapter's figures: one panel per quantity, every network drawn, bad shapes refused by name."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from defstab_lib.plots import provenance  # noqa: E402
from defstab_lib.plots.imagenet import plot_imagenet_profiles, plot_worst_and_random  # noqa: E402

LAYERS = ["input", "a", "b", "c"]


def test_profiles_draw_one_panel_per_quantity_and_every_network():
    trained = {q: np.array([0.2, 0.3, 0.2, 0.1]) for q in ("D", "G", "R")}
    inits = {c: {q: np.full((3, 4), 0.5) for q in ("D", "G", "R")} for c in ("recalibrated", "as-built")}
    fig = plot_imagenet_profiles(LAYERS, trained, inits, later=2)
    assert len(fig.axes) == 3
    assert all(len(ax.lines) == 2 * (3 + 1) + 1 for ax in fig.axes)  # 3 thin + mean per condition, the trained
    assert provenance.drawn_by(fig) == ("defstab_lib.plots.imagenet.plot_imagenet_profiles",)


def test_worst_and_random_draws_both_kinds():
    fig = plot_worst_and_random(LAYERS, {"random": np.ones(4), "worst": 2 * np.ones(4)},
                                {"random": np.ones((2, 4)), "worst": 2 * np.ones((2, 4))})
    assert len(fig.axes[0].lines) == 2 * (2 + 1 + 1)


@pytest.mark.parametrize("trained, inits, match", [
    ({"D": np.ones(3)}, {"recalibrated": {"D": np.ones((2, 4))}}, r"trained\['D'\]"),
    ({"D": np.ones(4)}, {"recalibrated": {"D": np.ones((2, 3))}}, r"inits\['recalibrated'\]\['D'\]"),
])
def test_shapes_that_do_not_match_the_layers_are_refused_by_name(trained, inits, match):
    with pytest.raises(ValueError, match=match):
        plot_imagenet_profiles(LAYERS, trained, inits)


def test_worst_needs_both_kinds():
    with pytest.raises(ValueError, match="'random' and 'worst'"):
        plot_worst_and_random(LAYERS, {"random": np.ones(4)}, {"random": np.ones((2, 4)), "worst": np.ones((2, 4))})
