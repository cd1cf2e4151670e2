"""The built site as a reader sees it: headless Chromium over every page of ``_toc.yml`` in ``_build/html``.

Run by ``make site-test`` (``.ci/run`` calls it after ``make book``; a missing site fails there), and by
``make test`` / plain ``pytest`` whenever ``_build/html`` exists (``tests/conftest.py`` deselects the ``site``
marker, and says so, when it does not).  The site is served on 127.0.0.1 at a free port; Chromium resolves no
other host, so a fetch from the internet fails at once and is reported as such (``KNOWN_EXTERNAL``).

Screenshots of every page (light theme at 1280 px and on a 400 px phone; chapters also in the dark theme) go to
``_build/screenshots/`` (``<page>-light.png``, ``<page>-phone.png``, ``<page>-dark.png``).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import sitebrowser as sb
from defstab_lib import chapters as chapter_specs
from defstab_lib.book import book_config, chapter_names, toc_files

pytestmark = [pytest.mark.site, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
PAGES = toc_files(ROOT)  # "book/intro", "book/data", ...
CHAPTERS = chapter_names(ROOT)  # "data", ...

#: Fetches of the internet the site makes on purpose, by URL prefix, with why.  They fail here (no network) and
#: are not errors; any other external fetch is.
KNOWN_EXTERNAL = {
    "https://cdn.jsdelivr.net/npm/mathjax@3/": "MathJax, which typesets the math of a page that has any",
}

#: Dark-theme figures must sit on a light ground (matplotlib draws black labels): the median luminance (0..1), in
#: the dark screenshot, of a band FIGURE_RING_PX wide along the inside of each figure's edge, where the figure's
#: own background (or, for a transparent figure, the page behind it) shows.
MIN_FIGURE_GROUND_DARK = 0.6
FIGURE_RING_PX = 4
#: The book's smallest text in a figure (defstab_lib.plots.RC_PARAMS: ticks and legends), in CSS pixels as the
#: page draws it, at least this: font points x the PNG's dpi / 72 x (shown width / pixel width).
MIN_FIGURE_TEXT_PX = 10.0


def _check(ok, message: str) -> None:
    """Fail the test with ``message`` alone (no dump of the page data an ``assert`` would print)."""
    if not ok:
        pytest.fail(message, pytrace=False)


def _shot_path(page: str, mode: str) -> Path:
    return SHOTS / f"{page.replace('/', '__')}-{mode}.png"


# What a page shows, gathered once per page and theme in the browser.
PAGE_SCRIPT = r"""
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const col = article.getBoundingClientRect();
const box = e => { const r = e.getBoundingClientRect();
                   return {left: r.left, right: r.right, top: r.top + window.scrollY, width: r.width, height: r.height}; };
