"""The package's rooms, read from its import statements (every one, inside functions too; the
``if TYPE_CHECKING:`` blocks aside, they never run): the edge rooms (``cli/``, ``gateway/``,
``limits/`` and the top-level modules) are in no import cycle, nothing below them reaches back
up to them, the command line is one package, and the version has one home."""

from __future__ import annotations

import ast
from pathlib import Path

from test_import_cycles import cycles  # the one Tarjan walk of the suite

PACKAGE = Path(__file__).resolve().parents[2] / "aigw_policy"
EDGE = ("aigw_policy.cli", "aigw_policy.gateway", "aigw_policy.limits")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_only(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for s in node.body for n in ast.walk(s))
    return skip


def _imports(module: str) -> list[tuple[str, str | None]]:
    """(module imported, name imported from it or None) for each run-time import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.extend((a.name, None) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.extend((base, a.name) for a in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a submodule import counts its packages, not
    the module's own ancestors: those are imported before it anyway)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets: set[str] = set()
        for base, name in _imports(module):
            for candidate in ([f"{base}.{name}"] if name else []) + [base]:
                if candidate in MODULES:
                    parts = candidate.split(".")
                    targets.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
                    break
        graph[module] = {t for t in targets if t in MODULES and t != module and not module.startswith(t + ".")}
    return graph


def _is_edge(module: str) -> bool:
    return module.startswith(EDGE) or MODULES[module].parent == PACKAGE  # or a top-level module


def test_the_graph_sees_imports_inside_functions() -> None:
    # gateway/app.py builds the middleware; cli/serve.py imports the gateway inside `serve`
    graph = _graph()
    assert "aigw_policy.gateway.middleware" in graph["aigw_policy.gateway.app"]
    assert "aigw_policy.gateway.app" in graph["aigw_policy.cli.serve"]


def test_no_import_cycle_through_the_edge_rooms() -> None:
    found = [sorted(c) for c in cycles(_graph()) if any(_is_edge(m) for m in c)]
    assert found == []


# names kept for embedders (documented public aliases, nothing in the package imports them)
PUBLIC_ALIASES = {"aigw_policy.asgi", "aigw_policy.stores"}


def test_nothing_below_the_cli_and_the_gateway_imports_them() -> None:
    upward = sorted(
        (module, target)
        for module, targets in _graph().items()
        for target in targets
        if (target.startswith("aigw_policy.cli") and not module.startswith("aigw_policy.cli"))
        or (target.startswith("aigw_policy.gateway")
            and not module.startswith(("aigw_policy.gateway", "aigw_policy.cli"))
            and module not in PUBLIC_ALIASES)
    )
    assert upward == []


def test_the_command_line_is_one_package() -> None:
    outside = sorted(m for m in MODULES if not m.startswith("aigw_policy.cli")
                     and any(base.split(".")[0] == "typer" for base, _ in _imports(m)))
    assert outside == []


def test_the_version_has_one_home() -> None:
    defines = sorted(m for m, path in MODULES.items() if "\n__version__ =" in path.read_text(encoding="utf-8"))
    assert defines == ["aigw_policy._version"]
    # below the package root, a name comes from its own module, never from the root's __init__
    from_root = sorted((m, name) for m in MODULES if m != "aigw_policy"
                       for base, name in _imports(m)
                       if base == "aigw_policy" and name is not None and f"aigw_policy.{name}" not in MODULES)
    assert from_root == []


def test_nothing_in_the_package_imports_a_public_alias() -> None:
    users = sorted((module, target) for module, targets in _graph().items() for target in targets
                   if target in PUBLIC_ALIASES and module != target)
    assert users == []


def test_the_aliases_name_the_same_objects() -> None:
    from aigw_policy import asgi
    from aigw_policy.gateway import middleware

    assert asgi.PolicyMiddleware is middleware.PolicyMiddleware
