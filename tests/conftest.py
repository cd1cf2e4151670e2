"""The ``site`` marker: the browser suite runs when the site is built, and must run under ``--site``.

- ``pytest`` (and so ``make test``): the tests marked ``site`` (``tests/test_site.py``) run when
  ``_build/html/index.html`` exists; when it does not (a fresh clone, before ``make book``) they are deselected,
  and the summary says so in one line.
- ``pytest --site`` (``make site-test``, which ``.ci/run`` calls after ``make book``): they always run, and a
  missing site fails them.
"""

from __future__ import annotations

from pathlib import Path

import pytest


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
