"""Every chapter, executed for real with papermill at its smoke parameters (each well under 60 s on 2 cores).

Results that a chapter trains go to a temporary results store (``DEFSTAB_RESULTS``), never to the repository's.
That store is shared by every chapter of one pytest run (``smoke_results`` in ``conftest.py``): runs are keyed by
their config, so the pooling smoke runs that four chapters read are trained once, not four times.  A test that
checks what a chapter trains uses a store of its own.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import papermill
import pytest
import torch

from defstab_lib import analysis, book, chapters

ROOT = Path(__file__).resolve().parents[1]
NAMES = book.chapter_names(ROOT)
GLUE_REF = re.compile(r"\{glue(?::\w+)?\}`([A-Za-z0-9_]+)")


def glued(nb) -> set[str]:
    return {
        out["metadata"]["scrapbook"]["name"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "scrapbook" in out.get("metadata", {})
    }


def figures(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


@pytest.fixture
def results_store(smoke_results, monkeypatch):
    """The session's shared smoke store."""
    monkeypatch.setenv("DEFSTAB_RESULTS", str(smoke_results))
    return smoke_results


@pytest.fixture
def own_store(tmp_path, monkeypatch):
    """An empty store of this test's own."""
    store = tmp_path / "results"
    monkeypatch.setenv("DEFSTAB_RESULTS", str(store))
    return store


@pytest.mark.chapter
@pytest.mark.timeout(600)  # under 60 s alone; headroom for a loaded machine and for training the shared smoke runs
@pytest.mark.parametrize("name", NAMES)
def test_chapter_runs_at_smoke_parameters(name, tmp_path, results_store):
    out = tmp_path / f"{name}.ipynb"
    start = time.time()
    papermill.execute_notebook(
        str(ROOT / "book" / f"{name}.ipynb"), str(out), parameters=dict(chapters.get(name).smoke),
        cwd=str(ROOT / "book"), kernel_name="python3", progress_bar=False,
    )
    elapsed = time.time() - start
    nb = nbformat.read(out, as_version=4)
    assert figures(nb) >= 1, f"{name}: no figure was drawn"
    bare = [index for index, cell in enumerate(nb.cells) for out in cell.get("outputs", [])
            if "image/png" in out.get("data", {})
            and not out.get("metadata", {}).get("image/png", {}).get("defstab", {}).get("drawn_by")]
    assert not bare, f"{name}: figures shown without provenance (chapters.show_figure) in cells {bare}"
    referenced = {k for c in nb.cells if c.cell_type == "markdown" for k in GLUE_REF.findall(c.source)}
    missing = referenced - glued(nb)
    assert not missing, f"{name}: the prose refers to values the run did not glue: {sorted(missing)}"
    print(f"{name}: {elapsed:.1f} s at smoke parameters")


@pytest.mark.chapter
@pytest.mark.timeout(120)
def test_bad_parameter_stops_the_chapter_before_any_work(tmp_path, results_store):
    """A re-runner's typo ends in a ValueError that names the parameter, raised by the validation cell."""
    name = NAMES[0]
    spec = chapters.get(name)
    bounded = next(p for p in spec.params if p.minimum is not None and p.kind is not list)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(ROOT / "book" / f"{name}.ipynb"), str(tmp_path / "bad.ipynb"),
            parameters={**spec.smoke, bounded.name: bounded.minimum - 1},
            cwd=str(ROOT / "book"), kernel_name="python3", progress_bar=False,
        )
    assert info.value.ename == "ValueError" and bounded.name in info.value.evalue
    nb = nbformat.read(tmp_path / "bad.ipynb", as_version=4)
    failed = [c for c in nb.cells if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)]
    assert "chapters.validate" in failed[0].source


