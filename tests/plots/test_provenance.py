"""Every plot function stamps the figure it draws on with its own name (``defstab_lib.plots.provenance``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from defstab_lib import deform, plots
from defstab_lib.analysis import Rule, judge
from defstab_lib.plots import provenance
from defstab_lib.plots.profiles import plot_profiles, shared_legend
from defstab_lib.plots.trajectories import plot_trajectories

matplotlib.use("Agg")


#: Public functions of ``plots`` that draw nothing: they compute colours or statistics, or set matplotlib's style.
NOT_DRAWING = {"defstab_lib.plots.apply_style", "defstab_lib.plots.profiles.band_stats",
               "defstab_lib.plots.profiles.shade_colors", "defstab_lib.plots.kernel_view.scale_colors",
               "defstab_lib.plots.verdicts.no_effect_band"}


def public_functions() -> dict[str, object]:
    """``{qualified name: function}`` of every public function of the ``plots`` package (its submodules'
    ``__all__``, the package's own names without a leading underscore), the stamp's own module aside."""
    found = {f"defstab_lib.plots.{n}": f for n, f in vars(plots).items()
             if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == "defstab_lib.plots"}
    for info in pkgutil.iter_modules(plots.__path__):
        if info.name == "provenance":
            continue
        module = importlib.import_module(f"defstab_lib.plots.{info.name}")
        for name in module.__all__:
            if inspect.isfunction(getattr(module, name)):
                found[f"{module.__name__}.{name}"] = getattr(module, name)
    return found


FUNCTIONS = public_functions()
DRAWING = sorted(set(FUNCTIONS) - NOT_DRAWING)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_the_package_has_the_functions_this_file_knows():
    assert NOT_DRAWING <= set(FUNCTIONS)
    assert len(DRAWING) == 31  # a new plot function is added here and to EXAMPLES below


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_public_plot_function_is_stamped_with_its_own_name(name):
    function = FUNCTIONS[name]
    if name in NOT_DRAWING:
        assert not provenance.is_plot_function(function), f"{name} draws nothing: it should not be a plot function"
        return
    assert provenance.is_plot_function(function), f"{name} draws but is not decorated with plots.provenance.draws"
    assert function.drawn_by == name
    module_name, _, attr = name.rpartition(".")
    assert getattr(importlib.import_module(module_name), attr) is function  # the name leads back to it


def _verdict():
    return judge(claim="c", figure="F", statistic="s", what="A ÷ B", units=[-0.5, -0.4, -0.45],
                 rule=Rule(-1, 0.1, "why."), runs=6)


def _specs():
    class Spec:
        name, group, primary, verdict = "pre-registered", "primary", True, _verdict()

    return [Spec()]


def _panels():
    size = (20, 24)
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    deformed, d = deform.deform(image, 3, 2.0, generator=torch.Generator().manual_seed(2))
    field = deform.displacement_field(d, size)[0]
    return image[0], deform.control_points(3, size), d[0], field, deformed[0]


def _factor():
    net = {"profiles": {"none": np.full((2, 13), 0.3), "flip-crop": np.full((2, 13), 0.2)},
           "init": np.full((2, 13), 0.25), "tv": {"none": np.ones(2), "flip-crop": np.ones(2)},
           "tv_init": np.ones(2),
           "trajectories": {"none": (np.array([0, 1]), np.ones((2, 2))), "flip-crop": (np.array([0, 1]), np.ones((2, 2)))}}
    return {"levels": ["none", "flip-crop"], "networks": {"subsample": net, "maxpool": net}}


PROFILE = {"maxpool": np.full((2, 4), 0.2)}
SERIES = {"CKN": ([1.0, 2.0], [0.1, 0.05], [0.01, 0.01])}
BARS = {"maxpool": {"init": (0.1, 0.02), "trained": (0.2, 0.01)}}
RUN = (np.array([0, 1, 2.0]), np.array([2.3, 0.4, 0.01]), np.array([1.85, 1.82, 1.81]))

#: One small call of each plot function: ``(arguments, what it draws on)``, where the arguments are made by a
#: function (``(args, kwargs)``) and what it draws on is ``"own"`` (it makes its figure), ``"ax"`` or ``"axes"`` (it
#: makes its figure unless given one axes as ``ax=`` or three as ``axes=``), ``"ax first"``/``"ax second"`` (it is
#: given axes as that positional argument) or ``"fig and ax"`` (a figure already drawn on, and one of its axes).
EXAMPLES = {
    "ablation.plot_factor": (lambda: ((_factor(),), {}), "own"),
    "course.plot_course": (lambda: (([{"seed": 0, "network": "maxpool", "layer": 1, "epoch": e, "ratio": 1.0 - 0.1 * e}
                                      for e in (0, 1, 2)],), {"ylabel": "ratio"}), "own"),
    "summary.plot_summary": (lambda: (([_verdict()],), {}), "own"),
    "datasets.sample_grid": (lambda: (([("a", torch.rand(2, 1, 4, 4), ["x", "y"])],), {}), "own"),
    "images.show_image": (lambda: ((torch.rand(1, 5, 6),), {}), "ax first"),
    "images.originals_and_deformed": (lambda: (([("rgb", torch.rand(2, 3, 5, 6), torch.rand(2, 3, 5, 6))],), {}),
                                      "own"),
    "images.deformation_panels": (lambda: (_panels(), {"arrow_step": 8}), "own"),
    "imagenet.plot_imagenet_profiles": (lambda: ((["input", "a"], {"D": np.ones(2)},
                                                 {"recalibrated": {"D": np.ones((2, 2))}}), {}), "own"),
    "imagenet.plot_worst_and_random": (lambda: ((["input", "a"], {"random": np.ones(2), "worst": np.ones(2)},
                                                 {"random": np.ones((2, 2)), "worst": np.ones((2, 2))}), {}), "own"),
    "kernel_view.plot_change_scatter": (lambda: (({"σ = 1": ([0.1, 0.2], [0.01, 0.02])},), {}), "ax"),
    "kernel_view.plot_coefficients": (lambda: ((SERIES,), {}), "ax"),
    "kernel_view.plot_coefficients_by_group": (lambda: ((BARS,), {}), "ax"),
    "kernel_view.plot_profiles_with_baselines": (lambda: ((PROFILE, {"CKN σ=1": ([0, 3], np.ones((2, 2)))}), {}),
                                                 "ax"),
    "kernel_view.plot_ckn_changes": (lambda: (({1.0: ([0.1, 0.2], [0.01, 0.02])},
                                               {1.0: ([0.1, 0.2], [0.01, 0.02])}), {}), "own"),
    "kernel_view.plot_baseline_slopes": (lambda: ((SERIES, SERIES), {}), "own"),
    "kernel_view.plot_cnn_slopes": (lambda: ((BARS, BARS), {}), "own"),
    "kernel_view.plot_cnn_profiles_with_baselines": (lambda: ((PROFILE, PROFILE, {1.0: ([0, 3], np.ones((2, 2)))}),
                                                              {}), "own"),
    "length.plot_length_pilots": (lambda: (({"subsample": {8: {"test accuracy": (np.array([0, 1, 8.0]),
                                                                                 np.array([0.1, 0.8, 0.9]))}}},),
                                           {}), "own"),
    "robustness.plot_robustness": (lambda: ((_specs(),), {}), "ax"),
    "robustness.plot_robustness_grid": (lambda: (([("claim", _specs())],), {}), "own"),
    "profiles.plot_profile": (lambda: (([[0.3, 0.2, 0.1]],), {}), "ax first"),
    "profiles.plot_profiles": (lambda: ((PROFILE,), {}), "ax"),
    "profiles.shared_legend": (lambda: ((), {}), "fig and ax"),
    "trajectories.plot_trajectories": (lambda: (([0, 1, 2], {"maxpool": [[1.0, 0.9, 0.8]]}), {}), "ax"),
    "trajectories.plot_loss_trajectories": (lambda: (({"C = 1": [RUN]},), {}), "own"),
    "verdicts.plot_verdict": (lambda: ((_verdict(),), {}), "ax second"),
    "verdicts.plot_verdicts": (lambda: (([_verdict()],), {}), "own"),
    "worstcase.plot_worst_vs_random": (lambda: (([4, 8], {"maxpool": [[0.5, 0.6]]}, {"maxpool": [[0.2, 0.3]]}), {}),
                                       "ax"),
    "worstcase.plot_label_flips": (lambda: (([{"downsampling": "maxpool", "test_accuracy": 0.8, "px": [1.0, 2.0]}],),
                                            {}), "ax"),
    "worstcase.plot_relative_stability": (lambda: (({"maxpool": {k: np.full((2, 3), 0.5) for k in "DGR"}},), {}),
                                          "axes"),
    "worstcase.plot_petrini": (lambda: (({"maxpool": [0.5, 0.7]}, {"maxpool": [0.1, 0.2]}), {}), "ax"),
}
#: Each example called the ways its function can be: making its own figure, and drawing into given axes.
CASES = [(short, given) for short, (_, target) in sorted(EXAMPLES.items())
         for given in {"own": [False], "ax": [False, True], "axes": [False, True]}.get(target, [True])]


def test_every_plot_function_has_an_example():
    assert sorted(f"defstab_lib.plots.{k}" for k in EXAMPLES) == DRAWING


@pytest.mark.parametrize("short, given", CASES, ids=[f"{s}-{'given' if g else 'own'}" for s, g in CASES])
def test_a_plot_function_stamps_the_figure_it_drew(short, given):
    """Called on its own (it makes the figure) or into axes it is given: the figure names it, once, and only it
    (a plot function that draws by calling others, ``plot_factor`` calling ``plot_profile``, stamps its own name)."""
    function = FUNCTIONS[f"defstab_lib.plots.{short}"]
    make, target = EXAMPLES[short]
    args, kwargs = make()
    fig, axes = plt.subplots(1, 3)
    if given and target in ("ax", "axes"):
        kwargs = {**kwargs, target: axes[0] if target == "ax" else axes}
    elif target == "ax first":
        args = (axes[0], *args)
    elif target == "ax second":
        args = (args[0], axes[0], *args[1:])
    elif target == "fig and ax":
        plot_profiles(PROFILE, ax=axes[0], legend_loc=None)
        args = (fig, axes[0])
    result = function(*args, **kwargs)
    drawn_on = provenance.figure_of(result) or fig
    assert (drawn_on is fig) == given
    expected = (f"defstab_lib.plots.{short}",)
    if target == "fig and ax":
        expected = ("defstab_lib.plots.profiles.plot_profiles", *expected)
    assert provenance.drawn_by(drawn_on) == expected
    if not given:
        assert provenance.drawn_by(fig) == ()  # the spare figure was not drawn on


def test_a_figure_composed_of_calls_of_one_function_names_it_once():
    """The pooling chapter's Figure 3: two panels of plot_profiles and a legend under both."""
    fig, axes = plt.subplots(1, 2)
    for ax in axes:
        plot_profiles(PROFILE, ax=ax, legend_loc=None)
    shared_legend(fig, axes[0])
    assert provenance.drawn_by(fig) == ("defstab_lib.plots.profiles.plot_profiles",
                                        "defstab_lib.plots.profiles.shared_legend")


def test_a_figure_drawn_by_several_functions_names_each_in_the_order_they_drew():
    fig, axes = plt.subplots(1, 3)
    plot_trajectories([0, 1, 2], {"maxpool": [[1.0, 0.9, 0.8]]}, ax=axes[0])
    plot_profiles(PROFILE, ax=axes[1])
    plot_trajectories([0, 1, 2], {"maxpool": [[1.0, 0.9, 0.8]]}, ax=axes[2])
    assert provenance.drawn_by(fig) == ("defstab_lib.plots.trajectories.plot_trajectories",
                                        "defstab_lib.plots.profiles.plot_profiles")


def test_a_figure_drawn_by_hand_has_no_stamp():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert provenance.drawn_by(fig) == ()


def test_a_plot_function_that_draws_on_no_figure_is_an_error():
    @provenance.draws
    def plot_nothing(values):
        return len(values)

    assert plot_nothing.drawn_by == f"{__name__}.test_a_plot_function_that_draws_on_no_figure_is_an_error.<locals>" \
                                    ".plot_nothing"
    with pytest.raises(TypeError, match="drew on no figure"):
        plot_nothing([1, 2])


def test_figure_of_finds_the_figure_of_what_a_plot_function_returns():
    fig, axes = plt.subplots(2, 2)
    line, = axes[0, 1].plot([0, 1])
    sub = fig.subfigures(1, 1) if hasattr(fig, "subfigures") else None
    assert provenance.figure_of(axes) is fig and provenance.figure_of(line) is fig
    assert provenance.figure_of(list(axes.flat)) is fig and provenance.figure_of(fig) is fig
    assert sub is None or provenance.figure_of(sub) is fig
    assert provenance.figure_of(3) is None and provenance.figure_of([None]) is None
