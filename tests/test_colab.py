"""The chapters' Colab cell, and a simulated Colab: the first cell's install, then a chapter at smoke parameters.

Colab today runs Python 3.13 with torch 2.11 and has no kymatio, foolbox or papermill.  The slow test builds that
runtime here and runs a chapter in it as Colab would:

1. **The "Colab image"**: a virtual environment of Python 3.13 (pyenv's ``python3.13``, or ``$DEFSTAB_COLAB_PYTHON``)
   holding what Colab preinstalls that the library uses (:data:`COLAB_IMAGE`: torch 2.11.0, torchvision 0.26.0,
   numpy, scipy, matplotlib, ...).  torch is a 4 GB install, so the image is built once and kept in
   ``~/.cache/defstab/colab-image/`` (or ``$DEFSTAB_COLAB_IMAGE``); it is never modified after.
2. **The runtime**: a fresh virtual environment per test whose ``.pth`` file puts the image's site-packages on its
   path, as Colab's preinstalled packages are on its path: pip sees them as installed and installs only what is
   missing, into the fresh environment.  (Equivalent to ``venv --system-site-packages`` over a base with torch; a
   venv cannot chain to another venv's packages any other way.)
3. **The repository**: ``git clone --bare`` of this checkout into a temporary folder, its ``main`` set to this
   checkout's working tree (``git stash create``, so uncommitted edits are tested too).
4. **The chapter**: its committed notebook, with the Colab cell's clone address swapped for the bare copy and
   ``/content`` for a temporary folder, after a first cell that registers a ``google.colab`` module (which Colab's
   kernel has imported), and with its smoke parameters injected after its ``parameters`` cell.  nbclient executes
   it in an ipykernel of the runtime: the Colab cell really clones and ``pip install``s there.

Then the test checks that the library was imported from the runtime (not from this checkout), that what the
cell installed is exactly what Colab lacks (the chapter's pins), and that torch is still the image's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from defstab_lib import book, chapters

ROOT = Path(__file__).resolve().parents[1]

#: What Colab preinstalls that the library or a chapter uses, at Colab's torch pair (the rest unpinned: Colab
#: follows their current releases).  ipykernel runs the notebook; setuptools and requests are on Colab too.
COLAB_IMAGE = (
    "torch==2.11.0", "torchvision==0.26.0", "numpy", "scipy", "matplotlib", "pillow", "tqdm", "pyyaml",
    "scikit-image", "requests", "setuptools", "ipykernel", "ipython",
)
COLAB_PYTHON = "3.13"

#: Chapters the simulation runs: one that needs the samples extra (foolbox), one that needs kymatio, and one that needs
#: the imagenet extra (EfficientNet-Lite0's code and weights, measured on Colab's Python and torch).
SIMULATED = ("data", "kernel_view", "imagenet_network")


# ------------------------------------------------------------------------------------------------ fast checks


def _extras() -> dict[str, list[str]]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_colab_pins_satisfy_the_extras_they_stand_for():
    extras = _extras()
    for extra, pins in book.COLAB_PINS.items():
        wanted = {Requirement(r).name.lower(): Requirement(r) for r in extras[extra]}
        for pin in pins:
            req = Requirement(pin)
            version = str(req.specifier).removeprefix("==")
            assert str(req.specifier).startswith("=="), f"{pin}: Colab's installs are pinned"
            assert req.name.lower() in wanted, f"{pin} is not in the {extra!r} extra of pyproject.toml"
            assert wanted[req.name.lower()].specifier.contains(version), f"{pin} violates {wanted[req.name.lower()]}"


def test_colab_extras_name_chapters_and_extras():
    assert set(book.COLAB_EXTRAS) <= set(chapters.CHAPTERS)
    assert {e for extras in book.COLAB_EXTRAS.values() for e in extras} <= set(book.COLAB_PINS)


@pytest.mark.parametrize("name", sorted(chapters.CHAPTERS))
def test_colab_cell_installs_the_library_and_exactly_the_chapters_pins(name):
    source = book.colab_cell_source(name, ROOT)
    repo = book.book_config(ROOT)["repository"]
    assert f"git clone --depth 1 --branch {repo['branch']} {repo['url']} {book.COLAB_CLONE}" in source
    install = [line.strip() for line in source.splitlines() if "pip install" in line]
    assert install == [f"!pip install --quiet {' '.join([book.COLAB_CLONE, *book.colab_requirements(name)])}"]
    installed = {Requirement(r).name.lower() for r in book.colab_requirements(name)}
    assert not installed & {"papermill", "torch", "torchvision"}, "Colab has torch; papermill is not needed there"
    assert "papermill" not in source and "torch" not in source.replace("-pytorch", ""), "nor is either named"


def test_colab_badge_links_the_launch_buttons_address():
    md = book.colab_badge_markdown("data", "12.3 s", "CPU", ROOT)
    url = book.colab_url("data", ROOT)
    assert url == "https://colab.research.google.com/github/defstab/defstab/blob/main/book/data.ipynb"
    assert f"[![Open in Colab]({book.COLAB_BADGE})]({url})" in md
    assert "GPU" in md and "12.3 s" in md
    assert (ROOT / "book" / book.COLAB_BADGE).is_file()


# ------------------------------------------------------------------------------------------------ simulation


def _python313() -> str:
    """Colab's Python: ``$DEFSTAB_COLAB_PYTHON``, else a pyenv-installed 3.13 (pyenv's shim refuses a version
    that is not selected), else ``python3.13`` on the PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [os.environ.get("DEFSTAB_COLAB_PYTHON"),
                  *sorted(map(str, pyenv.glob(f"{COLAB_PYTHON}.*/bin/python{COLAB_PYTHON}")), reverse=True),
                  shutil.which(f"python{COLAB_PYTHON}")]
    for found in filter(None, candidates):
        probe = subprocess.run([found, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == COLAB_PYTHON:
            return found
    pytest.fail(f"no working python{COLAB_PYTHON} (Colab's) among {[c for c in candidates if c]}: install one "
                f"(e.g. `pyenv install {COLAB_PYTHON}`) or set DEFSTAB_COLAB_PYTHON", pytrace=False)


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3.*/site-packages"))


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if result.returncode:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                    f"{result.stderr[-3000:]}", pytrace=False)
    return result


@pytest.fixture(scope="session")
def colab_image() -> Path:
    """The cached "Colab image" venv (built on first use; several minutes and a 4 GB download)."""
    python = _python313()
    base = Path(os.environ.get("DEFSTAB_COLAB_IMAGE") or Path.home() / ".cache" / "defstab" / "colab-image")
    image = base / f"py{COLAB_PYTHON}-torch2.11.0"
    marker = image / "colab-image.json"
    if marker.is_file() and json.loads(marker.read_text()) == list(COLAB_IMAGE):
        return image
    shutil.rmtree(image, ignore_errors=True)
    image.parent.mkdir(parents=True, exist_ok=True)
    _run([python, "-m", "venv", image])
    _run([image / "bin" / "python", "-m", "pip", "install", "--quiet", *COLAB_IMAGE], timeout=3600)
    marker.write_text(json.dumps(list(COLAB_IMAGE)))
    return image


def _bare_copy(tmp: Path, branch: str) -> Path:
    """A bare clone of this checkout whose ``branch`` is the working tree as it is now."""
    bare = tmp / "defstab.git"
    _run(["git", "clone", "--quiet", "--bare", ROOT, bare])
    snapshot = _run(["git", "stash", "create"], cwd=ROOT).stdout.strip()
    head = snapshot or _run(["git", "rev-parse", "HEAD"], cwd=ROOT).stdout.strip()
    _run(["git", "--git-dir", bare, "fetch", "--quiet", ROOT, head])
    _run(["git", "--git-dir", bare, "update-ref", f"refs/heads/{branch}", head])
    return bare


def _runtime(tmp: Path, image: Path) -> Path:
    """A fresh venv that sees the image's packages as preinstalled (Colab's) and installs into itself."""
    venv = tmp / "runtime"
    _run([image / "bin" / "python", "-m", "venv", venv])
    (_site_packages(venv) / "colab_image.pth").write_text(f"{_site_packages(image)}\n")
    return venv


def _colab_notebook(name: str, clone_url: str, content: Path) -> nbformat.NotebookNode:
    """The committed chapter as Colab would run it here: the address and /content swapped, smoke parameters."""
    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    repo = book.book_config(ROOT)["repository"]
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if book.COLAB_TAG in tags:
            assert cell.source == book.colab_cell_source(name, ROOT), f"{name}: run `python -m defstab_lib.book sync`"
            cell.source = cell.source.replace(repo["url"], clone_url).replace("/content", str(content))
        cells.append(cell)
        if "parameters" in tags:
            smoke = "\n".join(f"{k} = {v!r}" for k, v in chapters.get(name).smoke.items())
            cells.append(nbformat.v4.new_code_cell(smoke, metadata={"tags": ["injected-parameters"]}))
    colab = nbformat.v4.new_code_cell("import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')")
    report = nbformat.v4.new_code_cell(textwrap.dedent("""\
        import json, defstab_lib, torch
        print(json.dumps({"defstab_lib": defstab_lib.__file__, "torch": torch.__file__,
                          "torch_version": torch.__version__, "python": sys.version.split()[0]}))"""))
    nb.cells = [colab, *cells, report]
    return nb


def _execute(nb, venv: Path, tmp: Path, cwd: Path, monkeypatch) -> None:
    """Run ``nb`` with nbclient in an ipykernel of ``venv``, with a clean environment.

    jupyter_client starts a kernel with this process's environment updated by the kernel spec's, so what must
    not reach the simulated Colab (``PYTHONPATH``, which points at this checkout; a results folder; this
    virtual environment) is removed here for the duration.
    """
    for key in ("PYTHONPATH", "DEFSTAB_RESULTS", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH"):
        monkeypatch.delenv(key, raising=False)
    from nbclient import NotebookClient

    kernels = tmp / "jupyter" / "kernels" / "colab-sim"
    kernels.mkdir(parents=True)
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp / "home"),
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for key in ("PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_CONFIG_FILE", "DEFSTAB_DATA"):
        if key in os.environ:
            env[key] = os.environ[key]
    (tmp / "home").mkdir()
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "simulated Colab", "language": "python", "env": env}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    NotebookClient(nb, kernel_name="colab-sim", timeout=1800, resources={"metadata": {"path": str(cwd)}}).execute()