return {
  theme: document.documentElement.dataset.theme || '',
  h1: (article.querySelector('h1') || {}).textContent || '',
  column: {left: col.left, right: col.right, width: col.width},
  viewport: window.innerWidth,
  documentWidth: document.documentElement.scrollWidth,
  panels: Array.from(article.querySelectorAll('div.defstab-panels img')).map(i => Object.assign(box(i), {
      src: i.currentSrc || i.src, complete: i.complete, naturalWidth: i.naturalWidth,
      visible: i.offsetParent !== null})),
  figureBoxes: Array.from(article.querySelectorAll('div.cell_output:has(> img)')).map(d => Object.assign(box(d), {
      panels: !!d.querySelector(':scope > div.defstab-panels'), hidden: d.scrollWidth - d.clientWidth,
      cue: getComputedStyle(d, '::before').content})),
  verdictRows: Array.from(article.querySelectorAll('table.verdicts tbody tr')).map(tr => Object.assign(box(tr), {
      text: tr.innerText, hidden: tr.closest('table').scrollWidth - tr.closest('table').clientWidth,
      ci: tr.dataset.ci || '', verdict: (tr.querySelector('td.verdict') || {textContent: ''}).textContent,
      n: (tr.querySelector('td.n') || {textContent: ''}).textContent,
      effect: (tr.querySelector('td.effect') || {textContent: ''}).textContent})),
  captions: Array.from(article.querySelectorAll('div.cell_output > img')).map(i => {
      let c = i.nextElementSibling;  // the caption follows its image (after the phone's panels), before the next
      while (c && c.tagName !== 'IMG' && !c.matches('div.defstab-caption')) c = c.nextElementSibling;
      if (c && c.tagName === 'IMG') c = null;
      return {src: i.currentSrc || i.src, text: c ? c.innerText : '', shown: !!c && c.getBoundingClientRect().height > 0};
  }),
  images: Array.from(article.querySelectorAll('img')).filter(i => !i.closest('div.defstab-panels'))
      .map(i => Object.assign(box(i), {
      src: i.currentSrc || i.src, complete: i.complete, naturalWidth: i.naturalWidth,
      naturalHeight: i.naturalHeight, figure: !!i.closest('.cell_output')})),
  pasted: Array.from(article.querySelectorAll('.pasted-text, .pasted-inline, .pasted-math')).map(e => e.textContent),
  systemMessages: Array.from(document.querySelectorAll('.system-message, .problematic')).map(e => e.textContent),
  paramsTables: Array.from(article.querySelectorAll('table.defstab-parameters')).map(t => Object.assign(box(t), {
      names: Array.from(t.querySelectorAll('tbody tr td:first-child')).map(td => td.textContent.trim()),
      visible: t.offsetParent !== null})),
  tables: Array.from(article.querySelectorAll('table')).map(t => Object.assign(box(t), {cls: t.className,
      hidden: t.scrollWidth - t.clientWidth})),
  preBlocks: Array.from(article.querySelectorAll('pre')).map(p => Object.assign(box(p),
      {scrolls: ['auto', 'scroll'].includes(getComputedStyle(p).overflowX)})),
  tagged: Array.from(document.querySelectorAll('[class*="tag_"]')).map(e => e.className),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => ({href: a.href, text: a.textContent.trim()})),
  articleLinks: Array.from(article.querySelectorAll('a[href]')).map(a => ({href: a.href, text: a.textContent.trim()})),
  text: article.innerText,
  shownCode: Array.from(article.querySelectorAll('div.cell_input')).filter(e => e.offsetParent !== null)
      .map(e => e.innerText.slice(0, 80)),
  codeText: Array.from(article.querySelectorAll('div.cell_input, div.cell_output pre')).map(e => e.innerText)
      .join('\n'),
};
"""


@dataclass
class Visit:
    """One page in one theme, as the browser showed it."""

    page: str
    mode: str
    url: str
    info: dict
    problems: sb.PageProblems
    screenshot: Path
    size: tuple[int, int]


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def site() -> Path:
    """``_build/html``, which must exist and hold every page of ``_toc.yml``: a missing site is a failure."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run `make book` first (make site-test needs it)")
    missing = [p for p in PAGES if not (SITE / f"{p}.html").is_file()]
    if missing:
        pytest.fail(f"{SITE} lacks pages that _toc.yml lists: {missing}; it predates them: run `make book`")
    return SITE


@pytest.fixture(scope="module")
def server(site):
    with sb.serve(site) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server):
    driver = sb.start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def visit(browser, server):
    """``visit(page, mode)``: load a page in the light or dark theme, or on a phone (``"phone"``: light, at
    :data:`tests.sitebrowser.PHONE`'s width with mobile emulation), once; screenshot it; return a Visit."""
    cache: dict[tuple[str, str], Visit] = {}

    def _visit(page: str, mode: str = "light") -> Visit:
        if (page, mode) in cache:
            return cache[(page, mode)]
        url = urllib.parse.urljoin(server.base, f"{page}.html")
        theme, phone = ("light", True) if mode == "phone" else (mode, False)
        sb.network_events(browser)  # drain what earlier pages left
        browser.get_log("browser")
        sb.emulate_phone(browser, phone)
        try:
            sb.load(browser, url)
            if browser.execute_script("return document.documentElement.dataset.theme") != theme:
                sb.set_theme(browser, theme)
                browser.get_log("browser")
                sb.network_events(browser)
                sb.load(browser, url)
            problems = sb.classify(browser.get_log("browser"), sb.network_events(browser), server.base)
            info = browser.execute_script(PAGE_SCRIPT)
            shot = _shot_path(page, mode)
            size = sb.full_page_screenshot(browser, shot, phone=phone)
        finally:
            sb.emulate_phone(browser, False)
        cache[(page, mode)] = result = Visit(page, mode, url, info, problems, shot, size)
        return result

    return _visit


def _chapter_page(name: str) -> str:
    return next(p for p in PAGES if Path(p).name == name)


