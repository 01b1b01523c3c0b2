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
    ("fermask._parallel", 0), ("fermask._numbers", 0), ("fermask._registry", 0), ("fermask._image", 0), ("fermask._tf", 0),
    # the one module that runs TFLite models (LiteRT, else TensorFlow's interpreter)
    ("fermask._runtime", 0),
    ("fermask.labels", 0), ("fermask.assets", 0), ("fermask._dask", 0), ("fermask._hog", 0),
    # the result records (Prediction, PredictionList): plain data that plots and the predictor share
    ("fermask.results", 0),
    # figures are drawn from plain data: any layer's .plot() convenience may call them
    ("fermask.plots", 0),
    # the layout of annotated photos (figure size, label placement) that plots.annotate_image draws with
    ("fermask._annotate", 0),
    ("fermask.faces", 1),
    ("fermask.masks", 2),
    ("fermask.masker", 3),
    ("fermask.data", 4),
    ("fermask.models", 5), ("fermask.pretrained", 5),
    ("fermask.bundle", 6),
    ("fermask.evaluation", 7), ("fermask.training", 7), ("fermask.convert", 7),
    ("fermask.predictor", 8),
    ("fermask.reproduce", 9), ("fermask.human_baseline", 9), ("fermask.video", 9), ("fermask.adaptation", 9),
    # export reads calibration faces with adaptation.load_faces
    ("fermask.export", 9),
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
    """Every import in a module, at any depth, except under ``if TYPE_CHECKING:`` (unless ``type_checking``)."""

    def __init__(self, type_checking: bool = False) -> None:
        self.nodes: list[ast.Import | ast.ImportFrom] = []
        self.type_checking = type_checking

    def visit_If(self, node: ast.If) -> None:
        if not self.type_checking and "TYPE_CHECKING" in ast.unparse(node.test):
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


def _graph(type_checking: bool = False) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    graph: dict[str, set[str]] = {}
    for (name, is_pkg), path in files.items():
        visitor = _Imports(type_checking)
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


@pytest.mark.parametrize("module", ["fermask._choices", "fermask._parallel", "fermask._numbers", "fermask._files", "fermask.errors"])
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


MAX_MODULE_LINES = 500
# The central FERDataset class file may be longer: the class is the library's hub.
LONG_MODULES_ALLOWED = {"fermask/data/dataset.py"}


