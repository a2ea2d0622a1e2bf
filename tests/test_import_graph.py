"""The import graph flows one way: no module of the package imports, even lazily inside a function, a
module that imports it back. Read from the source with ``ast`` (every ``import`` statement counts, also the
deferred ones in function bodies; ``if TYPE_CHECKING:`` blocks do not run, so they do not count). The same
reader checks the layer order of docs/architecture.md and the size of every source file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import longtracerl

SRC = Path(longtracerl.__file__).parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def import_edges() -> list[tuple[str, str, Path, int]]:
    """Every runtime import inside the package: (module, imported package module, file, line)."""
    files = {_module(p): p for p in SRC.rglob("*.py")}
    edges: list[tuple[str, str, Path, int]] = []
    for mod, path in sorted(files.items()):
        is_pkg = path.name == "__init__.py"
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for t in targets:
                while t and t not in files:  # `import a.b.c` names a module or an attribute path
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    edges.append((mod, t, path, getattr(node, "lineno", 0)))
    return edges


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (the module itself, not the packages above it)."""
    graph: dict[str, set[str]] = {_module(p): set() for p in SRC.rglob("*.py")}
    for mod, target, _, _ in import_edges():
        graph[mod].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)) is not None:
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)) is not None:
            return c
    return None


def test_the_graph_is_read_correctly() -> None:
    g = import_graph()
    # stages -> report (deferred import inside ReportStage.run), and never back
    assert "longtracerl.pipeline.report" in g["longtracerl.pipeline.stages"]
    assert "longtracerl.pipeline.stages" not in g["longtracerl.pipeline.report"]
    assert "longtracerl.pipeline.strategies" in g["longtracerl.pipeline.report"]
    assert "longtracerl.synth.distractors" in g["longtracerl.pipeline.strategies"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_pipeline_modules_import_each_other_without_a_cycle() -> None:
    g = import_graph()
    pipeline = {m: {d for d in deps if d.startswith("longtracerl.pipeline.")}
                for m, deps in g.items() if m.startswith("longtracerl.pipeline.")}
    assert len(pipeline) >= 6
    assert find_cycle(pipeline) is None, " -> ".join(find_cycle(pipeline) or [])


def test_package_import_graph_has_no_cycle() -> None:
    g = import_graph()
    assert find_cycle(g) is None, " -> ".join(find_cycle(g) or [])


# ---------------------------------------------------------------------------- layers (docs/architecture.md)

#: lowest first; a module may import its own layer and the layers before it
LAYERS = ["base", "corpus", "graph", "llm", "reward", "synth", "view", "pipeline", "eval", "train", "twin", "cli"]
#: the base layer: contracts, file formats, configs and small helpers every stage uses
BASE = {"records", "io", "config", "presets", "paths", "netutil", "schema", "rng", "text", "think"}
#: view renders records: besides itself it reads only the base and the corpus
VIEW_MAY_IMPORT = {"base", "corpus", "view"}
MAX_LINES = 600


def layer_of(module: str) -> str:
    """The layer of a package module: ``longtracerl.synth.agent.solver`` -> ``synth``."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: in no layer; add it to LAYERS/BASE here and to docs/architecture.md")
    return parts[1]


def is_cli_glue(module: str) -> bool:
    """``cli.py`` and each stage's ``commands.py`` wire typer commands (they are the CLI): they may import
    anything, twin included (``build --dry-run`` starts a twin)."""
    return module == "longtracerl.cli" or module.endswith(".commands")


def upward_imports(edges: list[tuple[str, str, Path, int]]) -> list[str]:
    """``file:line: a -> b (layer -> higher layer)`` for every import that breaks the layer order."""
    bad: list[str] = []
    for mod, target, path, line in edges:
        lm, lt = layer_of(mod), layer_of(target)
        if lt == "twin" and lm not in ("twin", "cli") and not is_cli_glue(mod):
            why = "nothing but the CLI imports twin"
        elif is_cli_glue(mod) or lt == lm:
            continue
        elif LAYERS.index(lt) > LAYERS.index(lm):
            why = f"{lm} is below {lt}"
        elif lm == "view" and lt not in VIEW_MAY_IMPORT:
            why = "view imports only base and corpus"
        else:
            continue
        bad.append(f"{path.relative_to(SRC.parent.parent)}:{line}: {mod} -> {target} ({why})")
    return bad


def test_the_layer_rules_catch_what_they_should() -> None:
    """The checker itself: an upward import, a view import of graph, a stage importing twin are caught; a
    downward import, an import inside a layer and CLI glue are not."""
    f = SRC / "x.py"
    edges = [
        ("longtracerl.config", "longtracerl.synth.assembly", f, 1),  # up
        ("longtracerl.view.render", "longtracerl.graph.store", f, 2),  # view reads only base + corpus
        ("longtracerl.pipeline.build", "longtracerl.twin.core", f, 3),  # nothing but the CLI imports twin
        ("longtracerl.llm.tokenizers", "longtracerl.train.models", f, 4),  # up
        ("longtracerl.synth.assembly", "longtracerl.config", f, 5),  # down: fine
        ("longtracerl.graph.walk", "longtracerl.graph.store", f, 6),  # same layer: fine
        ("longtracerl.corpus.commands", "longtracerl.pipeline.build", f, 7),  # CLI glue: fine
        ("longtracerl.cli", "longtracerl.twin.commands", f, 8),  # the CLI: fine
        ("longtracerl.pipeline.commands", "longtracerl.twin.dry_run", f, 11),  # a stage's CLI glue: fine
        ("longtracerl.twin.core", "longtracerl.train.models", f, 9),  # twin sits above train: fine
        ("longtracerl.view.model", "longtracerl.corpus.docstore", f, 10),  # fine
    ]
    bad = upward_imports(edges)
    assert [b.split(":")[1] for b in bad] == ["1", "2", "3", "4"], bad
    assert "(base is below synth)" in bad[0] and bad[0].startswith("src/longtracerl/x.py:1: longtracerl.config")
    assert "view imports only base and corpus" in bad[1] and "nothing but the CLI imports twin" in bad[2]
    assert layer_of("longtracerl") == layer_of("longtracerl.io.jsonl") == "base"
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("longtracerl.misc.helpers")


def test_imports_flow_down_the_layers() -> None:
    """base -> corpus -> graph -> llm -> reward -> synth -> view -> pipeline -> eval -> train -> twin -> cli:
    no module imports a higher layer, not even lazily in a function (docs/architecture.md)."""
    edges = import_edges()
    assert len(edges) > 300  # the reader sees the package
    bad = upward_imports(edges)
    assert not bad, "imports running up the layers:\n" + "\n".join(bad)


def test_no_source_file_is_over_600_lines() -> None:
    sizes = {p: len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert len(sizes) > 50
    over = [f"{p.relative_to(SRC.parent.parent)}: {n} lines" for p, n in sorted(sizes.items()) if n > MAX_LINES]
    assert not over, f"source files over {MAX_LINES} lines (split them by job):\n" + "\n".join(over)
