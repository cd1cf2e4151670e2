"""Helpers for the browser suite (``tests/test_site.py``): a loopback server, headless Chromium, a crawler.

The built site (``_build/html``) is served by :func:`serve` on 127.0.0.1 at a free port and never on any other
address.  :func:`start_chromium` drives Debian's ``chromium`` through its ``chromedriver`` with Selenium, with
every host except 127.0.0.1 resolved to "not found" inside the browser (``--host-resolver-rules``): a page that
fetches something from the internet fails that fetch at once, without any traffic leaving the machine, and the
suite sees it in the browser's network log (:func:`network_events`), where it is told apart from the site's own
failures (:func:`classify`).

Selenium is imported inside the functions, so that collecting the test suite (``pytest --doctest-modules``
imports this file) works where the ``test`` extra is not installed.
"""

from __future__ import annotations

import contextlib
import functools
import html.parser
import http.server
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"

#: Chromium's switches: headless, and quiet on a machine without a network (no background fetches, no component
#: updates); every host name other than the loopback address resolves to "not found".
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {LOOPBACK}",
)

#: The browser window: a laptop screen, where the book's text column (and so each figure) is about 700 px wide.
WINDOW = (1280, 900)


# ------------------------------------------------------------------------------------------------ server


@dataclass
class Server:
    """A running loopback server: its base URL and every request it answered, as ``(path, status)``."""

    base: str
    requests: list[tuple[str, int]] = field(default_factory=list)


class _Handler(http.server.SimpleHTTPRequestHandler):
    server_log: list[tuple[str, int]]

    def log_request(self, code="-", size="-"):  # record instead of printing to stderr
        self.server_log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[Server]:
    """Serve ``directory`` over HTTP on 127.0.0.1 at a free port, in a daemon thread, until the block ends."""
    log: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"server_log": log})
    httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), functools.partial(handler, directory=str(directory)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Server(base=f"http://{LOOPBACK}:{httpd.server_address[1]}/", requests=log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ------------------------------------------------------------------------------------------------ browser


def chromium_paths() -> tuple[str, str]:
    """``(chromium, chromedriver)``: ``$DEFSTAB_CHROMIUM`` / ``$DEFSTAB_CHROMEDRIVER``, else Debian's on the PATH.

    Raises ``FileNotFoundError`` naming what is missing and how to install it.
    """
    browser = os.environ.get("DEFSTAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("DEFSTAB_CHROMEDRIVER") or shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", browser), ("chromium-driver", driver)) if not path]
    if missing:
        raise FileNotFoundError(
            f"the browser suite needs Debian's {' and '.join(missing)}: run `make site-deps` as root "
            "(apt-get install chromium chromium-driver), or set DEFSTAB_CHROMIUM / DEFSTAB_CHROMEDRIVER")
    return browser, driver


def start_chromium(*, page_timeout: float = 60.0):
    """A Selenium driver for headless Chromium that keeps the browser console and network logs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=driver_path)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(page_timeout)
    driver.set_script_timeout(30)
    return driver


def network_events(driver) -> list[dict]:
    """Drain the performance log: one dict per request, ``{url, status, error}`` (status 0 when it failed)."""
    requests: dict[str, dict] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            requests[rid] = {"url": params["request"]["url"], "status": None, "error": None}
        elif method == "Network.responseReceived" and rid in requests:
            requests[rid]["status"] = params["response"]["status"]
        elif method == "Network.loadingFailed" and rid in requests and not params.get("canceled"):
            requests[rid]["error"] = params.get("errorText", "failed")
    return [r for r in requests.values() if r["url"].startswith(("http:", "https:"))]


def is_internal(url: str, base: str) -> bool:
    """Whether ``url`` is served by the site's own loopback server."""
    return urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(base).netloc


@dataclass
class PageProblems:
    """What a page load showed, sorted: the site's own errors, and fetches of the internet (blocked here)."""

    errors: list[str]
    external: list[str]


def classify(console: list[dict], requests: list[dict], base: str) -> PageProblems:
    """Sort a page's console entries and requests into real errors and blocked external fetches.

    A console ``SEVERE`` entry that reports a failed load of a non-loopback URL is a blocked external fetch (it
    is also in ``requests``); every other ``SEVERE`` entry (a script error, a failed load of the site's own
    file) is an error, and so is a request to the site that failed or answered 400 or more.
    """
    errors, external = [], []
    for entry in console:
        if entry.get("level") != "SEVERE":
            continue
        text = entry.get("message", "")
        url = text.split(" ", 1)[0]
        if "Failed to load resource" in text and url.startswith("http") and not is_internal(url, base):
            continue  # reported below from the network log, with its URL
        errors.append(f"console: {text}")
    for req in requests:
        if is_internal(req["url"], base):
            if req["error"] or (req["status"] or 0) >= 400:
                errors.append(f"request {req['url']}: {req['error'] or req['status']}")
        else:
            external.append(req["url"])
    return PageProblems(errors=errors, external=sorted(set(external)))