# ------------------------------------------------------------------------------------------------ the build


def test_every_toc_page_is_built(site):
    for page in PAGES:
        _check((site / f"{page}.html").is_file(), f"{site / page}.html is missing: run `make book`")
    _check(CHAPTERS, "_toc.yml lists no chapter (book/<name>.ipynb)")


def test_no_page_shows_stderr(site):
    """A chapter's warnings (a library's on import, say) are the build's business, not the reader's."""
    shown = [page for page in PAGES if "output stderr" in (site / f"{page}.html").read_text()]
    _check(not shown, f"pages that show a cell's stderr: {shown}")


# ------------------------------------------------------------------------------------------------ every page


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_without_errors(visit, page):
    v = visit(page, "light")
    _check(v.info["theme"] == "light", f"the light theme did not take: data-theme={v.info['theme']!r}")
    _check(not v.problems.errors, f"{page}: " + "\n".join(v.problems.errors))
    unknown = [u for u in v.problems.external if not u.startswith(tuple(KNOWN_EXTERNAL))]
    _check(not unknown, (f"{page} fetches from the internet (blocked here), which KNOWN_EXTERNAL does not list: "
                         f"{unknown}"))
    _check(v.screenshot.stat().st_size > 10_000, f"screenshot {v.screenshot} looks empty")


@pytest.mark.parametrize("page", PAGES)
def test_nothing_spills_out_of_the_text_column(visit, page):
    v = visit(page, "light")
    right = v.info["column"]["right"] + 1
    wide = [f"<table class={t['cls']!r}> right edge at {t['right']:.0f} px" for t in v.info["tables"]
            if t["right"] > right]
    wide += [f"<img src={i['src']!r}> right edge at {i['right']:.0f} px" for i in v.info["images"] if i["right"] > right]
    wide += [f"<pre> right edge at {p['right']:.0f} px" for p in v.info["preBlocks"]
             if p["right"] > right and not p["scrolls"]]
    _check(not wide, f"{page}: wider than the text column (right edge {right - 1:.0f} px): {wide}")
    # Our tables scroll sideways rather than spill; at a laptop's width they should not even need to.
    hidden = [f"<table class={t['cls']!r}>: {t['hidden']} px out of sight" for t in v.info["tables"]
              if t["cls"].startswith("defstab-") and t["hidden"] > 1]
    _check(not hidden, f"{page}: tables that need scrolling sideways at {sb.WINDOW[0]} px: {hidden}")


@pytest.mark.parametrize("page", PAGES)
def test_on_a_phone_nothing_overflows_sideways_and_figures_show_each_panel_legibly(visit, page):
    """At 400 px (cb67332: verdicts cut to "suppo", panel (b) of every two-panel figure off-screen, three pages
    wider than the screen): the page never scrolls sideways; a figure of several panels shows them one under
    another, each as wide as the column and with labels of at least MIN_FIGURE_TEXT_PX; a figure of one panel
    that is wider than the screen says so; verdict tables wrap into cards that need no scrolling."""
    v = visit(page, "phone")
    info = v.info
    _check(info["viewport"] == sb.PHONE[0],
           f"{page}: content wider than the {sb.PHONE[0]} px phone widened its layout to {info['viewport']} px "
           f"(the page scrolls sideways or is shown shrunk)")
    _check(info["documentWidth"] <= info["viewport"] + 1,
           f"{page}: the page is {info['documentWidth']} px wide on a {info['viewport']} px phone (sideways scroll)")
    for box in info["figureBoxes"]:
        if box["hidden"] > 1 and not box["panels"]:
            _check("scroll" in box["cue"], f"{page}: a figure scrolls sideways by {box['hidden']} px with no cue")
        _check(not (box["panels"] and box["hidden"] > 1),
               f"{page}: a figure of several panels still scrolls sideways by {box['hidden']} px")
    small, broken = [], []
    for i in info["panels"]:
        if not (i["visible"] and i["complete"] and i["naturalWidth"] > 0):
            broken.append(Path(i["src"]).name)
            continue
        _check(i["right"] <= info["viewport"] + 1, f"{page}: panel {Path(i['src']).name} runs off the screen")
        text_px = _smallest_text_px(i)
        if text_px < MIN_FIGURE_TEXT_PX:
            small.append(f"{Path(i['src']).name}: labels {text_px:.1f} px")
    _check(not broken, f"{page}: panels not shown on a phone: {broken}")
    _check(not small, f"{page}: panels whose labels are under {MIN_FIGURE_TEXT_PX} px on a phone: {small}")
    for row in info["verdictRows"]:
        _check(row["hidden"] <= 1 and row["right"] <= info["viewport"] + 1,
               f"{page}: a verdict table is cut or scrolls sideways on a phone: {row['text'][:60]!r}")
        _check(row["verdict"].strip() and re.match(r"\d+ ", row["n"].strip())
               and (not row["ci"] or re.search(r"95% CI \S+ to \S+|the same in all \d+ units", row["effect"])),
               f"{page}: a verdict lacks its verdict, n or interval: {row['text'][:200]!r}")
    _check(v.screenshot.stat().st_size > 10_000, f"screenshot {v.screenshot} looks empty")


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_figure_has_a_visible_numbered_caption(visit, name):
    """cb67332 showed 38 of 42 figures with no caption and no number."""
    v = visit(_chapter_page(name), "light")
    bad = [f"{Path(c['src']).name}: {c['text'][:40]!r}" for c in v.info["captions"]
           if not (c["shown"] and re.match(r"Figure \d+\.\d+\. \S", c["text"]))]
    _check(not bad, f"{name}: figures without a visible numbered caption: {bad}")
    numbers = [re.match(r"Figure (\d+)\.(\d+)\.", c["text"]).groups() for c in v.info["captions"]]
    _check(len({n[0] for n in numbers}) <= 1 and [int(n[1]) for n in numbers] == list(range(1, len(numbers) + 1)),
           f"{name}: figure numbers are not one chapter's 1, 2, 3, ... in order: {numbers}")


