"""Figures with provenance (``defstab_lib/chapters/figures.py``): ``chapters.show_figure`` reads the name of the
plot function that drew a figure from its stamp (``defstab_lib.plots.provenance``), so that a chapter does not type
it; the bundle of PNG, SVG and provenance, and how the book build reads what a chapter displays back."""

from __future__ import annotations

import base64
import io
import json

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from defstab_lib import book, chapters, runs
from defstab_lib.plots.profiles import plot_profiles, shared_legend
from defstab_lib.plots.trajectories import plot_trajectories

from tests.helpers import ROOT, _a_stored_run

matplotlib.use("Agg")


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
    fig = _profiles_figure()
    columns = len(chapters.figures._columns(fig))
    data, metadata = chapters.figure_bundle(fig, ALT, results=[run])
    panels = metadata["image/png"]["defstab"].pop("panels", [])
    assert metadata == {"image/png": {"defstab": {"alt": ALT, "drawn_by": PROFILES,
                                                  "results": [f"results/pooling/{run.key}.json"]}}}
    assert data["text/plain"] == ALT
    assert len(panels) == (columns if columns > 1 else 0)


def test_a_figure_of_panels_side_by_side_carries_each_column_as_its_own_image_for_a_phone():
    """cb67332 put panel (b) of every two-panel figure off-screen at 400 px; the site shows these crops stacked."""
    import base64
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.4))
    left.plot([0, 1], [1, 0])
    right.figure.colorbar(right.imshow([[0, 1], [1, 0]]), ax=right)  # a colour bar joins its panel
    crops = chapters.figures.panel_pngs(fig)
    png = chapters.figure_bundle(fig, ALT, drawn_by=PROFILES)[0]["image/png"]
    whole = Image.open(io.BytesIO(base64.b64decode(png)))
    assert len(crops) == 2 and len(fig.axes) == 3
    widths = [Image.open(io.BytesIO(c)).size[0] for c in crops]
    assert all(w < whole.size[0] * 0.75 for w in widths) and sum(widths) > whole.size[0] * 0.8
    plt.close("all")


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


DRAWN_BY = "defstab_lib.plots.profiles.plot_profiles"


def _figure():
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    ax.plot([0, 1, 2], [0.2, 0.1, 0.4], label="maxpool")
    ax.set_xlabel("layer")
    return fig


def test_figure_bundle_holds_png_svg_and_provenance():
    run = _a_stored_run()
    fig = _figure()
    data, metadata = chapters.figure_bundle(fig, "A profile of three layers, rising at the last.",
                                            drawn_by=DRAWN_BY, results=[run, run])
    png = base64.b64decode(data["image/png"])
    with Image.open(io.BytesIO(png)) as image:
        dpi = image.info["dpi"][0]
        width = image.size[0]
    assert round(dpi) == chapters.FIGURE_DPI
    assert width > 3.0 * chapters.FIGURE_DPI  # the 4-inch figure at FIGURE_DPI, its tight box a little narrower
    assert data["image/svg+xml"].lstrip().startswith("<?xml") and "<svg" in data["image/svg+xml"]
    meta = metadata["image/png"]["defstab"]
    expected = f"results/pooling/{run.key}.json"
    assert meta == {"alt": "A profile of three layers, rising at the last.", "drawn_by": DRAWN_BY,
                    "results": [expected]}  # the same run twice is listed once
    assert (ROOT / expected).is_file()
    plt.close(fig)


@pytest.mark.parametrize("kwargs, error", [
    ({"alt": "a.png", "drawn_by": DRAWN_BY}, ValueError),
    ({"alt": "A profile of layers", "drawn_by": "defstab_lib.plots.profiles.no_such_function"}, ValueError),
    ({"alt": "A profile of layers", "drawn_by": "matplotlib.pyplot.plot"}, ValueError),
    ({"alt": "A profile of layers", "drawn_by": DRAWN_BY, "results": ["pooling/abc.json"]}, ValueError),
    ({"alt": "A profile of layers", "drawn_by": DRAWN_BY, "results": [3]}, TypeError),
])
def test_figure_bundle_rejects_bad_provenance(kwargs, error):
    fig = _figure()
    with pytest.raises(error):
        chapters.figure_bundle(fig, **kwargs)
    plt.close(fig)


def test_results_file_of_stored_computations():
    store = runs.ResultsStore(ROOT / "results")
    for path in sorted((ROOT / "results" / "kernel-baselines").glob("*.json"))[:1]:
        record = json.loads(path.read_text())
        kb = runs.KernelBaselines.from_computed(store.computed("kernel-baselines", record["params"], None,
                                                               stored_only=True))
        assert chapters.computation_file(kb) == f"results/kernel-baselines/{path.name}"
        assert chapters.results_file(record) == f"results/kernel-baselines/{path.name}"
    for width, key in ((0.5, "da18f75c3216ccf2"), (1.0, "636adea6e35d4a2e")):  # the stored Figure 4 networks
        nets = runs.smooth_init(width=width, store=store, stored_only=True)
        assert chapters.results_file(nets) == f"results/smooth-init/{key}.json"


def test_show_figure_displays_one_output_that_the_book_build_reads_back(tmp_path):
    """Run the helper in an IPython shell, put its output in a notebook cell, and collect it as the build does."""
    shell = InteractiveShell.instance()
    published = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: published.append((data, metadata))
    run = _a_stored_run()
    fig = _figure()
    chapters.show_figure(fig, "A profile of three layers, rising at the last.", drawn_by=DRAWN_BY, results=[run])
    assert not plt.fignum_exists(fig.number)  # closed: the inline backend shows it no second time
    assert len(published) == 1
    data, metadata = published[0]
    assert {"image/png", "image/svg+xml", "text/plain"} <= set(data)

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("chapters.show_figure(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
    nb.cells = [cell]
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # as stored on disk
    figures = book.figure_provenance(nb, ROOT, tmp_path / "figures")
    (digest, entry), = figures.items()
    assert entry["alt"] == "A profile of three layers, rising at the last."
    assert entry["drawn_by"] == DRAWN_BY
    assert entry["results"] == [(f"{run.key}.json", book.results_url(f"results/pooling/{run.key}.json", ROOT))]
    assert entry["svg"] == f"{digest}.svg"
    assert "<svg" in (tmp_path / "figures" / entry["svg"]).read_text()
    assert "image/svg+xml" not in nb.cells[0].outputs[0]["data"]  # the page shows the PNG and links the SVG


def test_a_legend_outside_its_panel_is_cropped_on_its_own_so_the_panel_stays_narrow():
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 2.4))
    left.plot([0, 1], [1, 0])
    for k in range(4):
        right.plot([0, 1], [k, k + 1], label=f"a rather long legend entry {k}")
    right.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    crops = [Image.open(io.BytesIO(c)).size for c in chapters.figures.panel_pngs(fig)]
    assert len(crops) == 3  # two panels and the legend
    assert crops[1][0] < 1.3 * crops[0][0], "the right panel's crop does not carry its legend's width"
    plt.close(fig)


def test_a_grid_of_images_is_not_cut_into_columns_that_would_tear_its_pairs_apart():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(7.2, 3.6))
    for ax in axes.flat:
        ax.imshow([[0, 1], [1, 0]])
        ax.set_axis_off()
    assert chapters.figures.panel_pngs(fig) == []
    plt.close(fig)
