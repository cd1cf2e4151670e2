"""defstab_lib.plots.verdicts: a verdict's picture."""

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from defstab_lib.analysis import Rule, judge
from defstab_lib.plots.verdicts import plot_verdict, plot_verdicts

matplotlib.use("Agg")


def _verdict():
    beside = judge(claim="b", figure="F", statistic="s", what="C ÷ D", units=[0.1, 0.2, 0.15, 0.05],
                   rule=Rule(-1, 0.1, "why."), runs=8, role="beside", numbers={"label": "beside"})
    v = judge(claim="c", figure="F", statistic="s", what="A ÷ B", units=[-0.5, -0.4, -0.45, -0.3, -0.6],
              rule=Rule(-1, 0.1, "why."), runs=10, numbers={"label": "main"})
    v.beside = [beside]
    return v


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    return buffer.getvalue()


def test_the_same_verdict_draws_the_same_picture_whatever_the_global_random_state():
    """The units' strip is jittered from a fixed generator: a build draws the same figure every time (it drew
    from numpy's global generator before, so every build changed the report's figures)."""

    np.random.seed(1)
    first = _png(plot_verdicts([_verdict()]))
    np.random.seed(2)
    assert _png(plot_verdicts([_verdict()])) == first


def test_each_evidence_is_a_labelled_row_with_its_units_as_points():
    fig, ax = plt.subplots()
    plot_verdict(_verdict(), ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["main: 5 seeds", "beside: 4 seeds"]
    points = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    assert sorted(len(p) for p in points) == [4, 5]
    for p in points:  # just below the CI bar of its row, within the jitter
        rows = np.round(p[:, 1] - 0.22)
        assert len(set(rows)) == 1 and abs(p[:, 1] - 0.22 - rows).max() <= 0.08
    plt.close(fig)
