"""Spec -> standalone PyTorch source: one nn.Module class per block used (constructor
arguments: `in_channels` and the block's parameters), one class for the network.

Blocks are generated from their syntax tree with their parameters symbolic, so a class
serves every instantiation; the network is generated with its parameters fixed (the
values it was checked with). Layers are named through :mod:`netdsl.ir.naming`, so the
module's state_dict keys are the graph's layer names. Every statement carries a
`# file:line` comment pointing back at the spec."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import codes
from ..diagnostics import Diagnostic, NetdslError, Span
from ..init import init_lines, layer_init_lines
from ..ir.binding import arguments, residual_call
from ..ir.elaborate import IN_CHANNELS
from ..ir.expr import Bound, EvalError, evaluate
from ..ir.graph import Graph
from ..ir.naming import Names, concat_base, scope_names, single_call
from ..ir.program import Program
from ..ops import OPS, Input, op_of
from ..ops.base import REQUIRED, UNKNOWN, Lowered, ShapeError
from ..shapes import shapes_at
from ..syntax import ast
from ..syntax.nesting import walk
from ..values import BOOL, FLOAT
from .emit import BUILTINS, FILE_NAMES, KEYWORDS, GeneratedCode, Namespace, Writer, assemble, lowered_arguments
from .pyexpr import fold, free_names, from_py, literal, subst, to_py
from .pyformat import WIDTH, layout_keyword, layout_parameter
from .pyformat import inert as _inert
from .sources import definitions, runtime_used

__all__ = ["generate", "GeneratedCode"]

# One namespace per generated class. Names a spec identifier cannot have in Python (it
# gets a trailing `_`): keywords, builtins, what the file imports, the constructor's and
# forward's fixed arguments, and the variables of the `init` loop (netdsl/init.py).
_RESERVED = KEYWORDS | BUILTINS | FILE_NAMES | {"in_channels", "x", "_", "module", "fan_out", "bound"}
_AMBIGUOUS = {"l", "O", "I"}  # fine as parameters; as assigned locals ruff's E741 rejects them
_METHOD_BODY = 8  # the indentation of a generated method's statements


class CodegenError(Exception):
    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message, self.span = message, span



def _reserved(name: str) -> bool:
    return name in _RESERVED


def py_name(name: str) -> str:
    """A spec identifier (a parameter) as a Python name that shadows nothing the
    generated code uses. Reserved names get a trailing `_`, and so do names that already
    end in one, so two spec names never become the same Python name; the generator's own
    variables are renamed instead (`_Scope.own`)."""
    return name + "_" if name in _RESERVED or name.endswith("_") else name


def _value_name(name: str) -> str:
    """A spec value (`v = ...`) as the local forward assigns."""
    return name + "_" if name in _AMBIGUOUS else py_name(name)


def _parts(stmts: tuple):
    """The statements and step kinds of a body, nested ones included (not into blocks);
    a statement this walk does not know is walked whole."""
    stack = list(stmts)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.ChainStmt, ast.AssignStmt)):
            stack += [s.kind for s in node.chain.steps]
        elif isinstance(node, ast.IfStmt):
            stack += [s for _, body in node.arms for s in body] + list(node.otherwise)
        elif isinstance(node, ast.Residual):
            stack += [*node.body, *(node.shortcut or ())]
        elif isinstance(node, ast.Repeat):
            stack += list(node.body)
        elif isinstance(node, ast.Concat):
            stack += [s.kind for br in node.branches for s in br.chain.steps]
        elif not isinstance(node, (ast.Call, ast.InputStmt, ast.OutputStmt, ast.InitStmt)):
            yield from walk(node)


def _expressions(part) -> list[ast.Expr]:
    """The expressions a statement or step kind evaluates itself (not its body's)."""
    if isinstance(part, (ast.Call, ast.Residual, ast.InitStmt)):
        return [a.value for a in part.args]
    if isinstance(part, ast.Repeat):
        return [part.count]
    if isinstance(part, ast.IfStmt):
        return [c for c, _ in part.arms]
    if isinstance(part, ast.InputStmt):
        return list(part.dims)
    return []


def _spec_names(decl: ast.BlockDecl) -> set[str]:
    """The Python names a class takes from its spec: parameters and values."""
    values = {n.name for n in _parts(decl.body) if isinstance(n, ast.AssignStmt)}
    return {py_name(p.name) for p in decl.params} | {_value_name(v) for v in values}


@dataclass
class _BlockInfo:
    decl: ast.BlockDecl
    class_name: str
    out_channels: ast.Expr  # over Python parameter names and `in_channels`
    source: Writer


@dataclass
class _Value:
    var: str  # Python variable in forward
    channels: ast.Expr
    # a tensor this code made (conv, batchnorm, ...) that nothing else will read: a ReLU
    # right after it may work in place, as torchvision's and timm's do
    fresh: bool = False




def _inplace(name: str) -> bool:
    """An op with an in-place form (a ReLU), used right after a fresh tensor."""
    op = OPS.get(name)
    return op is not None and bool(op.inplace_module)


def _fresh(name: str) -> bool:
    """An op whose output is a new tensor (conv, batch norm, ...)."""
    op = OPS.get(name)
    return op is not None and op.fresh_output


def _shared(value: _Value) -> _Value:
    """The same value, read by more than the next step (a shortcut, branches, a name)."""
    return replace(value, fresh=False) if value.fresh else value


@dataclass
class _Made:
    """What a call lowers to: a module's constructor source, or (`module` None) an
    expression forward computes from its input's variable."""

    module: str | None
    forward: Callable[[str], str] | None = None


@dataclass
class _Scope:
    """One class body being written: its __init__ and forward statements."""

    env: dict[str, ast.Expr]  # spec parameter -> expression over Python names
    init: Writer = field(default_factory=Writer)
    fwd: Writer = field(default_factory=Writer)
    # forward's and __init__'s local names: the spec's, claimed first, then the generator's
    namespace: Namespace = field(default_factory=lambda: Namespace(_reserved))
    stored: dict[str, str] = field(default_factory=dict)  # parameters forward needs: name -> attribute
    loop_vars: dict[str, str] = field(default_factory=dict)  # a row item's spec name -> its Python name (reusable)
    spec: set[str] = field(default_factory=set)  # the class's names from the spec (_spec_names)
    layers: frozenset[str] = frozenset()  # the attributes __init__ makes for the class's layers
    # the generator's loop variables, by (base, repeat depth): one name per depth, from the
    # class's namespace, reused by every loop at that depth
    loops: dict[tuple[str, int], str] = field(default_factory=dict)

    def inner(self) -> _Scope:
        """The scope of a loop's body: its own statements, the class's names."""
        return _Scope(dict(self.env), stored=self.stored, spec=self.spec, layers=self.layers, loops=self.loops)

    @contextmanager
    def indented(self):
        with self.init.indented(), self.fwd.indented():
            yield

    def store(self, name: str) -> str:
        """The attribute a constructor parameter that forward reads is kept in: its own
        name, unless a layer has it (`stride_`)."""
        if name not in self.stored:
            attr = name
            while attr in self.layers or attr == "out_channels" or attr in self.stored.values():
                attr += "_"
            self.stored[name] = attr
        return self.stored[name]

    def own(self, base: str, depth: int, role: str = "") -> str:
        """A loop variable of the generator at repeat depth `depth` (`block`, then `block2`
        one level down): a name of the class's namespace, so it gives way to the spec's
        names and to forward's variables, and they to it. `role` keeps apart variables
        that start from the same base (a repeat's index named `block`, the loop's `block`)."""
        key = (role or base, depth)
        if key not in self.loops:
            self.loops[key] = self.namespace.create(base)
        return self.loops[key]

    def index(self, name: str, depth: int) -> str:
        """The Python name of a repeat's or for loop's index: the spec's (`as j`), unless a
        parameter, a value or another of the generator's names has it (then `j2`)."""
        return self.own(_value_name(name), depth, f"index {name}")

    def var(self, hint: str) -> str:
        return self.namespace.create(hint)


@dataclass(frozen=True)
class _At:
    """Where the statements being written go: the class body (`scope`), the layer names of
    the spec's scope they belong to, the attribute prefix of their modules (`self.`,
    `block.`, `self.b1.`) and the named values they may read (which the scope's own
    assignments add to)."""

    scope: _Scope
    names: Names
    prefix: str
    values: dict[str, _Value] = field(default_factory=dict)

    def inside(self, attr: str, names: Names | None = None) -> _At:
        """The statements of a container the scope's attribute `attr` holds (a shortcut, a
        gate's body, a branch), with its own names where it is a spec scope of its own."""
        return replace(self, names=self.names if names is None else names, prefix=f"{self.prefix}{attr}.")

    def nested(self) -> _At:
        """A body whose values are its own (a residual's, a loop's): it reads the enclosing ones."""
        return replace(self, values=dict(self.values))


class _Generator:
    def __init__(self, program: Program, graph: Graph):
        self.program = program
        self.graph = graph
        self.blocks: dict[str, _BlockInfo] = {}
        self.order: list[str] = []
        self.flat_sizes = _flatten_sizes(graph)
        self.ranks = {n.span: len(graph.nodes[n.inputs[0]].shape)
                      for n in graph.nodes if n.inputs and graph.nodes[n.inputs[0]].shape}
        self.uses_ordered_dict = False
        self.network_scope: _Scope | None = None
        self.train_only: set[str] = set()
        self.depth = 0  # how many generated repeat loops enclose the code being written
        self.loop_names: set[str] = set()  # Python names a generated loop binds (`i`, a for loop's row items)
        self.loop_names_read: set[str] = set()  # those that forward reads (its loop must bind them too)
        self.in_ch: ast.Expr | None = None  # what `in_channels` means in the step being written
        self.loop_channels: dict[str, str] = {}  # a loop body's input-channels variable -> its container's name
        self.loop_channels_read: set[str] = set()  # containers whose forward reads their input width
        self.names_read: set[str] = set()  # the names of the expressions written so far in loops (src)
        self.class_reads: set[str] = set()  # the names the class being written reads so far (src)
        # Python names of the values (`v = ...`) of the scopes enclosing the body being
        # written, and of its own scope: forward is one Python scope for them all
        self.enclosing_values: frozenset[str] = frozenset()
        self.own_values: set[str] = set()

    # -- expressions ----------------------------------------------------------------------
    def expr(self, e: ast.Expr, scope: _Scope) -> ast.Expr:
        if self.in_ch is not None and IN_CHANNELS not in scope.env and IN_CHANNELS in free_names(e):
            return fold(subst(e, {**scope.env, IN_CHANNELS: self.in_ch}))  # the channels flowing in, as known here
        return fold(subst(e, scope.env))

    def src(self, e: ast.Expr) -> str:
        """The Python source of an expression the generated code reads (inside a loop its
        names are recorded: a loop drops the width variable its body never reads)."""
        self.read(free_names(e))
        return to_py(e)

    def read(self, names: set[str]) -> None:
        """Record names the code being written reads."""
        self.class_reads.update(names)
        if self.depth:
            self.names_read.update(names)

    def lowered(self, e: ast.Expr) -> Lowered:
        return Lowered(self.src(e), e.value if isinstance(e, ast.Literal) else UNKNOWN)

    def bind(self, params, call: ast.Call, scope: _Scope) -> dict[str, ast.Expr]:
        """Arguments of a call as expressions over the caller's Python names."""
        given = arguments(self.program, [p.name for p in params], call).given
        return {k: self.expr(a.value, scope) for k, a in given.items()}

    # -- blocks ---------------------------------------------------------------------------
    def block(self, name: str) -> _BlockInfo:
        if name in self.blocks:
            return self.blocks[name]
        decl = self.program.blocks[name]
        outer_loops, self.loop_names = self.loop_names, set()  # a class of its own: no enclosing loop binds names
        outer_in_ch, outer_channels, self.loop_channels = self.in_ch, self.loop_channels, {}
        outer_values = self.enclosing_values, self.own_values, self.class_reads
        self.enclosing_values, self.own_values, self.class_reads = frozenset(), set(), set()  # nor values
        try:
            return self.block_class(name, decl)
        finally:
            self.loop_names, self.in_ch, self.loop_channels = outer_loops, outer_in_ch, outer_channels
            self.enclosing_values, self.own_values, self.class_reads = outer_values

    def block_class(self, name: str, decl: ast.BlockDecl) -> _BlockInfo:
        params = {p.name: ast.Name(py_name(p.name)) for p in decl.params}
        names = scope_names(self.program, decl.body)
        scope = _Scope(dict(params), spec=_spec_names(decl), layers=names.modules())
        for spec_name in sorted(scope.spec | {py_name(p.name) for p in decl.params}):
            scope.namespace.claim(spec_name)
        start = _Value("x", ast.Name("in_channels"))
        out = self.body(decl.body, _At(scope, names, "self."), start)
        info = _BlockInfo(decl, _class_name(name), fold(out.channels), Writer())
        info.source = self.class_source(info.class_name, decl, scope, out, self.signature(decl))
        self.blocks[name] = info
        self.order.append(name)
        return info

    def signature(self, decl: ast.BlockDecl, checked: dict | None = None) -> tuple[list[str], list[str]]:
        """A block's constructor parameters (`in_channels` first), or with `checked`
        (the values the graph was checked with) the network's, whose constant defaults
        are those values (so `--set` bakes them in)."""
        parts, prologue = (["self"] if checked is not None else ["self", "in_channels: int"]), []
        for p in decl.params:
            name = py_name(p.name)
            hint = _TYPE_HINTS.get(getattr(p.type, "name", ""), "")
            annotation = f": {hint}" if hint else ""
            if checked is not None and (p.default is None or not free_names(p.default)):
                eq = " = " if annotation else "="
                parts.append(f"{name}{annotation}{eq}{self.src(literal(checked[p.name]))}")
            elif p.default is None:
                parts.append(f"{name}{annotation}")
            elif not free_names(p.default):
                eq = " = " if annotation else "="
                parts.append(f"{name}{annotation}{eq}{self.src(fold(p.default))}")
            else:
                env = {q.name: ast.Name(py_name(q.name)) for q in decl.params}
                parts.append(f"{name}{annotation} | None = None" if hint else f"{name}=None")
                prologue.append(f"if {name} is None:")
                noqa = "  # noqa: E741" if name in _AMBIGUOUS else ""  # the spec's name, kept
                prologue.append(f"    {name} = {self.src(fold(subst(p.default, env)))}{noqa}")
        return parts, prologue

    def class_source(self, class_name: str, decl: ast.BlockDecl, scope: _Scope, out: _Value,
                     signature: tuple[list[str], list[str]], network: bool = False,
                     returns: list[str] | None = None) -> Writer:
        parts, prologue = signature
        w = Writer()
        w.line(f"class {class_name}(nn.Module):")
        with w.indented():
            w.line(f'"""{decl.name} ({_inert(decl.span.file)}:{decl.span.line})."""')
            w.blank()
            header = f"def __init__({', '.join(parts)}):"
            if len(header) + w.indent > WIDTH:
                params = "".join(f"{layout_parameter(p, ' ' * (w.indent + 4))},\n" for p in parts)
                w.verbatim("\n".join(ln[w.indent:] for ln in f"{' ' * w.indent}def __init__(\n{params}{' ' * w.indent}):".split("\n")))
            else:
                w.line(header)
            with w.indented():
                w.line("super().__init__()")
                for text in prologue:
                    w.line(text)
                for p, attr in scope.stored.items():
                    w.line(f"self.{attr} = {p}")
                w.extend(scope.init, by=w.indent)
                if not network:
                    w.line(f"self.out_channels = {self.src(fold(out.channels))}")
                w.drop_unread(self.class_reads)  # a loop's channels that nothing after it reads
            w.blank()
            w.line("def forward(self, x):")
            with w.indented():
                w.extend(scope.fwd, by=w.indent)
                for text in returns or [f"return {out.var}"]:
                    w.line(text)
        return w

    # -- statements -------------------------------------------------------------------------
    def body(self, stmts, at: _At, cur: _Value, var: str = "x") -> _Value:
        """Statements; unnamed results go to the Python variable `var`."""
        for stmt in stmts:
            cur = self.statement(stmt, at, cur, var)
        return cur

    def nested_body(self, stmts, at: _At, cur: _Value, var: str) -> _Value:
        """The statements of a residual's body or shortcut, a gate's body or a loop's body:
        a scope of its own in the spec, but not in forward, so a value it names like one of
        an enclosing scope (which later statements may still read) gets a name of its own."""
        outer = self.enclosing_values, self.own_values
        self.enclosing_values, self.own_values = self.enclosing_values | self.own_values, set()
        try:
            return self.body(stmts, at.nested(), cur, var)
        finally:
            self.enclosing_values, self.own_values = outer

    def statement(self, stmt, at: _At, cur: _Value, var: str = "x") -> _Value:
        if isinstance(stmt, ast.ChainStmt):
            return self.chain(stmt.chain, at, cur, var)
        if isinstance(stmt, ast.AssignStmt):
            scope = at.scope
            target = _value_name(stmt.name)
            if target in self.enclosing_values:  # an enclosing scope's value of that name
                target = scope.namespace.create(target)
            else:
                scope.namespace.claim(target)
            self.own_values.add(target)
            scope.loop_vars = {k: v for k, v in scope.loop_vars.items() if v != target}  # a value: no loop may reuse it
            mark = scope.fwd.mark()
            result = _shared(self.chain(stmt.chain, at, cur, target))
            at.values[stmt.name] = result
            if scope is self.network_scope and stmt.name in self.train_only:
                # an auxiliary head: computed only when training, when it is returned
                scope.fwd.nest(mark, "if self.training:")
            return result
        if isinstance(stmt, ast.IfStmt):
            return self.if_statement(stmt, at, cur, var)
        if isinstance(stmt, ast.InputStmt):
            return cur
        return cur  # OutputStmt: handled by the network

    def if_statement(self, stmt: ast.IfStmt, at: _At, cur: _Value, var: str = "x") -> _Value:
        scope = at.scope
        cur = _shared(cur)
        self.in_ch = cur.channels
        arms = [(self.expr(c, scope), body) for c, body in stmt.arms] + [(literal(True), stmt.otherwise)]
        live = []
        for cond, body in arms:  # drop arms decided at generation time
            if isinstance(cond, ast.Literal) and not cond.value:
                continue
            live.append((cond, body))
            if isinstance(cond, ast.Literal):
                break
        if len(live) == 1 and isinstance(live[0][0], ast.Literal):
            return self.body(live[0][1], at, cur, var)
        if isinstance(live[-1][0], ast.Literal) and not live[-1][1]:
            live.pop()  # an empty `else` says nothing
        outs: list[tuple[ast.Expr, ast.Expr]] = []
        for k, (cond, body) in enumerate(live):
            final = isinstance(cond, ast.Literal)
            keyword = "else:" if final else ("if" if k == 0 else "elif")
            init_head = keyword if final else f"{keyword} {self.src(cond)}:"
            fwd_head = keyword if final else f"{keyword} {self.src(self.forward_expr(cond, scope))}:"
            if k == 0:
                self.emit(scope, stmt.span, init_head, fwd_head)
            else:
                scope.init.line(init_head)
                scope.fwd.line(fwd_head)
            marks = (scope.init.mark(), scope.fwd.mark())
            with scope.indented():
                out = self.body(body, at, cur, var)
                if out.var != var:
                    self.emit(scope, stmt.span, fwd=f"{var} = {out.var}")
                for writer, mark in zip((scope.init, scope.fwd), marks):
                    if not writer.written_since(mark):
                        writer.line("pass")
            outs.append((cond, out.channels))
        final = isinstance(live[-1][0], ast.Literal)
        if not final and var != cur.var:  # no arm taken: the input passes through
            scope.fwd.line(f"else:\n    {var} = {cur.var}")
        channels = outs.pop()[1] if final else cur.channels
        for cond, ch in reversed(outs):
            channels = ast.Conditional(ch, cond, channels)
        return _Value(var, fold(channels))

    def forward_expr(self, expr: ast.Expr, scope: _Scope) -> ast.Expr:
        """An expression over constructor parameters, as forward reads it (self.<param>)."""
        env = {}
        for name in sorted(free_names(expr)):
            if name in self.loop_names:  # bound by the loop forward runs too, not a constructor parameter
                self.loop_names_read.add(name)
                continue
            if name in self.loop_channels:  # an iteration's input width (`in_channels` in a loop body)
                block = self.loop_channels[name]
                self.loop_channels_read.add(block)
                env[name] = ast.Name(f"{block}.in_channels")
                continue
            env[name] = ast.Name(f"self.{scope.store(name)}")
        return subst(expr, env)

    def emit(self, scope: _Scope, span: Span, init: str | None = None, fwd: str | None = None) -> None:
        """Add a statement (maybe compound) to __init__ and/or forward, from `span` of the spec."""
        if init is not None:
            scope.init.line(init, span)
        if fwd is not None:
            scope.fwd.line(fwd, span)

    def chain(self, chain: ast.Chain, at: _At, cur: _Value, target: str) -> _Value:
        steps = chain.steps
        first = steps[0]
        if first.label is None and isinstance(first.kind, ast.Call) and not first.kind.has_parens and first.kind.name in at.values:
            cur = at.values[first.kind.name]
            steps = steps[1:]
            if not steps:
                return cur
        for step in steps:
            cur = self.step(step, at, cur, target)
        return cur

    def step(self, step: ast.Step, at: _At, cur: _Value, target: str) -> _Value:
        kind = step.kind
        self.in_ch = cur.channels
        if isinstance(kind, ast.Call):
            if OPS.get(kind.name) is not None and OPS[kind.name].multi_input:
                return self.merge(kind, at, target)
            scope, prefix, attr = at.scope, at.prefix, at.names.local(kind)
            inplace = cur.fresh and _inplace(kind.name)
            made, channels = self.module_for(kind, scope, cur.channels, inplace)
            if made.module is None:  # an op computed in forward, with no module
                self.emit(scope, step.span, fwd=f"{target} = {made.forward(cur.var)}")
                return _Value(target, channels)
            self.emit(scope, step.span, f"{prefix}{attr} = {made.module}", f"{target} = {prefix}{attr}({cur.var})")
            if channels == _OPAQUE:
                channels = ast.Name(f"{prefix}{attr}.out_channels")
            # after an in-place op autograd holds the tensor (a ReLU's backward reads its output): not fresh
            return _Value(target, channels, fresh=_fresh(kind.name))
        if isinstance(kind, ast.Concat):
            return self.concat(kind, step.label, at, cur, target)
        if isinstance(kind, ast.Residual):
            return self.residual(kind, at, cur, target)
        if isinstance(kind, ast.ForLoop):
            return self.for_loop(kind, at, cur, target)
        if isinstance(kind, ast.Gate):
            return self.gate(kind, at, cur, target)
        return self.repeat(kind, at, cur, target)

    def module_for(self, call: ast.Call, scope: _Scope, in_ch: ast.Expr, inplace: bool = False) -> tuple[_Made, ast.Expr]:
        """Constructor source and output channels of one op or block call (`inplace`: an
        activation that may overwrite its input)."""
        self.in_ch = in_ch
        op = OPS.get(call.name)
        if op is not None:
            args = self.bind(op.params, call, scope)
            flat = self.flat_sizes.get(call.span)
            if op.flattens and flat is None:
                raise CodegenError("`flatten` sees different feature-map sizes in different instances of this "
                                   "block; the PyTorch back end needs one", call.span)
            def lower(args: dict[str, ast.Expr]) -> dict[str, Lowered]:
                return lowered_arguments(op, {k: self.lowered(v) for k, v in args.items()}, self.ranks.get(call.span, 3),
                                         Lowered(self.src(flat), UNKNOWN) if op.flattens else None,  # over op_channels' placeholder
                                         {"inplace": True} if inplace else None)

            low = lower(args)
            try:
                src = op.torch_module(low, self.src(in_ch) if op.module_reads_channels else to_py(in_ch))
            except ShapeError as err:  # e.g. a kernel of 0 in a body the front end never elaborated
                raise CodegenError(f"{call.name}: {err}", call.span) from None
            if src is None:  # forward computes it, reading the constructor's parameters as attributes
                forward = lower({k: self.forward_expr(v, scope) for k, v in args.items()})
                return _Made(None, lambda x: op.torch_expr(forward, [x])), self.op_channels(op, low, [in_ch])
            return _Made(src), self.op_channels(op, low, [in_ch])
        info = self.block(call.name)
        self.in_ch = in_ch  # writing the block's class used it
        given = arguments(self.program, [p.name for p in info.decl.params], call).given
        args = {k: self.expr(a.value, scope) for k, a in given.items()}
        parts = [self.src(in_ch)]  # as the spec writes them: positional, then by keyword
        parts += [self.src(args[k]) if a.name is None else f"{py_name(k)}={self.src(args[k])}" for k, a in given.items()]
        return _Made(f"{info.class_name}({', '.join(parts)})"), self.block_channels(info, args, in_ch)

    def op_channels(self, op, low: dict, inputs: list[ast.Expr]) -> ast.Expr:
        """An op's output channels: its formula over placeholder inputs, read back as an
        expression, with the inputs' own channel expressions substituted in."""
        holders = [f"input{k}_" for k in range(len(inputs))]
        formula = from_py(op.out_channels(low, holders))
        return fold(formula, dict(zip(holders, inputs)))

    def block_channels(self, info: _BlockInfo, args: dict[str, ast.Expr], in_ch: ast.Expr) -> ast.Expr:
        params = [(p, py_name(p.name)) for p in info.decl.params]
        if _opaque(info.out_channels) or not free_names(info.out_channels) <= {"in_channels", *(py for _, py in params)}:
            return _OPAQUE  # known only to the built module: the caller reads .out_channels
        env: dict[str, ast.Expr] = {"in_channels": in_ch}
        spec_env: dict[str, ast.Expr] = {p.name: ast.Name(p.name) for p, _ in params}  # a default reads the ones before it
        spec_env[IN_CHANNELS] = in_ch
        for p, py in params:
            if p.name in args:
                env[py] = spec_env[p.name] = args[p.name]
            elif p.default is not None:
                env[py] = spec_env[p.name] = fold(p.default, spec_env)
        channels = fold(info.out_channels, env)
        # a formula that would not read well in the caller (MobileNet's rounded alpha * N):
        # the built module knows it
        return channels if len(self.src(channels)) <= 40 else _OPAQUE

    def merge(self, call: ast.Call, at: _At, target: str) -> _Value:
        op = OPS[call.name]
        inputs = [at.values[a.value.name] for a in call.args]
        self.emit(at.scope, call.span, fwd=f"{target} = {op.torch_expr({}, [v.var for v in inputs])}")
        return _Value(target, self.op_channels(op, {}, [v.channels for v in inputs]))

    def concat(self, group: ast.Concat, label: str | None, at: _At, cur: _Value, target: str) -> _Value:
        scope, names, prefix = at.scope, at.names, at.prefix
        base = concat_base(names, group, label)
        if base != names.path:
            self.emit(scope, group.span, init=f"{prefix}{_relative(base, names.path)} = nn.Module()")
        outs = []
        for br in group.branches:
            bname = names.local(br)
            attr = _relative(f"{base}.{bname}" if base else bname, names.path)
            outs.append(self.branch(br, attr, at, cur))
        self.emit(scope, group.span, fwd=f"{target} = torch.cat([{', '.join(o.var for o in outs)}], 1)")
        channels = outs[0].channels
        for o in outs[1:]:
            channels = ast.BinOp("+", channels, o.channels)
        return _Value(target, fold(channels))

    def branch(self, br: ast.Branch, attr: str, at: _At, cur: _Value) -> _Value:
        scope, prefix = at.scope, at.prefix
        cur = _shared(cur)  # every branch reads the concat's input
        var = scope.var(_var_hint(prefix, attr))
        names = scope_names(self.program, br.chain)
        steps = br.chain.steps
        simple = all(isinstance(s.kind, ast.Call) and not (OPS.get(s.kind.name) and OPS[s.kind.name].multi_input)
                     and (s.kind.has_parens or s.kind.name not in at.values) for s in steps)
        items, channels = [], cur.channels
        lead = cur.var  # what the Sequential reads: the input, after any leading forward expressions
        if simple:
            fresh = False  # the branch's first layer reads the shared input
            for s in steps:
                local = names.local(s.kind)
                inplace = fresh and _inplace(s.kind.name)
                made, channels = self.module_for(s.kind, scope, channels, inplace)
                fresh = _fresh(s.kind.name) and made.module is not None
                if made.module is None and not items:  # e.g. a channel split: `x.chunk(2, 1)[1]`
                    lead = made.forward(lead)
                    continue
                if channels == _OPAQUE or made.module is None:  # needs an attribute per step
                    simple = False
                    break
                items.append(f"{local}={made.module}" if local.isidentifier() else f"{local!r}: {made.module}")
        if simple and not items:  # forward expressions only: no module
            self.emit(scope, br.span, fwd=f"{var} = {lead}")
            return _Value(var, channels)
        if simple:
            self.uses_ordered_dict = True
            inner = " " * (_METHOD_BODY + scope.init.indent + 8)  # where the items stand: two levels in
            cut = len(inner) - 8  # laid out there, then written relative to the statement
            body = "".join(
                "\n".join(line[cut:] for line in layout_keyword(item, inner).split("\n")) + ",\n" for item in items
            )
            sequential = f"{prefix}{attr} = nn.Sequential(\n    OrderedDict(\n{body}    )\n)"
            self.emit(scope, br.span, sequential, f"{var} = {prefix}{attr}({lead})")
            return _Value(var, channels)
        self.emit(scope, br.span, init=f"{prefix}{attr} = nn.Module()")
        return self.chain(br.chain, at.inside(attr, names), cur, var)

    def residual(self, res: ast.Residual, at: _At, cur: _Value, target: str) -> _Value:
        scope, names, prefix = at.scope, at.names, at.prefix
        args = self.bind(_RESIDUAL_PARAMS, residual_call(self.program, res), scope)
        when = args.get("when", literal(True))
        if isinstance(when, ast.Literal) and when.value is False:
            # the body alone; the shortcut's, scale's and sum's names stay taken
            return self.nested_body(res.body, at, cur, target)
        shortcut = scope.var("shortcut")
        cur = _shared(cur)  # the body and the shortcut both read it
        self.emit(scope, res.span, fwd=f"{shortcut} = {cur.var}")
        body_out = self.nested_body(res.body, at, cur, target)
        body_var = body_out.var
        marks = (scope.init.mark(), scope.fwd.mark())  # a `when` decided at run time puts what follows under an `if`
        if res.shortcut:
            attr = _relative(names.full(names.local(res, "shortcut")), names.path)
            sc_names = scope_names(self.program, res.shortcut)
            self.emit(scope, res.span, init=f"{prefix}{attr} = nn.Module()")
            start = _Value(shortcut, cur.channels)
            out = self.nested_body(res.shortcut, at.inside(attr, sc_names), start, shortcut)
            if out.var != shortcut:
                self.emit(scope, res.span, fwd=f"{shortcut} = {out.var}")
        scale = args.get("scale", literal(1.0))
        scaled = body_var
        if not (isinstance(scale, ast.Literal) and scale.value == 1.0):
            scaled = self.src(ast.BinOp("*", ast.Name(body_var), self.forward_expr(scale, scope)))
        self.emit(scope, res.span, fwd=f"{target} = {shortcut} + {scaled}")
        if isinstance(when, ast.Literal):
            return _Value(target, body_out.channels, fresh=True)  # the sum is a new tensor
        if target != body_var:  # without the sum, the body's value is the result
            scope.fwd.insert(marks[1], f"{target} = {body_var}")
            marks = (marks[0], marks[1] + 1)
        for writer, mark, cond in ((scope.init, marks[0], when), (scope.fwd, marks[1], self.forward_expr(when, scope))):
            if writer.written_since(mark):
                writer.nest(mark, f"if {self.src(cond)}:")
        return _Value(target, body_out.channels)

    def gate(self, gate: ast.Gate, at: _At, cur: _Value, target: str) -> _Value:
        """`x * body(x)`: a body of one chain is an nn.Sequential (`x * self.se(x)`), as a
        concat branch is; several statements become a plain container."""
        scope, names, prefix = at.scope, at.names, at.prefix
        cur = _shared(cur)  # the body and the product both read it
        attr = _relative(names.full(names.local(gate, "gate")), names.path)
        if len(gate.body) == 1 and isinstance(gate.body[0], ast.ChainStmt):
            chain = gate.body[0].chain
            out = self.branch(ast.Branch(None, chain, chain.span), attr, at.nested(), cur)
        else:
            var = scope.var(_var_hint(prefix, attr))
            self.emit(scope, gate.span, init=f"{prefix}{attr} = nn.Module()")
            body_names = scope_names(self.program, gate.body)
            out = self.nested_body(gate.body, at.inside(attr, body_names), cur, var)
        self.emit(scope, gate.span, fwd=f"{target} = {cur.var} * {out.var}")
        return _Value(target, cur.channels, fresh=True)  # the product is a new tensor

    def repeat(self, rep: ast.Repeat, at: _At, cur: _Value, target: str) -> _Value:
        scope, depth = at.scope, self.depth
        count_expr = self.expr(rep.count, scope)
        count = self.src(count_expr)
        index = scope.index(rep.index, depth) if rep.index else "_"
        loop = _Loop(f"for {index} in range({count})", {index: fold(ast.BinOp("-", count_expr, literal(1)))},
                     uniform=not rep.index, count=count, count_expr=count_expr, attr=at.names.local(rep),
                     channels=scope.own("channels", depth), layers=scope.own("layers", depth),
                     env={rep.index: ast.Name(index)} if rep.index else {}, index=index)
        return self.loop(rep, loop, at, cur, target)

    def loop(self, rep, loop: _Loop, at: _At, cur: _Value, target: str) -> _Value:
        """The loop in __init__ (and forward) that a repeat or a for loop becomes (its body
        reads the values of the enclosing scopes: `at.values`)."""
        single = single_call(rep.body)
        if single is not None and not single.has_parens and single.name in at.values:
            single = None  # a value, not a layer
        inner = at.scope.inner()
        inner.env.update(loop.env)
        depth, outer_names = self.depth, self.loop_names
        self.depth += 1
        self.loop_names = outer_names | {e.name for e in loop.env.values()}
        try:
            if single is None:
                out = self.repeat_body(rep, loop, at, inner, cur, target)
            else:
                out = self.repeat_call(single, rep, loop, at, inner, cur, target)
        finally:
            self.depth, self.loop_names = depth, outer_names
        if fold(out.channels) == fold(cur.channels):
            return out
        # a repeat of 0 (an empty table) passes its input through unchanged
        return _Value(out.var, fold(ast.Conditional(out.channels, ast.BinOp(">", loop.count_expr, literal(0)), cur.channels)))

    def for_loop(self, rep: ast.ForLoop, at: _At, cur: _Value, target: str) -> _Value:
        """`for (t, c) in rows as k { ... }`: Python's own loop over the table, the body as a repeat's."""
        scope, depth = at.scope, self.depth
        table = self.expr(rep.table, scope)
        channels_var, layers = scope.own("channels", depth), scope.own("layers", depth)
        items = [self.loop_item(scope, t) for t in rep.targets]
        env = {t: ast.Name(v) for t, v in zip(rep.targets, items)}
        row = f"({', '.join(items)}{',' * (len(items) == 1)})" if rep.unpack else items[0]
        index = scope.index(rep.index, depth) if rep.index else None
        last_row = ast.Subscript(table, literal(-1))
        last = ({v: ast.Subscript(last_row, literal(j)) for j, v in enumerate(items)} if rep.unpack
                else {items[0]: last_row})
        count_expr = fold(ast.FuncCall("len", (ast.Arg(None, table),)))
        if index:
            env[rep.index] = ast.Name(index)
            last[index] = fold(ast.BinOp("-", count_expr, literal(1)))
        table_src = self.src(table)
        header = f"for {index}, {row} in enumerate({table_src})" if index else f"for {row[1:-1] if rep.unpack and len(items) > 1 else row} in {table_src}"
        loop = _Loop(header, last, uniform=False, count=self.src(count_expr), count_expr=count_expr,
                     attr=at.names.local(rep), channels=channels_var, layers=layers, env=env, index=index or "_",
                     row=row, items=tuple(items), table=table)
        return self.loop(rep, loop, at, cur, target)

    def repeat_call(self, single, rep, loop: _Loop, at: _At, inner: _Scope, cur: _Value, target: str) -> _Value:
        """A repeat of one op or block: an nn.Sequential."""
        scope, modules, channels_var, layers = at.scope, f"{at.prefix}{loop.attr}", loop.channels, loop.layers
        made, out = self.module_for(single, inner, ast.Name(channels_var))
        if fold(subst(out, {channels_var: cur.channels})) == fold(cur.channels) and loop.uniform:
            first, _ = self.module_for(single, inner, cur.channels)
            self.emit(scope, rep.span, f"{modules} = nn.Sequential(*[{first.module} for _ in range({loop.count})])",
                      f"{target} = {modules}({cur.var})")
            return _Value(target, cur.channels)
        block = single.name not in OPS
        loop_lines = [f"{layers} = []", f"{channels_var} = {self.src(cur.channels)}", f"{loop.header}:",
                f"    {layers}.append({made.module})",
                f"    {channels_var} = {layers}[-1].out_channels" if block else f"    {channels_var} = {self.src(out)}",
                f"{modules} = nn.Sequential(*{layers})"]
        self.emit(scope, rep.span, "\n".join(loop_lines), f"{target} = {modules}({cur.var})")
        last = fold(subst(out, loop.last))
        if channels_var not in free_names(last) and not _opaque(last):
            channels = last  # the last iteration's output does not depend on its input
        elif fold(subst(out, {channels_var: cur.channels})) == fold(cur.channels):
            channels = cur.channels
        else:
            channels = ast.Name(f"{modules}[-1].out_channels")
        return _Value(target, channels)

    def repeat_body(self, rep, loop: _Loop, at: _At, inner: _Scope, cur: _Value, target: str) -> _Value:
        """A repeat of several statements: a ModuleList of plain containers, and a loop
        in forward that runs the same statements on each."""
        scope, modules, depth = at.scope, f"{at.prefix}{loop.attr}", self.depth - 1
        block, channels_var = scope.own("block", depth), loop.channels
        inner.namespace = scope.namespace
        names = scope_names(self.program, rep.body)
        if target != cur.var:  # the loop updates `target` in place; its input stays readable
            self.emit(scope, rep.span, fwd=f"{target} = {cur.var}")
        start = _Value(target, ast.Name(channels_var))
        outer_read, self.loop_names_read = self.loop_names_read, set()
        outer_channels, self.loop_channels = self.loop_channels, {**self.loop_channels, channels_var: block}
        outer_names, self.names_read = self.names_read, set()
        try:
            with inner.indented():
                out = self.nested_body(rep.body, _At(inner, names, f"{block}.", at.values), start, target)
        finally:
            self.loop_channels = outer_channels
            body_reads, self.names_read = self.names_read, outer_names | self.names_read
        read = self.loop_names_read
        self.loop_names_read = outer_read | read  # an enclosing loop may bind some of them
        result, snapshot = self.repeat_channels(loop, scope, cur, out, target)
        # the iteration's input width, where the body or forward (`in_channels`) or the
        # channels after the loop read it
        width = channels_var in body_reads or block in self.loop_channels_read or snapshot is not None
        head = [f"{modules} = nn.ModuleList()", *([f"{channels_var} = {self.src(cur.channels)}"] * width),
                f"{loop.header}:", f"    {block} = nn.Module()"]
        if block in self.loop_channels_read:  # forward decides on the iteration's input width
            head.append(f"    {block}.in_channels = {channels_var}")
        tail = [f"    {modules}.append({block})"]
        if width and fold(out.channels) != ast.Name(channels_var):
            tail.append(f"    {channels_var} = {self.src(out.channels)}")
        scope.init.line("\n".join(head), rep.span)
        scope.init.extend(inner.init, by=scope.init.indent)
        scope.init.line("\n".join(tail), rep.span)
        scope.fwd.line(self.forward_loop(loop, block, modules, read, scope), rep.span)
        scope.fwd.extend(inner.fwd, by=scope.fwd.indent)
        if out.var != target:
            scope.fwd.line(f"    {target} = {out.var}", rep.span)
        elif not inner.fwd.lines:  # an empty body loops over nothing
            scope.fwd.line("    pass", rep.span)
        scope.stored.update(inner.stored)
        if snapshot is not None:  # known only after the loop in __init__
            scope.init.assign_if_read(snapshot, channels_var, rep.span)
        return result

    def repeat_channels(self, loop: _Loop, scope: _Scope, cur: _Value, out: _Value, target: str) -> tuple[_Value, str | None]:
        """What a multi-statement loop gives, and the variable that keeps its channels
        after the loop where only the loop in __init__ knows them (else None)."""
        channels_var = loop.channels
        iterated = fold(subst(out.channels, {channels_var: cur.channels}))
        if iterated == fold(cur.channels):
            return _Value(target, cur.channels), None
        if not free_names(out.channels) & {channels_var, *loop.last} and not _opaque(out.channels):
            return _Value(target, out.channels), None  # each iteration ends with the same channels
        last = fold(subst(out.channels, loop.last))
        if not free_names(last) & {channels_var, *loop.last} and not _opaque(last):
            return _Value(target, last), None  # the last iteration's channels, from the last row or index
        snapshot = scope.var(f"{loop.attr}_channels")  # a variable no later loop reuses
        return _Value(target, ast.Name(snapshot)), snapshot

    def loop_item(self, scope: _Scope, name: str) -> str:
        """The Python name of a row item: the spec's, unless a parameter or value has it
        (then `c2`); an earlier loop's item name is free again once its loop is done
        (nothing after a loop reads its names: the channels after it are resolved)."""
        var = scope.loop_vars.get(name)
        if var is not None and var not in self.loop_names:
            return var
        scope.loop_vars[name] = var = scope.var(py_name(name))
        return var

    def forward_loop(self, loop: _Loop, block: str, modules: str, read: set[str], scope: _Scope) -> str:
        """The head of forward's loop over the iterations' modules, binding the loop's
        names that forward reads (an `if` on a row's stride, a residual's scale)."""
        index = loop.index if loop.index != "_" else None
        if loop.row is None:  # a repeat
            return f"for {index}, {block} in enumerate({modules}):" if index in read else f"for {block} in {modules}:"
        if not read & set(loop.items):  # forward reads no item of the row
            if index in read:
                return f"for {index}, {block} in enumerate({modules}):"
            return f"for {block} in {modules}:"
        rows = f"zip({self.src(self.forward_expr(loop.table, scope))}, {modules})"
        if index in read:
            return f"for {index}, ({loop.row}, {block}) in enumerate({rows}):"
        return f"for {loop.row}, {block} in {rows}:"

    # -- the network ----------------------------------------------------------------------------
    def network(self) -> str:
        decl = self.program.network
        checked = self.graph.args
        fixed = _structural(decl)
        fixed |= self.sizing_flatten(decl, fixed)
        env = {p.name: literal(checked[p.name]) if p.name in fixed else ast.Name(py_name(p.name)) for p in decl.params}
        names = scope_names(self.program, decl.body)
        scope = _Scope(env, spec=_spec_names(decl), layers=names.modules())
        for spec_name in sorted(scope.spec):
            scope.namespace.claim(spec_name)
        self.network_scope = scope
        consumed = {i for n in self.graph.nodes for i in n.inputs}
        self.train_only = {o.name for o in self.graph.outputs if o.train_only and o.node not in consumed}
        inputs = [s for s in decl.body if isinstance(s, ast.InputStmt)]
        in_channels = self.expr(inputs[0].dims[0], scope) if inputs else literal(self.graph.input_shape[0])
        start = _Value("x", in_channels)
        values: dict[str, _Value] = {}
        out = self.body(decl.body, _At(scope, names, "self.", values), start)
        if self.graph.init:  # the network's `init` statements, applied once every layer exists
            first = min(self.graph.init.values(), key=lambda choice: choice["line"])
            self.emit(scope, Span(first["file"], first["line"], 1), init="\n".join(init_lines(self.graph.init)))
        if self.graph.init_layers:  # `init NAME: ...`: after the kinds, in the spec's order
            first = self.graph.init_layers[0]
            self.emit(scope, Span(first["file"], first["line"], 1),
                      init="\n".join(layer_init_lines(self.graph.init_layers)))
        returns = self.returns(decl, values, out)
        sig, prologue = self.signature(decl, checked)
        for p in (p for p in decl.params if p.name in fixed):  # decided when this file was written
            name, value = py_name(p.name), checked[p.name]
            test = f"{name} is not {value!r}" if isinstance(value, bool) else f"{name} != {self.src(literal(value))}"
            message = self.src(literal(_fixed_message(p.name, value)))
            prologue += [f"if {test}:", "    raise ValueError(", f"        {message}", "    )"]
        return self.class_source(_class_name(decl.name), decl, scope, out, (sig, prologue), network=True,
                                 returns=returns)

    def sizing_flatten(self, decl: ast.BlockDecl, fixed: set[str]) -> set[str]:
        """Parameters of the input's height or width that change what a `flatten` sees
        (the generator writes that size into the next layer): fixed too. One that only
        changes the input size (a global pool before the flatten) stays a parameter."""
        inputs = [s for s in decl.body if isinstance(s, ast.InputStmt)]
        if not self.flat_sizes or not inputs:
            return set()
        sizing = {n for d in inputs[0].dims[1:] for n in free_names(d)} & {p.name for p in decl.params} - fixed
        if not sizing:
            return set()
        elsewhere = {name for part in _parts(decl.body) if part is not inputs[0] for e in _expressions(part)
                     for name in free_names(e)}
        return {name for name in sizing if name in elsewhere or self.resized_flatten(inputs[0], name)}

    def resized_flatten(self, stmt: ast.InputStmt, name: str) -> bool:
        """Whether the flatten sizes change when `name` doubles: never where a `fixed_size`
        op (a global pool) stands before every flatten, else as the graph's shapes at that
        input size say."""
        value = self.graph.args[name]
        if not isinstance(value, int) or isinstance(value, bool):
            return True
        env = {k: Bound(v, k) for k, v in self.graph.args.items()} | {name: Bound(2 * value, name)}
        try:
            dims = tuple(evaluate(d, env).value for d in stmt.dims)
        except EvalError:
            return True
        if not self.flatten_size_dependent:  # a global or adaptive pool before every flatten
            return False
        shapes = shapes_at(self.graph, dims)
        return shapes is None or _flatten_sizes(self.graph, shapes) != self.flat_sizes

    @functools.cached_property
    def flatten_size_dependent(self) -> bool:
        """Whether some flatten may see another size when the input's height or width
        changes: a path from an input reaches it through no op of `fixed_size` (shape
        inference at another size then decides)."""
        dependent: set[int] = set()
        for node in self.graph.nodes:
            op = op_of(node.op)
            if isinstance(op, Input) or (not op.fixed_size and any(i in dependent for i in node.inputs)):
                if op.flattens:
                    return True
                dependent.add(node.id)
        return False

    def returns(self, decl, values, out: _Value) -> list[str]:
        outputs = self.graph.outputs
        if len(outputs) == 1 and outputs[0].name == "out" and "out" not in values:
            return [f"return {out.var}"]
        always = [values[o.name].var for o in outputs if not o.train_only]
        train = [values[o.name].var for o in outputs if o.train_only]
        lines = []
        if train:
            lines.append("if self.training:")
            lines.append(f"    return {', '.join(always + train)}")
        lines.append(f"return {', '.join(always)}")
        return lines

    def module_source(self) -> tuple[str, tuple]:
        """The file's text and its line map."""
        net = self.network()
        header = [f"# Generated by netdsl from {_inert(self.graph.file)}: edit the spec, not this file.", ""]
        classes = [self.blocks[name].source for name in self.order] + [net]
        body = "\n".join(c.code() for c in classes)
        stdlib = ["import math"] if _USES_MATH.search(body) else []
        if self.uses_ordered_dict:
            stdlib.append("from collections import OrderedDict")
        if "fnmatchcase(" in body:  # `init *.bn3: ...`
            stdlib.append("from fnmatch import fnmatchcase")
        if stdlib:
            header += [*stdlib, ""]
        helpers = [src for name, src in sorted(_helpers().items()) if f"{name}(" in body]
        helpers += runtime_used(body)  # the modules some ops lower to (their `runtime` trait)
        if "torch." in "\n".join([body, *helpers]):
            header.append("import torch")
        header.append("from torch import nn")
        return assemble(["\n".join(header), *helpers, *classes])


_RESIDUAL_PARAMS = (ast.Param("scale", FLOAT, None), ast.Param("when", BOOL, None))
_USES_MATH = re.compile(r"\bmath\.(log|exp|sqrt)\(")  # spec functions that lower to the math module
@dataclass
class _Loop:
    """How a repeat or a for loop iterates in __init__."""

    header: str  # `for i in range(n)`, `for t, c in setting`, `for i, (t, c) in enumerate(setting)`
    last: dict[str, ast.Expr]  # the loop's names in the last iteration (for the channels after the loop)
    uniform: bool  # iterations do not differ (no index, no row): a comprehension will do
    count: str  # the number of iterations, as Python
    count_expr: ast.Expr  # ... as an expression
    attr: str  # the attribute that keeps its modules (the loop's layer name)
    channels: str  # the generator's variable for an iteration's input width
    layers: str  # ... and for the layers of a repeat of one call
    env: dict[str, ast.Expr] = field(default_factory=dict)  # the spec names it binds (index, row items) -> Python
    index: str = "_"  # the Python name of the iteration index
    row: str | None = None  # a for loop's row names, `(t, c)` or `w`
    items: tuple[str, ...] = ()  # ... one by one
    table: ast.Expr | None = None  # ... and its table


_TYPE_HINTS = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


_OPAQUE = ast.Name("@opaque")


def _opaque(expr: ast.Expr) -> bool:
    """Whether a channel formula reads a built module (`self.x[-1].out_channels`)."""
    return expr == _OPAQUE or any(name.startswith("self.") for name in free_names(expr))


def _var_hint(prefix: str, attr: str) -> str:
    """A forward variable named after a submodule: `self.stem.b1` -> `stem_b1`; inside a
    repeat's loop (`block.se`) the loop variable is left out: `se`."""
    path = prefix[len("self."):] if prefix.startswith("self.") else prefix.partition(".")[2]
    return (path + attr).replace(".", "_")


def _class_name(name: str) -> str:
    return py_name(name)


def _relative(path: str, base: str) -> str:
    return path[len(base) + 1:] if base and path.startswith(base + ".") else path


def _flatten_sizes(graph: Graph, shapes: dict[int, tuple[int, ...]] | None = None) -> dict[Span, ast.Expr]:
    """For each `flatten` call in the spec, its flattened size over `input0_` (the
    channels it reads, which stay symbolic): channels times the spatial size (H*W) its
    instances agree on, else the one total size they agree on; left out if neither."""
    spatial: dict[Span, set[int]] = {}
    total: dict[Span, set[int]] = {}
    shapes = shapes if shapes is not None else {n.id: n.shape for n in graph.nodes}
    for node in graph.nodes:
        if shapes.get(node.id) and op_of(node.op).flattens:
            size = 1
            for d in shapes[node.inputs[0]][1:]:
                size *= d
            spatial.setdefault(node.span, set()).add(size)
            total.setdefault(node.span, set()).add(shapes[node.id][0])
    sizes = {}
    for span, sizes_here in spatial.items():
        if len(sizes_here) == 1:
            (size,) = sizes_here
            channels = ast.Name("input0_")
            sizes[span] = channels if size == 1 else ast.BinOp("*", channels, literal(size))
        elif len(total[span]) == 1:
            sizes[span] = literal(next(iter(total[span])))
    return sizes


def _structural(decl: ast.BlockDecl) -> set[str]:
    """Network parameters that decide an `if` of the network's own body (which layers
    and outputs exist): the generator writes the arm they choose, so they stay fixed."""
    conds = [c for n in _parts(decl.body) if isinstance(n, ast.IfStmt) for c, _ in n.arms]
    return {name for c in conds for name in free_names(c)} & {p.name for p in decl.params}


def _fixed_message(name: str, value) -> str:
    shown = str(value).lower() if isinstance(value, bool) else repr(value) if isinstance(value, str) else str(value)
    return (f"{name} decides which layers exist and is fixed in this file ({name}={shown}); "
            f"generate another with `netdsl compile --set {name}=...`")


def _helpers() -> dict[str, str]:
    """The functions of :mod:`.helpers`, by name, as text."""
    return definitions(Path(__file__).with_name("helpers.py"))


def generate(program: Program, graph: Graph) -> GeneratedCode:
    """PyTorch source for a checked spec."""
    gen = _Generator(program, graph)
    try:
        source, line_map = gen.module_source()
    except CodegenError as err:
        raise NetdslError([Diagnostic(codes.UNSUPPORTED, err.message, err.span)]) from None
    return GeneratedCode(source, _class_name(program.network.name), graph.file, line_map)


del REQUIRED
