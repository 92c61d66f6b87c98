"""No import cycles in ``aigw_policy``: every ``import`` counts, at module level or inside a
function (a lazy import is still an arrow between two modules).

The graph is read from the source with :mod:`ast`, so nothing is imported to build it;
imports under ``if TYPE_CHECKING:`` are left out (they never run).
``from .pkg import name`` is an arrow to ``pkg.name`` when that is a module, else to ``pkg``.
Every cycle found is reported; the packages listed in :data:`STRICT` must have none.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "aigw_policy"
STRICT = ("aigw_policy",)
"""Packages that must be free of cycles: the whole package (SPEC: no import cycles, lazy
imports included)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _base(module: str, is_package: bool, level: int) -> str:
    parts = module.split(".")
    if not is_package:
        parts.pop()
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)


def _run_time_nodes(tree: ast.AST):
    """Every node, but those under ``if TYPE_CHECKING:`` (imports for the type checker only,
    never run: they cannot take part in an import cycle)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node in _run_time_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _base(mod, is_package, node.level) if node.level else ""
                target = ".".join(p for p in (base, node.module or "") if p)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    targets.append(sub if sub in mods else target)
            for t in targets:
                # `import a.b.c` (or from it): the longest module of ours it names
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _strict(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in STRICT)


def test_graph_sees_lazy_imports() -> None:
    """The walker finds an import inside a function body (the kind that hides cycles)."""
    graph = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert cycles(graph) == [["a", "b"]]
    src = "def f():\n    from .ops import x\n"
    tree = ast.parse(src)
    found = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert found and found[0].module == "ops"


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    report = "\n".join(" <-> ".join(c) for c in found)
    bad = [c for c in found if any(_strict(m) for m in c)]
    print("import cycles in aigw_policy:\n" + (report or "none"))
    assert not bad, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in bad)


def test_cel_knows_nothing_of_the_policy_world() -> None:
    """cel/ is generic: it imports only itself and the diagnostics/source basics (the SPEC §5
    environment lives in env/ and is passed in)."""
    allowed = ("aigw_policy.cel", "aigw_policy.diagnostics", "aigw_policy.source", "aigw_policy.codes")
    graph = import_graph()
    bad = sorted(f"{m} -> {t}" for m, ts in graph.items() if m.startswith("aigw_policy.cel")
                 for t in ts if not any(t == a or t.startswith(a + ".") for a in allowed))
    assert not bad, "cel/ imports outside the generic core:\n" + "\n".join(bad)


def test_modules_are_small() -> None:
    big = sorted(f"{m}: {n} lines" for m, p in _modules().items() if _strict(m)
                 for n in [len(p.read_text(encoding="utf-8").splitlines())] if n > 700)
    assert not big, "modules over 700 lines:\n" + "\n".join(big)
