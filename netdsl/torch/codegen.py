"""Spec -> standalone PyTorch source: one nn.Module class per block used (constructor
arguments: `in_channels` and the block's parameters), one class for the network.

Blocks are generated from their syntax tree with their parameters symbolic, so a class
serves every instantiation; the network is generated with its parameters fixed (the
values it was checked with). Layers are named through :mod:`netdsl.ir.naming`, so the
module's state_dict keys are the graph's layer names. Every statement carries a
`# file:line` comment pointing back at the spec."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field, replace

from .. import codes
from ..diagnostics import Diagnostic, NetdslError, Span
from ..init import init_lines
from ..ir.graph import Graph
from ..ir.naming import Names, count_kinds, single_call, snake_case
from ..ir.program import Program
from ..ops import OPS, op_of
from ..ops.base import REQUIRED, UNKNOWN, Lowered, ShapeError
from ..syntax import ast
from ..values import FLOAT
from .pyexpr import fold, free_names, from_py, literal, subst, to_py
from .pyformat import WIDTH, layout, layout_keyword
from .pyformat import inert as _inert
from .sources import runtime_used

__all__ = ["generate", "GeneratedCode"]

_RESERVED = set(keyword.kwlist) | set(dir(__builtins__) if isinstance(__builtins__, dict) is False else __builtins__) | {
    "self", "in_channels", "torch", "nn", "math", "x", "OrderedDict", "layers", "channels", "block", "i", "_", "module",
    "fan_out", "bound",
    "l", "O", "I",  # ambiguous names (ruff E741)
}
# loop variables of generated repeats: `block`, `channels`, `layers`, `i` at the outermost
# level, `block2`, `channels2`, ... one level down; spec names of this form are renamed
_LOOP_VAR = re.compile(r"(block|channels|layers|i)[0-9]*")
_EXPR, _INPUT = "=", "@input"  # module_for's mark for forward expressions, and their input
_STORED = "@"  # marks a stored parameter until the class's attribute names are all known
_HELPERS = {
    "_padding": '''def _padding(padding, kernel, dilation=1):
    """`same` pads dilation * (kernel - 1) // 2 on each side, `valid` nothing."""
    if padding == "valid":
        return 0
    if padding != "same":
        return padding
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    dilation = (dilation, dilation) if isinstance(dilation, int) else dilation
    return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))''',
    "_make_divisible": '''def _make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """Round a channel count to a multiple of `divisor`, losing at most 10%."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded''',
    "_ceil": '''def _ceil(value):
    return -int(-value // 1)''',
    "_floor": '''def _floor(value):
    return int(value // 1)''',
}


class CodegenError(Exception):
    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message, self.span = message, span


@dataclass
class GeneratedCode:
    source: str
    class_name: str  # the network's class
    filename: str


def _reserved(name: str) -> bool:
    return name in _RESERVED or _LOOP_VAR.fullmatch(name) is not None


def py_name(name: str) -> str:
    """A spec identifier as a Python local that shadows nothing the generated code uses.
    Reserved names get a trailing `_`, and so do names that already end in one, so two
    spec names never become the same Python name."""
    return name + "_" if _reserved(name) or name.endswith("_") else name


def _loop_var(base: str, depth: int) -> str:
    return base if depth == 0 else f"{base}{depth + 1}"


@dataclass
class _BlockInfo:
    decl: ast.BlockDecl
    class_name: str
    out_channels: ast.Expr  # over Python parameter names and `in_channels`
    source: str


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
class _Scope:
    """One class body being written: its __init__ and forward lines."""

    env: dict[str, ast.Expr]  # spec parameter -> expression over Python names
    init: list[str] = field(default_factory=list)
    fwd: list[str] = field(default_factory=list)
    locals: set[str] = field(default_factory=set)
    attrs: set[str] = field(default_factory=set)
    stored: dict[str, str] = field(default_factory=dict)  # parameters forward needs: name -> attribute
    counter: int = 0

    def var(self, hint: str) -> str:
        name, n = hint, 1
        while name in self.locals or (name != "x" and _reserved(name)):
            n += 1
            name = f"{hint}{n}"
        self.locals.add(name)
        return name


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

    # -- expressions ----------------------------------------------------------------------
    def expr(self, e: ast.Expr, scope: _Scope) -> ast.Expr:
        return fold(subst(e, scope.env))

    def src(self, e: ast.Expr) -> str:
        return to_py(e)

    def lowered(self, e: ast.Expr) -> Lowered:
        return Lowered(self.src(e), e.value if isinstance(e, ast.Literal) else UNKNOWN)

    def bind(self, params, call: ast.Call, scope: _Scope) -> dict[str, ast.Expr]:
        """Arguments of a call as expressions over the caller's Python names."""
        given: dict[str, ast.Expr] = {}
        positional = [a for a in call.args if a.name is None]
        for p, a in zip(params, positional):
            given[p.name] = a.value
        given.update({a.name: a.value for a in call.args if a.name is not None})
        return {k: self.expr(v, scope) for k, v in given.items()}

    # -- blocks ---------------------------------------------------------------------------
    def block(self, name: str) -> _BlockInfo:
        if name in self.blocks:
            return self.blocks[name]
        decl = self.program.blocks[name]
        params = {p.name: ast.Name(py_name(p.name)) for p in decl.params}
        scope = _Scope(dict(params))
        scope.locals |= {py_name(p.name) for p in decl.params}
        start = _Value("x", ast.Name("in_channels"))
        out = self.body(decl.body, scope, Names("", count_kinds(decl.body, self.program)), start, "self.")
        info = _BlockInfo(decl, _class_name(name), fold(out.channels), "")
        info.source = self.class_source(info.class_name, decl, scope, out, self.signature(decl))
        self.blocks[name] = info
        self.order.append(name)
        return info

    def signature(self, decl: ast.BlockDecl) -> tuple[str, list[str]]:
        parts, prologue = ["self", "in_channels: int"], []
        for p in decl.params:
            name = py_name(p.name)
            hint = _TYPE_HINTS.get(getattr(p.type, "name", ""), "")
            annotation = f": {hint}" if hint else ""
            if p.default is None:
                parts.append(f"{name}{annotation}")
            elif not free_names(p.default):
                eq = " = " if annotation else "="
                parts.append(f"{name}{annotation}{eq}{self.src(fold(p.default))}")
            else:
                env = {q.name: ast.Name(py_name(q.name)) for q in decl.params}
                parts.append(f"{name}{annotation} | None = None" if hint else f"{name}=None")
                prologue.append(f"if {name} is None:")
                prologue.append(f"    {name} = {self.src(fold(subst(p.default, env)))}")
        return ", ".join(parts), prologue

    def class_source(self, class_name: str, decl: ast.BlockDecl, scope: _Scope, out: _Value,
                     signature: tuple[str, list[str]], network: bool = False, returns: list[str] | None = None) -> str:
        sig, prologue = signature
        lines = [f"class {class_name}(nn.Module):"]
        lines.append(f'    """{decl.name} ({_inert(decl.span.file)}:{decl.span.line})."""')
        lines.append("")
        header = f"    def __init__({sig}):"
        if len(header) > WIDTH:
            header = "    def __init__(\n" + "".join(f"        {p},\n" for p in sig.split(", ")) + "    ):"
        lines.append(header)
        lines.append("        super().__init__()")
        taken = {ln.split("=")[0].strip()[len("self."):] for ln in scope.init if ln.lstrip().startswith("self.")}
        attrs = {p: p if p not in taken else f"{p}_" for p in scope.stored}
        body = [*prologue, *(f"self.{attrs[p]} = {p}" for p in scope.stored), *scope.init]
        if not network:
            body.append(f"self.out_channels = {self.src(fold(out.channels))}")
        lines += [_layout(stmt) for stmt in body]
        lines.append("")
        lines.append("    def forward(self, x):")
        fwd = [*scope.fwd, *(returns or [f"return {out.var}"])]
        for p, attr in attrs.items():
            fwd = [ln.replace(f"self.{_STORED}{p}", f"self.{attr}") for ln in fwd]
        lines += [_layout(stmt) for stmt in fwd]
        return "\n".join(lines)

    # -- statements -------------------------------------------------------------------------
    def body(self, stmts, scope: _Scope, names: Names, cur: _Value, prefix: str, values=None, indent: str = "",
             var: str = "x") -> _Value:
        """Statements; unnamed results go to the Python variable `var`."""
        values = {} if values is None else values
        for stmt in stmts:
            cur = self.statement(stmt, scope, names, cur, prefix, values, indent, var)
        return cur

    def statement(self, stmt, scope, names, cur, prefix, values, indent, var="x") -> _Value:
        if isinstance(stmt, ast.ChainStmt):
            return self.chain(stmt.chain, scope, names, cur, prefix, values, indent, var)
        if isinstance(stmt, ast.AssignStmt):
            target = py_name(stmt.name)
            scope.locals.add(target)
            mark = len(scope.fwd)
            result = _shared(self.chain(stmt.chain, scope, names, cur, prefix, values, indent, target))
            values[stmt.name] = result
            if scope is self.network_scope and stmt.name in self.train_only:
                # an auxiliary head: computed only when training, when it is returned
                scope.fwd[mark:] = [f"{indent}if self.training:"] + ["    " + ln for ln in scope.fwd[mark:]]
            return result
        if isinstance(stmt, ast.IfStmt):
            return self.if_statement(stmt, scope, names, cur, prefix, values, indent, var)
        if isinstance(stmt, ast.InputStmt):
            return cur
        return cur  # OutputStmt: handled by the network

    def if_statement(self, stmt: ast.IfStmt, scope, names, cur, prefix, values, indent, var="x") -> _Value:
        cur = _shared(cur)
        arms = [(self.expr(c, scope), body) for c, body in stmt.arms] + [(literal(True), stmt.otherwise)]
        live = []
        for cond, body in arms:  # drop arms decided at generation time
            if isinstance(cond, ast.Literal) and not cond.value:
                continue
            live.append((cond, body))
            if isinstance(cond, ast.Literal):
                break
        if len(live) == 1 and isinstance(live[0][0], ast.Literal):
            return self.body(live[0][1], scope, names, cur, prefix, values, indent, var)
        if isinstance(live[-1][0], ast.Literal) and not live[-1][1]:
            live.pop()  # an empty `else` says nothing
        outs: list[tuple[ast.Expr, ast.Expr]] = []
        for k, (cond, body) in enumerate(live):
            final = isinstance(cond, ast.Literal)
            keyword = "else:" if final else ("if" if k == 0 else "elif")
            init_head = keyword if final else f"{keyword} {self.src(cond)}:"
            fwd_head = keyword if final else f"{keyword} {self.src(self.forward_expr(cond, scope))}:"
            if k == 0:
                self.emit(scope, stmt.span, indent, init_head, fwd_head)
            else:
                scope.init.append(indent + init_head)
                scope.fwd.append(indent + fwd_head)
            marks = (len(scope.init), len(scope.fwd))
            out = self.body(body, scope, names, cur, prefix, values, indent + "    ", var)
            if out.var != var:
                self.emit(scope, stmt.span, indent + "    ", fwd=f"{var} = {out.var}")
            for lines, mark in zip((scope.init, scope.fwd), marks):
                if all(ln.lstrip().startswith("#") for ln in lines[mark:]):
                    lines.append(f"{indent}    pass")
            outs.append((cond, out.channels))
        final = isinstance(live[-1][0], ast.Literal)
        if not final and var != cur.var:  # no arm taken: the input passes through
            scope.fwd += [f"{indent}else:", f"{indent}    {var} = {cur.var}"]
        channels = outs.pop()[1] if final else cur.channels
        for cond, ch in reversed(outs):
            channels = ast.Conditional(ch, cond, channels)
        return _Value(var, fold(channels))

    def forward_expr(self, expr: ast.Expr, scope: _Scope) -> ast.Expr:
        """An expression over constructor parameters, as forward reads it (self.<param>)."""
        env = {}
        for name in sorted(free_names(expr)):
            scope.stored.setdefault(name, name)
            env[name] = ast.Name(f"self.{_STORED}{name}")
        return subst(expr, env)

    def emit(self, scope: _Scope, span: Span, indent: str, init: str | None = None, fwd: str | None = None) -> None:
        """Add statements to __init__ and/or forward, each under a `# file:line` comment
        (one comment per run of statements from the same spec line)."""
        comment = f"{indent}# {_inert(span.file)}:{span.line}"
        for lines, text in ((scope.init, init), (scope.fwd, fwd)):
            if text is None:
                continue
            last = next((ln for ln in reversed(lines) if ln.lstrip().startswith("# ")), None)
            if last != comment:
                lines.append(comment)
            lines.append(f"{indent}{text}")

    def chain(self, chain: ast.Chain, scope, names, cur: _Value, prefix, values, indent, target) -> _Value:
        steps = chain.steps
        first = steps[0]
        if first.label is None and isinstance(first.kind, ast.Call) and not first.kind.has_parens and first.kind.name in values:
            cur = values[first.kind.name]
            steps = steps[1:]
            if not steps:
                return cur
        for step in steps:
            cur = self.step(step, scope, names, cur, prefix, values, indent, target)
        return cur

    def step(self, step: ast.Step, scope, names, cur, prefix, values, indent, target) -> _Value:
        kind = step.kind
        if isinstance(kind, ast.Call):
            if OPS.get(kind.name) is not None and OPS[kind.name].multi_input:
                return self.merge(kind, step.label, scope, names, values, indent, target)
            attr = names.local(step.label, _key(kind, self.program))
            inplace = cur.fresh and _inplace(kind.name)
            src, channels = self.module_for(kind, scope, cur.channels, inplace)
            if src.startswith(_EXPR):  # an op computed in forward, with no module
                self.emit(scope, step.span, indent, fwd=f"{target} = {src[len(_EXPR):].replace(_INPUT, cur.var)}")
                return _Value(target, channels)
            self.emit(scope, step.span, indent, f"{prefix}{attr} = {src}", f"{target} = {prefix}{attr}({cur.var})")
            if channels == _OPAQUE:
                channels = ast.Name(f"{prefix}{attr}.out_channels")
            # after an in-place op autograd holds the tensor (a ReLU's backward reads its output): not fresh
            return _Value(target, channels, fresh=_fresh(kind.name))
        if isinstance(kind, ast.Concat):
            return self.concat(kind, step.label, scope, names, cur, prefix, values, indent, target)
        if isinstance(kind, ast.Residual):
            return self.residual(kind, step.label, scope, names, cur, prefix, values, indent, target)
        return self.repeat(kind, step.label, scope, names, cur, prefix, indent, target)

    def module_for(self, call: ast.Call, scope: _Scope, in_ch: ast.Expr, inplace: bool = False) -> tuple[str, ast.Expr]:
        """Constructor source and output channels of one op or block call (`inplace`: an
        activation that may overwrite its input)."""
        op = OPS.get(call.name)
        if op is not None:
            args = self.bind(op.params, call, scope)
            low = {p.name: self.lowered(args[p.name]) if p.name in args else Lowered(self.src(literal(p.default)) if p.default is not None else "None", p.default)
                   for p in op.params}
            low["rank"] = Lowered(str(self.ranks.get(call.span, 3)), self.ranks.get(call.span, 3))
            if inplace:
                low["inplace"] = Lowered("True", True)
            if op.flattens:
                size = self.flat_sizes.get(call.span)
                if size is None:
                    raise CodegenError("`flatten` sees different feature-map sizes in different instances of this "
                                       "block; the PyTorch back end needs one", call.span)
                low["flat_features"] = Lowered(str(size), size)
            in_src = self.src(in_ch)
            try:
                src = op.torch_module(low, in_src)
            except ShapeError as err:  # e.g. a kernel of 0 in a body the front end never elaborated
                raise CodegenError(f"{call.name}: {err}", call.span) from None
            if src is None:
                src = _EXPR + op.torch_expr(low, [_INPUT])
            return src, self.op_channels(op, low, [in_ch])
        info = self.block(call.name)
        args = self.bind(info.decl.params, call, scope)
        parts = [self.src(in_ch)]
        positional = [a for a in call.args if a.name is None]
        for p, _ in zip(info.decl.params, positional):
            parts.append(self.src(args[p.name]))
        parts += [f"{py_name(a.name)}={self.src(args[a.name])}" for a in call.args if a.name is not None]
        return f"{info.class_name}({', '.join(parts)})", self.block_channels(info, args, in_ch)

    def op_channels(self, op, low: dict, inputs: list[ast.Expr]) -> ast.Expr:
        """An op's output channels: its formula over placeholder inputs, read back as an
        expression, with the inputs' own channel expressions substituted in."""
        holders = [f"input{k}_" for k in range(len(inputs))]
        formula = from_py(op.out_channels(low, holders))
        return fold(subst(formula, dict(zip(holders, inputs))))

    def block_channels(self, info: _BlockInfo, args: dict[str, ast.Expr], in_ch: ast.Expr) -> ast.Expr:
        known = {"in_channels"} | {py_name(p.name) for p in info.decl.params}
        if _opaque(info.out_channels) or not free_names(info.out_channels) <= known:
            return _OPAQUE  # known only to the built module: the caller reads .out_channels
        env: dict[str, ast.Expr] = {"in_channels": in_ch}
        for p in info.decl.params:
            if p.name in args:
                env[py_name(p.name)] = args[p.name]
            elif p.default is not None:
                env[py_name(p.name)] = fold(subst(p.default, {q: env.get(py_name(q), ast.Name(q)) for q in (pp.name for pp in info.decl.params)}))
        return fold(subst(info.out_channels, env))

    def merge(self, call: ast.Call, label, scope, names, values, indent, target) -> _Value:
        op = OPS[call.name]
        inputs = [values[a.value.name] for a in call.args]
        names.local(label, op.short)
        self.emit(scope, call.span, indent, fwd=f"{target} = {op.torch_expr({}, [v.var for v in inputs])}")
        return _Value(target, self.op_channels(op, {}, [v.channels for v in inputs]))

    def concat(self, group: ast.Concat, label, scope, names: Names, cur, prefix, values, indent, target) -> _Value:
        local = names.local(label, "concat")
        base = names.full(local) if names.counts["concat"] > 1 or label else names.path
        branch_names = Names(base, names.counts.__class__())
        if base != names.path:
            self.emit(scope, group.span, indent, init=f"{prefix}{_relative(base, names.path)} = nn.Module()")
        outs = []
        for i, br in enumerate(group.branches, start=1):
            bname = branch_names.local(br.label, f"b{i}") if br.label else f"b{i}"
            attr = _relative(branch_names.full(bname), names.path)
            outs.append(self.branch(br, attr, scope, cur, prefix, values, indent))
        self.emit(scope, group.span, indent, fwd=f"{target} = torch.cat([{', '.join(o.var for o in outs)}], 1)")
        channels = outs[0].channels
        for o in outs[1:]:
            channels = ast.BinOp("+", channels, o.channels)
        return _Value(target, fold(channels))

    def branch(self, br: ast.Branch, attr: str, scope, cur, prefix, values, indent) -> _Value:
        cur = _shared(cur)  # every branch reads the concat's input
        var = scope.var((prefix[len("self."):] + attr).replace(".", "_"))
        names = Names("", _count_chain(br.chain, self.program))
        steps = br.chain.steps
        simple = all(isinstance(s.kind, ast.Call) and not (OPS.get(s.kind.name) and OPS[s.kind.name].multi_input)
                     and (s.kind.has_parens or s.kind.name not in values) for s in steps)
        items, channels = [], cur.channels
        if simple:
            probe = Names("", _count_chain(br.chain, self.program))
            fresh = False  # the branch's first layer reads the shared input
            for s in steps:
                local = probe.local(s.label, _key(s.kind, self.program))
                inplace = fresh and _inplace(s.kind.name)
                src, channels = self.module_for(s.kind, scope, channels, inplace)
                fresh = _fresh(s.kind.name) and not src.startswith(_EXPR)
                if channels == _OPAQUE:  # read from the built module: needs an attribute per step
                    simple = False
                    break
                items.append(f"{local}={src}" if local.isidentifier() else f"{local!r}: {src}")
        if simple:
            self.uses_ordered_dict = True
            inner = "        " + indent + "        "  # method body + statement indent + two levels
            body = "".join(layout_keyword(item, inner)[len(inner) - 8:] + ",\n" for item in items)
            sequential = f"{prefix}{attr} = nn.Sequential(\n    OrderedDict(\n{body}    )\n)"
            self.emit(scope, br.span, indent, sequential,
                      f"{var} = {prefix}{attr}({cur.var})")
            return _Value(var, channels)
        self.emit(scope, br.span, indent, init=f"{prefix}{attr} = nn.Module()")
        return self.chain(br.chain, scope, names, cur, f"{prefix}{attr}.", values, indent, var)

    def residual(self, res: ast.Residual, label, scope, names: Names, cur, prefix, values, indent, target) -> _Value:
        shortcut = scope.var("shortcut")
        cur = _shared(cur)  # the body and the shortcut both read it
        self.emit(scope, res.span, indent, fwd=f"{shortcut} = {cur.var}")
        body_out = self.body(res.body, scope, names, cur, prefix, dict(values), indent, target)
        body_var = body_out.var
        if res.shortcut:
            local = names.local(res.shortcut_label, "shortcut")
            attr = _relative(names.full(local), names.path)
            sc_names = Names("", count_kinds(res.shortcut, self.program))
            self.emit(scope, res.span, indent, init=f"{prefix}{attr} = nn.Module()")
            start = _Value(shortcut, cur.channels)
            out = self.body(res.shortcut, scope, sc_names, start, f"{prefix}{attr}.", dict(values), indent, shortcut)
            if out.var != shortcut:
                self.emit(scope, res.span, indent, fwd=f"{shortcut} = {out.var}")
        args = self.bind((ast.Param("scale", FLOAT, None),), ast.Call("residual", res.args, True), scope)
        scale = args.get("scale", literal(1.0))
        scaled = body_var
        if not (isinstance(scale, ast.Literal) and scale.value == 1.0):
            names.local(None, "scale")
            scaled = f"{body_var} * {self.src(self.forward_expr(scale, scope))}"
        names.local(label, "add")
        self.emit(scope, res.span, indent, fwd=f"{target} = {shortcut} + {scaled}")
        return _Value(target, body_out.channels, fresh=True)  # the sum is a new tensor

    def repeat(self, rep: ast.Repeat, label, scope, names: Names, cur, prefix, indent, target) -> _Value:
        single = single_call(rep.body)
        attr = names.local(label, (_key(single, self.program) if single else None) or "repeat")
        count_expr = self.expr(rep.count, scope)
        count = self.src(count_expr)
        inner = _Scope(dict(scope.env))
        depth = self.depth
        index = _loop_var("i", depth) if rep.index else "_"
        channels_var, layers = _loop_var("channels", depth), _loop_var("layers", depth)
        if rep.index:
            inner.env[rep.index] = ast.Name(index)
        self.depth += 1
        try:
            if single is None:
                out = self.repeat_body(rep, attr, scope, inner, cur, prefix, indent, target, count, index)
            else:
                out = self.repeat_call(single, rep, attr, scope, inner, cur, prefix, indent, target, count_expr,
                                       index, channels_var, layers)
        finally:
            self.depth = depth
        if fold(out.channels) == fold(cur.channels):
            return out
        # a repeat of 0 passes its input through unchanged
        return _Value(out.var, fold(ast.Conditional(out.channels, ast.BinOp(">", count_expr, literal(0)), cur.channels)))

    def repeat_call(self, single, rep, attr, scope, inner, cur, prefix, indent, target, count_expr, index,
                    channels_var, layers) -> _Value:
        """A repeat of one op or block: an nn.Sequential."""
        count = self.src(count_expr)
        src, out = self.module_for(single, inner, ast.Name(channels_var))
        if fold(subst(out, {channels_var: cur.channels})) == fold(cur.channels) and not rep.index:
            src0, _ = self.module_for(single, inner, cur.channels)
            self.emit(scope, rep.span, indent, f"{prefix}{attr} = nn.Sequential(*[{src0} for _ in range({count})])",
                      f"{target} = {prefix}{attr}({cur.var})")
            return _Value(target, cur.channels)
        block = single.name not in OPS
        loop = [f"{layers} = []", f"{channels_var} = {self.src(cur.channels)}", f"for {index} in range({count}):",
                f"    {layers}.append({src})",
                f"    {channels_var} = {layers}[-1].out_channels" if block else f"    {channels_var} = {self.src(out)}",
                f"{prefix}{attr} = nn.Sequential(*{layers})"]
        self.emit(scope, rep.span, indent, init=_nest(loop, indent))
        self.emit(scope, rep.span, indent, fwd=f"{target} = {prefix}{attr}({cur.var})")
        last = fold(subst(out, {index: fold(ast.BinOp("-", count_expr, literal(1)))}))
        if channels_var not in free_names(last) and not _opaque(last):
            channels = last  # the last iteration's output does not depend on its input
        elif fold(subst(out, {channels_var: cur.channels})) == fold(cur.channels):
            channels = cur.channels
        else:
            channels = ast.Name(f"{prefix}{attr}[-1].out_channels")
        return _Value(target, channels)

    def repeat_body(self, rep, attr, scope, inner, cur, prefix, indent, target, count, index) -> _Value:
        """A repeat of several statements: a ModuleList of plain containers, and a loop
        in forward that runs the same statements on each."""
        depth = self.depth - 1
        block, channels_var = _loop_var("block", depth), _loop_var("channels", depth)
        inner.locals = scope.locals
        names = Names("", count_kinds(rep.body, self.program))
        if target != cur.var:  # the loop updates `target` in place; its input stays readable
            self.emit(scope, rep.span, indent, fwd=f"{target} = {cur.var}")
        start = _Value(target, ast.Name(channels_var))
        out = self.body(rep.body, inner, names, start, f"{block}.", {}, "    ", target)
        head = [f"{prefix}{attr} = nn.ModuleList()", f"{channels_var} = {self.src(cur.channels)}",
                f"for {index} in range({count}):", f"    {block} = nn.Module()"]
        tail = [f"    {prefix}{attr}.append({block})", f"    {channels_var} = {self.src(out.channels)}"]
        self.emit(scope, rep.span, indent, init=_nest([*head, *inner.init, *tail], indent))
        loop = (f"for {index}, {block} in enumerate({prefix}{attr}):" if index != "_"
                else f"for {block} in {prefix}{attr}:")
        fwd = [*inner.fwd]
        if out.var != target:
            fwd.append(f"    {target} = {out.var}")
        self.emit(scope, rep.span, indent, fwd=_nest([loop, *(fwd or ["    pass"])], indent))  # an empty body loops over nothing
        scope.stored.update(inner.stored)
        iterated = fold(subst(out.channels, {channels_var: cur.channels}))
        if iterated == fold(cur.channels):
            return _Value(target, cur.channels)
        if not free_names(out.channels) & {channels_var, index} and not _opaque(out.channels):
            return _Value(target, out.channels)  # each iteration ends with the same channels
        # known only after the loop in __init__: keep it in a variable no later loop reuses
        snapshot = scope.var(f"{attr}_channels")
        self.emit(scope, rep.span, indent, init=f"{snapshot} = {channels_var}")
        return _Value(target, ast.Name(snapshot))

    # -- the network ----------------------------------------------------------------------------
    def network(self) -> str:
        decl = self.program.network
        env = {p.name: literal(self.graph.args[p.name]) for p in decl.params}
        scope = _Scope(env)
        self.network_scope = scope
        consumed = {i for n in self.graph.nodes for i in n.inputs}
        self.train_only = {o.name for o in self.graph.outputs if o.train_only and o.node not in consumed}
        in_shape = self.graph.input_shape
        start = _Value("x", literal(in_shape[0]))
        values: dict[str, _Value] = {}
        out = self.body(decl.body, scope, Names("", count_kinds(decl.body, self.program)), start, "self.", values)
        if self.graph.init:  # the network's `init` statements, applied once every layer exists
            first = min(self.graph.init.values(), key=lambda choice: choice["line"])
            self.emit(scope, Span(first["file"], first["line"], 1), "", init="\n".join(init_lines(self.graph.init)))
        returns = self.returns(decl, values, out)
        args = ", ".join(f"{k}={v!r}" for k, v in self.graph.args.items())
        doc_sig = ("", [])
        src = self.class_source(_class_name(decl.name), decl, scope, out, ("self", []), network=True, returns=returns)
        del doc_sig
        return src.replace(f'"""{decl.name} (', f'"""{decl.name}({_inert(args)}) (', 1)

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

    def module_source(self) -> str:
        net = self.network()
        header = [f"# Generated by netdsl from {_inert(self.graph.file)}: edit the spec, not this file.", ""]
        classes = [self.blocks[name].source for name in self.order] + [net]
        body = "\n".join(classes)
        stdlib = ["import math"] if _USES_MATH.search(body) else []
        if self.uses_ordered_dict:
            stdlib.append("from collections import OrderedDict")
        if stdlib:
            header += [*stdlib, ""]
        header.append("import torch")
        header.append("from torch import nn")
        parts = ["\n".join(header)]
        parts += [src for name, src in sorted(_HELPERS.items()) if f"{name}(" in body]
        parts += runtime_used(body)  # the modules some ops lower to (their `runtime` trait)
        parts += classes
        text = "\n\n\n".join(parts) + "\n"
        if "torch." not in text.replace("import torch", ""):
            text = text.replace("import torch\n", "", 1)
        return text