@pytest.mark.chapter
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_training_chapter_reruns_with_other_parameters(tmp_path, own_store):
    """A re-runner's command from the README: other networks, more seeds."""
    out = tmp_path / "pooling.ipynb"
    papermill.execute_notebook(
        str(ROOT / "book" / "pooling.ipynb"), str(out),
        parameters={"profile": "smoke", "device": "cpu", "downsampling": ["maxpool", "strided"], "seeds": 2},
        cwd=str(ROOT / "book"), kernel_name="python3", progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    assert figures(nb) >= 1
    stored = sorted(p.name for p in (own_store / "pooling").glob("*.json"))
    assert len(stored) == 4, "two networks x two seeds were trained and stored"
    from defstab_lib.book import glued_values

    glued = glued_values(nb)
    assert glued["compute_note"].startswith("4 runs") and "4 of them were trained while rendering" in glued["compute_note"]
    assert glued["verdict_training_changes"].split(":")[0] in analysis.VERDICTS  # the verdict, then its effect and CI


# ------------------------------------------------------------------------------------------------ load_runs


@pytest.mark.timeout(240)
def test_load_runs_trains_what_is_not_stored_then_only_loads(own_store):
    params = chapters.validate("pooling", dataset="fashion-mnist", profile="smoke", seeds=1,
                               downsampling=["strided", "maxpool"], train=True, device="cpu")
    first = chapters.load_runs("pooling", params)
    assert first.trained == 2 and first.device == "cpu"
    assert list(first.groups["pooling"]) == ["strided", "maxpool"], "groups follow the chapter's order"
    assert len(list((own_store / "pooling").glob("*.json"))) == 2
    assert "2 of them were trained" in first.compute_note()
    again = chapters.load_runs("pooling", params)
    assert again.trained == 0 and "all were loaded" in again.compute_note()
    assert [r.key for r in again.all_results] == [r.key for r in first.all_results]


@pytest.mark.timeout(240)
def test_load_runs_groups_synthetic_tasks_by_ascending_strength(own_store):
    params = chapters.validate("synthetic_tasks", profile="smoke", seeds=1, strengths=[4.0, 1.0], classes=3,
                               train=True, device="cpu")
    loaded = chapters.load_runs("synthetic_tasks", params)
    assert list(loaded.results) == ["synthetic"] and loaded.trained == 2
    assert list(loaded.groups["synthetic"]) == [1.0, 4.0]
    assert [r.config.data.classes for r in loaded.all_results] == [3, 3]


def test_load_runs_refuses_bad_input_before_any_work(own_store):
    with pytest.raises(ValueError, match="reads no trained runs"):
        chapters.load_runs("data", {"n_per_source": 2, "seed": 0})
    good = chapters.validate("pooling", dataset="fashion-mnist", profile="smoke", seeds=1, downsampling=["maxpool"],
                             train=True, device="cpu")
    with pytest.raises(ValueError, match="seeds"):
        chapters.load_runs("pooling", {**good, "seeds": 0})
    assert not own_store.exists(), "nothing was trained or stored"


@pytest.mark.timeout(300)
def test_a_chapter_that_asks_names_the_command_with_its_dataset_and_seeds_and_the_missing_data(own_store, tmp_path,
                                                                                               monkeypatch):
    """The hint a chapter stops with works when followed: its command carries the chapter's dataset and seeds (it
    dropped --dataset cifar10), and a dataset missing here is said in the same line, not only after asking."""
    monkeypatch.setenv("DEFSTAB_DATA", str(tmp_path / "no-data"))
    params = chapters.validate("pooling", dataset="cifar10", profile="cpu", seeds=2, downsampling=["maxpool"],
                               train=False, device="cpu")
    with pytest.raises(chapters.NotAsked) as info:
        chapters.load_runs("pooling", params)
    message = str(info.value)
    assert "\n" not in message
    assert "`python -m defstab_lib run pooling --profile cpu --dataset cifar10 --seeds 2`" in message
    assert "the data are not on this machine yet" in message and "cifar10" in message and "no-data" in message
    assert not own_store.exists(), "nothing was trained or stored"


# ------------------------------------------------------------------------------------------------ bad parameters
# A chapter's bad parameters stop it in its validation cell, naming the culprit, before any work; nothing reaches
# the results store.


def run_pooling(tmp_path: Path, monkeypatch, **parameters) -> papermill.PapermillExecutionError:
    monkeypatch.setenv("DEFSTAB_RESULTS", str(tmp_path / "results"))
    smoke = dict(chapters.get("pooling").smoke)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(ROOT / "book" / "pooling.ipynb"), str(tmp_path / "out.ipynb"), parameters={**smoke, **parameters},
            cwd=str(ROOT / "book"), kernel_name="python3", progress_bar=False,
        )
    assert not (tmp_path / "results").exists(), "nothing was trained or stored"
    return info.value


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_a_misspelt_parameter_stops_the_chapter_and_lists_the_known_ones(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, seed=7)
    assert error.ename == "ValueError"
    assert "unknown parameter(s) ['seed']" in error.evalue and "'seeds'" in error.evalue


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_a_repeated_network_is_refused(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, downsampling=["maxpool", "maxpool", "strided"])
    assert error.ename == "ValueError" and "'maxpool' more than once" in error.evalue


