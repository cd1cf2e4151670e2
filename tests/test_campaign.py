"""CI never trains at length (issue 16): what every chapter reads at its default parameters is stored, or is no
bigger than the smoke profile's biggest run.

The book is built by CI from the committed results store; a chapter whose defaults point at runs that are not
stored would train them during the build -- hours, on a campaign profile.  These tests read the notebooks'
``parameters`` cells and the repository's ``results/``: they train nothing.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from defstab_lib import book, chapters, runs
from defstab_lib.chapters.loading import _experiment_kwargs
from defstab_lib.runs.estimate import training_steps

ROOT = Path(__file__).resolve().parents[1]
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