def load(driver, url: str, *, settle: float = 0.3) -> None:
    """Open ``url`` and wait for the document, its fonts and its images to finish loading."""
    driver.get(url)
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const imgs = Array.from(document.images).filter(i => !i.complete)"
        "  .map(i => new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }));"
        "Promise.all([document.fonts.ready, ...imgs]).then(() => done(true));")
    time.sleep(settle)  # the theme's scripts (scroll spy, theme switch) run after load


def set_theme(driver, mode: str) -> None:
    """Choose the pydata theme's light or dark mode as its switch does (localStorage), for the next load."""
    if mode not in ("light", "dark"):
        raise ValueError(f"mode must be 'light' or 'dark', got {mode!r}")
    driver.execute_script(
        "localStorage.setItem('mode', arguments[0]); localStorage.setItem('theme', arguments[0]);", mode)


_NO_MOTION = ("const s = document.createElement('style'); s.id = 'defstab-no-motion';"
              "s.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';"
              "document.head.appendChild(s);")


#: A phone as the suite renders it (width and height in CSS pixels, device pixels per CSS pixel).
PHONE = (400, 860, 2)


def emulate_phone(driver, on: bool = True) -> None:
    """Render the next loads at :data:`PHONE`'s width with mobile emulation (``on=False``: back to the window)."""
    if on:
        width, height, scale = PHONE
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": True})
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def full_page_screenshot(driver, path: Path, *, max_height: int = 30000, phone: bool = False) -> tuple[int, int]:
    """Save a PNG of the whole page (not only the window) and return its size ``(width, height)`` in pixels.

    The viewport is made as tall as the page for the capture (Chromium's ``captureBeyondViewport`` instead
    re-lays the page out mid-capture and shifted the theme's sidebars), with CSS transitions off; with ``phone``,
    at the phone's width with mobile emulation (see :func:`emulate_phone`), which stays on afterwards.
    """
    import base64

    width = int(driver.execute_script("return window.innerWidth"))
    driver.execute_script(_NO_MOTION)
    height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), max_height)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone})
    try:
        time.sleep(0.2)
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        emulate_phone(driver, phone)  # back to the phone's viewport, or to the window
        driver.execute_script("document.getElementById('defstab-no-motion')?.remove()")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return width, height


# ------------------------------------------------------------------------------------------------ crawler


class _Links(html.parser.HTMLParser):
    """Collects the URLs a page refers to (``href`` and ``src``) and the ids it defines."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and key == "href" and "preconnect" in (attrs.get("rel") or "")):
                self.links.append(attrs[key])


#: The suite talks to its own server on loopback: never through a proxy that the environment names (a user's
#: ``http_proxy``, or a test's closed one), which would refuse or forward loopback requests.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _fetch(url: str, timeout: float) -> tuple[int, bytes, str]:
    try:
        with DIRECT.open(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as err:
        return err.code, b"", ""


@dataclass
class CrawlResult:
    """Every internal URL reached from the start pages: HTML pages, other files, and what was broken."""

    pages: set[str]
    files: set[str]
    broken: list[str]  # "url (status) <- referring page"
    missing_anchors: list[str]  # "url#fragment <- referring page"


def crawl(base: str, start: list[str], *, timeout: float = 10.0, budget_s: float = 120.0,
          max_urls: int = 5000) -> CrawlResult:
    """Follow every internal ``href``/``src`` from ``start`` (URLs under ``base``) and report what is broken.

    Each internal URL is fetched once; HTML pages are parsed for further links and for the ids their fragments
    point at.  External URLs (other hosts, ``mailto:``) are not fetched.  Raises ``TimeoutError`` past
    ``budget_s`` seconds or ``max_urls`` URLs.
    """
    deadline = time.monotonic() + budget_s
    seen: dict[str, int] = {}
    ids: dict[str, set[str]] = {}
    referrers: dict[str, str] = {}
    anchors: list[tuple[str, str, str]] = []  # (page url, fragment, referrer)
    queue = list(start)
    pages, files, broken = set(), set(), []
    while queue:
        if time.monotonic() > deadline or len(seen) > max_urls:
            raise TimeoutError(f"crawl did not finish within {budget_s} s / {max_urls} URLs ({len(seen)} fetched)")
        url = queue.pop()
        if url in seen:
            continue
        status, body, ctype = _fetch(url, timeout)
        seen[url] = status
        if status >= 400:
            broken.append(f"{url} ({status}) <- {referrers.get(url, 'start')}")
            continue
        if ctype != "text/html":
            files.add(url)
            continue
        pages.add(url)
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        ids[url] = parser.ids
        for link in parser.links:
            target = urllib.parse.urljoin(url, link)
            if not target.startswith(("http:", "https:")) or not is_internal(target, base):
                continue
            target, fragment = urllib.parse.urldefrag(target)
            target = target.split("?", 1)[0]
            if fragment:
                anchors.append((target, urllib.parse.unquote(fragment), url))
            if target not in seen:
                referrers.setdefault(target, url)
                queue.append(target)
    missing = [f"{page}#{frag} <- {ref}" for page, frag, ref in anchors
               if page in ids and frag not in ids[page]]
    return CrawlResult(pages=pages, files=files, broken=broken, missing_anchors=sorted(set(missing)))
