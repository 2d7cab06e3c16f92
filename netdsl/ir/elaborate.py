"""Elaboration: a network's AST -> the graph IR.

Blocks are instantiated with their arguments evaluated, repeats unrolled, `if`s
decided, and every layer gets its dotted name. Errors are collected (one per failing
statement) and reported together; a failing statement leaves a poisoned value behind
so that later statements go on being checked without cascading errors."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .. import codes
from ..diagnostics import Note, Reporter, Span
from ..init import LAYER_KINDS, SCHEMES, is_pattern
from ..ops import OPS, op_of
from ..ops.base import REQUIRED, ShapeError
from ..ops.merge import Add, Concat, Multiply, Scale
from ..syntax import ast
from ..syntax.format import format_expr
from ..syntax.nesting import walk
from ..values import BOOL, FLOAT, check_value, format_value, type_name
from .binding import arguments, residual_call
from .expr import CONSTANTS, FUNCTIONS, Bound, EvalError, constant, evaluate
from .graph import Frame, Graph, Node, Output
from .naming import (
    GENERATED_ATTRIBUTES,
    DuplicateName,
    Names,
    concat_base,
    reserved_label,
    scope_names,
    single_call,
    snake_case,
)
from .program import Limits, Program
from .suggest import closest, closest_op

__all__ = ["elaborate", "elaborate_block", "snake_case", "RESIDUAL_PARAMS"]

INPUT, INVALID = "input", "invalid"
IN_CHANNELS = "in_channels"  # in an expression: the channels of the value flowing into the step


@dataclass(frozen=True)
class _Param:
    """A parameter of an op or a block, as argument binding sees it."""

    name: str
    type: ast.Type
    default: object  # REQUIRED, a Python value (ops) or an ast.Expr (blocks)


# `residual(scale, when=cond)`: `when` false runs the body alone (MobileNetV2's "stride 1 and
# equal widths"), with the names it has when the residual exists
RESIDUAL_PARAMS = (_Param("scale", FLOAT, 1.0), _Param("when", BOOL, True))


@dataclass(frozen=True)
class _CallSite:
    block: str
    span: Span
    args: str


class _Abort(Exception):
    """An error has been reported; give up on the current statement."""


@dataclass
class _Ctx:
    env: dict[str, Bound]
    values: dict[str, int]
    current: int | None
    names: Names
    frame: int | None
    calls: tuple[_CallSite, ...]
    in_network: bool = False

    def child(self, **changes) -> _Ctx:
        new = object.__new__(_Ctx)  # dataclasses.replace, without its per-call look at the fields
        new.__dict__.update(self.__dict__, **changes)
        if "values" not in changes:
            new.values = dict(self.values)
        return new


class _Elaborator:
    def __init__(self, program: Program, reporter: Reporter):
        self.program = program
        self.reporter = reporter
        self.limits: Limits = program.limits
        self.graph: Graph | None = None
        self.nodes: list[Node] = []
        self.frames: list[Frame] = []
        self.outputs: list[Output] = []
        self.poison: int | None = None
        self.instantiated: set[str] = set()  # blocks elaborated at least once
        self.init: dict[str, dict] = {}  # `init` statements: layer kind -> scheme and arguments
        self.layer_inits: list[tuple[dict, ast.InitStmt]] = []  # `init NAME: ...`, in the spec's order
        self.input_node: int | None = None
        self.shapes: dict[int, tuple] = {}  # shapes inferred while elaborating (for `in_channels`)
        self.shaped = 0  # nodes before this index have been through infer_one
        self.reads_channels: dict[int, tuple[ast.Expr, bool]] = {}  # id(expr) -> (expr, mentions in_channels)
        # per op and per call of the spec, not per instance of its block (entries keep the call alive):
        self.op_params: dict[str, list[_Param]] = {}  # an op's name -> its parameters as bind takes them
        self.as_written: dict[int, tuple[ast.Call, dict[str, str]]] = {}  # id(call) -> (call, _written)
        self.clean_unreached: dict[tuple, tuple] = {}  # unreached bodies found clean -> the body

    def names(self, path: str, body) -> Names:
        """The layer names of a scope (a statement tuple or a branch's chain) at `path`;
        decided once per body, every instance of a block shares them."""
        return scope_names(self.program, body).at(path)

    # -- errors ----------------------------------------------------------------------------
    def notes(self, ctx: _Ctx) -> list[Note]:
        return [Note(f"in block '{c.block}' instantiated here" + (f" with {c.args}" if c.args else ""), c.span)
                for c in reversed(ctx.calls)]

    def fail(self, code: codes.ErrorCode, message: str, span: Span, ctx: _Ctx, extra: list[Note] | None = None):
        self.reporter.error(code, message, span, [*(extra or []), *self.notes(ctx)])
        raise _Abort

    def eval(self, expr: ast.Expr, ctx: _Ctx) -> Bound:
        if not isinstance(expr, (ast.Literal, ast.Name)) and _expr_size(expr) > self.limits.max_expr_nodes:
            self.fail(codes.LIMIT, f"expression larger than {self.limits.max_expr_nodes:,} terms "
                      f"(raise it with {Limits.OVERRIDES['max_expr_nodes']})", expr.span, ctx)
        env, extra = ctx.env, []
        if IN_CHANNELS not in env and self.mentions_in_channels(expr):
            channels = self.current_channels(expr, ctx)
            env = {**env, IN_CHANNELS: Bound(channels, IN_CHANNELS)}
            extra = [Note(f"in_channels is {channels} here: the channels of the value flowing into this step")]
        try:
            return evaluate(expr, env)
        except EvalError as err:
            self.fail(err.code, err.message, err.span, ctx, extra)
        except RecursionError:
            self.fail(codes.TOO_DEEP, "the expression nests too deeply", expr.span, ctx)

    def mentions_in_channels(self, expr: ast.Expr) -> bool:
        """Does `expr` read `in_channels`? A compound expression is walked once, not once
        per instance of its block (the entry keeps the expression alive, so its id stays its own)."""
        if isinstance(expr, ast.Literal):
            return False
        if isinstance(expr, ast.Name):
            return expr.name == IN_CHANNELS
        hit = self.reads_channels.get(id(expr))
        if hit is None:
            self.reads_channels[id(expr)] = hit = (expr, _mentions(expr, IN_CHANNELS))
        return hit[1]

    def current_channels(self, expr: ast.Expr, ctx: _Ctx) -> int:
        """The channel count of the value flowing into the step being elaborated (its
        shape, inferred now for the nodes built so far)."""
        where = next(n.span for n in walk(expr) if isinstance(n, ast.Name) and n.name == IN_CHANNELS)
        if ctx.current is None:
            self.fail(codes.NO_INPUT, "in_channels: no value flows into this step yet", where, ctx)
        shape = self.shape_of(ctx.current)
        if shape is None:
            raise _Abort  # an earlier layer failed; shape inference reports it
        return shape[0]

    def shape_of(self, node_id: int):
        """A node's output shape, inferring the nodes before it that have none yet (in
        order: the node list is topological); None when one of them fails."""
        for node in self.nodes[self.shaped:node_id + 1]:
            self.shapes[node.id] = self.infer_one(node)
        self.shaped = max(self.shaped, node_id + 1)
        return self.shapes.get(node_id)

    def infer_one(self, node: Node):
        if node.op == INPUT:
            return tuple(node.attrs["shape"])
        shapes = [self.shapes.get(i) for i in node.inputs]
        if node.op == INVALID or any(s is None for s in shapes):
            return None
        op = OPS[node.op]
        try:
            op.check_values(node.attrs)
            return tuple(op.infer(node.attrs, shapes).shape)
        except ShapeError:
            return None  # reported by shape inference, after elaboration

    # -- nodes and frames ---------------------------------------------------------------
    def add_node(self, op: str, name: str, span: Span, ctx: _Ctx, inputs: list[int], attrs=None, sym=None,
                 written=None) -> int:
        if len(self.nodes) >= self.limits.max_layers:
            self.fail(codes.LIMIT, f"the network has more than {self.limits.max_layers:,} layers "
                      f"(raise the limit with {Limits.OVERRIDES['max_layers']})", span, ctx)
        node = Node(id=len(self.nodes), name=name, op=op, attrs=attrs or {}, sym=sym or {}, written=written or {},
                    inputs=inputs, frame=ctx.frame, span=span)
        self.nodes.append(node)
        return node.id

    def add_frame(self, ctx: _Ctx, kind: str, path: str, span: Span, **extra) -> int:
        frame = Frame(id=len(self.frames), kind=kind, path=path, parent=ctx.frame, span=span, **extra)
        self.frames.append(frame)
        return frame.id

    def poisoned(self) -> int:
        if self.poison is None:
            self.poison = len(self.nodes)
            self.nodes.append(Node(id=self.poison, name="<error>", op=INVALID, span=Span("<error>", 1, 1)))
        return self.poison

    def local_name(self, names: Names, node, label: str | None, span: Span, ctx: _Ctx, role: str = "") -> str:
        """The local name of the layer `node` makes (see Names.local); `label` is its
        label as written, checked against the names PyTorch reserves."""
        self.check_label(label, span, ctx)
        try:
            return names.local(node, role)
        except DuplicateName as err:  # (the name taken twice: a label, or a made name a label meets)
            self.fail(codes.DUPLICATE_NAME, f"the name '{err.args[0]}' is used twice in this scope", span, ctx)

    def check_label(self, label: str | None, span: Span, ctx: _Ctx) -> None:
        if label in GENERATED_ATTRIBUTES:
            self.fail(codes.RESERVED_NAME, f"a layer cannot be named '{label}': generated modules keep their "
                      "channel counts in 'in_channels' and 'out_channels'", span, ctx)
        if label is not None and reserved_label(label):
            self.fail(codes.RESERVED_NAME, f"a layer cannot be named '{label}': PyTorch modules use that name "
                      "(names starting with '_' and torch.nn.Module's attributes are reserved)", span, ctx)

    # -- network ----------------------------------------------------------------------------
    def network(self, decl: ast.BlockDecl, overrides: dict[str, Bound]) -> Graph:
        root = _Ctx({}, {}, None, self.names("", decl.body), None, (), True)
        for name in overrides:
            if name not in {p.name for p in decl.params}:
                self.reporter.error(codes.UNKNOWN_PARAMETER, _unknown_msg("network parameter", name, [p.name for p in decl.params]), None)
        args: dict[str, Bound] = {}
        for p in decl.params:
            try:
                if p.name in overrides:
                    args[p.name] = Bound(self.override(overrides[p.name].value, p), p.name)
                elif p.default is None:
                    self.fail(codes.MISSING_ARGUMENT, f"network parameter '{p.name}' has no default; give it with --set {p.name}=...", p.span, root)
                else:
                    root.env = args
                    b = self.eval(p.default, root)
                    args[p.name] = Bound(self.typed(b.value, p.type, p.name, p.default.span, root), p.name)
            except _Abort:
                continue
        root.env = dict(args)
        self.graph = Graph(name=decl.name, file=decl.span.file, args={k: v.value for k, v in args.items()})
        if len(args) == len(decl.params):
            result = self.body(decl.body, root)
            self.finish_outputs(decl, root, result)
            self.uninstantiated_blocks()
        g = self.graph
        g.nodes, g.frames, g.outputs, g.init = self.nodes, self.frames, self.outputs, self.init
        g.init_layers = self.layer_init_targets()
        if self.input_node is not None:
            g.input_shape = tuple(self.nodes[self.input_node].attrs["shape"])
        return g

    def override(self, value, p: ast.Param):
        """A `--set` value: a wrong type is a command-line error (no span, exit 2)."""
        got = check_value(value, p.type)
        if got is None:
            self.reporter.error(codes.BAD_SET, f"--set {p.name}={format_value(value)}: '{p.name}' is {type_name(p.type)}", None)
            raise _Abort
        return got

    def uninstantiated_blocks(self) -> None:
        """Blocks the network never instantiates (unused, or called only from code that
        is not elaborated) still name only real ops, blocks, values and parameters: the
        back end writes a class for every block it meets."""
        for name, block in self.program.blocks.items():
            if name not in self.instantiated:
                ctx = _Ctx({p.name: None for p in block.params}, {}, None, Names(snake_case(name), Counter()), None, ())
                self.unreached(block.body, ctx)

    def unreached_arguments(self, call: ast.Call, ctx: _Ctx) -> None:
        """The arguments of a call that is not elaborated name real parameters and give the required ones."""
        op, block = OPS.get(call.name), self.program.blocks.get(call.name)
        if (op is None and block is None) or (op is not None and op.multi_input):
            return
        params = [(p.name, p.default is REQUIRED) for p in op.params] if op else \
            [(p.name, p.default is None) for p in block.params]
        matched = arguments(self.program, [n for n, _ in params], call)
        given = set(matched.given)
        for name in dict.fromkeys(a.name for kind, a in matched.problems if kind == "unknown"):
            self.reporter.error(codes.UNKNOWN_PARAMETER, _no_parameter_msg(f"'{call.name}'", name, [n for n, _ in params]),
                                call.span, self.notes(ctx))
        for name in (n for n, required in params if required and n not in given):
            self.reporter.error(codes.MISSING_ARGUMENT, f"'{call.name}' needs argument '{name}'", call.span, self.notes(ctx))
        # arguments that are constants (no parameter in them) must have the parameter's type
        # and, for an op, be in its range
        types = {p.name: p.type for p in (op.params if op else block.params)}
        op_params = {p.name: p for p in op.params} if op else {}
        for name, arg in matched.given.items():
            if name not in types or any(isinstance(n, ast.Name) and n.name not in CONSTANTS for n in walk(arg.value)):
                continue
            try:
                raw = evaluate(arg.value, {}).value
            except (EvalError, RecursionError):
                continue  # e.g. 1 / 0 in code that never runs: PyTorch never sees it either
            value = check_value(raw, types[name])
            problem = op_params[name].problem(value) if name in op_params and value is not None else None
            if value is None:
                self.reporter.error(codes.TYPE_ERROR, f"argument '{name}' of '{call.name}' must be {type_name(types[name])}, "
                                    f"got {format_value(raw)}", arg.value.span, self.notes(ctx))
            elif problem:
                self.reporter.error(codes.BAD_VALUE, f"argument '{name}' of '{call.name}' {problem}", arg.value.span,
                                    self.notes(ctx))

    def finish_outputs(self, decl: ast.BlockDecl, ctx: _Ctx, result: int | None) -> None:
        if self.input_node is None:
            if any(isinstance(s, ast.InputStmt) for s in decl.body):
                return  # the `input` statement failed and has been reported
            self.reporter.error(codes.MISSING_INPUT, f"network '{decl.name}' declares no input; start it with `input [C, H, W]`", decl.span)
            return
        if not self.outputs and result is not None:
            self.outputs.append(Output(name="out", node=result))

    # -- statements -----------------------------------------------------------------------
    def body(self, stmts: tuple, ctx: _Ctx) -> int | None:
        for stmt in stmts:
            try:
                self.statement(stmt, ctx)
            except _Abort:
                ctx.current = self.poisoned()
                if isinstance(stmt, ast.AssignStmt):
                    ctx.values[stmt.name] = ctx.current
        return ctx.current

    def statement(self, stmt, ctx: _Ctx) -> None:
        if isinstance(stmt, ast.ChainStmt):
            ctx.current = self.chain(stmt.chain, ctx)
        elif isinstance(stmt, ast.AssignStmt):
            if stmt.name in OPS or stmt.name in self.program.blocks:
                what = "builtin op" if stmt.name in OPS else "block"
                self.fail(codes.SHADOWED_NAME, f"the value '{stmt.name}' would hide the {what} of that name; rename it", stmt.span, ctx)
            ctx.current = self.chain(stmt.chain, ctx)
            ctx.values[stmt.name] = ctx.current
        elif isinstance(stmt, ast.IfStmt):
            self.if_statement(stmt, ctx)
        elif isinstance(stmt, ast.InputStmt):
            self.input_statement(stmt, ctx)
        elif isinstance(stmt, ast.OutputStmt):
            self.output_statement(stmt, ctx)
        elif isinstance(stmt, ast.InitStmt):
            self.init_statement(stmt, ctx)

    def init_statement(self, stmt: ast.InitStmt, ctx: _Ctx) -> None:
        if not ctx.in_network or ctx.calls:
            self.fail(codes.BAD_INIT, "`init` belongs in a network: it sets how the whole network initialises a layer kind",
                      stmt.span, ctx)
        scheme = SCHEMES.get(stmt.scheme)
        if scheme is None:
            self.fail(codes.BAD_INIT, _unknown_msg("initialisation", stmt.scheme, SCHEMES) + f" (one of {', '.join(SCHEMES)})",
                      stmt.span, ctx)
        by_name = is_pattern(stmt.kind)
        if stmt.kind in self.init or any(e["pattern"] == stmt.kind for e, _ in self.layer_inits):
            self.fail(codes.BAD_INIT, f"`init {stmt.kind}` is given twice", stmt.span, ctx)
        params = [_Param(p.name, p.type, p.default) for p in scheme.params]
        bound, _ = self.bind(params, ast.Call(stmt.scheme, stmt.args, True, stmt.span), f"'{stmt.scheme}'", ctx)
        entry = {"scheme": scheme.name, "args": {k: b.value for k, b in bound.items()},
                 "file": stmt.span.file, "line": stmt.span.line}
        if by_name:  # its layers are known once the whole network is elaborated (layer_init_targets)
            self.layer_inits.append(({"pattern": stmt.kind, **entry}, stmt))
        else:
            self.init[stmt.kind] = entry

    def layer_init_targets(self) -> list[dict]:
        """The `init NAME: ...` statements whose name or pattern names layers with a weight."""
        done = []
        for entry, stmt in self.layer_inits:
            try:
                entry["layers"] = self.init_layers_of(entry["pattern"], SCHEMES[entry["scheme"]], stmt)
                done.append(entry)
            except _Abort:
                continue
        return done

    def init_layers_of(self, pattern: str, scheme, stmt: ast.InitStmt) -> list[str]:
        root = _Ctx({}, {}, None, Names("", Counter()), None, ())
        live = [n for n in self.nodes if n.op not in (INPUT, INVALID)]
        weighted = [n for n in live if op_of(n.op).init_weight and n.attrs.get("affine", True)]
        hits = [n for n in weighted if fnmatchcase(n.name, pattern)]
        if not hits:
            others = [n.name for n in live if fnmatchcase(n.name, pattern)]
            if others:
                self.fail(codes.INIT_NO_MATCH, f"`init {pattern}` names only layers without a weight to set "
                          f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''})", stmt.span, root)
            if "." in pattern or "*" in pattern:
                self.fail(codes.INIT_NO_MATCH, _unknown_msg("layer", pattern, [n.name for n in weighted]).replace(
                    "unknown layer", f"`init {pattern}`: no layer with a weight is named", 1), stmt.span, root)
            self.fail(codes.BAD_INIT, _unknown_msg("layer kind or layer", pattern, [*LAYER_KINDS, *(n.name for n in weighted)])
                      + f" (a kind is one of {', '.join(LAYER_KINDS)})", stmt.span, root)
        if scheme.fan:
            odd = next((n for n in hits if not op_of(n.op).init_kind), None)
            if odd is not None:
                self.fail(codes.BAD_INIT, f"'{scheme.name}' needs the fan of a conv or linear weight, but "
                          f"'{odd.name}' is a {odd.op}", stmt.span, root)
        if scheme.from_layer:
            self.fail(codes.BAD_INIT, f"'{scheme.name}' is chosen per layer kind (`init conv: {scheme.name}`)",
                      stmt.span, root)
        return [n.name for n in hits]

    def if_statement(self, stmt: ast.IfStmt, ctx: _Ctx) -> None:
        for cond, body in stmt.arms:
            b = self.eval(cond, ctx)
            if not isinstance(b.value, bool):
                self.fail(codes.TYPE_ERROR, f"the condition of `if` must be a bool, got {format_value(b.value)}", cond.span, ctx)
            if b.value:
                self.body(body, ctx)
                for _, other in stmt.arms[stmt.arms.index((cond, body)) + 1:]:
                    self.unreached(other, ctx)
                self.unreached(stmt.otherwise, ctx)
                return
            self.unreached(body, ctx)
        self.body(stmt.otherwise, ctx)

    def unreached(self, stmts: tuple, ctx: _Ctx, bound_names: tuple[str, ...] = ()) -> None:
        """A body that is not elaborated (an `if` arm not taken, a repeat of 0) still
        names only ops, blocks and values: the back end lowers it all the same. What it
        finds depends on the body and the names in scope only (the context gives the
        notes): a body found clean is not looked at again in the same scope (`if se {`
        in a block instantiated 16 times); one with errors is, so that each instance
        reports them with its notes, as before."""
        key = (id(stmts), frozenset(ctx.values), frozenset(ctx.env), bound_names)
        if key in self.clean_unreached:
            return
        reported = len(self.reporter.diagnostics)
        self.check_unreached(stmts, ctx, bound_names)
        if len(self.reporter.diagnostics) == reported:
            self.clean_unreached[key] = stmts  # keeps the body alive: its id stays its own

    def check_unreached(self, stmts: tuple, ctx: _Ctx, bound_names: tuple[str, ...]) -> None:
        known = {*OPS, *self.program.blocks, *ctx.values, *ctx.env}
        nodes = [n for stmt in stmts for n in walk(stmt)]
        known |= {n.name for n in nodes if isinstance(n, ast.AssignStmt)}
        for call in (n for n in nodes if isinstance(n, ast.Call) and n.name not in known):
            values = () if call.has_parens else known - {*OPS, *self.program.blocks}
            close = closest_op(call.name, self.program.blocks, values)
            hint = f"; did you mean '{close}'?" if close else ""
            self.reporter.error(codes.UNKNOWN_OP, f"unknown op or block '{call.name}'{hint}", call.span, self.notes(ctx))
        for call in (n for n in nodes if isinstance(n, ast.Call) and n.name in known):
            self.unreached_arguments(call, ctx)
        names = {*ctx.env, *CONSTANTS, IN_CHANNELS, *bound_names,
                 *(n.index for n in nodes if isinstance(n, ast.Repeat) and n.index)}
        for loop in (n for n in nodes if isinstance(n, ast.ForLoop)):  # names a loop binds, in a body not elaborated
            names |= {*loop.targets, *((loop.index,) if loop.index else ())}
        values = {*ctx.values, *(n.name for n in nodes if isinstance(n, ast.AssignStmt))}
        merged = {id(a.value) for n in nodes if isinstance(n, ast.Call) and _merges(n) for a in n.args}
        for ref in (n for n in nodes if isinstance(n, ast.Name) and n.name not in names):
            if id(ref) in merged:  # `mul(x, gate)`: named values
                if ref.name not in values:
                    self.reporter.error(codes.UNKNOWN_NAME, _unknown_msg("value", ref.name, values), ref.span,
                                        self.notes(ctx))
                continue
            close = closest(ref.name, names, FUNCTIONS)
            hint = f"; did you mean '{close}'?" if close else ""
            self.reporter.error(codes.UNKNOWN_NAME, f"unknown name '{ref.name}'{hint}", ref.span, self.notes(ctx))

    def input_statement(self, stmt: ast.InputStmt, ctx: _Ctx) -> None:
        if not ctx.in_network or ctx.calls:
            self.fail(codes.MISPLACED_INPUT, "`input` belongs in a network, not in a block", stmt.span, ctx)
        if self.input_node is not None:
            self.fail(codes.DUPLICATE_INPUT, "the network declares its input twice", stmt.span, ctx)
        dims = []
        for e in stmt.dims:
            v = self.eval(e, ctx).value
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                self.fail(codes.BAD_VALUE, f"input dimensions must be positive integers, got {format_value(v)}", e.span, ctx)
            dims.append(v)
        if len(dims) not in (1, 3):
            self.fail(codes.BAD_VALUE, f"input is [C, H, W] (or [F]), got {len(dims)} dimensions", stmt.span, ctx)
        self.input_node = self.add_node(INPUT, "input", stmt.span, ctx, [], {"shape": tuple(dims)})
        ctx.current = self.input_node

    def output_statement(self, stmt: ast.OutputStmt, ctx: _Ctx) -> None:
        if not ctx.in_network or ctx.calls:
            self.fail(codes.MISPLACED_OUTPUT, "`output` belongs in a network; a block returns its last value", stmt.span, ctx)
        for name in stmt.names:
            if name not in ctx.values:
                self.fail(codes.UNKNOWN_NAME, _unknown_msg("value", name, list(ctx.values)), stmt.span, ctx)
            if any(o.name == name for o in self.outputs):
                self.fail(codes.DUPLICATE_NAME, f"'{name}' is declared as an output twice", stmt.span, ctx)
            self.outputs.append(Output(name=name, node=ctx.values[name], train_only=stmt.train_only))

    # -- chains and steps -----------------------------------------------------------------
    def chain(self, chain: ast.Chain, ctx: _Ctx) -> int | None:
        steps = chain.steps
        first = steps[0]
        if first.label is None and isinstance(first.kind, ast.Call) and not first.kind.has_parens and first.kind.name in ctx.values:
            ctx.current = ctx.values[first.kind.name]
            steps = steps[1:]
        for step in steps:
            ctx.current = self.step(step, ctx)
        return ctx.current

    def need_input(self, ctx: _Ctx, span: Span) -> int:
        if ctx.current is None:
            self.fail(codes.NO_INPUT, "this layer has no input; a network starts with `input [C, H, W]`", span, ctx)
        return ctx.current

    def step(self, step: ast.Step, ctx: _Ctx, forced: str | None = None) -> int:
        kind = step.kind
        if isinstance(kind, ast.Call):
            return self.call(kind, step.label, ctx, forced)
        if isinstance(kind, ast.Concat):
            return self.concat(kind, step.label, ctx)
        if isinstance(kind, ast.Residual):
            return self.residual(kind, step.label, ctx)
        if isinstance(kind, ast.ForLoop):
            return self.for_loop(kind, step.label, ctx)
        if isinstance(kind, ast.Gate):
            return self.gate(kind, step.label, ctx)
        return self.repeat(kind, step.label, ctx)

    def call(self, call: ast.Call, label: str | None, ctx: _Ctx, forced: str | None = None) -> int:
        op = OPS.get(call.name)
        if op is not None:
            return self.apply_op(op, call, label, ctx, forced)
        block = self.program.blocks.get(call.name)
        if block is not None:
            return self.instantiate(block, call, label, ctx, forced)
        values = ctx.values if not call.has_parens else ()  # a bare name may have meant a value
        close = closest_op(call.name, self.program.blocks, values)
        hint = f"; did you mean '{close}'?" if close else ""
        self.fail(codes.UNKNOWN_OP, f"unknown op or block '{call.name}'{hint}", call.span, ctx)

    def bind(self, params, call: ast.Call, what: str, ctx: _Ctx, env_for_defaults=None):
        """Match a call's arguments to parameters; evaluate and type-check them."""
        names = [p.name for p in params]
        matched = arguments(self.program, names, call)
        for kind, a in matched.problems[:1]:
            if kind == "surplus":
                count = sum(1 for b in call.args if b.name is None)
                self.fail(codes.TOO_MANY_ARGUMENTS,
                          f"{what} takes {len(params)} argument{'s' * (len(params) != 1)}, got {count} positional",
                          a.span, ctx)
            if kind == "unknown":
                self.fail(codes.UNKNOWN_PARAMETER, _no_parameter_msg(what, a.name, names), a.span, ctx)
            self.fail(codes.DUPLICATE_ARGUMENT, f"argument '{a.name}' of {what} is given twice", a.span, ctx)
        given = matched.given
        bound: dict[str, Bound] = {}
        spans: dict[str, Span] = {}
        for p in params:
            if p.name in given:
                arg = given[p.name]
                b = self.eval(arg.value, ctx)
                bound[p.name] = Bound(self.typed(b.value, p.type, p.name, arg.value.span, ctx, what), b.sym)
                spans[p.name] = arg.value.span
            elif p.default is REQUIRED or (isinstance(p, ast.Param) and p.default is None):
                self.fail(codes.MISSING_ARGUMENT, f"{what} needs argument '{p.name}' ({type_name(p.type)})", call.span, ctx)
            elif isinstance(p, ast.Param):  # a block default: an expression over earlier parameters
                env_ctx = ctx.child(env=dict(bound))
                b = self.eval(p.default, env_ctx)
                bound[p.name] = Bound(self.typed(b.value, p.type, p.name, p.default.span, ctx, what), b.sym)
            else:
                bound[p.name] = constant(p.default)
        return bound, spans

    def typed(self, value, t: ast.Type, name: str, span: Span, ctx: _Ctx, what: str = ""):
        got = check_value(value, t)
        if got is None:
            where = f" of {what}" if what else ""
            self.fail(codes.TYPE_ERROR, f"argument '{name}'{where} must be {type_name(t)}, got {format_value(value)}", span, ctx)
        return got

    def apply_op(self, op, call: ast.Call, label, ctx: _Ctx, forced=None) -> int:
        if op.multi_input:
            return self.merge_call(op, call, label, ctx)
        params = self.op_params.get(op.name)
        if params is None:
            params = self.op_params[op.name] = [_Param(p.name, p.type, p.default) for p in op.params]
        bound, spans = self.bind(params, call, f"'{op.name}'", ctx)
        x = self.need_input(ctx, call.span)
        local = forced or self.local_name(ctx.names, call, label, call.span, ctx)
        attrs = {k: b.value for k, b in bound.items()}
        sym = {k: b.sym for k, b in bound.items() if k in spans}
        return self.add_node(op.name, ctx.names.full(local), call.span, ctx, [x], attrs, sym,
                             self.written(op.params, call))

    def written(self, params, call: ast.Call) -> dict[str, str]:
        """The call's arguments as the spec writes them (`_written`), formatted once per
        call; the graph's models copy the dict they are given."""
        hit = self.as_written.get(id(call))
        if hit is None:
            self.as_written[id(call)] = hit = (call, _written(self.program, params, call))
        return hit[1]

    def merge_call(self, op, call: ast.Call, label, ctx: _Ctx) -> int:
        inputs = []
        for a in call.args:
            if a.name is not None or not isinstance(a.value, ast.Name) or a.value.name not in ctx.values:
                self.fail(codes.BAD_VALUE, f"the arguments of '{op.name}' are named values, e.g. {op.name}(a, b)", a.span, ctx)
            inputs.append(ctx.values[a.value.name])
        if len(inputs) < 2:
            hint = f" or `{op.construct}`" if op.construct else ""
            self.fail(codes.MISSING_ARGUMENT, f"'{op.name}' joins two or more named values: {op.name}(a, b){hint}", call.span, ctx)
        local = self.local_name(ctx.names, call, label, call.span, ctx)
        return self.add_node(op.name, ctx.names.full(local), call.span, ctx, inputs)

    def instantiate(self, block: ast.BlockDecl, call: ast.Call, label, ctx: _Ctx, forced=None) -> int:
        if any(c.block == block.name for c in ctx.calls):
            self.fail(codes.RECURSIVE_BLOCK, f"block '{block.name}' instantiates itself", call.span, ctx)
        if len(ctx.calls) >= self.limits.max_depth:
            self.fail(codes.LIMIT, f"blocks nest more than {self.limits.max_depth} deep "
                      f"(raise the limit with {Limits.OVERRIDES['max_depth']})", call.span, ctx)
        self.instantiated.add(block.name)
        bound, _ = self.bind(block.params, call, f"block '{block.name}'", ctx)
        self.need_input(ctx, call.span)
        local = forced or self.local_name(ctx.names, call, label, call.span, ctx)
        path = ctx.names.full(local)
        values = {k: b.value for k, b in bound.items()}
        frame = self.add_frame(ctx, "block", path, call.span, block=block.name, args=values,
                               sym={k: b.sym for k, b in bound.items()}, written=self.written(block.params, call))
        shown = ", ".join(f"{k}={format_value(v)}" for k, v in values.items())
        inner = _Ctx(dict(bound), {}, ctx.current, self.names(path, block.body), frame,
                     (*ctx.calls, _CallSite(block.name, call.span, shown)))
        return self.body(block.body, inner)

    def concat(self, group: ast.Concat, label, ctx: _Ctx) -> int:
        x = self.need_input(ctx, group.span)
        local = self.local_name(ctx.names, group, label, group.span, ctx)
        outs = []
        # a scope with several concats keeps their branches apart: concat2.b1
        base = concat_base(ctx.names, group, label)
        for br in group.branches:
            name = self.local_name(ctx.names, br, br.label, br.span, ctx)
            path = f"{base}.{name}" if base else name
            frame = self.add_frame(ctx, "branch", path, br.span)
            bctx = ctx.child(current=x, names=self.names(path, br.chain), frame=frame)
            outs.append(self.chain(br.chain, bctx))
        return self.add_node(Concat.name, ctx.names.full(local), group.span, ctx, outs)

    def residual(self, res: ast.Residual, label, ctx: _Ctx) -> int:
        x = self.need_input(ctx, res.span)
        bound, spans = self.bind(RESIDUAL_PARAMS, residual_call(self.program, res), "'residual'", ctx)
        body_ctx = ctx.child(current=x)
        y = self.body(res.body, body_ctx)
        if not bound["when"].value:
            return self.body_alone(res, label, ctx, y, bound["scale"].value != 1.0)
        s = x
        if res.shortcut:
            local = self.local_name(ctx.names, res, res.shortcut_label, res.span, ctx, "shortcut")
            path = ctx.names.full(local)
            frame = self.add_frame(ctx, "shortcut", path, res.span)
            sctx = ctx.child(current=x, names=self.names(path, res.shortcut), frame=frame)
            s = self.body(res.shortcut, sctx)
        scale = bound["scale"]
        if scale.value != 1.0:
            local = self.local_name(ctx.names, res, None, res.span, ctx, "scale")
            sym = {"factor": scale.sym} if "scale" in spans else {}
            y = self.add_node(Scale.name, ctx.names.full(local), res.span, ctx, [y], {"factor": scale.value}, sym)
        local = self.local_name(ctx.names, res, label, res.span, ctx)
        return self.add_node(Add.name, ctx.names.full(local), res.span, ctx, [s, y], {"residual": True})

    def body_alone(self, res: ast.Residual, label, ctx: _Ctx, y: int, scaled: bool) -> int:
        """A residual whose `when` is false: its body's value, no sum. The names the
        shortcut, scale and sum would take stay taken, so nothing after shifts."""
        if res.shortcut:
            self.local_name(ctx.names, res, res.shortcut_label, res.span, ctx, "shortcut")
            self.unreached(res.shortcut, ctx)
        self.local_name(ctx.names, res, label, res.span, ctx)  # (checks the label; the names are decided from the statements)
        return y

    def gate(self, gate: ast.Gate, label, ctx: _Ctx) -> int:
        """`gate se { body }`: x * body(x), the body in scope `se` (`gate` unlabelled)."""
        x = self.need_input(ctx, gate.span)
        local = self.local_name(ctx.names, gate, gate.label, gate.span, ctx, "gate")
        path = ctx.names.full(local)
        frame = self.add_frame(ctx, "gate", path, gate.span)
        y = self.body(gate.body, ctx.child(current=x, names=self.names(path, gate.body), frame=frame))
        local = self.local_name(ctx.names, gate, label, gate.span, ctx)
        return self.add_node(Multiply.name, ctx.names.full(local), gate.span, ctx, [x, y], {"gate": True})

    def repeat(self, rep: ast.Repeat, label, ctx: _Ctx) -> int:
        count = self.eval(rep.count, ctx).value
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.fail(codes.BAD_VALUE, f"a repeat count must be a non-negative integer, got {format_value(count)}", rep.count.span, ctx)
        if count > self.limits.max_layers:
            self.fail(codes.LIMIT, f"repeat count {count:,} exceeds the layer limit of {self.limits.max_layers:,} "
                      f"(raise it with {Limits.OVERRIDES['max_layers']})", rep.count.span, ctx)
        x = self.need_input(ctx, rep.span)
        envs = [{rep.index: Bound(k, str(k))} if rep.index else {} for k in range(count)]
        return self.iterations(rep, label, ctx, x, envs, (rep.index,) if rep.index else ())

    def for_loop(self, loop: ast.ForLoop, label, ctx: _Ctx) -> int:
        """One iteration a row of the table, named as a repeat's are (`conv.0`, `repeat.1.conv`)."""
        table = self.eval(loop.table, ctx)
        if not isinstance(table.value, tuple):
            self.fail(codes.TYPE_ERROR, f"`for` iterates over a list, got {format_value(table.value)}", loop.table.span, ctx)
        if len(table.value) > self.limits.max_layers:
            self.fail(codes.LIMIT, f"a table of {len(table.value):,} rows exceeds the layer limit of "
                      f"{self.limits.max_layers:,} (raise it with {Limits.OVERRIDES['max_layers']})", loop.table.span, ctx)
        x = self.need_input(ctx, loop.span)
        envs = [self.row_env(loop, table, k, ctx) for k in range(len(table.value))]
        return self.iterations(loop, label, ctx, x, envs, (*loop.targets, *((loop.index,) if loop.index else ())))

    def row_env(self, loop: ast.ForLoop, table: Bound, k: int, ctx: _Ctx) -> dict[str, Bound]:
        row, sym = table.value[k], f"{_wrap_sym(table.sym)}[{k}]"
        env = {loop.index: Bound(k, str(k))} if loop.index else {}
        if not loop.unpack:
            env[loop.targets[0]] = Bound(row, sym)
            return env
        n = len(loop.targets)
        if not isinstance(row, tuple) or len(row) != n:
            written = loop.table.items[k].span if isinstance(loop.table, ast.ListExpr) else loop.table.span
            got = f"{len(row)} item{'s' * (len(row) != 1)}" if isinstance(row, tuple) else f"one value, {format_value(row)}"
            self.fail(codes.TABLE_ROW_ARITY, f"row {k} of the table has {got}, but the loop unpacks {n} "
                      f"({', '.join(loop.targets)})", written, ctx,
                      [Note(f"row {k} is {_show_row(row)}; the loop's names are ({', '.join(loop.targets)})", loop.span)])
        env.update({t: Bound(v, f"{sym}[{j}]") for j, (t, v) in enumerate(zip(loop.targets, row))})
        return env

    def iterations(self, rep: ast.Repeat | ast.ForLoop, label, ctx: _Ctx, x: int, envs: list[dict[str, Bound]],
                   bound_names: tuple[str, ...]) -> int:
        """A repeat's or a for loop's body once per environment, named `key.0`, `key.1`, ..."""
        count = len(envs)
        single = single_call(rep.body)
        local = self.local_name(ctx.names, rep, label, rep.span, ctx)
        path = ctx.names.full(local)
        group = self.add_frame(ctx, "repeat", path, rep.span, count=count)
        current = x
        if count == 0:
            self.unreached(rep.body, ctx, bound_names)
        for k in range(count):
            env = {**ctx.env, **envs[k]}
            if single is not None:
                ictx = ctx.child(env=env, current=current, names=Names(path, Counter()), frame=group)
                current = self.call(single, None, ictx, forced=str(k))
            else:
                ipath = f"{path}.{k}"
                frame = self.add_frame(ctx.child(frame=group), "iteration", ipath, rep.span)
                ictx = ctx.child(env=env, current=current, names=self.names(ipath, rep.body), frame=frame)
                current = self.body(rep.body, ictx)
        return current


