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


# -- one list of the public names (fermask/__init__.py) ----------------------------------------------


def _init_tree() -> ast.Module:
    return ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))


def _lazy_table(tree: ast.Module) -> dict[str, str]:
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "_LAZY":
            assert isinstance(node.value, ast.Dict), "_LAZY must be a dict literal: name -> module"
            return {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(node.value.keys, node.value.values) if k}
    raise AssertionError("fermask/__init__.py has no _LAZY table")


def _type_checking_imports(tree: ast.Module) -> dict[str, str]:
    """``name -> module`` of the relative imports under the module's ``if TYPE_CHECKING:``."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for imp in ast.walk(node):
                if isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module:
                    found.update({a.asname or a.name: imp.module for a in imp.names})
    return found


def _defines(module: str, name: str) -> bool:
    """Whether a fermask module defines ``name`` at its top level (def, class, assignment or import)."""
    path = PACKAGE / f"{module}.py"
    if not path.is_file():
        path = PACKAGE / module / "__init__.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def test_the_public_names_are_listed_once_and_the_type_checking_block_follows_them() -> None:
    tree = _init_tree()
    lazy = _lazy_table(tree)
    typed = _type_checking_imports(tree)
    wrong = [f"{n}: _LAZY says {lazy.get(n)!r}, TYPE_CHECKING imports it from {typed.get(n)!r}"
             for n in sorted(set(lazy) | set(typed)) if lazy.get(n) != typed.get(n)]
    assert not wrong, "fermask/__init__.py: _LAZY and the TYPE_CHECKING block differ:\n" + "\n".join(wrong)
    missing = [f"{n} (from {m})" for n, m in sorted(lazy.items()) if not _defines(m, n)]
    assert not missing, "_LAZY names modules that do not define these names: " + ", ".join(missing)
    all_value = next(
        n.value for n in tree.body
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
    )
    assert ast.unparse(all_value) == "['__version__', *_LAZY]", "__all__ must be built from _LAZY, not listed again"


def test_fermask_init_holds_no_second_hand_written_list_of_names() -> None:
    lists = []
    for node in _init_tree().body:
        if not isinstance(node, ast.Assign) or any(isinstance(t, ast.Name) and t.id in ("_LAZY", "__all__") for t in node.targets):
            continue
        strings = [c for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        if len(strings) >= 3:
            lists.append(f"line {node.lineno}: {ast.unparse(node.targets[0])}")
    assert not lists, (
        "fermask/__init__.py lists names by hand besides _LAZY (derive them from _LAZY or find them on the "
        "package path): " + ", ".join(lists)
    )


# -- names that differ by a letter -------------------------------------------------------------------


def test_no_class_has_two_methods_whose_names_differ_only_by_a_past_tense() -> None:
    """``_prepare`` beside ``_prepared`` says nothing about which does what; name each after its job."""
    pairs = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(cls, ast.ClassDef):
                names = {f.name for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
                pairs += [
                    f"{path.relative_to(SRC)}: {cls.name}.{n} and .{n}{end}"
                    for n in sorted(names) for end in ("d", "ed") if n + end in names
                ]
    assert not pairs, "methods whose names differ only by a past tense:\n" + "\n".join(pairs)
