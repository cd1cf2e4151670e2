"""The browser suite's own helpers (``tests/sitebrowser.py``), without a browser: a tiny site served on loopback.

These run in every ``make test``: they show that the crawler and the error sorting catch what they must
(a broken link, a missing anchor, a script error, a fetch of the internet), so a green browser suite means
something even on a site that has none of these faults.
"""

from __future__ import annotations

import pytest

from tests import sitebrowser as sb
from tests.helpers import no_network

PAGES = {
    "index.html": '<a href="a.html">a</a> <a href="a.html#here">anchor</a> <img src="pic.png">'
                  '<a href="https://example.org/x">outside</a> <a href="mailto:x@y.z">mail</a>',
    "a.html": '<h1 id="here">A</h1> <a href="index.html">back</a> <a href="missing.html">broken</a>'
              '<a href="index.html#nowhere">bad anchor</a> <a href="#here">self</a>',
    "pic.png": "not really a png, but a file",
}


@pytest.fixture
def tiny_site(tmp_path):
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text)
    with sb.serve(tmp_path) as server:
        yield server


def test_server_listens_on_loopback_only_and_logs_requests(tiny_site):
    assert tiny_site.base.startswith("http://127.0.0.1:")
    with sb.DIRECT.open(tiny_site.base + "a.html", timeout=5) as response:
        assert response.status == 200
    assert ("/a.html", 200) in tiny_site.requests


def test_the_suite_reaches_its_loopback_server_whatever_proxy_the_environment_names(tiny_site, monkeypatch):
    """A proxy in the environment (a user's, or a test's closed one: tests.helpers.no_network) is not used for the
    suite's own loopback server."""
    no_network(monkeypatch)
    result = sb.crawl(tiny_site.base, [tiny_site.base + "a.html"], budget_s=20)
    assert tiny_site.base + "a.html" in result.pages and ("/a.html", 200) in tiny_site.requests


def test_crawl_reports_broken_links_and_missing_anchors(tiny_site):
    result = sb.crawl(tiny_site.base, [tiny_site.base + "index.html"], budget_s=20)
    assert result.pages == {tiny_site.base + "index.html", tiny_site.base + "a.html"}
    assert result.files == {tiny_site.base + "pic.png"}
    assert result.broken == [f"{tiny_site.base}missing.html (404) <- {tiny_site.base}a.html"]
    assert result.missing_anchors == [f"{tiny_site.base}index.html#nowhere <- {tiny_site.base}a.html"]


def test_crawl_is_bounded(tiny_site):
    with pytest.raises(TimeoutError, match="did not finish"):
        sb.crawl(tiny_site.base, [tiny_site.base + "index.html"], max_urls=0)


def test_classify_separates_site_errors_from_blocked_internet_fetches():
    base = "http://127.0.0.1:8000/"
    console = [
        {"level": "SEVERE", "message": "https://cdn.example.net/lib.js - Failed to load resource: "
                                       "net::ERR_NAME_NOT_RESOLVED"},
        {"level": "SEVERE", "message": f"{base}book/a.html 12:3 Uncaught ReferenceError: f is not defined"},
        {"level": "WARNING", "message": "something the theme warns about"},
        {"level": "SEVERE", "message": f"{base}favicon.ico - Failed to load resource: the server responded with "
                                       "a status of 404 (File not found)"},
    ]
    requests = [
        {"url": "https://cdn.example.net/lib.js", "status": None, "error": "net::ERR_NAME_NOT_RESOLVED"},
        {"url": f"{base}book/a.html", "status": 200, "error": None},
        {"url": f"{base}favicon.ico", "status": 404, "error": None},
    ]
    problems = sb.classify(console, requests, base)
    assert problems.external == ["https://cdn.example.net/lib.js"]
    assert problems.errors == [
        f"console: {base}book/a.html 12:3 Uncaught ReferenceError: f is not defined",
        f"console: {base}favicon.ico - Failed to load resource: the server responded with a status of 404 "
        "(File not found)",
        f"request {base}favicon.ico: 404",
    ]


def test_set_theme_rejects_unknown_modes():
    with pytest.raises(ValueError, match="'light' or 'dark'"):
        sb.set_theme(None, "sepia")


def test_chromium_paths_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DEFSTAB_CHROMIUM", raising=False)
    monkeypatch.delenv("DEFSTAB_CHROMEDRIVER", raising=False)
    with pytest.raises(FileNotFoundError, match="chromium and chromium-driver.*make site-deps"):
        sb.chromium_paths()
