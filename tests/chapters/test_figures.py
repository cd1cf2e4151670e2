"""A figure's provenance comes from the figure: ``chapters.show_figure`` reads the name of the plot function that
drew it from its stamp (``defstab_lib.plots.provenance``), so that a chapter does not type it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from defstab_lib import book, chapters  # noqa: E402
from defstab_lib.plots.profiles import plot_profiles, shared_legend  # noqa: E402
from defstab_lib.plots.trajectories import plot_trajectories  # noqa: E402
from tests.test_figures import ROOT, _a_stored_run  # noqa: E402

PROFILES = "defstab_lib.plots.profiles.plot_profiles"
TRAJECTORIES = "defstab_lib.plots.trajectories.plot_trajectories"
ALT = "A profile of three layers, falling at the last."


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _profiles_figure():
    fig, axes = plt.subplots(1, 2)
    for ax in axes:
        plot_profiles({"maxpool": np.array([[0.3, 0.2, 0.1], [0.32, 0.18, 0.12]])}, ax=ax, legend_loc=None)
    shared_legend(fig, axes[0])
    return fig


def _mixed_figure():
    fig, axes = plt.subplots(1, 2)
    plot_profiles({"maxpool": [[0.3, 0.2, 0.1]]}, ax=axes[0])
    plot_trajectories([0, 1, 2], {"maxpool": [[1.0, 0.9, 0.8]]}, ax=axes[1])
    return fig


def test_the_stamp_names_the_function_that_drew_the_figure():
    run = _a_stored_run()
    data, metadata = chapters.figure_bundle(_profiles_figure(), ALT, results=[run])
    assert metadata == {"image/png": {"defstab": {"alt": ALT, "drawn_by": PROFILES,
                                                  "results": [f"results/pooling/{run.key}.json"]}}}
    assert data["text/plain"] == ALT


def test_a_figure_of_several_plot_functions_is_named_by_the_first_or_the_one_given():
    assert chapters.figure_drawn_by(_mixed_figure()) == PROFILES
    assert chapters.figure_drawn_by(_mixed_figure(), TRAJECTORIES) == TRAJECTORIES


def test_an_explicit_drawn_by_must_agree_with_the_stamp():
    fig = _profiles_figure()
    assert chapters.figure_drawn_by(fig, PROFILES) == PROFILES
    with pytest.raises(ValueError, match="is not a function that drew this figure: its stamp names "
                                         "defstab_lib.plots.profiles.plot_profiles, "
                                         "defstab_lib.plots.profiles.shared_legend"):
        chapters.figure_bundle(fig, ALT, drawn_by="defstab_lib.plots.verdicts.plot_verdicts")
    with pytest.raises(ValueError, match="drawn_by must name a function of the library"):
        chapters.figure_bundle(fig, ALT, drawn_by="defstab_lib.plots.profiles.no_such_function")


def test_a_figure_drawn_by_hand_needs_a_drawn_by():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0.3, 0.2, 0.1])
    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append((data, metadata))
    with pytest.raises(ValueError, match="no plot function's stamp and no drawn_by was given"):
        chapters.show_figure(fig, ALT)
    assert not published  # refused before anything was rendered or shown
    data, metadata = chapters.figure_bundle(fig, ALT, drawn_by=PROFILES)  # a hand-drawn figure, named explicitly
    assert metadata["image/png"]["defstab"]["drawn_by"] == PROFILES


def test_the_book_reads_the_same_provenance_from_a_stamped_figure_as_from_a_named_one(tmp_path):
    """What ``book.figure_provenance`` collects for a stamped figure equals what it collected when the chapter
    typed the name: the metadata the site renders is unchanged."""
    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append((data, metadata))
    run = _a_stored_run()
    stamped = _profiles_figure()
    chapters.show_figure(stamped, ALT, results=[run])
    assert not plt.fignum_exists(stamped.number)
    chapters.show_figure(_profiles_figure(), ALT, drawn_by=PROFILES, results=[run])  # as chapters did before
    (data_stamped, meta_stamped), (data_named, meta_named) = published
    assert meta_stamped == meta_named
    assert data_stamped["image/png"] == data_named["image/png"]  # the stamp is not drawn

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("chapters.show_figure(fig, alt, results=[run])")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data_stamped, metadata=meta_stamped)]
    nb.cells = [cell]
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    (digest, entry), = book.figure_provenance(nb, ROOT, tmp_path / "figures").items()
    assert entry["drawn_by"] == PROFILES and entry["alt"] == ALT
    assert entry["results"] == [(f"{run.key}.json", book.results_url(f"results/pooling/{run.key}.json", ROOT))]
