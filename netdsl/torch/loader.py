"""Run generated source as a module, with its lines in tracebacks: the one way both
`netdsl.build` (netdsl/torch/build.py) and `netdsl.optimize` (netdsl/optimizer/api.py)
turn source into classes. Imports nothing of netdsl, so either may import it."""

from __future__ import annotations

import linecache

__all__ = ["load_module"]


def load_module(code) -> dict:
    """Execute generated source (a GeneratedCode or FlatCode: `.source`, `.filename`) as
    a module and return its namespace; tracebacks show its lines (linecache)."""
    filename = f"<netdsl {code.filename}>"
    linecache.cache[filename] = (len(code.source), None, code.source.splitlines(True), filename)
    namespace: dict = {"__name__": f"netdsl_generated_{abs(hash(code.source)) % 10**8}"}
    exec(compile(code.source, filename, "exec"), namespace)
    return namespace
