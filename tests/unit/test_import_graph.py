"""The project's own modules import each other without a cycle (imports inside functions
count too: a late import only hides a cycle), walked from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.paths import REPO_ROOT

PACKAGES = ("chaos", "harness", "invariants", "locustfiles", "target_service")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)
    return {m for m in out if m in modules and m != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that ends where it began), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_project_has_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "harness.stack.heal" in graph["harness.stack.stack"]  # the walk sees real edges
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


#: the harness's top: the CLI and what only it drives (run loop, report, matrix, soak, replay,
#: UI); nothing below may import it
_TOP = ("harness.cli", "harness.commands", "harness.run", "harness.report", "harness.matrix",
        "harness.soak", "harness.replay", "harness.ui")
#: module prefix -> the prefixes it must not import. The layers, bottom up: the contract's
#: formats (the client history and its outcomes) import only each other; the service knows no
#: harness; the stack (processes, Toxiproxy, the one heal) sits below the fault layer; the
#: fault layer, the load and the checkers sit below the harness's top.
BELOW = {"harness.contract": ("harness.stack", "chaos", "invariants", "locustfiles",
                             "target_service", *_TOP),
         "target_service": ("harness", "chaos", "invariants", "locustfiles"),
         "harness.stack": ("chaos", *_TOP),
         "chaos": _TOP,
         # the web UI's Locust-side extension (invariants tab, panel) is part of `harness ui`
         "locustfiles": tuple(p for p in _TOP if p != "harness.ui"),
         "invariants": ("chaos", "locustfiles", *_TOP)}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_layers_import_only_downwards() -> None:
    modules = _modules()
    wrong = sorted(
        f"{name} -> {dep}"
        for name, path in modules.items()
        for low, banned in BELOW.items() if _under(name, low)
        for dep in _imports(name, path, modules) if any(_under(dep, b) for b in banned))
    assert wrong == []


def test_the_layer_check_sees_an_upward_import() -> None:
    """The rule table is live: a checker importing the run loop would be caught."""
    modules = _modules()
    assert any(_under("harness.run.loop", b) for b in BELOW["invariants"])
    assert "harness.contract.history" in _imports(
        "invariants.base", modules["invariants.base"], modules)
