"""Loading a spec and everything it imports into one :class:`Program`.

Reading is bounded and careful: size limit, UTF-8 with a byte offset on failure, a BOM
is dropped, imports resolve relative to the importing file, cycles are an error, and
an optional root directory confines imports (no absolute paths, `..` or symlinks out)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import codes
from ..diagnostics import Diagnostic, NetdslError, Note, Reporter, SourceMap, Span
from ..syntax import ast, parse
from ..syntax.nesting import MAX_NESTING

__all__ = ["Limits", "Program", "display_path", "load", "load_text", "decode"]


@dataclass(frozen=True)
class Limits:
    """Bounds checked before anything big is built; each has a CLI override."""

    max_file_bytes: int = 10_000_000  # --max-file-size
    max_layers: int = 1_000_000  # --max-layers
    max_params: int = 10_000_000_000  # --max-params
    max_depth: int = 64  # --max-depth: nested block instantiations
    max_expr_nodes: int = 10_000  # --max-expr-size
    max_nesting: int = MAX_NESTING  # --max-nesting: levels of syntax (groups, brackets, operators)

    OVERRIDES = {
        "max_file_bytes": "--max-file-size",
        "max_layers": "--max-layers",
        "max_params": "--max-params",
        "max_depth": "--max-depth",
        "max_expr_nodes": "--max-expr-size",
        "max_nesting": "--max-nesting",
    }


@dataclass
class Program:
    entry: ast.Module
    modules: dict[str, ast.Module] = field(default_factory=dict)
    blocks: dict[str, ast.BlockDecl] = field(default_factory=dict)
    sources: SourceMap = field(default_factory=SourceMap)
    limits: Limits = field(default_factory=Limits)
    # what the front end decided once per syntax node and every later stage reads rather
    # than deciding again (a scope's layer names, a call's arguments by parameter): see
    # naming.scope_names and binding.arguments. Keyed by the node's id, each entry keeps
    # its node alive, so an id is never reused while its entry stands.
    resolved: dict = field(default_factory=dict, repr=False, compare=False)

    def decided(self, kind: str, node, make, *key):
        """What `make()` decides about syntax node `node` (`kind`, and any further `key`),
        made on the first ask and the same object on every later one."""
        slot = (kind, id(node), *key)
        hit = self.resolved.get(slot)
        if hit is None or hit[0] is not node:
            self.resolved[slot] = hit = (node, make())
        return hit[1]

    @property
    def network(self) -> ast.BlockDecl | None:
        return self.entry.networks[0] if self.entry.networks else None


def decode(data: bytes, file: str) -> str:
    """Bytes -> text; invalid UTF-8 is a diagnostic that gives the byte offset."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        msg = f"the file is not valid UTF-8: byte 0x{data[err.start]:02x} at offset {err.start}"
        raise NetdslError([Diagnostic(codes.ENCODING, msg, Span(file, line, col, line, col + 1))]) from None
    if "\x00" in text:
        off = text.index("\x00")
        line = text.count("\n", 0, off) + 1
        col = off - (text.rfind("\n", 0, off) + 1) + 1
        raise NetdslError([Diagnostic(codes.ENCODING, f"the file contains a NUL byte at offset {off}; is it a binary file?",
                                      Span(file, line, col, line, col + 1))])
    return text


def _read(path: Path, shown: str, limits: Limits, span: Span | None) -> str:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError(str(path))
        if size > limits.max_file_bytes:
            raise NetdslError([Diagnostic(
                codes.LIMIT, f"{shown} is {size:,} bytes, over the limit of {limits.max_file_bytes:,} "
                f"(raise it with {Limits.OVERRIDES['max_file_bytes']})", span)])
        data = path.read_bytes()
    except NetdslError:
        raise
    except FileNotFoundError:
        raise NetdslError([Diagnostic(codes.IO, f"cannot read {shown}: no such file", span)]) from None
    except IsADirectoryError:
        raise NetdslError([Diagnostic(codes.IO, f"cannot read {shown}: it is a directory", span)]) from None
    except OSError as err:
        raise NetdslError([Diagnostic(codes.IO, f"cannot read {shown}: {err.strerror or err}", span)]) from None
    return decode(data, shown)