@pytest.mark.parametrize("page", PAGES)
def test_no_page_names_a_rendering_device_other_than_this_builds(visit, page):
    """cb67332 said a page was "rendered on this site's build (NVIDIA H200)" where the build had no GPU; the suite
    runs where the site was built (make book, then make site-test), so the build's device is this machine's."""
    from defstab_lib.book import build_device

    here = build_device()
    said = re.findall(r"this site.s build \(([^)]*)\)", visit(page, "light").info["text"])
    _check(all(d == here for d in said), f"{page}: says it was rendered on {sorted(set(said))}, built on {here!r}")


def test_the_introductions_first_screen_shows_the_summary_figure_and_the_verdicts(visit):
    """The answer first: at 1280 px the first screen of the introduction shows the summary figure and the verdict
    lines, without scrolling."""
    v = visit("book/intro", "light")
    fold = sb.WINDOW[1]
    summary = [i for i in v.info["images"] if i["figure"]][:1]
    _check(summary and summary[0]["top"] < fold - 100,
           f"the introduction's summary figure starts at {summary[0]['top'] if summary else None} px, below the "
           f"first screen ({fold} px)")
    _check(re.search(r"Of the paper.s headline and its \d+ claims", v.info["text"]),
           "the introduction does not state the verdicts' count")
    head = v.info["text"].find("Of the paper")
    _check(head >= 0 and head < 1500, f"the verdict lines start {head} characters into the introduction")


def test_no_internal_link_is_broken(server):
    start = [server.base] + [urllib.parse.urljoin(server.base, f"{p}.html") for p in PAGES]
    start.append(urllib.parse.urljoin(server.base, "search.html"))
    result = sb.crawl(server.base, start)
    _check(not result.broken, "broken internal links:\n" + "\n".join(result.broken))
    _check(not result.missing_anchors, "links to anchors that their page lacks:\n" + "\n".join(result.missing_anchors))
    built = {urllib.parse.urljoin(server.base, f"{p}.html") for p in PAGES}
    _check(built <= result.pages, f"pages not reached: {sorted(built - result.pages)}")


# ------------------------------------------------------------------------------------------------ chapters


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_figures_load_and_are_legible(visit, name):
    v = visit(_chapter_page(name), "light")
    images = v.info["images"]
    broken = [i["src"] for i in images if not (i["complete"] and i["naturalWidth"] > 0)]
    _check(not broken, f"{name}: images that did not load: {broken}")
    figures = [i for i in images if i["figure"]]
    _check(figures, f"{name}: the page shows no figure (no image in a cell output)")
    small = []
    for i in figures:
        text_px = _smallest_text_px(i)
        if text_px < MIN_FIGURE_TEXT_PX:
            small.append(f"{Path(i['src']).name}: {i['naturalWidth']} px shown {i['width']:.0f} px wide, "
                         f"its {_smallest_font_pt():g} pt labels {text_px:.1f} px high")
    _check(not small, (f"{name}: figures shrunk until their labels are under {MIN_FIGURE_TEXT_PX} px: {small} "
                       "(make the figure narrower in inches)"))


