"""The import graph flows one way: no module of the package imports, even lazily inside a function, a
module that imports it back. Read from the source with ``ast`` (every ``import`` statement counts, also the
deferred ones in function bodies; ``if TYPE_CHECKING:`` blocks do not run, so they do not count)."""

from __future__ import annotations

import ast
from pathlib import Path

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


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (the module itself, not the packages above it)."""
    files = {_module(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
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
                    deps.add(t)
        graph[mod] = deps
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
