"""A chapter's bad parameters stop it in its validation cell, naming the culprit, before any work (issue 18).

Executed for real with papermill, as a re-runner would; nothing reaches the results store.
"""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest
import torch

from defstab_lib import chapters

ROOT = Path(__file__).resolve().parents[1]


def run_pooling(tmp_path: Path, monkeypatch, **parameters) -> papermill.PapermillExecutionError:
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path / "results"))
    smoke = dict(chapters.get("pooling").smoke)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(ROOT / "book" / "pooling.ipynb"), str(tmp_path / "out.ipynb"), parameters={**smoke, **parameters},
            cwd=str(ROOT / "book"), kernel_name="python3", progress_bar=False,
        )
    assert not (tmp_path / "results").exists(), "nothing was trained or stored"
    return info.value


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_a_misspelt_parameter_stops_the_chapter_and_lists_the_known_ones(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, seed=7)
    assert error.ename == "ValueError"
    assert "unknown parameter(s) ['seed']" in error.evalue and "'seeds'" in error.evalue


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_a_repeated_network_is_refused(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, downsampling=["maxpool", "maxpool", "strided"])
    assert error.ename == "ValueError" and "'maxpool' more than once" in error.evalue


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_a_list_passed_with_p_is_refused_and_says_to_use_y(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, downsampling='["maxpool","strided"]')  # what -p passes
    assert error.ename == "TypeError" and "must be a list" in error.evalue and "-y 'downsampling: [a, b]'" in error.evalue


@pytest.mark.chapter
@pytest.mark.timeout(300)
@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with a GPU accepts device='cuda'")
def test_a_device_the_machine_lacks_stops_the_chapter_at_validation(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, device="cuda")
    assert error.ename == "ValueError" and "no CUDA GPU" in error.evalue


def test_sizes_have_upper_bounds_and_lists_no_repeats():
    with pytest.raises(ValueError, match="n_per_source.*above the maximum"):
        chapters.validate("data", n_per_source=1000, seed=0)
    with pytest.raises(ValueError, match="classes.*above the maximum"):
        chapters.validate("synthetic_tasks", profile="smoke", seeds=1, strengths=[1.0, 2.0], classes=25, device="cpu")
    with pytest.raises(ValueError, match="more than once"):
        chapters.validate("synthetic_tasks", profile="smoke", seeds=1, strengths=[1.0, 1.0], classes=3, device="cpu")
    with pytest.raises(TypeError, match="seeds"):
        chapters.validate("pooling", dataset="fashion-mnist", profile="smoke", seeds=2.0, downsampling=["maxpool"],
                          device="cpu")


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