@pytest.mark.chapter
@pytest.mark.timeout(300)
def test_a_list_passed_with_p_is_refused_and_says_to_use_y(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, downsampling='["maxpool","strided"]')  # what -p passes
    assert error.ename == "TypeError" and "must be a list" in error.evalue and "-y 'downsampling: [a, b]'" in error.evalue


@pytest.mark.chapter
@pytest.mark.timeout(300)
@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with a GPU accepts device='cuda'")
def test_a_device_the_machine_lacks_stops_the_chapter_at_validation(tmp_path, monkeypatch):
    error = run_pooling(tmp_path, monkeypatch, device="cuda")
    assert error.ename == "ValueError" and "no CUDA GPU" in error.evalue


# ------------------------------------------------------------------------------------------------ the ablation


@pytest.mark.chapter
@pytest.mark.timeout(600)
def test_the_chapter_at_smoke_parameters_shows_each_factor_and_every_verdict(tmp_path, smoke_results, monkeypatch):
    """Executed with papermill at the smoke profile (its runs go to the session's temporary store): a figure per
    factor drawn from that factor's runs, and the verdict table with each factor's claim and its beside-rows."""
    import nbformat
    import papermill

    from defstab_lib import book, chapters

    monkeypatch.setenv("DEFSTAB_RESULTS", str(smoke_results))
    root = book.repo_root()
    out = tmp_path / "what_teaches_stability.ipynb"
    papermill.execute_notebook(str(root / "book" / "what_teaches_stability.ipynb"), str(out),
                               parameters=dict(chapters.get("what_teaches_stability").smoke), cwd=str(root / "book"),
                               kernel_name="python3", progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    figures = [o["metadata"]["image/png"]["defstab"] for o in outputs if "image/png" in o.get("data", {})]
    assert [f["drawn_by"] for f in figures] == ["defstab_lib.plots.ablation.plot_factor"] * 3
    assert [len(f["results"]) for f in figures] == [6, 6, 4]  # 3 or 2 levels x 2 networks x 1 seed
    assert all(any(p.startswith("results/pooling/") for p in f["results"]) for f in figures)  # the baseline cell
    table = next(o["data"]["text/html"] for o in outputs if "class='verdicts'" in o.get("data", {}).get("text/html", ""))
    assert table.count("data-verdict=") == 14  # 3 claims, 11 rows beside them
    for claim in ("Crop-and-flip augmentation", "Weight decay teaches", "Longer training"):
        assert claim in table
    glued = book.glued_values(nb)
    assert glued["verdict_length"].startswith("inconclusive") and "a CI needs at least 2" in glued["verdict_length"]


@pytest.mark.timeout(300)
def test_a_chapter_does_not_train_for_long_unasked(own_store):
    """More seeds than are stored at the book's profile: the chapter stops before training, in one line that says
    how long it would take here and which parameter asks for it (on cb67332 it started 5 standard runs, about 46
    minutes, silently)."""
    params = chapters.validate("pooling", dataset="fashion-mnist", profile="standard", seeds=1,
                               downsampling=list(chapters.DOWNSAMPLING), train=False, device="cpu")
    with pytest.raises(chapters.NotAsked) as info:
        chapters.load_runs("pooling", params)
    message = str(info.value)
    assert "\n" not in message and "5 runs of pooling" in message and "-p train True" in message
    assert info.value.seconds > chapters.ASK_ABOVE_S and "about" in message
    assert not own_store.exists(), "nothing was trained or stored"
