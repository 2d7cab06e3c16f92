"""The package's imports, read with `ast` (nothing is imported): no import cycles, and
no module imports another netdsl module's private (underscore) names.

The rule for an edge A -> B: every `import` or `from ... import` statement in module A
that names netdsl module B, wherever it stands - module level, inside a function or a
class, under an `if` or a `try`. A function-local ("lazy") import counts like any
other: it still makes A need B at run time, and deferring it only hides a cycle from
the import order, so it does not break one. `from P import name` is an edge to `P.name`
when that is a module, else to `P`; `importlib.import_module("netdsl.x")` with a literal
name is an edge too. Not edges: the implicit import of a package's `__init__` when one
of its submodules is imported (every module would otherwise depend on netdsl/__init__.py,
which imports the API), and module names computed at run time (netdsl/__init__.py's
`__getattr__` loads the PyTorch back end by a name taken from a table)."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported netdsl module
    names: tuple[str, ...]  # the names taken from it (`from target import a, b`), else ()
    where: str  # file:line


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under `package`."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _base(module: str, path: Path, level: int) -> str:
    parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    return ".".join(parts[: len(parts) - (level - 1)])


def imports(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import of a module of `known` in `module`, at any depth of its syntax tree."""
    found = []
    where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, (), f"{where}:{node.lineno}") for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            package = node.module or ""
            if node.level:
                package = ".".join(p for p in (_base(module, path, node.level), node.module) if p)
            for a in node.names:
                if f"{package}.{a.name}" in known:  # `from . import api`: the module netdsl.api
                    found.append(Import(module, f"{package}.{a.name}", (), f"{where}:{node.lineno}"))
                elif package in known:
                    found.append(Import(module, package, (a.name,), f"{where}:{node.lineno}"))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and arg.value in known:
                found.append(Import(module, arg.value, (), f"{where}:{node.lineno}"))
    return found


def import_graph(package: Path) -> dict[str, list[Import]]:
    known = modules(package)
    return {m: [i for i in imports(m, p, known) if i.target != m] for m, p in known.items()}


def cycles(graph: dict[str, list[Import]]) -> list[tuple[list[str], list[Import]]]:
    """For every strongly connected group of modules (Tarjan, iteratively): its modules,
    and one cycle through them (the imports that make it)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, edges = work[-1]
            edge = next(edges, None)
            if edge is not None:
                if edge.target not in index:
                    index[edge.target] = low[edge.target] = len(index)
                    stack.append(edge.target)
                    work.append((edge.target, iter(graph[edge.target])))
                elif edge.target in stack:
                    low[node] = min(low[node], index[edge.target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return [(sorted(group), _cycle_in(graph, group)) for group in groups]


def _cycle_in(graph: dict[str, list[Import]], group: set[str]) -> list[Import]:
    """The shortest path from the group's first module back to itself, inside the group."""
    first = min(group)
    paths: dict[str, list[Import]] = {first: []}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for edge in graph[node]:
                if edge.target == first:
                    return paths[node] + [edge]
                if edge.target in group and edge.target not in paths:
                    paths[edge.target] = paths[node] + [edge]
                    following.append(edge.target)
        frontier = following
    raise AssertionError(f"no cycle in {group}")


def describe(cycle: list[Import]) -> str:
    """`a -> b (a's file:line) -> a (b's file:line)`"""
    return cycle[0].source + "".join(f" -> {i.target} ({i.where})" for i in cycle)


def test_the_package_has_no_import_cycles():
    found = [f"{describe(cycle)}\n  (modules in this cycle group: {', '.join(group)})"
             for group, cycle in cycles(import_graph(ROOT / "netdsl"))]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_no_module_imports_a_private_name_of_another():
    private = [f"{i.where}: {i.source} imports {i.target}.{name}"
               for edges in import_graph(ROOT / "netdsl").values() for i in edges
               for name in (*i.names, *i.target.split(".")) if name.startswith("_") and not name.startswith("__")]
    assert not private, "make the name public in one module (or move it to a module both use):\n" + "\n".join(private)


def test_the_checks_see_lazy_imports_packages_and_import_module(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n\ndef f():\n    from . import c\n")
    (pkg / "c.py").write_text("import importlib\nimportlib.import_module('pkg.sub')\n")
    (pkg / "sub" / "__init__.py").write_text("from .b import _helper\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from ..a import f\n")
    graph = import_graph(pkg)
    assert {m: sorted(i.target for i in e) for m, e in graph.items()} == {
        "pkg": [], "pkg.a": ["pkg.c", "pkg.sub.b"], "pkg.c": ["pkg.sub"], "pkg.sub": ["pkg.sub.b"],
        "pkg.sub.b": ["pkg.a"]}
    # a -> sub.b -> a (lazily), and a -> c (lazily) -> sub (by import_module) -> sub.b -> a: one group
    [(group, cycle)] = cycles(graph)
    assert group == ["pkg.a", "pkg.c", "pkg.sub", "pkg.sub.b"]
    assert describe(cycle) == f"pkg.a -> pkg.sub.b ({pkg}/a.py:1) -> pkg.a ({pkg}/sub/b.py:2)"
    assert graph["pkg.sub"][0].names == ("_helper",)


# ---- the command line: one protocol, and `netdsl check` loads none of the other commands ------
def test_every_subcommand_registers_as_a_command():
    from netdsl.cli import build_parser, commands
    from netdsl.commandline import Command

    registered = commands()
    assert all(isinstance(c, Command) for c in registered)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == [c.name for c in registered] == ["check", "summary", "compare", "render", "compile",
                                                                 "port", "export", "fmt", "lsp"]


def test_check_imports_no_other_command_and_no_torch():
    spec = ROOT / "specs" / "inception_v4.net"
    code = ("import sys; from netdsl.cli import main; rc = main(['check', sys.argv[1]]); "
            "names = ('netdsl.summary.commands', 'netdsl.render.cli', 'netdsl.torch', 'torch'); "
            "loaded = [n for n in names if n in sys.modules]; sys.exit(rc or (str(loaded) if loaded else 0))")
    proc = subprocess.run([sys.executable, "-c", code, str(spec)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
