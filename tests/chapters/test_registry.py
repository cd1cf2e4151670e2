"""The chapters' registry (``defstab_lib/chapters/registry.py``): the downsampling layers it offers, and the
experiments each chapter reads in each profile."""

from __future__ import annotations


import pytest

from defstab_lib import chapters
from defstab_lib.chapters import registry
from defstab_lib.models import DOWNSAMPLING


def test_the_chapter_registry_offers_exactly_these_downsampling_layers():
    from defstab_lib import chapters

    assert chapters.DOWNSAMPLING == DOWNSAMPLING
    assert chapters.get("smooth_init").param("downsampling").choices == DOWNSAMPLING


def test_the_random_labels_chapter_reads_the_profiles_claim_7_contrast():
    """Where the profile has matched_contrast (standard) the random-labels chapter compares with the matched-real
    runs, as the report does, and not with the pooling runs; elsewhere with the pooling runs, and never matched-real."""
    spec = chapters.get("random_labels")
    assert spec.label_contrast and "matched-real" in spec.experiments
    assert spec.experiments_for("standard") == ("random-labels", "matched-real")
    for profile in ("cpu", "smoke", "paper"):
        assert spec.experiments_for(profile) == ("random-labels", "pooling"), profile
    report = chapters.get("report")  # reads every verdict's runs: pooling and, in standard, matched-real too
    assert report.experiments_for("standard")[:3] == ("pooling", "random-labels", "matched-real")
    assert "matched-real" not in report.experiments_for("cpu") and "pooling" in report.experiments_for("cpu")
    assert chapters.get("smoothness").experiments_for("standard") == ("pooling", "random-labels")
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        spec.experiments_for("nope")


def test_every_claim_links_to_a_chapter_of_the_book_that_states_its_verdict():
    from defstab_lib.analysis.claims import CLAIMS
    from defstab_lib.book import chapter_names, repo_root

    assert set(registry.CLAIM_CHAPTERS) == set(CLAIMS)
    in_book = set(chapter_names(repo_root()))
    for key, name in registry.CLAIM_CHAPTERS.items():
        assert name in in_book and name in registry.CHAPTERS, (key, name)
        # the chapter glues the claim's verdict (verdict_<glue id>), so the link lands where the verdict is stated
        source = (repo_root() / "book" / f"{name}.ipynb").read_text()
        assert f"verdict_{CLAIMS[key].glue_id}" in source, (key, name)
    assert registry.claim_links()["synthetic"] == "synthetic_tasks.html"