def _smallest_font_pt() -> float:
    from matplotlib import font_manager

    from defstab_lib.plots import RC_PARAMS

    sizes = [v for k, v in RC_PARAMS.items() if k.endswith(("size", "labelsize", "fontsize")) and k != "figure.figsize"]
    return min(font_manager.FontProperties(size=s).get_size_in_points() for s in sizes)


def _smallest_text_px(image: dict) -> float:
    """The book's smallest figure text, in CSS pixels, in an image as the page shows it."""
    from PIL import Image

    from defstab_lib.plots import RC_PARAMS

    path = SITE / urllib.parse.unquote(urllib.parse.urlsplit(image["src"]).path).lstrip("/")
    with Image.open(path) as png:
        dpi = float(png.info.get("dpi", (RC_PARAMS["figure.dpi"],))[0])
    return _smallest_font_pt() * dpi / 72 * image["width"] / image["naturalWidth"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_figures_are_readable_in_the_dark_theme(visit, name):
    import numpy as np
    from PIL import Image

    v = visit(_chapter_page(name), "dark")
    _check(v.info["theme"] == "dark", f"the dark theme did not take: data-theme={v.info['theme']!r}")
    _check(not v.problems.errors, f"{name} (dark): " + "\n".join(v.problems.errors))
    shot = np.asarray(Image.open(v.screenshot).convert("L"))
    dim = []
    for i in (i for i in v.info["images"] if i["figure"]):
        box = (int(i["left"]), int(i["top"]), int(i["left"] + i["width"]), int(i["top"] + i["height"]))
        if box[3] > shot.shape[0]:
            continue  # past the screenshot's height cap
        ground = float(np.median(_ring(shot, box, FIGURE_RING_PX))) / 255
        if ground < MIN_FIGURE_GROUND_DARK:
            dim.append(f"{Path(i['src']).name}: ground luminance {ground:.2f}")
    _check(not dim, f"{name}: figures on a dark ground in the dark theme (black labels unreadable): {dim}")


def _ring(pixels, box: tuple[int, int, int, int], width: int):
    """The values of ``pixels`` (an (H, W) array) in a band ``width`` wide along the inside of ``box``'s edge."""
    import numpy as np

    left, top, right, bottom = box
    return np.concatenate([pixels[top:top + width, left:right].ravel(), pixels[bottom - width:bottom, left:right].ravel(),
                           pixels[top:bottom, left:left + width].ravel(), pixels[top:bottom, right - width:right].ravel()])


def _glue_roles(name: str) -> dict[str, int]:
    """How many glue roles of each kind (``text``, ``any``, ...) the chapter's markdown uses."""
    import nbformat

    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    counts: dict[str, int] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for kind in re.findall(r"\{glue(?::(\w+))?\}`", cell.source):
                counts[kind or "any"] = counts.get(kind or "any", 0) + 1
    return counts


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_glued_numbers_are_present(visit, name):
    v = visit(_chapter_page(name), "light")
    roles = _glue_roles(name)
    unknown = set(roles) - {"text"}
    _check(not unknown, f"{name} uses glue roles {unknown}: teach this test what they render to")
    _check(not v.info["systemMessages"], f"{name}: rendering problems shown on the page: {v.info['systemMessages']}")
    pasted = v.info["pasted"]
    _check(len(pasted) == roles.get("text", 0), (
        f"{name}: {roles.get('text', 0)} {{glue:text}} roles in the notebook, {len(pasted)} pasted values on the "
        "page (a missing glue key renders nothing)"))
    empty = [p for p in pasted if not p.strip() or p.strip() in ("None", "nan", "''")]
    _check(not empty, f"{name}: glued values that show nothing: {empty}")
    _check(not re.search(r"\{glue[:}]", v.info["text"]), f"{name}: an unrendered glue role shows as text")


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_parameters_table_and_no_parameter_cells(visit, name):
    v = visit(_chapter_page(name), "light")
    tables = v.info["paramsTables"]
    _check(len(tables) == 1 and tables[0]["visible"], f"{name}: expected one visible table.defstab-parameters")
    expected = [p.name for p in chapter_specs.get(name).params]
    _check(tables[0]["names"] == expected, f"{name}: parameters table lists {tables[0]['names']}, not {expected}")
    hidden = ("tag_parameters", "tag_injected-parameters", "tag_colab-install")
    shown = [c for c in v.info["tagged"] if any(t in c.split() for t in hidden)]
    _check(not shown, f"{name}: cells that should be hidden are on the page: {shown}")
    _check(not v.info["shownCode"], f"{name}: code cells shown on the page (tag them remove-input or remove-cell): "
                                    f"{v.info['shownCode'][:3]}")
    for text in ("# Parameters", "google.colab", "papermill"):  # in code shown on the page (prose may name them)
        _check(text not in v.info["codeText"], f"{name}: the page shows {text!r} (a parameters or Colab cell)")


def _colab_url(name: str) -> str:
    config = book_config(ROOT)
    repo = config["repository"]
    owner_repo = urllib.parse.urlsplit(repo["url"]).path.strip("/")
    path = "/".join(p for p in (repo.get("path_to_book", "").strip("/"), "book", f"{name}.ipynb") if p)
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_repo}/blob/{repo.get('branch', 'main')}/{path}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_colab_link_opens_this_notebook(visit, name):
    v = visit(_chapter_page(name), "light")
    colab = book_config(ROOT)["launch_buttons"]["colab_url"].rstrip("/")
    links = {a["href"] for a in v.info["links"] if a["href"].startswith(colab)}
    _check(links == {_colab_url(name)}, f"{name}: Colab links {links}, expected {_colab_url(name)}")


