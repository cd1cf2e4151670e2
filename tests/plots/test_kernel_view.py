"""The kernel view's figures (``defstab_lib/plots/kernel_view.py``): they draw constructed numbers and check
their input."""

from __future__ import annotations


import matplotlib
import numpy as np
import pytest

from defstab_lib.analysis import kernel_view as kv

from tests.helpers import (
    constructed_baselines,
    constructed_cnns,
)

matplotlib.use("Agg")


def test_figures_draw_and_check_their_input():
    from defstab_lib.plots import kernel_view

    fig = kernel_view.plot_coefficients({"CKN": ([1.0, 2.0], [0.1, 0.05], [0.01, 0.01])},
                                        reference=([1.0, 2.0], [0.1, 0.05]), reference_label="1/σ")
    assert len(fig.axes[0].lines) >= 2
    with pytest.raises(ValueError, match="one length"):
        kernel_view.plot_coefficients({"CKN": ([1.0, 2.0], [0.1], [0.01, 0.01])})
    fig = kernel_view.plot_coefficients_by_group(
        {"maxpool": {"init": (0.1, 0.02), "trained": (0.2, 0.01)}, "subsample": {"init": (0.3, 0.0), "trained": (0.2, 0.1)}},
        references={"CKN": 0.05})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["maxpool", "subsample"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["init", "trained", "CKN"]
    fig = kernel_view.plot_profiles_with_baselines(
        {"maxpool": np.ones((2, 13))}, {"CKN σ=1": ([0, 3, 6, 9], np.ones((2, 4)))})
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="one length|values"):
        kernel_view.plot_change_scatter({"a": ([0.1, 0.2], [0.1])})


def test_the_chapter_figures_draw_constructed_numbers():
    from defstab_lib.plots import kernel_view as kv_plots

    kb = constructed_baselines()
    fits = kv.fit_baselines(kb)
    fig = kv_plots.plot_ckn_changes(kv.ckn_change_samples(kb, "translations"),
                                    kv.ckn_change_samples(kb, "deformations"), limit=0.5)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["σ = 0", "σ = 1", "σ = 2"]
    fig = kv_plots.plot_baseline_slopes(fits.slope_series("displacement"), fits.slope_series("jacobian"),
                                        law=fits.law_curve())
    assert len(fig.axes) == 2
    groups, translations = constructed_cnns({"maxpool": (0.15, 0.18), "strided": (0.30, 0.10)})
    cnn = kv.fit_cnns(kv.cnn_sweeps(groups, translations))
    fig = kv_plots.plot_cnn_slopes(cnn.slope_bars("displacement"), cnn.slope_bars("jacobian"),
                                   translation_references=fits.reference_slopes("displacement"), title="t")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["maxpool", "strided"]
    ckn, scattering = kv.baseline_profiles(kb, fits)
    profiles = {n: np.full((2, 13), 0.2) for n in groups}
    fig = kv_plots.plot_cnn_profiles_with_baselines(profiles, profiles, ckn, scattering, sigmas=fits.sigmas)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels[-1] == "scattering, J = layer / 3" and "CKN, σ = 2 px" in labels
    colors = kv_plots.scale_colors([0.0, 0.5, 1.0, 2.0, 4.0])
    assert len({c for c in colors}) == 5