def _mentions(expr: ast.Expr, name: str) -> bool:
    return not isinstance(expr, ast.Literal) and any(isinstance(n, ast.Name) and n.name == name for n in walk(expr))


def _wrap_sym(sym: str) -> str:
    return f"({sym})" if " " in sym else sym


def _show_row(row) -> str:
    """A table row for a note: a tuple as `(6, 24, 2, 2)`, even a pair (not `6x24`)."""
    if isinstance(row, tuple):
        return "(" + ", ".join(_show_row(v) for v in row) + ")"
    return format_value(row)


def _written(program, params, call: ast.Call) -> dict[str, str]:
    """The arguments of a call as the spec writes them, by parameter name."""
    return {name: format_expr(a.value) for name, a in arguments(program, [p.name for p in params], call).given.items()}


def _expr_size(expr) -> int:
    stack, n = [expr], 0
    while stack:
        e = stack.pop()
        n += 1
        if isinstance(e, ast.BinOp):
            stack += [e.left, e.right]
        elif isinstance(e, ast.UnaryOp):
            stack.append(e.operand)
        elif isinstance(e, ast.Conditional):
            stack += [e.then, e.cond, e.otherwise]
        elif isinstance(e, ast.FuncCall):
            stack += [a.value for a in e.args]
        elif isinstance(e, (ast.TupleExpr, ast.ListExpr)):
            stack += list(e.items)
        elif isinstance(e, ast.Subscript):
            stack += [e.value, e.index]
        elif isinstance(e, ast.Slice):
            stack += [b for b in (e.value, e.start, e.stop, e.step) if b is not None]
    return n