@pytest.mark.parametrize("name", CHAPTERS)
def test_status_page_lists_the_chapter(visit, name):
    status = next(p for p in PAGES if Path(p).name == "status")
    v = visit(status, "light")
    target = urllib.parse.urljoin(v.url, f"{name}.html")
    title = chapter_specs.get(name).title
    texts = [a["text"] for a in v.info["articleLinks"] if a["href"].split("#")[0] == target]
    _check(title in texts, f"the status page's text has no link {title!r} to {target} (links there: {texts})")


def _search_word(title: str) -> str:
    """The longest word of a title: what a reader would type to find it."""
    return max(re.findall(r"[A-Za-z]+", title), key=len).lower()


@pytest.mark.parametrize("name", CHAPTERS)
def test_search_finds_the_chapter_by_a_word_of_its_title(browser, server, visit, name):
    from selenium.webdriver.support.ui import WebDriverWait

    title = visit(_chapter_page(name), "light").info["h1"].strip("#¶ \n")
    word = _search_word(title)
    url = urllib.parse.urljoin(server.base, f"search.html?q={urllib.parse.quote(word)}")
    sb.network_events(browser)
    browser.get_log("browser")
    sb.load(browser, url)
    summary = WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda d: d.execute_script(
        "const s = document.querySelector('#search-results .search-summary, #search-results p');"
        "return s && !/preparing|searching/i.test(s.textContent) && "
        "  !document.querySelector('#search-progress:not(:empty)') ? s.textContent : null;"))
    problems = sb.classify(browser.get_log("browser"), sb.network_events(browser), server.base)
    _check(not problems.errors, f"search page: {problems.errors}")
    hits = browser.execute_script(
        "return Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.href);")
    target = urllib.parse.urljoin(server.base, f"{_chapter_page(name)}.html")
    _check(any(h.split("#")[0].split("?")[0] == target for h in hits), (
        f"searching {word!r} (from the title {title!r}) did not find {target}: {summary!r}, hits {hits}"))
    if name == CHAPTERS[0]:
        sb.full_page_screenshot(browser, SHOTS / "search-light.png")


# ------------------------------------------------------------------------------------------------ math, badge, alt


#: Raw TeX delimiters that a reader sees when MathJax did not typeset a page.
RAW_TEX = ("\\(", "\\)", "$$")


def _math_count(page: str) -> int:
    """How many math elements Sphinx wrote into the page's HTML (before MathJax typesets them)."""
    return len(re.findall(r'class="math notranslate nohighlight"', (SITE / f"{page}.html").read_text()))