_USES_MATH = re.compile(r"\bmath\.(log|exp|sqrt)\(")  # spec functions that lower to the math module
_TYPE_HINTS = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


def _layout(stmt: str, base: str = "        ") -> str:
    """Lay out one emitted statement (possibly several lines, e.g. a loop) inside a method."""
    out = []
    for line in stmt.split("\n"):
        bare = line.lstrip(" ")
        out.append(layout(bare, base + line[: len(line) - len(bare)]) if bare else "")
    return "\n".join(out)


_OPAQUE = ast.Name("@opaque")


def _opaque(expr: ast.Expr) -> bool:
    """Whether a channel formula reads a built module (`self.x[-1].out_channels`)."""
    return expr == _OPAQUE or any(name.startswith("self.") for name in free_names(expr))


def _nest(parts: list[str], indent: str) -> str:
    """Statements (each maybe several lines) as one emitted text at `indent`: emit
    indents the first line, every later line gets `indent` here."""
    lines = "\n".join(parts).split("\n")
    return "\n".join([lines[0], *(indent + ln for ln in lines[1:])])


def _indent(text: str, indent: str) -> str:
    return "\n".join(indent + line if line else line for line in text.split("\n"))


def _class_name(name: str) -> str:
    return py_name(name)


def _key(call: ast.Call, program: Program) -> str:
    op = OPS.get(call.name)
    return op.short if op is not None else snake_case(call.name)


def _count_chain(chain, program):
    from ..ir.naming import count_chain

    return count_chain(chain, program)


def _relative(path: str, base: str) -> str:
    return path[len(base) + 1:] if base and path.startswith(base + ".") else path


def _flatten_sizes(graph: Graph) -> dict[Span, int]:
    """For each `flatten` call in the spec, the one size it flattens to (or None if its
    instances disagree)."""
    sizes: dict[Span, int | None] = {}
    for node in graph.nodes:
        if node.shape and op_of(node.op).flattens:
            size = node.shape[0]
            sizes[node.span] = size if sizes.get(node.span, size) == size else None
    return {k: v for k, v in sizes.items() if v is not None}


def generate(program: Program, graph: Graph) -> GeneratedCode:
    """PyTorch source for a checked spec."""
    gen = _Generator(program, graph)
    try:
        source = gen.module_source()
    except CodegenError as err:
        raise NetdslError([Diagnostic(codes.UNSUPPORTED, err.message, err.span)]) from None
    return GeneratedCode(source, _class_name(program.network.name), graph.file)


del REQUIRED
