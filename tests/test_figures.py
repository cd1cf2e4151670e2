"""Figures with provenance: ``chapters.show_figure`` and how the book build reads what it displays back."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from PIL import Image  # noqa: E402

from defstab_lib import book, chapters, runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DRAWN_BY = "defstab_lib.plots.profiles.plot_profiles"


def _figure():
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    ax.plot([0, 1, 2], [0.2, 0.1, 0.4], label="maxpool")
    ax.set_xlabel("layer")
    return fig


def _a_stored_run() -> runs.Results:
    return next(r for r in runs.ResultsStore(ROOT / "results").stored("pooling") if r.config.profile == "cpu")


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


def test_bands_of_distances_stop_at_zero():
    """±2 std of [0.1, 0.9] reaches below 0; a distance cannot: the band is clipped there unless floor=None."""
    from defstab_lib.plots.profiles import plot_profiles

    values = {"maxpool": [[0.1, 0.2], [0.9, 0.3]]}
    for floor, lowest in ((0.0, 0.0), (None, 0.5 - 2 * 0.8 / 2 ** 0.5)):
        fig = plot_profiles(values, floor=floor)
        band = fig.axes[0].collections[-1].get_paths()[0].vertices[:, 1]
        assert band.min() == pytest.approx(lowest)
        plt.close(fig)


def test_trajectory_summary_of_the_stored_runs():
    from defstab_lib.analysis import worstcase

    stored = [r for r in runs.ResultsStore(ROOT / "results").stored("pooling") if r.config.profile == "cpu"]
    epochs, values = worstcase.trajectory(stored, "tv")
    s = worstcase.trajectory_summary(epochs, values)
    assert s["n"] == len(stored) and 0 <= s["monotone"] <= s["n"]
    assert s["start"] == pytest.approx(values[:, 0].mean()) and s["end"] == pytest.approx(values[:, -1].mean())
    assert s["half_epoch"] in set(epochs[1:].tolist()) and s["last_epoch"] == epochs[-1]
    with pytest.raises(ValueError, match="epochs must be"):
        worstcase.trajectory_summary([0.0], values[:, :1])