def _merges(call: ast.Call) -> bool:
    """A call of concat/add/mul: its arguments are named values."""
    op = OPS.get(call.name)
    return op is not None and op.multi_input


def _unknown_msg(what: str, name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1)
    return f"unknown {what} '{name}'" + (f"; did you mean '{close[0]}'?" if close else "")


def _no_parameter_msg(what: str, name: str, candidates) -> str:
    """`block 'ConvBN' has no parameter 'strde'; did you mean 'stride'?`"""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1)
    return f"{what} has no parameter '{name}'" + (f"; did you mean '{close[0]}'?" if close else "")


def elaborate(program: Program, overrides: dict[str, Bound] | None = None, reporter: Reporter | None = None) -> Graph:
    """Elaborate the program's network into a graph; diagnostics go to `reporter`."""
    reporter = reporter if reporter is not None else Reporter()
    decl = program.network
    if decl is None:
        reporter.error(codes.NO_NETWORK, f"{program.entry.file} defines no network (only blocks)", None)
        return Graph(name="", file=program.entry.file)
    return _Elaborator(program, reporter).network(decl, overrides or {})


def elaborate_block(program: Program, name: str, input_shape: tuple[int, ...], args: dict[str, object],
                    reporter: Reporter | None = None, symbolic: bool = True) -> Graph:
    """One block on its own, as the root of a graph (for its diagram): an input of
    `input_shape`, then the block with parameter values `args` (missing ones take their
    defaults). With `symbolic`, each parameter is spelt by its own name, so that the
    labels of Reduction-A read k, l, m, n as in the paper's Figure 7."""
    reporter = reporter if reporter is not None else Reporter()
    decl = program.blocks[name]
    el = _Elaborator(program, reporter)
    el.graph = Graph(name=decl.name, file=decl.span.file)
    root = _Ctx({}, {}, None, Names("", Counter()), None, ())
    bound: dict[str, Bound] = {}
    try:
        bound = _block_args(el, decl, args, root, symbolic)
        el.input_node = el.add_node(INPUT, "input", decl.span, root, [], {"shape": tuple(input_shape)})
        path = snake_case(decl.name)
        values = {k: b.value for k, b in bound.items()}
        frame = el.add_frame(root, "block", path, decl.span, block=decl.name, args=values,
                             sym={k: b.sym for k, b in bound.items()})
        inner = _Ctx(dict(bound), {}, el.input_node, el.names(path, decl.body), frame,
                     (_CallSite(decl.name, decl.span, ""),))
        out = el.body(decl.body, inner)
        if out is not None:
            el.outputs.append(Output(name="out", node=out))
    except _Abort:
        pass
    g = el.graph
    g.args, g.input_shape = {k: b.value for k, b in bound.items()}, tuple(input_shape)
    g.nodes, g.frames, g.outputs = el.nodes, el.frames, el.outputs
    return g


def _block_args(el: _Elaborator, decl: ast.BlockDecl, args: dict[str, object], ctx: _Ctx, symbolic: bool) -> dict[str, Bound]:
    for given in args:
        if given not in {p.name for p in decl.params}:
            el.fail(codes.UNKNOWN_PARAMETER, _no_parameter_msg(f"block '{decl.name}'", given, [p.name for p in decl.params]), decl.span, ctx)
    bound: dict[str, Bound] = {}
    for p in decl.params:
        if p.name in args:
            value = el.typed(args[p.name], p.type, p.name, p.span, ctx, f"block '{decl.name}'")
        elif p.default is not None:
            value = el.eval(p.default, ctx.child(env=dict(bound))).value
        else:
            el.fail(codes.MISSING_ARGUMENT, f"block '{decl.name}' needs argument '{p.name}' ({type_name(p.type)})", p.span, ctx)
        bound[p.name] = Bound(value, p.name if symbolic else format_value(value).strip('"'))
    return bound