def test_no_module_over_500_lines() -> None:
    lengths = {
        path.relative_to(SRC).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    long = [f"{name} ({n} lines)" for name, n in lengths.items()
            if n > MAX_MODULE_LINES and name not in LONG_MODULES_ALLOWED]
    assert not long, "split these modules, one job each:\n" + "\n".join(long)


def test_no_module_imports_names_from_its_own_package() -> None:
    """A package's ``__init__`` only re-exports its modules, so none of them takes a name from it.

    ``from . import module`` is fine (it names a module); ``from . import name`` is not (type-only
    imports count). The top package ``fermask`` is left out: its ``__init__`` is the lazy public API.
    """
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    packages = _packages() - {"fermask"}
    inward = []
    for (name, is_pkg), path in sorted(files.items()):
        visitor = _Imports(type_checking=True)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for node in visitor.nodes:
            if isinstance(node, ast.ImportFrom):
                source, *named = _targets(name, is_pkg, node)
                if source in packages and name.startswith(source + ".") and any(t not in modules for t in named):
                    inward.append(f"{name} takes {', '.join(a.name for a in node.names)} from {source}")
    assert not inward, "import the module that defines the name, not its package:\n" + "\n".join(inward)


def _packages() -> set[str]:
    return {_module_name(p)[0] for p in PACKAGE.rglob("__init__.py")}


def _without_own_reexports(graph: dict[str, set[str]], packages: set[str]) -> dict[str, set[str]]:
    """The import graph with a package's own ``__init__`` re-exports set aside.

    What "set aside" means, exactly:

    - An edge from a package to a module inside it (``fermask.data`` ->
      ``fermask.data.dataset``: its ``__init__`` re-exporting a submodule's
      names) is dropped. Without this every submodule that imports its own
      package (``from . import sibling``) would close a circle through the
      package's ``__init__``.
    - An import of a package from OUTSIDE it still counts as importing every
      module its ``__init__`` pulls in (nested packages followed), since that
      is what running it does: ``fermask.plots`` -> ``fermask.data`` counts as
      ``fermask.plots`` -> ``fermask.data.dataset``, ``fermask.data.load``, ...
      So a module that a package re-exports can still not import (even for
      types) a module that imports the package.
    - An import of a package from inside it (``fermask.data.load`` ->
      ``fermask.data``) is kept as it is and not widened: the parent package
      is always imported first anyway.
    """

    def own(package: str) -> set[str]:
        inside = {t for t in graph[package] if t.startswith(package + ".")}
        for t in sorted(inside & packages):
            inside |= own(t)
        return inside

    reduced: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges: set[str] = set()
        for t in targets:
            if module in packages and t.startswith(module + "."):
                continue  # the package's own re-export
            edges.add(t)
            if t in packages and not (module == t or module.startswith(t + ".")):
                edges |= own(t)
        edges.discard(module)
        reduced[module] = edges
    return reduced


def test_no_import_cycles_even_counting_type_only_imports() -> None:
    """No circle in the import graph, counting imports under ``if TYPE_CHECKING:`` too.

    A type-only import does not run, but a circle of them still means two
    modules each need the other to be read; the layers promise one direction.
    A package's own ``__init__`` re-exporting its submodules is set aside, as
    :func:`_without_own_reexports` spells out (imports of a package from
    outside it still count as importing what its ``__init__`` imports).
    """
    graph = _without_own_reexports(_graph(type_checking=True), _packages())
    cycles = _cycles(graph)
    detail = [f"{c}: " + "; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in cycles]
    assert not cycles, (
        "import cycles counting `if TYPE_CHECKING:` imports (a package's own re-exports aside); "
        "give the lower module a Protocol or plain data instead of the higher type:\n" + "\n".join(detail)
    )


def test_reexport_exemption_is_exactly_the_packages_own() -> None:
    """The exemption drops a package's edges to its own submodules, and nothing else."""
    packages = {"fermask", "fermask.pkg"}
    base = {
        "fermask": {"fermask.pkg", "fermask.low"},
        "fermask.pkg": {"fermask.pkg.thing", "fermask.pkg.other"},  # the package re-exports them
        "fermask.pkg.other": {"fermask.pkg", "fermask.pkg.thing"},  # from . import thing
        "fermask.pkg.thing": {"fermask.pkg"},
        "fermask.low": set(),
    }
    assert _cycles(_without_own_reexports(base, packages)) == []
    # a type-only import of the package from outside it counts as importing what it re-exports
    closed = {**base, "fermask.low": {"fermask.pkg"}, "fermask.pkg.thing": {"fermask.pkg", "fermask.low"}}
    circle = ["fermask.low", "fermask.pkg.other", "fermask.pkg.thing"]
    assert _cycles(_without_own_reexports(closed, packages)) == [circle]


def test_foundation_imports_nothing_above_it_even_for_types() -> None:
    """Layer 0 (plots and results included) names no higher module, not even under ``if TYPE_CHECKING:``.

    Figures and result records are plain data; a higher type read by a
    foundation module is how the plots <-> data <-> evaluation <-> video
    circle came about.
    """
    graph = _graph(type_checking=True)
    upward = [
        f"{m} imports {t} (layer {_layer(t)})"
        for m in sorted(graph)
        if m != "fermask" and _layer(m) == 0
        for t in sorted(graph[m])
        if t != "fermask" and (_layer(t) or 0) > 0
    ]
    assert not upward, "the foundation must not name higher modules, even for types:\n" + "\n".join(upward)
# ------------------------------------------------ one place per rule (docs/architecture.md, "Where each rule lives")
def _sources() -> list[tuple[str, ast.Module]]:
    """Every module of the package: its path under src/ and its tree."""
    return [
        (path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def _builtin_errors() -> set[str]:
    import builtins

    return {n for n, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)}


# Built-in exceptions fermask may raise as they are, each for a reason a FermaskError subclass cannot serve.
BUILTIN_RAISES_ALLOWED = {
    "SystemExit",  # the command line's exit status
    "NotImplementedError",  # an abstract method a subclass must override (MaskStyle.geometry)
}


class _Raises(ast.NodeVisitor):
    """Each ``raise`` of a module, with the name of the function it is in."""

    def __init__(self) -> None:
        self.where = [""]
        self.found: list[tuple[int, str, str]] = []  # line, exception name, function

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.where.append(node.name)
        self.generic_visit(node)
        self.where.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name):
            self.found.append((node.lineno, exc.id, self.where[-1]))


def test_every_deliberate_error_is_a_fermask_error() -> None:
    builtin = _builtin_errors()
    found = []
    for path, tree in _sources():
        raises = _Raises()
        raises.visit(tree)
        for line, name, function in raises.found:
            # a module's __getattr__ raises AttributeError itself: Python's protocol for a missing name
            protocol = name == "AttributeError" and function == "__getattr__"
            if name in builtin and name not in BUILTIN_RAISES_ALLOWED and not protocol:
                found.append(f"{path}:{line} raise {name}")
    assert not found, (
        "raise a fermask.errors class (FermaskError and the matching built-in, e.g. InvalidValueError) instead:\n"
        + "\n".join(sorted(set(found)))
    )


def test_every_exception_class_is_a_fermask_error() -> None:
    builtin = _builtin_errors()
    classes = [(path, node) for path, tree in _sources() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    ours = {"FermaskError"}
    grew = True
    while grew:  # subclasses of subclasses, across modules
        before = len(ours)
        ours |= {c.name for _, c in classes if any(ast.unparse(b).split(".")[-1] in ours for b in c.bases)}
        grew = len(ours) > before
    stray = [
        f"{path}:{c.lineno} class {c.name}"
        for path, c in classes
        if c.name not in ours and any(ast.unparse(b).split(".")[-1] in builtin for b in c.bases)
    ]
    assert not stray, "derive these from FermaskError (and the built-in, for old callers):\n" + "\n".join(stray)


def test_option_values_are_listed_only_in_choices() -> None:
    pattern = ("_MODES", "_POLICIES", "_FORMATS")
    found = []
    for path, tree in _sources():
        if path == "fermask/_choices.py":
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            for t in targets:
                if isinstance(t, ast.Name) and t.id.endswith(pattern) and isinstance(value, (ast.Tuple, ast.List, ast.Set, ast.Call)):
                    found.append(f"{path}:{node.lineno} {t.id}")
    assert not found, "accepted option values go in fermask/_choices.py (import them from there):\n" + "\n".join(found)


def test_check_choice_has_one_error_type() -> None:
    found = [
        f"{path}:{node.lineno}"
        for path, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func).split(".")[-1] == "check_choice"
        and any(k.arg == "error" for k in node.keywords)
    ]
    assert not found, "check_choice always raises InvalidChoiceError; drop error=:\n" + "\n".join(found)
    choices = dict(_sources())["fermask/_choices.py"]
    (fn,) = [n for n in choices.body if isinstance(n, ast.FunctionDef) and n.name == "check_choice"]
    assert "error" not in {a.arg for a in fn.args.args + fn.args.kwonlyargs}


def test_commands_define_add_arguments_and_run() -> None:
    cli = dict(_sources())["fermask/cli.py"]
    (table,) = [n for n in cli.body if isinstance(n, ast.AnnAssign) and ast.unparse(n.target) == "COMMANDS"]
    modules = [ast.literal_eval(v)[0] for v in table.value.values]  # type: ignore[union-attr]
    assert modules
    missing = []
    for module in modules:
        path = PACKAGE / "commands" / f"{module}.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if not {"add_arguments", "run"} <= defined or "add_parser" in defined:
            missing.append(f"{path.relative_to(SRC)} defines {sorted(defined & {'add_arguments', 'run', 'add_parser'})}")
    assert not missing, "a command module defines add_arguments(parser) and run(args):\n" + "\n".join(missing)


def test_face_finder_defaults_are_written_once() -> None:
    found = []
    for path, tree in _sources():
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = fn.args.args + fn.args.kwonlyargs
            defaults = [None] * (len(fn.args.args) - len(fn.args.defaults)) + fn.args.defaults + fn.args.kw_defaults
            for arg, default in zip(args, defaults):
                if arg.arg == "min_score" and isinstance(default, ast.Constant) and default.value is not None:
                    found.append(f"{path}:{fn.lineno} {fn.name}(min_score={default.value!r})")
    assert not found, "use faces.DEFAULT_MIN_SCORE as the default:\n" + "\n".join(found)


def test_workers_are_checked_in_one_place() -> None:
    found = []
    for path, tree in _sources():
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name == "check_workers":
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Compare) and "workers" in ast.unparse(node.left) and any(
                    isinstance(op, (ast.Lt, ast.LtE)) for op in node.ops
                ):
                    found.append(f"{path}:{node.lineno} {ast.unparse(node)}")
    assert not found, "check a number of workers with fermask._parallel.check_workers:\n" + "\n".join(found)


def test_numeric_options_are_checked_in_one_place() -> None:
    """No command declares ``type=int`` or ``type=float``: numbers go through ``commands/_common``'s checked types.

    Those wrap ``fermask._numbers`` (and ``_parallel.check_workers``), so ``--seed -1``, ``--lr nan`` or
    ``--port 99999`` exit with status 2 before any work, worded as the Python API words them.
    """
    found = [
        f"{path}:{node.lineno} {ast.unparse(kw)}"
        for path, tree in _sources()
        if path.startswith("fermask/commands/")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("add_argument")
        for kw in node.keywords
        if kw.arg == "type" and isinstance(kw.value, ast.Name) and kw.value.id in ("int", "float")
    ]
    assert not found, "use int_option(), float_option(), seed_option, ... from commands/_common.py:\n" + "\n".join(found)


def test_model_inputs_are_resized_in_image_only() -> None:
    allowed = {"fermask/_image.py", "fermask/masks/render.py"}  # render draws the mask itself, not a model input
    found = [
        f"{path}:{node.lineno}"
        for path, tree in _sources()
        if path not in allowed
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "resize"
        and "Resampling" in ast.unparse(node)
    ]
    assert not found, "convert and resize images with fermask._image.fit_image:\n" + "\n".join(found)


def test_fer2013_paths_are_read_in_one_place() -> None:
    readers = {"fermask/data/load.py"}
    found = []
    for path, tree in _sources():
        if path in readers or not path.startswith("fermask/"):
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                calls = {ast.unparse(n.func).split(".")[-1] for n in ast.walk(fn) if isinstance(n, ast.Call)}
                if {"from_csv", "from_folder"} <= calls:
                    found.append(f"{path}:{fn.lineno} {fn.name}")
    assert not found, "read a FER2013 path with fermask.data.load_fer_data:\n" + "\n".join(found)
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


ARCHITECTURE_PAGE = SRC.parent / "docs" / "architecture.md"
# Names the architecture page quotes that are not fermask's: Python's, Keras', TensorFlow's, or words of a sentence.
NOT_FERMASK_NAMES = {
    "Protocol", "SystemExit", "AttributeError", "NotImplementedError", "MultiWorkerMirroredStrategy",
    "TYPE_CHECKING", "__all__", "__init__", "__getattr__", "tf.distribute", "choices=", "run.json", "curves.png",
    "./NAME",
}


def _definitions() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``{module key: top-level names}`` (keys are every dotted suffix of a module's name) and ``{class: members}``.

    The class ``""`` collects every function's parameter names.
    """
    modules: dict[str, set[str]] = {}
    classes: dict[str, set[str]] = {"": set()}
    for path in PACKAGE.rglob("*.py"):
        name, _ = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                top.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                top |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                top |= {(a.asname or a.name).split(".")[0] for a in node.names}
        parts = name.split(".")
        for i in range(len(parts)):
            modules.setdefault(".".join(parts[i:]), set()).update(top)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                classes[""] |= {a.arg for a in node.args.args + node.args.kwonlyargs}
            if isinstance(node, ast.ClassDef):
                members = classes.setdefault(node.name, set())
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        members.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        members.add(item.target.id)
    return modules, classes


def _quoted_code(text: str) -> set[str]:
    import re

    found = set()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # the layer drawing
    for code in re.findall(r"`([^`\n]+)`", text):
        code = code.split("(")[0].removesuffix("()")  # create_model(name, ...) -> create_model
        if code and code not in NOT_FERMASK_NAMES and re.fullmatch(r"[\w./]+", code):
            found.add(code)
    return found


def test_the_architecture_page_names_only_what_exists() -> None:
    """Every module, file, class, function and attribute docs/architecture.md quotes is in the source."""
    modules, classes = _definitions()
    members = set().union(*classes.values())  # methods, fields and parameters
    defined = set().union(*modules.values()) | set(classes) | members
    files = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    folders = {p.relative_to(PACKAGE).as_posix() + "/" for p in PACKAGE.rglob("*") if p.is_dir()}
    missing = []
    for code in sorted(_quoted_code(ARCHITECTURE_PAGE.read_text(encoding="utf-8"))):
        rel = code.removeprefix("fermask/")
        if code.startswith("."):  # .method() of some class
            ok = code[1:] in members
        elif code.startswith(("tests/", "recipes/", "benchmarks/")):
            ok = (SRC.parent / code).is_file()
        elif code.endswith("/"):
            ok = rel in folders
        elif code.endswith(".py"):
            ok = rel in files or any(f.endswith("/" + rel) for f in files)
        elif "." in code:
            parts = code.removeprefix("fermask.").split(".")
            ok = False
            for cut in range(len(parts), 0, -1):
                key, rest = ".".join(parts[:cut]), parts[cut:]
                if key in modules:
                    ok = not rest or (rest[0] in modules[key] and (len(rest) == 1 or rest[1] in classes.get(rest[0], ())))
                    break
                if key in classes:
                    ok = len(rest) == 1 and (rest[0] in classes[key] or rest[0].endswith("*"))
                    break
        else:
            ok = code in modules or code in defined or code == "fermask" or code.islower() and "_" not in code
        if not ok:
            missing.append(code)
    assert not missing, "docs/architecture.md names what the source does not have (renamed or moved?):\n" + "\n".join(missing)
# -- split modules keep their public names ----------------------------------------------------------


def test_every_name_in_a_package_all_is_bound_in_its_init() -> None:
    """A module split into a package (``faces/``, ``masker/``, ...) keeps ``from fermask.x import Name`` working.

    Each name its ``__init__`` lists in ``__all__`` is defined or imported there, so a re-export
    dropped during a split fails here, not in a user's import.
    """
    missing = []
    for path in sorted(PACKAGE.rglob("__init__.py")):
        module = _module_name(path)[0]
        if module == "fermask":
            continue  # the lazy public API: test_the_public_names_are_listed_once... checks it
        tree = ast.parse(path.read_text(encoding="utf-8"))
        listed = [
            ast.literal_eval(e)
            for node in tree.body
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
            for e in node.value.elts
            if isinstance(e, ast.Constant)
        ]
        rel = path.relative_to(SRC).parent.as_posix()
        missing += [f"{rel}/__init__.py: {name}" for name in listed if not _defines(rel.removeprefix("fermask/"), name)]
    assert not missing, "names in __all__ that the package's __init__ neither defines nor imports:\n" + "\n".join(missing)
# -- relative imports name modules that exist (a module moved into a package keeps its imports right) --------


def test_every_relative_import_names_an_existing_module() -> None:
    """``from .x import y`` (at any depth, in functions too) resolves to a fermask module or package.

    A module moved into a package (``predictor.py`` -> ``predictor/_predictor.py``) must add a dot to
    each relative import; one inside a function would otherwise fail only when that function runs.
    """
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    broken = []
    for (name, is_pkg), path in sorted(files.items()):
        visitor = _Imports(type_checking=True)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for node in visitor.nodes:
            if isinstance(node, ast.ImportFrom) and node.level:
                source = _targets(name, is_pkg, node)[0]
                if source not in modules:
                    broken.append(f"{path.relative_to(SRC)}:{node.lineno} from {'.' * node.level}{node.module or ''} ({source})")
    assert not broken, "relative imports of modules that do not exist:\n" + "\n".join(broken)


# -- the light path (TFLite on LiteRT) never imports TensorFlow or Keras when its modules load ----------------
LIGHT_PATH_ROOTS = ("fermask.predictor", "fermask.bundle", "fermask._runtime", "fermask.cli",
                    "fermask.commands.predict", "fermask.commands.demo", "fermask.commands.download_model")
HEAVY = ("tensorflow", "keras", "tf_keras")


def _module_level_imports() -> dict[str, tuple[set[str], set[str]]]:
    """Each module's imports made when it loads (not in functions, not under TYPE_CHECKING): (fermask, others)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    out: dict[str, tuple[set[str], set[str]]] = {}
    for (name, is_pkg), path in files.items():
        nodes: list[ast.stmt] = list(ast.parse(path.read_text(encoding="utf-8")).body)
        found: list[ast.Import | ast.ImportFrom] = []
        while nodes:
            node = nodes.pop()
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                nodes += node.body + node.orelse
            elif isinstance(node, ast.Try):
                nodes += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        targets = {t for node in found for t in _targets(name, is_pkg, node)}
        out[name] = ({t for t in targets if t in modules and t != name}, {t.split(".")[0] for t in targets})
    return out


def test_the_light_path_loads_no_tensorflow_or_keras() -> None:
    """Loading the modules a TFLite prediction needs imports no TensorFlow or Keras (tests/test_light.py runs it)."""
    imports = _module_level_imports()
    seen, todo, heavy = set(), list(LIGHT_PATH_ROOTS), []
    while todo:
        module = todo.pop()
        if module in seen or module not in imports:
            continue
        seen.add(module)
        inner, outer = imports[module]
        heavy += [f"{module} imports {h} when it loads" for h in sorted(outer & set(HEAVY))]
        parents = [".".join(module.split(".")[:i]) for i in range(2, module.count(".") + 1)]
        todo += sorted(inner) + parents
    assert {"fermask._runtime", "fermask.bundle._io", "fermask.predictor._predictor"} <= seen
    assert not heavy, "the light path must import TensorFlow and Keras only inside functions:\n" + "\n".join(heavy)


def test_the_runtime_seam_imports_only_numpy_and_errors() -> None:
    """``fermask._runtime`` is the one place that knows interpreters; it stays at the bottom with no fermask deps."""
    inner, outer = _module_level_imports()["fermask._runtime"]
    assert inner <= {"fermask.errors"}, inner
    stdlib = {"__future__", "contextlib", "importlib", "os", "threading", "warnings", "collections", "pathlib", "typing"}
    assert outer - stdlib <= {"numpy", "fermask"}, outer - stdlib


# -- export reaches TensorFlow only through fermask._tf (one "needs fermask[cpu]" message) ---------------------


def test_export_imports_tensorflow_only_through_the_tf_module() -> None:
    """``fermask.export`` and ``fermask export`` never import tensorflow, keras or tf2onnx themselves, at any depth.

    They call ``fermask._tf`` (so a light install, without TensorFlow, gets the one-line
    "install fermask[cpu]" error, and importing them stays free of TensorFlow); ONNX's
    converter is reached through Keras' ``model.export`` after a check that it is installed.
    """
    found = []
    for rel in ("fermask/export.py", "fermask/commands/export.py"):
        visitor = _Imports(type_checking=True)
        visitor.visit(ast.parse((SRC / rel).read_text(encoding="utf-8")))
        for node in visitor.nodes:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{rel}:{node.lineno} imports {n}" for n in names
                      if not getattr(node, "level", 0) and n.split(".")[0] in ("tensorflow", "keras", "tf2onnx")]
    assert not found, "import TensorFlow through fermask._tf (tf_module, keras_module):\n" + "\n".join(found)
