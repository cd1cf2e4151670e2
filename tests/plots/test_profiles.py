"""Per-layer profile figures (``defstab_lib/plots/profiles.py``): mean lines, ±2 std bands over seeds (which
stop at zero), colours, reference line, marks."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from defstab_lib.plots import DOWNSAMPLING_COLORS
from defstab_lib.plots.profiles import LAYER_XLABEL, band_stats, plot_profile, plot_profiles, shade_colors

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def luminance(color):
    r, g, b, _ = to_rgba(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_band_is_two_sample_standard_deviations():
    runs = np.array([[1.0, 5.0, 2.0], [2.0, 5.0, 4.0], [6.0, 5.0, 0.0]])
    mean, low, high = band_stats(runs)
    assert np.allclose(mean, runs.mean(0))
    assert np.allclose(high - mean, 2 * runs.std(0, ddof=1))
    assert np.allclose(mean - low, 2 * runs.std(0, ddof=1))
    _, low3, high3 = band_stats(runs, n_std=3)
    assert np.allclose(high3 - mean, 3 * runs.std(0, ddof=1))
    single_mean, single_low, single_high = band_stats([0.1, 0.2])  # one seed: no band
    assert np.array_equal(single_low, single_mean) and np.array_equal(single_high, single_mean)


def test_one_line_per_profile_at_the_mean_with_a_band_only_over_several_seeds():
    fig = plot_profiles(
        {
            "maxpool": torch.tensor([[0.3, 0.2, 0.1, 0.1], [0.5, 0.2, 0.3, 0.1]]),
            "subsample": [0.4, 0.4, 0.3, 0.35],  # one seed
        }
    )
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"maxpool", "subsample"}
    assert np.allclose(lines["maxpool"].get_ydata(), [0.4, 0.2, 0.2, 0.1])
    assert np.array_equal(lines["maxpool"].get_xdata(), [0, 1, 2, 3])
    assert len(ax.collections) == 1  # the band of maxpool only
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].max(), 0.4 + 2 * np.std([0.3, 0.5], ddof=1))
    assert list(ax.get_xticks()) == [0, 1, 2, 3]
    assert ax.get_xlabel() == LAYER_XLABEL and ax.get_ylabel() == "normalized cosine distance"
    # the book's colour per downsampling variant
    assert to_rgba(lines["maxpool"].get_color()) == to_rgba(DOWNSAMPLING_COLORS["maxpool"])
    assert to_rgba(lines["subsample"].get_color()) == to_rgba(DOWNSAMPLING_COLORS["subsample"])


def test_darker_lines_for_larger_parameter_values():
    sigmas = [0.0, 0.5, 1.0, 2.0]
    profiles = {f"σ = {s}": np.random.default_rng(0).random((3, 5)) for s in sigmas}
    fig = plot_profiles(profiles, parameter=sigmas, cmap="Blues", legend_title="σ")
    colors = [line.get_color() for line in fig.axes[0].lines]
    lum = [luminance(c) for c in colors]
    assert all(a > b for a, b in zip(lum, lum[1:])), lum
    assert fig.axes[0].get_legend().get_title().get_text() == "σ"
    # the same with a mapping, in another order
    fig = plot_profiles(profiles, parameter={f"σ = {s}": s for s in reversed(sigmas)})
    assert [line.get_color() for line in fig.axes[0].lines] == colors
    assert luminance(shade_colors([1, 1])[0]) == luminance(shade_colors([1, 1])[1])


def test_explicit_colours_win():
    fig = plot_profiles({"maxpool": [1.0, 2.0]}, colors={"maxpool": "black"})
    assert to_rgba(fig.axes[0].lines[0].get_color()) == to_rgba("black")


def test_reference_line_is_dotted_black_constant_or_profile():
    fig = plot_profiles({"a": [[1.9, 1.5], [1.8, 1.4]]}, x=[1, 2], reference=1.87, reference_label="at initialisation")
    ref = [line for line in fig.axes[0].lines if line.get_label() == "at initialisation"]
    assert len(ref) == 1 and ref[0].get_linestyle() == ":" and to_rgba(ref[0].get_color()) == to_rgba("black")
    assert np.allclose(ref[0].get_ydata(), 1.87)
    fig = plot_profiles({"a": [1.0, 2.0, 3.0]}, reference=[0.5, 0.6, 0.7])
    assert np.allclose(fig.axes[0].lines[-1].get_ydata(), [0.5, 0.6, 0.7])
    assert fig.axes[0].lines[-1].get_linestyle() == ":"


def test_marks_and_custom_x_and_drawing_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    out = plot_profiles({"a": [1.0, 2.0, 3.0]}, x=[1, 2, 3], ax=axes[1], marks=[2], mark_label="downsampling",
                        xlabel="conv layer", title="(b)", logy=True)  # fmt: skip
    assert out is fig
    ax = axes[1]
    assert np.array_equal(ax.lines[-1].get_xdata(), [1, 2, 3])
    assert any(line.get_label() == "downsampling" for line in ax.lines)
    assert ax.get_yscale() == "log" and ax.get_title() == "(b)" and ax.get_xlabel() == "conv layer"
    assert len(axes[0].lines) == 0  # the other panel is untouched


def test_legend_can_go_outside_or_away():
    fig = plot_profiles({"a": [1.0, 2.0]}, legend_outside=True)
    legend = fig.axes[0].get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().bounds[0] > fig.axes[0].get_window_extent().x1 - 1
    assert plot_profiles({"a": [1.0, 2.0]}, legend_loc=None).axes[0].get_legend() is None


def test_plot_profile_returns_its_line():
    fig, ax = plt.subplots()
    line = plot_profile(ax, [[1.0, 2.0], [3.0, 4.0]], label="x", color="red", linestyle="--")
    assert line.get_linestyle() == "--" and np.allclose(line.get_ydata(), [2.0, 3.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"profiles": {}}, "at least one"),
        ({"profiles": {"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}}, "same number of layers"),
        ({"profiles": {"a": [1.0, 2.0]}, "x": [0, 1, 2]}, "one position per layer"),
        ({"profiles": {"a": [1.0, 2.0]}, "parameter": [1.0, 2.0]}, "one value per profile"),
        ({"profiles": {"a": [1.0, 2.0]}, "reference": [1.0, 2.0, 3.0]}, "one value per layer"),
        ({"profiles": {"a": [[[1.0]]]}}, r"\(seeds, layers\)"),
    ],
)
def test_mismatched_input_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_profiles(**kwargs)


def test_renders_to_png():
    fig = plot_profiles({"maxpool": np.random.default_rng(1).random((5, 13))}, reference=0.2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bands_of_distances_stop_at_zero():
    """±2 std of [0.1, 0.9] reaches below 0; a distance cannot: the band is clipped there unless floor=None."""
    from defstab_lib.plots.profiles import plot_profiles

    values = {"maxpool": [[0.1, 0.2], [0.9, 0.3]]}
    for floor, lowest in ((0.0, 0.0), (None, 0.5 - 2 * 0.8 / 2 ** 0.5)):
        fig = plot_profiles(values, floor=floor)
        band = fig.axes[0].collections[-1].get_paths()[0].vertices[:, 1]
        assert band.min() == pytest.approx(lowest)
        plt.close(fig)
