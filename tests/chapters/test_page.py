"""A chapter's parameters (``defstab_lib/chapters/page.py``'s ``validate``): sizes have upper bounds and lists
no repeats."""

from __future__ import annotations


import pytest

from defstab_lib import chapters


def test_sizes_have_upper_bounds_and_lists_no_repeats():
    with pytest.raises(ValueError, match="n_per_source.*above the maximum"):
        chapters.validate("data", n_per_source=1000, seed=0)
    with pytest.raises(ValueError, match="classes.*above the maximum"):
        chapters.validate("synthetic_tasks", profile="smoke", seeds=1, strengths=[1.0, 2.0], classes=25, train=True, device="cpu")
    with pytest.raises(ValueError, match="more than once"):
        chapters.validate("synthetic_tasks", profile="smoke", seeds=1, strengths=[1.0, 1.0], classes=3, train=True, device="cpu")
    with pytest.raises(TypeError, match="seeds"):
        chapters.validate("pooling", dataset="fashion-mnist", profile="smoke", seeds=2.0, downsampling=["maxpool"],
                          train=True, device="cpu")


def test_a_bool_given_as_lowercase_text_is_refused_with_the_papermill_spelling():
    with pytest.raises(TypeError, match="-p NAME True"):
        chapters.validate("pooling", dataset="fashion-mnist", profile="smoke", seeds=1, downsampling=["maxpool"],
                          train="true", device="cpu")
