"""The shape of the code, checked: one-way imports and short functions (docs/architecture.md).

These read the source with ``ast`` (nothing is imported), so they are fast and
fail with the exact module or function to fix.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "fermask"
MAX_BODY_LINES = 100

# Each module's layer: a module may import only modules of its own layer or lower ones.
# Order follows the data flow (docs/architecture.md); the first matching prefix wins.
LAYERS: list[tuple[str, int]] = [
    ("fermask._version", 0), ("fermask.errors", 0), ("fermask._choices", 0), ("fermask._files", 0),
    ("fermask._parallel", 0), ("fermask._registry", 0), ("fermask._image", 0), ("fermask._tf", 0),
    ("fermask.labels", 0), ("fermask.assets", 0), ("fermask._dask", 0), ("fermask._hog", 0),
    # figures are drawn from plain data: any layer's .plot() convenience may call them
    ("fermask.plots", 0),
    ("fermask.faces", 1),
    ("fermask.masks", 2),
    ("fermask.masker", 3),
    ("fermask.data", 4),
    ("fermask.models", 5), ("fermask.pretrained", 5),
    ("fermask.bundle", 6),
    ("fermask.evaluation", 7), ("fermask.training", 7), ("fermask.convert", 7),
    ("fermask.predictor", 8),
    ("fermask.reproduce", 9), ("fermask.human_baseline", 9), ("fermask.video", 9), ("fermask.adaptation", 9),
    ("fermask.batch", 10),
    ("fermask.commands", 11), ("fermask.cli", 11), ("fermask.__main__", 11),
]


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


class _Imports(ast.NodeVisitor):
    """Every import in a module, at any depth, except under ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self.nodes: list[ast.Import | ast.ImportFrom] = []

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.nodes.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.nodes.append(node)


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level else []
    prefix = ".".join(base + ([node.module] if node.module else []))
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    graph: dict[str, set[str]] = {}
    for (name, is_pkg), path in files.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {
            t for node in visitor.nodes for t in _targets(name, is_pkg, node) if t in modules and t != name
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> int | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    detail = [f"{c}: " + "; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in cycles]
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(detail)


def test_lower_layers_never_import_higher_ones() -> None:
    graph = _graph()
    unplaced = sorted(m for m in graph if m != "fermask" and _layer(m) is None)
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"
    upward = [
        f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
        for m in sorted(graph)
        if m != "fermask"
        for t in sorted(graph[m])
        if t != "fermask" and (_layer(t) or 0) > (_layer(m) or 0)
    ]
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def _long_functions() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]  # the docstring does not count
                lines = (body[-1].end_lineno or 0) - body[0].lineno + 1 if body else 0
                if lines > MAX_BODY_LINES:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_body_over_100_lines() -> None:
    long = _long_functions()
    assert not long, "split these into named steps:\n" + "\n".join(long)


@pytest.mark.parametrize("module", ["fermask._choices", "fermask._parallel", "fermask._files", "fermask.errors"])
def test_foundation_modules_import_nothing_above_them(module: str) -> None:
    graph = _graph()
    assert all(_layer(t) == 0 for t in graph[module]), sorted(graph[module])


def test_commands_do_not_import_each_other() -> None:
    graph = _graph()
    shared = {"fermask.commands", "fermask.commands._common"}
    crossed = [
        f"{m} imports {t}"
        for m in sorted(graph)
        if m.startswith("fermask.commands.")
        for t in sorted(graph[m])
        if t.startswith("fermask.commands") and t not in shared
    ]
    assert not crossed, "a command imports another command; share code through commands/_common.py:\n" + "\n".join(crossed)


# The steps of a training run, each called from one place: training/run.py's run_training.
RUN_STEPS = {
    "fermask.training.run_files": {"prepare_out_dir", "epoch_recorder", "write_run_start", "write_run_end"},
    "fermask.training.distill": {"make_distiller"},
    "fermask.training.modeling": {"compile_model"},
    "fermask.training.fitting": {"fit"},
}


def test_only_the_run_sequence_calls_the_run_steps() -> None:
    """train(), adapt() and any new kind of run go through training.run.run_training, never a copy of its steps."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        module, is_pkg = _module_name(path)
        if module == "fermask.training.run" or module in RUN_STEPS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _targets(module, is_pkg, node)[0]
                names = {alias.name for alias in node.names} & RUN_STEPS.get(source, set())
                found += [f"{path.relative_to(SRC)}:{node.lineno} imports {source}.{n}" for n in sorted(names)]
            elif isinstance(node, ast.Attribute) and node.attr in ("set_random_seed", "enable_op_determinism"):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} seeds a run itself ({node.attr})")
    assert not found, "a training run's steps belong to training/run.py's run_training; pass it a job:\n" + "\n".join(found)


def test_training_targets_travel_in_one_pipeline() -> None:
    """Per-image targets ride in the batch (make_tf_dataset's extra_targets); no second stream zipped beside it."""
    zipped = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() != "data/tfdata.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "zip"
        and "Dataset" in ast.unparse(node.func.value)
    ]
    assert not zipped, "tf.data streams zipped outside data/tfdata.py; pass extra_targets instead:\n" + "\n".join(zipped)