@pytest.mark.slow
@pytest.mark.chapter
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", SIMULATED)
def test_simulated_colab_installs_what_is_missing_and_runs_the_chapter(name, colab_image, tmp_path, monkeypatch):
    repo = book.book_config(ROOT)["repository"]
    bare = _bare_copy(tmp_path, repo.get("branch", "main"))
    venv = _runtime(tmp_path, colab_image)
    content = tmp_path / "content"
    content.mkdir()
    nb = _colab_notebook(name, str(bare), content)
    _execute(nb, venv, tmp_path, content, monkeypatch)

    report = json.loads(next(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout"))
    assert report["python"].startswith(COLAB_PYTHON + ".")
    assert report["torch_version"].startswith("2.11.0") and Path(report["torch"]).is_relative_to(colab_image), (
        f"torch was reinstalled over Colab's: {report}")
    assert Path(report["defstab_lib"]).is_relative_to(_site_packages(venv)), (
        f"the library was not installed from the clone into the runtime: {report['defstab_lib']}")
    installed = {p.name.split("-")[0].lower().replace("_", "-") for p in _site_packages(venv).glob("*.dist-info")}
    for pin in book.colab_requirements(name):
        assert Requirement(pin).name.lower().replace("_", "-") in installed, (
            f"the Colab cell did not install {pin}: {sorted(installed)}")
    assert "papermill" not in installed and "torch" not in installed
    assert (content / "defstab" / "results").is_dir()
