"""Figure functions in the paper's visual language.  They draw results; they never compute them.

Submodules by subject (each owned by the chapters that use it):

- ``defstab_lib.plots.images``   -- image grids and deformation panels (Figures 1, 2, 5a);
- ``defstab_lib.plots.profiles`` -- per-layer profiles with bands over seeds (Figures 3, 4, 6, 7);
- ``defstab_lib.plots.verdicts`` -- each verdict's evidence: per-network effects, the estimate and its 95% CI;
- ``defstab_lib.plots.ablation`` -- one factor of the ablation, level by level ("What teaches stability?");
- ``defstab_lib.plots.length``   -- the ``standard`` profile's length pilots (the report);
- ``defstab_lib.plots.robustness`` -- one claim under each declared specification, a forest plot ("How robust is
  it?"): :func:`plot_robustness` and :func:`plot_robustness_grid`, exported here too;
- ``defstab_lib.plots.summary``  -- every claim's verdict in one figure (the introduction);
- ``defstab_lib.plots.course``   -- trajectories over training, layer by layer ("Over the course of training");
- ``defstab_lib.plots.imagenet`` -- an ImageNet-trained network beside its random initialisations.

Every public drawing function is decorated with :func:`defstab_lib.plots.provenance.draws`: the figure it draws on
is stamped with its name (``"defstab_lib.plots.<module>.<function>"``), which ``chapters.show_figure`` shows under
the figure on the book's page.  A new plot function gets the decorator too (``tests/plots/test_provenance.py``).

Shared style lives here: one colour per downsampling variant, used by every chapter, so that a reader can
follow an architecture from figure to figure.
"""

from __future__ import annotations

import matplotlib as mpl

from .robustness import plot_robustness, plot_robustness_grid

__all__ = ["DOWNSAMPLING_COLORS", "RC_PARAMS", "apply_style", "plot_robustness", "plot_robustness_grid"]

#: One colour per downsampling variant (matplotlib's colour-blind-safe "tab10" order), the same in every figure.
DOWNSAMPLING_COLORS: dict[str, str] = {
    "subsample": "#d62728",
    "maxpool": "#1f77b4",
    "avgpool": "#2ca02c",
    "strided": "#ff7f0e",
    "strided-relu": "#9467bd",
}

#: Readable defaults for figures on a book page (the site shows figures about 700 px wide).
RC_PARAMS: dict[str, object] = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def apply_style() -> None:
    """Set matplotlib's rc parameters to the book's style (call once, at the top of a chapter)."""
    mpl.rcParams.update(RC_PARAMS)
