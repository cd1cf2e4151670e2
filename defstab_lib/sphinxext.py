"""A Sphinx extension with the book site's fixes (``_config.yml`` loads it: ``sphinx.extra_extensions``).

Sphinx 7.4 (the newest Jupyter Book 1.x allows) lists an inline script that an extension adds after the builder
started (``app.add_js_file(None, body=...)``) twice on every page: once as registered (file name ``None``) and
once more when the builder re-adds late assets (file name ``''``), which its de-duplication does not recognise.
For sphinx-thebe's ``const THEBE_JS_URL = ...`` the second copy is a ``SyntaxError`` in every reader's browser
console ("Identifier 'THEBE_JS_URL' has already been declared"), found by the browser suite
(``tests/test_site.py``).  :func:`unique_scripts` drops such repeats from each page's script list.

Figures with provenance: ``python -m defstab_lib.book build`` stages, beside the book, ``defstab-figures.json``
(:func:`defstab_lib.book.figure_provenance`: per page (``"book/<chapter>"``), per figure by the SHA-256 of its
PNG, which is the name myst-nb gives the image file, its alt text, the library function that drew it, the stored results it was drawn from and its
SVG copy, and its number by chapter).  :func:`caption_html` turns one entry into the visible caption under the
figure ("Figure 3.2." and what it shows, ``div.defstab-caption``) and :func:`provenance_html` into the line under
that (``div.defstab-provenance``, both styled by ``book/static/defstab.css``); the ``doctree-resolved`` hook sets
each image's alt text and adds both.
"""

from __future__ import annotations

import html
import json
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docutils import nodes

from .vocabulary import FIGURES_FILE

__all__ = ["unique_scripts", "caption_html", "provenance_html", "panels_html", "setup"]



def _script_key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def unique_scripts(scripts: Sequence[Any]) -> list[Any]:
    """``scripts`` in order without repeats, a missing file name (``None``) and ``''`` counting as the same.

    Items are Sphinx's script assets (``filename`` and ``attributes``, the inline ``body`` among them) or plain
    file names.

    >>> unique_scripts(["a.js", "b.js", "a.js"])
    ['a.js', 'b.js']
    >>> from sphinx.builders.html._assets import _JavaScript
    >>> inline = [_JavaScript(None, body="const x = 1;"), _JavaScript("", body="const x = 1;"),
    ...           _JavaScript(None, body="const y = 2;")]
    >>> [s.attributes["body"] for s in unique_scripts(inline)]
    ['const x = 1;', 'const y = 2;']
    """
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _dedupe_page_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        # In place: this list is the builder's own, which Sphinx restores after each page.
        scripts[:] = unique_scripts(scripts)


#: Up to this many stored results are linked under a figure as they are; more are one click away (a collapsed list).
SHOWN_RESULTS = 3


def provenance_html(entry: dict, static_prefix: str = "_static/") -> str:
    """The line under a figure: the function that drew it (linked to its source at the built commit, when known),
    its SVG, and what it was drawn from -- one "data" link to the figure's manifest when the build wrote one, else
    the stored results themselves (empty if nothing is known).

    ``entry``: one figure of ``defstab-figures.json`` (``drawn_by``, ``svg``, ``results`` as ``[name, url]``
    pairs, and from a site build ``source`` and ``data``); ``static_prefix``: the page's relative path to
    ``_static/``.

    >>> provenance_html({"drawn_by": "defstab_lib.plots.f", "svg": "ab.svg",
    ...                  "results": [["k.json", "https://example.org/k.json"]]}, "../_static/")
    '<div class="defstab-provenance">Drawn by <code>defstab_lib.plots.f</code> · <a class="defstab-svg" href="../_static/figures/ab.svg" download>SVG</a> · results: <a class="defstab-results" href="https://example.org/k.json">k.json</a></div>'
    >>> provenance_html({"drawn_by": "defstab_lib.plots.f", "source": "https://x/f.py#L3", "svg": "ab.svg",
    ...                  "data": "ab.json", "results": [["k.json", "u"]] * 30}, "../_static/")  # doctest: +ELLIPSIS
    '<div ...>Drawn by <a class="defstab-source" href="https://x/f.py#L3"><code>defstab_lib.plots.f</code></a> · <a ...>SVG</a> · <a class="defstab-data" href="../_static/figures/ab.json">data: 30 stored results</a></div>'
    >>> provenance_html({"drawn_by": "", "svg": "", "results": []})
    ''
    """
    parts = []
    if entry.get("drawn_by"):
        name = f"<code>{html.escape(entry['drawn_by'])}</code>"
        parts.append("Drawn by " + (f'<a class="defstab-source" href="{html.escape(entry["source"])}">{name}</a>'
                                    if entry.get("source") else name))
    if entry.get("svg"):
        href = html.escape(f"{static_prefix}figures/{entry['svg']}")
        parts.append(f'<a class="defstab-svg" href="{href}" download>SVG</a>')
    results = entry.get("results") or []
    if entry.get("data") and results:
        href = html.escape(f"{static_prefix}figures/{entry['data']}")
        count = f"{len(results)} stored result" + ("s" if len(results) != 1 else "")
        parts.append(f'<a class="defstab-data" href="{href}">data: {count}</a>')
    else:
        links = [f'<a class="defstab-results" href="{html.escape(url)}">{html.escape(name)}</a>'
                 for name, url in results]
        if len(links) > SHOWN_RESULTS:  # a wall of hash-named links: the count, the files one click away
            parts.append(f"<details class='defstab-results'><summary>drawn from {len(links)} stored results</summary>"
                         f"{', '.join(links)}</details>")
        elif links:
            parts.append(f"results: {', '.join(links)}")
    return f'<div class="defstab-provenance">{" · ".join(parts)}</div>' if parts else ""


