"""What a chapter loads (``defstab_lib/chapters/loading.py``).

The report's evidence loads the matched runs, and the comparison of profiles shows who is complete; the random-labels
chapter reads the profile's claim-7 contrast.  CI never trains at length: what every chapter reads at its default
parameters is stored, or is no bigger than the smoke profile's biggest run.  These read the notebooks'
``parameters`` cells and the repository's ``results/``: they train nothing.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from defstab_lib import analysis, book, chapters, cli, runs
from defstab_lib.analysis import compare, report
from defstab_lib.chapters import loading
from defstab_lib.chapters.loading import _experiment_kwargs
from defstab_lib.runs.estimate import training_steps
from defstab_lib.vocabulary import DOWNSAMPLING

from tests.helpers import ROOT, fake_networks, fake_results


STORE = runs.ResultsStore(ROOT / "results")
#: The training budget CI may spend on one run a chapter reads at its defaults: the smoke profile's biggest run.
SMOKE_BUDGET = max(training_steps(c) for e in runs.trained_experiments() for c in runs.experiment_configs(e, "smoke"))


def _default_configs(name: str) -> list:
    spec = chapters.get(name)
    params = book.notebook_parameters(nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4))
    return [c for e in spec.experiments_for(params["profile"]) if runs.get_experiment(e).runs
            for c in runs.experiment_configs(e, params["profile"], **_experiment_kwargs(e, params))]


TRAINING_CHAPTERS = sorted(n for n, s in chapters.CHAPTERS.items() if any(runs.get_experiment(e).runs for e in s.experiments))


def test_the_smoke_budget_is_small():
    assert 0 < SMOKE_BUDGET <= 100, SMOKE_BUDGET


@pytest.mark.parametrize("name", TRAINING_CHAPTERS)
def test_a_chapter_at_its_defaults_trains_nothing_beyond_the_smoke_budget(name):
    configs = _default_configs(name)
    assert configs, f"{name}: no runs at its defaults"
    too_big = [f"{c.experiment} {c.arch.downsampling} seed {c.seed} ({training_steps(c):,} steps)" for c in configs
               if not STORE.exists(c) and training_steps(c) > SMOKE_BUDGET]
    assert not too_big, (f"{name}: at its default parameters CI would train {len(too_big)} run(s) beyond the smoke "
                         f"budget of {SMOKE_BUDGET} steps: {too_big[:3]}; store them first or keep the default "
                         f"on a complete profile")


def test_the_guard_would_catch_an_incomplete_profile():
    """The check above is not vacuous: the campaign's profile, not yet complete, would be caught."""
    configs = runs.experiment_configs("pooling", "paper")
    assert any(not STORE.exists(c) and training_steps(c) > SMOKE_BUDGET for c in configs)


def test_load_evidence_loads_the_matched_runs_and_the_comparison_shows_who_is_complete(standard_store):
    assert loading.stored_counts("standard", store=standard_store) == {
        "pooling": (25, 25), "random-labels": (25, 25), "synthetic": (20, 20), "matched-real": (25, 25)}
    assert "matched-real" not in loading.stored_counts("cpu", store=standard_store)
    ev, loaded = loading.load_evidence(profile="standard", stored_only=True, store=standard_store)
    assert loaded.trained == 0 and loaded.all_results == [*ev.real, *ev.random, *ev.synthetic, *ev.matched]
    assert len(ev.matched) == 25 and {r.config.experiment for r in ev.contrast} == {"matched-real"}
    compared = loading.compare_profiles(["standard", "cpu"], store=standard_store)
    assert [c.complete for c in compared] == [True, False]
    assert compared[0].verdicts[-1].effect == pytest.approx(report.all_verdicts(ev)[-1].effect)
    table = compare.comparison_rows(compared)
    assert len(table) == 8 and list(table[0]) == ["claim", "standard"] and "95% CI" in table[-1]["standard"]
    note = compare.incomplete_note(compared)
    assert "The cpu profile is incomplete: 0 of its 42 runs are stored (pooling 0/15" in note
    recipes = report.recipes_side_by_side([compared[0].evidence])
    assert list(recipes[0]) == ["", "standard", "the paper"]
    # one matched run missing: the standard profile is incomplete, and says by how much
    standard_store.path(runs.experiment_configs("matched-real", "standard")[0]).unlink()
    again = loading.compare_profiles(["standard"], store=standard_store)[0]
    assert not again.complete and again.runs["matched-real"] == (24, 25) and "matched-real" in again.missing
    with pytest.raises(ValueError, match="no profile"):
        compare.comparison_rows([again])
    with pytest.raises(ValueError, match="once"):
        loading.compare_profiles(["cpu", "cpu"], store=standard_store)


@pytest.mark.parametrize("profile, contrast", [("standard", "matched-real"), ("cpu", "pooling")])
def test_the_random_labels_chapter_reads_and_states_the_reports_claim_7(profile, contrast, tmp_path, monkeypatch,
                                                                        capsys):
    """The chapter loads the profile's claim-7 contrast (in standard the matched-real runs, not the pooling runs,
    which are stored too), and its verdict is the one `report --json` prints; `status` counts those runs."""
    store = runs.ResultsStore(tmp_path)
    for configs in loading.report_configs(profile).values():
        for c in configs:
            store.save(fake_results(c))
    monkeypatch.setattr(loading, "random_networks", fake_networks)
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    params = chapters.validate("random_labels", dataset="fashion-mnist", profile=profile,
                               seeds=runs.get_profile(profile).seeds, downsampling=list(DOWNSAMPLING), train=True, device="cpu")
    loaded = chapters.load_runs("random_labels", params)
    assert list(loaded.configs) == ["random-labels", contrast] and loaded.trained == 0
    assert loaded.configs[contrast] == runs.experiment_configs(contrast, profile)
    assert report.label_contrast(profile) == contrast
    verdict = report.random_labels_verdict(loaded.results["random-labels"], loaded.results[contrast])
    assert f"the {contrast} runs" in verdict.statistic
    assert cli.main(["--debug", "report", "--profile", profile, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)[-1]
    assert {k: printed[k] for k in ("number", *analysis.to_json(verdict))} == {"number": "7",
                                                                           **analysis.to_json(verdict)}
    rows = {r["experiment"]: r["stored"] for r in cli.status_rows([profile]) if r["chapter"] == "random_labels"}
    n = len(loaded.configs[contrast])
    assert rows == {"random-labels": f"{n}/{n}", contrast: f"{n}/{n}"}
