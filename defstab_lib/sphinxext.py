"""A Sphinx extension with the book site's fixes (``_config.yml`` loads it: ``sphinx.extra_extensions``).

Sphinx 7.4 (the newest Jupyter Book 1.x allows) lists an inline script that an extension adds after the builder
started (``app.add_js_file(None, body=...)``) twice on every page: once as registered (file name ``None``) and
once more when the builder re-adds late assets (file name ``''``), which its de-duplication does not recognise.
For sphinx-thebe's ``const THEBE_JS_URL = ...`` the second copy is a ``SyntaxError`` in every reader's browser
console ("Identifier 'THEBE_JS_URL' has already been declared"), found by the browser suite
(``tests/test_site.py``).  :func:`unique_scripts` drops such repeats from each page's script list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["unique_scripts", "setup"]


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


def setup(app) -> dict[str, Any]:
    """Register the fixes with Sphinx."""
    # Late (priority 900): after other extensions added their page-specific scripts.
    app.connect("html-page-context", _dedupe_page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
