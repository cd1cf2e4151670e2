"""Light tests of ``defstab_lib/plots/images.py``: layout, and that Figure 2's arrows follow the stated convention."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from defstab_lib import deform  # noqa: E402
from defstab_lib.plots.images import deformation_panels, originals_and_deformed, show_image  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_originals_and_deformed_lays_out_pairs_per_block():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(3, 3, 24, 24, generator=g)
    grey = torch.rand(2, 1, 12, 12, generator=g)
    fig = originals_and_deformed([("rgb", rgb, rgb.flip(-1)), ("grey", grey, grey)], pairs_per_row=2)
    axes = [ax for sub in fig.subfigs for ax in sub.axes]
    assert len(axes) == 2 * (3 + 2)  # (original, deformed) per image
    assert [ax.get_title() for ax in axes] == ["original", "deformed"] * 5
    assert [sub._suptitle.get_text() for sub in fig.subfigs] == ["rgb", "grey"]
    # the third rgb pair wraps onto a second line, below the first
    assert axes[4].get_position().y0 < axes[0].get_position().y0
    with pytest.raises(ValueError, match="same shape"):
        originals_and_deformed([("bad", rgb, rgb[:2])])


def test_show_image_draws_grey_and_colour():
    fig, (a, b) = plt.subplots(1, 2)
    show_image(a, torch.rand(1, 5, 6))
    show_image(b, torch.rand(3, 5, 6), title="x")
    assert a.images[0].get_array().shape == (5, 6) and b.images[0].get_array().shape == (5, 6, 3)
    with pytest.raises(ValueError, match="image must be"):
        show_image(a, torch.rand(2, 5, 6))


def test_figure2_arrows_run_from_source_tail_to_output_tip():
    size = (40, 48)
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    deformed, d = deform.deform(image, 3, 4.0, generator=torch.Generator().manual_seed(2))
    field = deform.displacement_field(d, size)[0]
    pts = deform.control_points(3, size)
    fig = deformation_panels(image[0], pts, d[0], field, deformed[0], arrow_step=8)
    a, b, c, _ = fig.axes
    for ax in (a, b, c):
        quivers = [child for child in ax.get_children() if isinstance(child, Quiver)]
        assert len(quivers) == 1
        q = quivers[0]
        assert q.pivot == "tip" and q.scale == 1 and q.angles == "xy"
        tips = q.get_offsets()  # (x, y) of each arrow's tip
        tails = tips - np.stack([q.U, q.V], axis=1)  # pivot "tip": the arrow (U, V) ends at the offset
        if ax is a:
            np.testing.assert_allclose(tips, pts.numpy(), atol=1e-6)
            np.testing.assert_allclose(tails, (pts + d[0]).numpy(), atol=1e-5)  # the sources
        else:
            x, y = tips[:, 0].astype(int), tips[:, 1].astype(int)
            np.testing.assert_allclose(tips, np.stack([x, y], axis=1))  # on pixel centres
            np.testing.assert_allclose(tails - tips, field[y, x].numpy(), atol=1e-5)  # tail = p + tau(p)
    assert c.images and fig.axes[3].images
    with pytest.raises(ValueError, match="field"):
        deformation_panels(image[0], pts, d[0], field[:-1], deformed[0])
