"""The ``site`` marker: the browser suite runs when the site is built, and must run under ``--site``.

- ``pytest`` (and so ``make test``): the tests marked ``site`` (``tests/test_site.py``) run when
  ``_build/html/index.html`` exists; when it does not (a fresh clone, before ``make book``) they are deselected,
  and the summary says so in one line.
- ``pytest --site`` (``make site-test``, which ``.ci/run`` calls after ``make book``): they always run, and a
  missing site fails them.

And the fixtures that several test files use: ``smoke_results`` (the chapters' shared store), ``standard_store``
(fake runs of the standard profile's report) and ``fake_steps`` (training steps timed without training).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from defstab_lib import runs
from defstab_lib.chapters import loading
from defstab_lib.runs import estimate

from tests.helpers import FAKE_STEP_S, fake_networks, fake_results


SITE_INDEX = Path(__file__).resolve().parents[1] / "_build" / "html" / "index.html"


def pytest_addoption(parser):
    parser.addoption("--site", action="store_true", default=False,
                     help="run the browser suite (marker 'site') even when _build/html is missing, which then fails")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--site") or SITE_INDEX.is_file():
        return
    site = [item for item in items if item.get_closest_marker("site")]
    if site:
        config.hook.pytest_deselected(items=site)
        items[:] = [item for item in items if not item.get_closest_marker("site")]
        config._defstab_site_note = (
            f"browser suite: {len(site)} 'site' tests deselected: no {SITE_INDEX.parent} "
            "(run `make book`, then `make site-test`)")


def pytest_terminal_summary(terminalreporter, config):
    note = getattr(config, "_defstab_site_note", None)
    if note:
        terminalreporter.write_line(note)


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    """One results store for the whole pytest run (smoke runs are keyed by config, so sharing is safe): what one
    chapter test trains, the next loads."""
    return tmp_path_factory.mktemp("smoke-results")


@pytest.fixture
def standard_store(tmp_path, monkeypatch):
    """A results store holding fake runs of every experiment the standard profile's report reads (nothing is
    trained), random networks faked."""
    store = runs.ResultsStore(tmp_path)
    for experiment in ("pooling", "random-labels", "synthetic", "matched-real"):
        for c in runs.experiment_configs(experiment, "standard"):
            store.save(fake_results(c))
    monkeypatch.setattr(loading, "random_networks", fake_networks)
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path))
    return store


@pytest.fixture
def fake_steps(monkeypatch):
    """Every timed training step takes FAKE_STEP_S; returns the networks timed, in order."""
    timed = []

    def fake(network, device, repeats=3):
        timed.append(network)
        return FAKE_STEP_S

    monkeypatch.setattr(estimate, "_time_step", fake)
    return timed