def caption_html(entry: dict) -> str:
    """The figure's visible caption: its number and what it shows (``div.defstab-caption``); empty without a
    number.

    >>> caption_html({"number": "3.2", "alt": "Sensitivity per layer <of> five networks."})
    '<div class="defstab-caption"><b>Figure 3.2.</b> Sensitivity per layer &lt;of&gt; five networks.</div>'
    >>> caption_html({"alt": "x y z"})
    ''
    """
    if not entry.get("number"):
        return ""
    return (f'<div class="defstab-caption"><b>Figure {html.escape(str(entry["number"]))}.</b> '
            f'{html.escape(str(entry.get("alt", "")))}</div>')


def panels_html(entry: dict, static_prefix: str = "_static/") -> str:
    """A figure's columns of panels one under another (``div.defstab-panels``), which ``book/static/defstab.css``
    shows instead of the whole figure on a phone's width; empty for a figure of one column.

    >>> panels_html({"number": "3.2", "panels": ["ab-1.png", "ab-2.png"]}, "../_static/")  # doctest: +ELLIPSIS
    '<div class="defstab-panels"><img src="../_static/figures/ab-1.png" alt="Figure 3.2, panel 1 of 2">...</div>'
    >>> panels_html({"panels": []})
    ''
    """
    panels = entry.get("panels") or []
    label = f"Figure {entry['number']}" if entry.get("number") else "The figure"
    imgs = [f'<img src="{html.escape(f"{static_prefix}figures/{name}")}" alt="{html.escape(label)}, panel {k} of '
            f'{len(panels)}">' for k, name in enumerate(panels, start=1)]
    return f'<div class="defstab-panels">{"".join(imgs)}</div>' if imgs else ""


def _load_figures(app) -> None:
    path = Path(app.srcdir) / FIGURES_FILE
    app.env.defstab_figures = json.loads(path.read_text()) if path.is_file() else {}


def _annotate_figures(app, doctree, docname) -> None:
    figures = getattr(app.env, "defstab_figures", {})
    if not figures or app.builder.format != "html":
        return
    static_prefix = posixpath.relpath("_static", posixpath.dirname(docname) or ".") + "/"
    page = figures.get(docname, {})  # the same image on two pages (a robustness figure) has a number on each
    for image in list(doctree.findall(nodes.image)):
        entry = page.get(Path(str(image.get("uri", ""))).stem)
        if entry is None:
            continue
        if entry.get("alt"):
            image["alt"] = entry["alt"]
        line = panels_html(entry, static_prefix) + caption_html(entry) + provenance_html(entry, static_prefix)
        if line:
            image.parent.insert(image.parent.index(image) + 1, nodes.raw("", line, format="html"))


def setup(app) -> dict[str, Any]:
    """Register the fixes and the figure-provenance hook with Sphinx."""
    # Late (priority 900): after other extensions added their page-specific scripts.
    app.connect("html-page-context", _dedupe_page_scripts, priority=900)
    app.connect("builder-inited", _load_figures)
    app.connect("doctree-resolved", _annotate_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
