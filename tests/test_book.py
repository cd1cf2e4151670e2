"""The book tooling: the Colab cell, input keys, cached execution, staging and the status page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from defstab_lib import book, chapters

ROOT = Path(__file__).resolve().parents[1]


def test_colab_cell_comes_from_the_one_repository_url():
    config = book.book_config(ROOT)
    source = book.colab_cell_source("data", ROOT)
    assert config["repository"]["url"] in source
    assert 'if "google.colab" in sys.modules:' in source
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["execute"]["execute_notebooks"] == "off", "papermill executes; Jupyter Book only renders"


@pytest.fixture
def fake_repo(tmp_path):
    """A copy of the book's configuration and the data chapter, with a results store beside it."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book")
    (tmp_path / "results").mkdir()
    return tmp_path


def test_input_key_follows_every_input(fake_repo, monkeypatch):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(fake_repo / "results"))
    base = book.input_key("data", {}, fake_repo)
    assert book.input_key("data", {}, fake_repo) == base
    assert book.input_key("data", {"seed": 1}, fake_repo) != base

    path = fake_repo / "book" / "data.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += "\n"
    nbformat.write(nb, path)
    assert book.input_key("data", {}, fake_repo) != base

    edited = book.input_key("data", {}, fake_repo)
    monkeypatch.setitem(chapters.CHAPTERS, "data",
                        chapters.ChapterSpec("data", "The data", chapters.get("data").params, experiments=("exp",)))
    with_nothing_stored = book.input_key("data", {}, fake_repo)
    (fake_repo / "results" / "exp").mkdir()
    (fake_repo / "results" / "exp" / "abc.json").write_text(json.dumps({"x": 1}))
    assert book.input_key("data", {}, fake_repo) != with_nothing_stored
    (fake_repo / "results" / "other").mkdir()
    (fake_repo / "results" / "other" / "abc.json").write_text("{}")
    stored = book.input_key("data", {}, fake_repo)
    (fake_repo / "results" / "other" / "abc.json").write_text('{"changed": true}')
    assert book.input_key("data", {}, fake_repo) == stored, "results of experiments a chapter does not read"
    assert edited != base


@pytest.mark.chapter
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_execution_is_cached_until_an_input_changes(fake_repo, monkeypatch):
    monkeypatch.setenv("DEFSTAB_RESULTS", str(fake_repo / "results"))
    out = fake_repo / "_build" / "executed" / "book" / "data.ipynb"
    params = dict(chapters.get("data").smoke)
    assert book.execute_chapter("data", out, params, root=fake_repo, progress=False) is True
    assert book.execute_chapter("data", out, params, root=fake_repo, progress=False) is False
    assert book.execute_chapter("data", out, {**params, "seed": 3}, root=fake_repo, progress=False) is True

    stage = book.stage({"data": out}, fake_repo)
    staged = nbformat.read(stage / "book" / "data.ipynb", as_version=4)
    hidden = [c for c in staged.cells if set(c.metadata.get("tags", [])) & {"parameters", "injected-parameters"}]
    assert hidden and all("remove-cell" in c.metadata["tags"] for c in hidden)
    status = (stage / "book" / "status.md").read_text()
    assert "# Build status" in status and "`seed=3`" in status and "[The data](data.ipynb)" in status
    assert (stage / "_toc.yml").is_file() and (stage / "book" / "bibliography.md").is_file()
    assert not (stage / "book" / "data.ipynb").samefile(out)


def test_cli_rejects_an_unknown_chapter(capsys):
    with pytest.raises(SystemExit) as info:
        book.main(["execute", "no-such-chapter"])
    assert info.value.code == 2
    assert "unknown chapter 'no-such-chapter'" in capsys.readouterr().err


def test_a_page_names_the_build_it_was_rendered_on_not_the_device_of_its_runs(tmp_path):
    """A chapter that glues the device its stored runs trained on (an H200) is still said to be rendered on this
    build's machine, on the status page and under its title (cb67332 named the runs' device)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# The data\n\ntext"), nbformat.v4.new_code_cell(
        "x", outputs=[nbformat.v4.new_output("display_data", data={"text/plain": "'NVIDIA H200'"},
                                             metadata={"scrapbook": {"name": "device", "mime_prefix": ""}})])])
    nb.metadata["papermill"] = {"duration": 12.5, "parameters": {}}
    path = tmp_path / "data.ipynb"
    nbformat.write(nb, path)
    status = book.status_markdown({"data": path})
    row = next(line for line in status.splitlines() if line.startswith("| [The data]"))
    assert "NVIDIA H200" not in status and row.endswith(f"| 12.5 s | {book.build_device()} |")
    assert "rendered on" in status
    assert f"built for the repository <{book.book_config()['repository']['url']}>" in status, "a fork's reader sees it"
