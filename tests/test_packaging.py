"""pyproject.toml, environment.yml and the Makefile describe one environment: they must not drift apart."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d][0]["pip"]
    return [r for r in pip if not r.startswith("-e")]


def _book_requirements() -> list[str]:
    """The requirements a book reader needs: the package's own plus its book extra (with the extras it names)."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    reqs, todo, seen = list(project["dependencies"]), ["book"], set()
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for r in extras[extra]:
            if _name(r) == "defstab-lib":
                todo += [e for e in re.search(r"\[(.*)\]", r).group(1).split(",") if e not in seen]
            else:
                reqs.append(r)
    return reqs


def test_environment_yml_lists_the_same_packages_as_pyproject():
    env = {_name(r) for r in _environment_pip()}
    book = {_name(r) for r in _book_requirements()}
    assert env == book, f"only in environment.yml: {env - book}; only in pyproject.toml: {book - env}"


def test_environment_yml_keeps_pyproject_bounds():
    """A package's bounds in environment.yml are pyproject's, except torch/torchvision, pinned as in the Makefile."""
    pins = dict(re.findall(r"(torch|torchvision)==([\w.]+)", (ROOT / "Makefile").read_text()))
    book = {_name(r): r.replace(" ", "") for r in _book_requirements()}
    for r in _environment_pip():
        name = _name(r)
        if name in pins:
            assert r == f"{name}=={pins[name]}", f"environment.yml pins {r}, the Makefile {name}=={pins[name]}"
        else:
            assert r.replace(" ", "") == book[name], f"environment.yml has {r}, pyproject.toml {book[name]}"


def test_jupyter_book_is_pinned_below_2():
    """Jupyter Book 2 reads myst.yml and ignores _config.yml/_toc.yml."""
    book = {_name(r): r for r in _book_requirements()}
    assert book["jupyter-book"].replace(" ", "") == "jupyter-book>=1.0.4.post1,<2"


def test_the_library_needs_no_torch_newer_than_the_gpu_machines():
    import defstab_lib

    floor = [r for r in _pyproject()["project"]["dependencies"] if _name(r) == "torch"][0]
    major, minor = map(int, re.search(r">=(\d+)\.(\d+)", floor).groups())
    assert (major, minor) <= (2, 11), "the GPU machines and Colab run torch 2.11"
    assert defstab_lib.__version__
