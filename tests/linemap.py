"""What the line map of a generated file (GeneratedCode.line_map) must agree with: the
file's `# file:line` comments, and the statements that run the spec's layers."""

from __future__ import annotations

import ast as pyast
import re

COMMENT = re.compile(r"#\s(\S+):(\d+)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _comment_for(lines: list[str], n: int, mapped: dict) -> str | None:
    """The `# file:line` comment a reader takes line n (1-based) to come from: its own
    trailing one, else the nearest above it at its indentation, passing lines of the same
    run (from the same spec line, from none, or more indented)."""
    text = lines[n - 1]
    own = COMMENT.search(text)
    if own and not text.lstrip().startswith("#"):
        return own.group(0)
    key = mapped[n]
    for k in range(n - 1, 0, -1):
        above = lines[k - 1]
        if not above.strip():
            return None
        if _indent(above) > _indent(text):
            continue
        if above.lstrip().startswith("#"):
            return above.strip() if COMMENT.fullmatch(above.strip()) else None
        if k in mapped and mapped[k] != key:
            return None
    return None


def check_line_map(code) -> int:
    """Assert that every mapped line reads as coming from its span, and that every call of
    a layer (`self.x(...)`) in a generated method is mapped; returns how many lines are."""
    lines = code.source.splitlines()
    mapped = {n: (span.file, span.line) for n, span in code.line_map}
    assert mapped, "no line of the file is mapped to the spec"
    for n, (file, line) in mapped.items():
        assert _comment_for(lines, n, mapped) == f"# {file}:{line}", (n, lines[n - 1], file, line)
    for node in pyast.walk(pyast.parse(code.source)):
        if (isinstance(node, pyast.Call) and isinstance(node.func, pyast.Attribute)
                and isinstance(node.func.value, pyast.Name) and node.func.value.id == "self"
                and node.func.attr not in {"register_buffer", "register_parameter", "modules", "named_modules"}):
            assert node.lineno in mapped or _in_runtime(code.source, node.lineno), (node.lineno, lines[node.lineno - 1])
    return len(mapped)


def _in_runtime(source: str, line: int) -> bool:
    """Whether line `line` is in a definition copied from the package (no spec line)."""
    tree = pyast.parse(source)
    for top in tree.body:
        if isinstance(top, (pyast.ClassDef, pyast.FunctionDef)) and top.lineno <= line <= top.end_lineno:
            # a generated class names its spec in its docstring; a copied one does not
            return not re.search(r"\.net[:)]", pyast.get_docstring(top) or "")
    return False
