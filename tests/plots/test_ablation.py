"""The ablation's figure (``defstab_lib/plots/ablation.py``): every level for both networks."""

from __future__ import annotations


import pytest

from defstab_lib.analysis import ablation as ab

from tests.helpers import simulated


def test_the_factor_figure_draws_every_level_for_both_networks():
    import matplotlib

    matplotlib.use("Agg")
    from defstab_lib.plots.ablation import plot_factor

    fig = plot_factor(ab.factor_arrays(simulated(), "augmentation"), title="Augmentation")
    assert len(fig.axes) == 6
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["none (recipe)", "flip-crop", "flip-crop-tps", "initialisation"]
    assert [len(ax.get_xticklabels()) for ax in fig.axes[1::3]] == [3, 3]
    with pytest.raises(ValueError, match="at least one level"):
        plot_factor({"levels": [], "networks": {}})