def _typeset(browser, url: str) -> dict:
    """Open ``url``, wait for MathJax (if the page loads it) to finish, and return what the page shows."""
    sb.load(browser, url)
    return browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const report = () => {
          const article = document.querySelector('article.bd-article') || document.body;
          done({mathjax: !!(window.MathJax && window.MathJax.version), version: (window.MathJax || {}).version || '',
                rendered: article.querySelectorAll('mjx-container').length,
                errors: article.querySelectorAll('mjx-merror, mjx-container [data-mjx-error]').length,
                text: article.innerText});
        };
        const started = Date.now();
        const wait = () => {
          if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
            MathJax.startup.promise.then(report, report);
          } else if (Date.now() - started > 10000) { report(); } else { setTimeout(wait, 50); }
        };
        wait();""")


def test_some_pages_have_math():
    with_math = [p for p in PAGES if _math_count(p)]
    _check(len(with_math) >= 2, f"only {with_math} have math: the math checks below would check nothing")


@pytest.mark.parametrize("page", PAGES)
def test_math_renders_offline(browser, server, page):
    expected = _math_count(page)
    shown = _typeset(browser, urllib.parse.urljoin(server.base, f"{page}.html"))
    raw = [d for d in RAW_TEX if d in shown["text"]]
    _check(not raw, f"{page}: raw TeX delimiters {raw} in the page's text (MathJax did not typeset it)")
    if expected:
        _check(shown["mathjax"], f"{page}: has {expected} math elements but MathJax did not load")
        _check(shown["rendered"] >= expected, (
            f"{page}: {expected} math elements in the HTML, {shown['rendered']} typeset (mjx-container)"))
        _check(not shown["errors"], f"{page}: {shown['errors']} formulas MathJax could not typeset")


def test_math_renders_from_disk(browser):
    """The README's offline reading: _build/html opened from disk (file://), no server, no network."""
    page = next(p for p in PAGES if _math_count(p))
    shown = _typeset(browser, (SITE / f"{page}.html").as_uri())
    _check(shown["mathjax"] and shown["rendered"] >= _math_count(page),
           f"{page} opened from disk: MathJax {shown['version'] or 'not loaded'}, {shown['rendered']} formulas typeset")
    _check(not [d for d in RAW_TEX if d in shown["text"]], f"{page} opened from disk shows raw TeX")


BADGE_SCRIPT = """
const article = document.querySelector('article.bd-article') || document.body;
return Array.from(article.querySelectorAll('div.defstab-colab')).map(d => ({
  text: d.innerText,
  top: d.getBoundingClientRect().top - (article.querySelector('h1') || article).getBoundingClientRect().bottom,
  links: Array.from(d.querySelectorAll('a[href]')).map(a => ({href: a.href,
      imgs: Array.from(a.querySelectorAll('img')).map(i => ({alt: i.alt, loaded: i.complete && i.naturalWidth > 0,
                                                             src: i.currentSrc || i.src}))}))}));
"""


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_an_open_in_colab_badge_under_its_title(browser, server, name):
    sb.load(browser, urllib.parse.urljoin(server.base, f"{_chapter_page(name)}.html"))
    badges = browser.execute_script(BADGE_SCRIPT)
    _check(len(badges) == 1, f"{name}: {len(badges)} Colab badge blocks (div.defstab-colab), expected 1")
    badge = badges[0]
    links = [a for a in badge["links"] if a["imgs"]]
    _check([a["href"] for a in links] == [_colab_url(name)], f"{name}: the badge links {links}, not {_colab_url(name)}")
    img = links[0]["imgs"][0]
    _check(img["alt"] == "Open in Colab" and img["loaded"], f"{name}: the badge image {img} did not load")
    _check(sb.is_internal(img["src"], server.base), f"{name}: the badge image comes from elsewhere: {img['src']}")
    _check("GPU" in badge["text"] and re.search(r"\d+(\.\d+)? s\b", badge["text"]),
           f"{name}: the badge's note names no GPU runtime or no measured time: {badge['text']!r}")
    _check(0 <= badge["top"] < 120, f"{name}: the badge is not right under the title ({badge['top']:.0f} px below)")


#: Alt text that only repeats a file name or hash (myst-nb's default when a figure has none).
FILE_LIKE_ALT = re.compile(r"(^|/)[0-9a-f]{16,}\.\w+$|\.(png|jpe?g|svg|pdf)$", re.IGNORECASE)