def display_path(path: str | os.PathLike) -> str:
    """A path as every report prints it: relative to the working directory when the file
    is under it, absolute otherwise (never `../../x.net`)."""
    absolute = Path(os.path.normpath(Path(path).absolute()))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)



def load(path: str | os.PathLike, limits: Limits = Limits(), root: str | os.PathLike | None = None) -> Program:
    """Read, parse and resolve the imports of the spec at `path`."""
    p = Path(path)
    shown = display_path(path)
    text = _read(p, shown, limits, None)
    return load_text(text, shown, limits, root, base=p.resolve().parent, _self=p.resolve())


def load_text(text: str, file: str = "<string>", limits: Limits = Limits(), root=None, base: Path | None = None,
              _self: Path | None = None) -> Program:
    """Parse spec text (imports resolve relative to `base`, default the working directory)."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_file_bytes:
        raise NetdslError([Diagnostic(codes.LIMIT, f"{file} is over the size limit of {limits.max_file_bytes:,} bytes "
                                      f"(raise it with {Limits.OVERRIDES['max_file_bytes']})", None)])
    sources = SourceMap({file: text})
    entry = parse(text, file, limits.max_nesting)
    program = Program(entry, {file: entry}, {}, sources, limits)
    reporter = Reporter()
    root_dir = Path(root).resolve() if root is not None else None
    _resolve(program, entry, base or Path.cwd(), [_self] if _self else [], reporter, root_dir)
    _collect_blocks(program, reporter)
    if len(entry.networks) > 1:
        extra = entry.networks[1]
        reporter.error(codes.DUPLICATE_NETWORK, f"a file may hold one network; '{extra.name}' is the second", extra.span,
                       [Note(f"the first is '{entry.networks[0].name}'", entry.networks[0].span)])
    reporter.raise_if_errors()
    return program


def _confined(target: Path, root: Path | None) -> bool:
    if root is None:
        return True
    try:
        target.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def _resolve(program: Program, module: ast.Module, base: Path, stack: list[Path], reporter: Reporter, root) -> None:
    for imp in module.imports:
        if "\x00" in imp.path:
            reporter.error(codes.IO, f"cannot import {imp.path!r}: a file name cannot contain a NUL character", imp.span)
            continue
        if root is not None and (os.path.isabs(imp.path) or not _confined(base / imp.path, root)):
            reporter.error(codes.IMPORT_OUTSIDE_ROOT, f"import \"{imp.path}\" leaves the allowed root {root}", imp.span)
            continue
        target = (base / imp.path).resolve()
        if target in stack:
            chain = " -> ".join(display_path(p) for p in [*stack[stack.index(target):], target])
            reporter.error(codes.IMPORT_CYCLE, f"import cycle: {chain}", imp.span)
            continue
        shown = display_path(target)
        if shown in program.modules:
            continue
        try:
            text = _read(target, shown, program.limits, imp.span)
            program.sources[shown] = text
            sub = parse(text, shown, program.limits.max_nesting)
        except NetdslError as err:
            reporter.diagnostics.extend(err.diagnostics)
            continue
        program.modules[shown] = sub
        _resolve(program, sub, target.parent, [*stack, target], reporter, root)


def _collect_blocks(program: Program, reporter: Reporter) -> None:
    from ..ops import OPS

    for module in program.modules.values():
        for block in module.blocks:
            if block.name in OPS:
                reporter.error(codes.DUPLICATE_NAME, f"block '{block.name}' has the name of a builtin op", block.span)
                continue
            if block.name in program.blocks:
                first = program.blocks[block.name]
                if first.span.file != block.span.file or first != block:
                    reporter.error(codes.DUPLICATE_NAME, f"block '{block.name}' is defined twice", block.span,
                                   [Note("first defined here", first.span)])
                continue
            program.blocks[block.name] = block