def test_the_site_footer_states_the_licences(browser, server):
    sb.load(browser, urllib.parse.urljoin(server.base, f"{PAGES[0]}.html"))
    footer = browser.execute_script(
        "const f = document.querySelector('.extra_footer'); return f ? {text: f.innerText, "
        "links: Array.from(f.querySelectorAll('a')).map(a => a.href)} : null;")
    _check(footer, "the page has no footer licence line (.extra_footer)")
    _check("MIT" in footer["text"] and "CC BY 4.0" in footer["text"], f"the footer says {footer['text']!r}")
    _check("https://creativecommons.org/licenses/by/4.0/" in footer["links"], f"footer links: {footer['links']}")


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_figures_have_descriptive_alt_text(browser, server, name):
    """Alt text says what a figure shows: its provenance's ``alt``, else its caption's first sentence
    (defstab_lib.book.figure_provenance), never myst-nb's default, the image's file path."""
    sb.load(browser, urllib.parse.urljoin(server.base, f"{_chapter_page(name)}.html"))
    images = browser.execute_script(
        "const a = document.querySelector('article.bd-article') || document.body;"
        "return Array.from(a.querySelectorAll('.cell_output img')).map(i => ({src: i.currentSrc || i.src, "
        "alt: i.getAttribute('alt') || ''}));")
    bad = [f"{Path(i['src']).name}: alt {i['alt']!r}" for i in images
           if len(i["alt"].split()) < 3 or FILE_LIKE_ALT.search(i["alt"].strip())]
    _check(not bad, f"{name}: figures without descriptive alt text (give them provenance or a **Figure N.** "
                    f"caption): {bad}")


# ------------------------------------------------------------------------------------------------ the report

REPORT_SCRIPT = r"""
return Array.from(document.querySelectorAll('table.verdicts tbody tr')).map(tr => ({
  verdict: (tr.querySelector('td.verdict') || {}).dataset ? tr.querySelector('td.verdict').dataset.verdict : null,
  effect: (tr.querySelector('td.effect') || {textContent: ''}).textContent,
  visible: tr.getBoundingClientRect().height > 0,
}));
"""


def test_every_verdict_on_the_report_page_has_a_ci_next_to_it(browser, server, visit):
    page = next(p for p in PAGES if Path(p).name == "report")
    visit(page, "light")  # loads and checks the page once
    sb.load(browser, urllib.parse.urljoin(server.base, f"{page}.html"))
    rows = browser.execute_script(REPORT_SCRIPT)
    _check(len(rows) == 8, f"the report's verdict table has {len(rows)} rows, not 8 (7 claims and the headline)")
    for row in rows:
        _check(row["visible"] and row["verdict"], f"a verdict row is hidden or has no verdict: {row}")
        _check(re.search(r"95% CI \S+ to \S+", row["effect"]),
               f"verdict {row['verdict']!r} has no CI next to it: {row['effect']!r}")


ROBUSTNESS_SCRIPT = r"""
const a = document.querySelector('article.bd-article') || document.body;
return {figures: Array.from(a.querySelectorAll('.cell_output img'))
                      .filter(i => (i.getAttribute('alt') || '').startsWith('How robust')).length,
        conditions: (a.innerText.match(/under the pre-registered analysis \([^)]*\); supported in \d+ of \d+ declared/g)
                     || []).length};
"""
#: The pages that state the report's claims, and how many claims each states (issue 25: each with its robustness
#: figure and the conditions under which it holds).
CLAIM_PAGES = {"report": 8, "pooling": 4, "smooth_init": 1, "synthetic_tasks": 1, "smoothness": 1, "random_labels": 1}


@pytest.mark.parametrize("name", sorted(CLAIM_PAGES))
def test_every_claim_on_the_site_comes_with_its_robustness_figure_and_conditions(browser, server, name):
    """Each claim's verdict a page states comes with a 'How robust is it?' figure (the report: one per claim; a
    chapter: one for its claims) and a conditions sentence per claim, generated from its declared specifications."""
    sb.load(browser, urllib.parse.urljoin(server.base, f"{_chapter_page(name)}.html"))
    found = browser.execute_script(ROBUSTNESS_SCRIPT)
    claims = CLAIM_PAGES[name]
    _check(found["figures"] == (claims if name == "report" else 1),
           f"{name}: {found['figures']} 'How robust is it?' figures for {claims} claims")
    _check(found["conditions"] >= claims, f"{name}: {found['conditions']} conditions sentences for {claims} claims")
