"""Hypothesis strategies for netdsl specs: *valid* specs drawn from the grammar (blocks,
branches, residuals, repeats, named values, expressions), with shapes kept consistent
most of the time, and mutations of them (dropped, duplicated, swapped tokens, bytes).

The generator tracks the (channels, size) each statement produces, so most specs
shape-check; `sloppy=True` lets some choices ignore the shape (a residual whose body
changes channels, a kernel larger than its input) so that failures are drawn too.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

__all__ = ["valid_specs", "mutated_specs", "tokens", "Spec"]

_TOKEN = re.compile(r"\s+|#[^\n]*|[A-Za-z_0-9.]+|->|//|==|!=|<=|>=|\"[^\"\n]*\"|.", re.S)


def tokens(text: str) -> list[str]:
    """Words, operators, strings, comments and white space; joined they give the text."""
    return _TOKEN.findall(text)


@dataclass
class Spec:
    """A generated spec and what the generator expects of it."""

    text: str
    consistent: bool  # every choice respected the shapes
    blocks: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # Hypothesis prints the text of a failing example
        return f"Spec(consistent={self.consistent}):\n{self.text}"


@dataclass
class _State:
    channels: int
    size: int
    consistent: bool = True
    names: int = 0


_BRANCH_LABELS = ("x", "y", "shortcut", "block", "channels", "layers", "i", "b1", "b2")
# made names (an op's, a branch's, a residual's parts) and the generator's own names; not
# `shortcut`, which right after a residual starts its shortcut
_STEP_LABELS = ("x", "block", "channels", "layers", "i", "conv", "conv1", "bn", "relu", "b1", "b2", "add", "scale",
                "mul", "se1", "fc", "pool", "repeat_")
_VALUE_NAMES = ("x", "block", "channels", "layers")  # one per value: at most four statements
# pairs of value names in a repeat's or a block's body: plain, like layers (`b1`, `conv1`), like
# forward's and the generator's variables (`x`, `block`, `i`)
_MERGED_NAMES = (("a", "b"), ("b1", "conv1"), ("x", "y"), ("block", "i"), ("left", "x2"))


@functools.cache
def shape_keeping_examples() -> tuple[str, ...]:
    """The doc examples of the registered ops that keep any feature map's shape (an
    activation, a norm without groups, a dropout, a layer scale ...), sorted: drawn as a
    step anywhere, so every such op - a new one too - meets every construct."""
    import netdsl
    from netdsl.ops import OPS

    keep = []
    for op in sorted({op.name: op for op in OPS.values()}.values(), key=lambda op: op.name):
        if op.multi_input or op.input_rank != 3:
            continue
        shapes = [(c, n, n) for c in (5, 7) for n in (3, 4)]
        for shape in shapes:
            spec = f"network N() {{\n    input [{', '.join(map(str, shape))}]\n    {op.example}\n}}\n"
            result = netdsl.analyze(spec)
            if not result.ok or result.graph.output_shape != shape:
                break
        else:
            keep.append(op.example)
    return tuple(keep)


def _same(size: int, stride: int) -> int:
    return -(-size // stride)


class _Gen:
    def __init__(self, draw, sloppy: bool, alternatives: bool = False):
        self.draw, self.sloppy, self.alternatives = draw, sloppy, alternatives
        self.blocks: list[str] = []
        self.decls: list[str] = []  # blocks made for one call site (`if` alternatives)
        self.labels: set[str] = set()  # the step labels used so far

    def coin(self, p_true: int = 1, of: int = 2) -> bool:
        return self.draw(st.integers(0, of - 1)) < p_true

    def expr(self, value: int) -> str:
        """An expression that evaluates to `value` (an int >= 1)."""
        kind = self.draw(st.integers(0, 10))
        if kind == 7:  # a table: a subscript, a slice, len/sum/max of a list
            return self.draw(st.sampled_from([f"[1, {value}, 2][1]", f"[{value}, 3][-2]", f"sum([{value - 1}, 1][:2])",
                                              f"len([{', '.join(['0'] * value)}])", f"max([{value}, 1])"]))
        if kind == 8 and value & (value - 1) == 0:
            return f"2 ** {value.bit_length() - 1}"
        if kind == 9:
            return f"int(sqrt({value * value}))"
        if kind == 10:
            return f"int(round(exp(log({value}))))"
        if kind == 1:
            return f"{value - 1} + 1"
        if kind == 2 and value % 2 == 0:
            return f"2 * {value // 2}"
        if kind == 3:
            return f"max({value}, 1)"
        if kind == 4:
            return f"({value * 4} // 4)"
        if kind == 5:
            return f"{value} if true else {value + 1}"
        return str(value)

    def conv(self, s: _State, stride_ok: bool = True, channels: int | None = None) -> str:
        filters = channels or self.draw(st.integers(1, 12))
        kernel = self.draw(st.sampled_from([1, 3, 5, "1x3", "3x1"]))
        stride = self.draw(st.sampled_from([1, 1, 2])) if stride_ok else 1
        op = "sepconv" if self.coin(1, 6) and channels is None else "conv"
        width = self.expr(filters)
        if self.coin(1, 5):  # the same number, from the width flowing in
            width = f"in_channels + {filters - s.channels}" if filters >= s.channels else f"in_channels - {s.channels - filters}"
        text = f"{op}({width}, {kernel}"
        if stride > 1:
            text += f", stride={stride}"
        if self.coin(1, 4):
            text += f", bias={self.draw(st.sampled_from(['true', 'false']))}"
        s.channels, s.size = filters, _same(s.size, stride)
        return text + ")"

    def pool(self, s: _State) -> str:
        kernel = self.draw(st.integers(1, 3))
        if self.coin(1, 4):  # Inception's pool branch: the size kept
            include = self.draw(st.sampled_from(["true", "false"]))
            return f"avgpool(3, stride=1, padding=same, count_include_pad={include})"
        if self.coin() and s.size >= kernel:
            s.size = (s.size - kernel) // kernel + 1
            return f"{self.draw(st.sampled_from(['maxpool', 'avgpool']))}({kernel})"
        s.size = _same(s.size, 2)
        return f"maxpool({kernel | 1}, stride=2, padding=same)"

    def simple(self, s: _State, stride_ok: bool = True) -> str:
        kind = self.draw(st.integers(0, 9))
        if kind <= 3:
            return self.conv(s, stride_ok)
        if kind == 4:
            return "batchnorm" if self.coin() else "batchnorm(eps=0.001)"
        if kind == 5 and stride_ok and s.size >= 2:
            return self.pool(s)
        if kind == 6 and self.alternatives and stride_ok and self.coin():
            return self.alternative_block(s)
        if kind == 6 and self.blocks:
            return self.block_call(s, stride_ok)
        if kind == 7 and self.sloppy and self.coin(1, 4):
            s.consistent = False
            return f"conv(4, {s.size + 2}, padding=valid)"  # a kernel larger than its input
        if self.coin(1, 3):
            return self.draw(st.sampled_from(shape_keeping_examples()))
        return self.draw(st.sampled_from(["relu", "relu6", "sigmoid", "identity", "dropout(0.1)"]))

    def chain(self, s: _State, depth: int, stride_ok: bool = True, arrows: bool = False, first_label: bool = True) -> str:
        steps = []
        for n in range(self.draw(st.integers(1, 3))):
            kind = self.draw(st.integers(0, 8)) if depth > 0 else 0
            if kind == 8:
                step = self.gate(s)
            elif kind == 5:
                step = self.concat(s, depth - 1, stride_ok)
            elif kind == 6:
                step = self.residual(s, depth - 1, stride_ok)
            elif kind == 7:
                step = self.repeat(s, depth - 1, stride_ok)
            else:
                step = self.simple(s, stride_ok)
            steps.append(self.labelled(step) if n or first_label else step)
        return " -> ".join(steps) if arrows or self.coin() else "\n    ".join(steps)

    def labelled(self, step: str) -> str:
        """`step`, sometimes labelled with a name the namer or the generator also makes
        (`conv`, `b1`, `add`, `x`, `block`); each label once in the spec, so once per scope."""
        if not self.coin(1, 8):
            return step
        label = self.draw(st.sampled_from(_STEP_LABELS))
        if label in self.labels:
            return step
        self.labels.add(label)
        return f"{label}: {step}"

    def concat(self, s: _State, depth: int, stride_ok: bool) -> str:
        stride = self.draw(st.sampled_from([1, 1, 2])) if stride_ok else 1
        total, branches = 0, []
        count = self.draw(st.integers(2, 4))
        # labels that are also names forward or a generated loop binds (`x`, `block`, `i`):
        # the generated code's own names must give way to them
        labels = [None] * count
        if self.coin(1, 4):  # unused labels; the branches of a scope's only concat are among its layers
            free = [label for label in self.draw(st.permutations(_BRANCH_LABELS)) if label not in self.labels]
            labels = (free + labels)[:count]
            self.labels.update(free[:count])
        for label in labels:
            b = _State(s.channels, s.size)
            text = self.chain(b, depth, stride_ok=False, arrows=True, first_label=False)
            if stride > 1:
                text += f" -> maxpool(1, stride={stride}, padding=same)"
                b.size = _same(b.size, stride)
            total += b.channels
            s.consistent &= b.consistent
            branches.append(f"| {label}: {text}" if label else f"| {text}")
        s.channels, s.size = total, _same(s.size, stride)
        return "concat {\n      " + "\n      ".join(branches) + "\n    }"

    def residual(self, s: _State, depth: int, stride_ok: bool) -> str:
        c = s.channels
        head = f"residual(scale={self.draw(st.sampled_from(['0.1', '0.5', '2']))}) " if self.coin(1, 3) else "residual "
        if self.coin(1, 4):  # a conditional sum (MobileNetV2's): decided by the current width
            head = f"residual(when=in_channels {self.draw(st.sampled_from(['==', '!=']))} {c}) "
        if self.coin(1, 3):  # a projection shortcut: new channels and stride
            filters, stride = self.draw(st.integers(1, 12)), self.draw(st.sampled_from([1, 2])) if stride_ok else 1
            body = f"conv({filters}, 3, stride={stride})"
            short = f" shortcut {{ conv({filters}, 1, stride={stride}) }}"
            s.channels, s.size = filters, _same(s.size, stride)
        elif self.coin(1, 5):  # a body naming a value, maybe as the enclosing scope names one
            a = self.draw(st.sampled_from(_VALUE_NAMES + ("a",)))
            body = f"{a} = conv({c}, 1)\n    {a} -> relu -> conv({c}, 1)"
            short = ""
        else:
            inner = _State(c, s.size)
            body = self.chain(inner, depth, stride_ok=False)
            s.consistent &= inner.consistent
            if inner.channels != c:
                if self.sloppy and self.coin(1, 4):
                    s.consistent = False
                else:
                    body += f" -> conv({c}, 1)"
            short = ""
        return head + "{\n      " + body.replace("\n", "\n  ") + "\n    }" + short

    def gate(self, s: _State) -> str:
        """`gate { ... }`: a squeeze-excitation or a full-size gate, then maybe a channel split."""
        c = s.channels
        out = c + 1 if self.sloppy and self.coin(1, 4) else c  # a gate of the wrong width
        s.consistent &= out == c
        self.gates = getattr(self, "gates", 0) + 1
        label = ""
        if self.coin() and f"se{self.gates}" not in self.labels:  # labels are unique in a scope
            label = f" se{self.gates}"
            self.labels.add(label.strip())
        if self.coin():
            body = f"global_avgpool -> conv({max(1, c // 2)}, 1) -> relu -> conv({out}, 1) -> sigmoid"
        else:
            body = f"conv({out}, 1) -> hardsigmoid"
        text = f"gate{label} {{ {body} }}"
        if c % 2 == 0 and self.coin():
            s.channels = c // 2
            text += f" -> split(2, {self.draw(st.sampled_from([0, 1]))})"
        return text

    def repeat(self, s: _State, depth: int, stride_ok: bool) -> str:
        count = self.draw(st.integers(0, 3))
        if stride_ok and self.coin():  # the first iteration strides, as in a ResNet stage
            if count:
                s.size = _same(s.size, 2)
            count_text = self.expr(count) if count else "0"
            if self.coin():  # a residual scaled by an expression over the index
                return (f"repeat({count_text}) as i {{ conv({s.channels}, 3, stride=2 if i == 0 else 1) -> "
                        f"residual(scale=0.5 * i + 1) {{ conv({s.channels}, 1) }} }}")
            return f"repeat({count_text}) as i {{ conv({s.channels}, 3, stride=2 if i == 0 else 1) -> relu }}"
        if self.coin(1, 3):
            return self.for_loop(s, count)
        if self.coin(1, 4):
            return self.merging_repeat(s, count)
        body = _State(s.channels, s.size)
        text = self.chain(body, depth, stride_ok=False)
        if count and body.channels != s.channels:
            text += f" -> conv({s.channels}, 1)"
        s.consistent &= body.consistent
        return f"repeat({count}) {{\n      {text}\n    }}"

    def merging_repeat(self, s: _State, count: int) -> str:
        """A repeat whose body names values and merges them (`add(a, b)`, `concat(a, b)`),
        the names sometimes those of layers or of the generator's variables."""
        a, b = self.draw(st.sampled_from(_MERGED_NAMES))
        c = s.channels
        merge = f"add({a}, {b})" if self.coin() else f"concat({a}, {b}) -> conv({c}, 1)"
        return (f"repeat({count}) {{\n      {a} = conv({c}, 1)\n      {b} = {a} -> relu -> conv({c}, 3)\n"
                f"      {merge}\n    }}")

    def for_loop(self, s: _State, rows: int) -> str:
        """A table of (width, kernel) rows, destructured (and indexed) or read by subscript."""
        table = [(self.draw(st.integers(1, 12)), self.draw(st.sampled_from([1, 3]))) for _ in range(rows)]
        if rows:
            s.channels = table[-1][0]
        literal = "[" + ", ".join(f"({w}, {k})" for w, k in table) + "]"
        if self.coin():
            return f"for (w, k) in {literal} as j {{ conv(w + j - j, k) -> relu }}"
        return f"for row in {literal} {{ conv(row[0], row[-1]) }}"

    def block_call(self, s: _State, stride_ok: bool = True) -> str:
        name = self.draw(st.sampled_from(self.blocks))
        filters = self.draw(st.integers(2, 12))
        s.channels = filters
        if name.endswith("Keep"):
            return f"{name}({filters})"
        if name == "ConvUnit" and stride_ok and s.size >= 2 and self.coin(1, 4):  # the first iteration strides
            count = self.draw(st.integers(1, 3))
            s.size = _same(s.size, 2)
            return f"repeat({count}) as i {{ ConvUnit({filters}, stride=2 if i == 0 else 1) }}"
        return f"{name}({self.expr(filters)}, k={self.draw(st.sampled_from([1, 3]))})"

    def alternative_block(self, s: _State) -> str:
        """A block whose body is an `if` / `elif` / `else` with layers in every arm (each
        ending in `filters` channels), then a layer after it, called with one arm taken:
        the generated class holds every arm, the graph only the taken one. The arms are
        decided by a parameter, or by the width flowing in: then arm k is drawn for the
        width `in_channels == c + k` it is taken at, and a second call, on the first one's
        width, takes another arm of the same class."""
        name = f"Alt{len(self.decls) + 1}"
        count, c = self.draw(st.integers(2, 3)), s.channels
        by_width = self.coin(1, 3)
        widths = [c + k for k in range(count - 1)]  # where each `if`/`elif` arm is taken
        twice = by_width and self.coin()
        first = self.draw(st.integers(1, 8))  # the first call's filters: the second call's width
        if twice and count == 3 and self.coin():
            first = widths[1]  # the second call takes the `elif`
        widths.append(first if twice and first not in widths else c)  # the `else` arm
        arms = []
        for width in widths if by_width else [c] * count:
            arm = _State(width, s.size)
            arms.append(self.chain(arm, 1, stride_ok=False, arrows=True) + " -> conv(filters, 1)")
            s.consistent &= arm.consistent
        conds = [f"in_channels == {c + k}" if by_width else f"mode == {k}" for k in range(count - 1)]
        heads = [f"if {cond} " if k == 0 else f" elif {cond} " for k, cond in enumerate(conds)] + [" else "]
        body = "".join(f"{head}{{\n        {arm}\n    }}" for head, arm in zip(heads, arms))
        tail = self.draw(st.sampled_from(["batchnorm", "conv(filters, 1)", "relu"]))
        self.decls.append(f"block {name}(filters: int, mode: int = 0) {{\n    {body}\n    {tail}\n}}\n")
        if not by_width:
            s.channels = first
            return f"{name}({first}, mode={self.draw(st.integers(0, count - 1))})"
        s.channels = self.draw(st.integers(1, 8)) if twice else first
        return f"{name}({first}) -> {name}({s.channels})" if twice else f"{name}({first})"

    def block_decls(self) -> str:
        out = []
        if self.coin():
            self.blocks.append("ConvUnit")
            out.append("block ConvUnit(filters: int, k: int = 3, stride: int = 1) {\n"
                       "    conv: conv(filters, k, stride=stride, bias=false)\n    bn: batchnorm\n    relu\n}\n")
        if "ConvUnit" in self.blocks and self.coin():  # a block of blocks; a default over a parameter
            self.blocks.append("PairKeep")
            out.append("block PairKeep(filters: int, inner: int = filters // 2 + 1) {\n"
                       "    ConvUnit(inner, k=1) -> ConvUnit(filters)\n}\n")
        if self.coin():
            self.blocks.append("MixKeep")
            out.append("block MixKeep(filters: int) {\n    concat {\n      | conv(filters // 2, 1)\n"
                       "      | conv(filters - filters // 2, 3)\n    }\n    relu\n}\n")
        if self.coin():  # forward-only ops and a channel formula over the block's parameter
            self.blocks.append("ScaleKeep")
            out.append("block ScaleKeep(filters: int) {\n    conv(filters, 1) -> scale(0.25 * filters + 1)\n"
                       "    dwconv(3, multiplier=filters // filters + 1, padding=1) -> split(filters // filters + 1, 0)\n}\n")
        if self.coin():  # named values merged: a sum, then a concat of the sum and a value
            self.blocks.append("MergeKeep")
            a, b = self.draw(st.sampled_from(_MERGED_NAMES))
            out.append(f"block MergeKeep(filters: int) {{\n    {a} = conv(filters, 1)\n"
                       f"    {b} = {a} -> relu -> conv(filters, 3)\n    s = add({a}, {b})\n"
                       f"    concat(s, {b}) -> conv(filters, 1)\n}}\n")
        return "\n".join(out)

    def network(self) -> tuple[str, bool]:
        channels, size = self.draw(st.integers(1, 4)), self.draw(st.integers(4, 24))
        s = _State(channels, size)
        decls = self.block_decls()
        lines = [f"    input [{channels}, {size}, {size}]"]
        if self.coin(1, 4):
            lines.append("    " + self.draw(st.sampled_from(_INITS)))
        values: dict[str, tuple[int, int]] = {}  # the named values so far: (channels, size)
        for _ in range(self.draw(st.integers(1, 4))):
            if self.coin(1, 4):  # the network's parameter, so its class's argument matters
                lines.append("    conv(width, 1)")
                s.channels = 8
            if self.coin(1, 6):  # an `if` on the network's parameter, a value named in each arm
                name, c = self.draw(st.sampled_from(("t", "x", "block"))), self.draw(st.integers(1, 8))
                lines.append(f"    if width > {self.draw(st.sampled_from([4, 8, 10]))} {{\n        {name} = conv({c}, 1)\n"
                             f"    }} else {{\n        {name} = conv({c}, 3) -> relu\n    }}")
                s.channels = c
                values[name] = (s.channels, s.size)
            if values and self.coin(1, 4):  # a loop's body reading a value of the enclosing scope
                name = self.draw(st.sampled_from(sorted(values)))
                s.channels, s.size = values[name]
                lines.append(f"    repeat({self.draw(st.integers(1, 2))}) {{ {name} -> conv({s.channels}, 1) }}")
            named = self.coin(1, 4)
            one_line = named and self.coin(2, 3)  # else the name is its first step's, the rest goes on from it
            text = self.chain(s, depth=2, arrows=one_line)
            if named:
                s.names += 1
                # a name forward or a generated loop also binds, some of the time
                name = _VALUE_NAMES[s.names - 1] if self.coin(1, 3) else f"v{s.names}"
                lines.append(f"    {name} = {text}")
                if one_line:  # the value is where the chain ends
                    values[name] = (s.channels, s.size)
                if one_line and s.channels % 2 == 0 and self.coin(1, 3):
                    # a view of the value (its split) read after another use of the value
                    op = self.draw(st.sampled_from(["relu", "relu6", "sigmoid"]))
                    lines += [f"    part = {name} -> split(2, {self.draw(st.integers(0, 1))})",
                              f"    {name}_after = {name} -> {op}", f"    concat(part, {name}_after)"]
                    s.channels += s.channels // 2
            else:
                lines.append(f"    {text}")
        if self.coin(1, 4):  # a head that exists only in training, named after the main one
            trunk, head = self.draw(st.sampled_from([("trunk", "main"), ("x", "aux"), ("features", "block")]))
            lines += [f"    {trunk} = relu", f"    aux_head = {trunk} -> global_avgpool -> flatten -> linear(3)",
                      f"    {head} = {trunk} -> conv({self.draw(st.integers(1, 6))}, 1)",
                      f"    output {head}", "    output aux_head when training"]
        elif self.coin():
            lines.append(f"    global_avgpool -> flatten -> linear({self.draw(st.integers(1, 10))})")
        body = "\n".join(lines)
        decls += "".join(f"\n{d}" for d in self.decls)
        return f"# generated\n{decls}\nnetwork Net(width: int = 8) {{\n{body}\n}}\n", s.consistent


_INITS = ['init conv: kaiming_normal(mode="fan_out", nonlinearity="relu")', "init linear: normal(std=0.01)",
          "init conv: trunc_normal(std=0.02, zero_bias=false)", "init conv: xavier_uniform(gain=2.0)"]


@st.composite
def valid_specs(draw, sloppy: bool = False, alternatives: bool = False) -> Spec:
    """A spec drawn from the grammar; `sloppy` also lets channel counts disagree;
    `alternatives` also draws blocks whose body is an `if`/`elif`/`else`."""
    gen = _Gen(draw, sloppy, alternatives)
    text, consistent = gen.network()
    return Spec(text, consistent, gen.blocks)


@st.composite
def _mutation(draw, toks: list[str]) -> list[str]:
    if not toks:
        return [draw(st.text(max_size=4))]
    i = draw(st.integers(0, len(toks) - 1))
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return toks[:i] + toks[i + 1:]
    if kind == 1:
        return toks[:i] + [toks[i]] + toks[i:]
    if kind == 2:
        j = draw(st.integers(0, len(toks) - 1))
        toks = list(toks)
        toks[i], toks[j] = toks[j], toks[i]
        return toks
    if kind == 3:
        words = ["(", ")", "{", "}", "[", "]", "|", "->", "x", "0", "-1", "1e999", "99999999999", "concat",
                 "residual", "repeat", "block", "network", "input", "output", "import", '"a.net"', ",", "=", ":"]
        return toks[:i] + [draw(st.sampled_from(words))] + toks[i:]
    return toks[:i] + [draw(st.text(min_size=1, max_size=3))] + toks[i + 1:]


@st.composite
def mutated_specs(draw) -> bytes:
    """A valid spec with 1-4 token mutations, and sometimes raw bytes or a cut."""
    toks = tokens(draw(valid_specs(sloppy=True)).text)
    for _ in range(draw(st.integers(1, 4))):
        toks = draw(_mutation(toks))
    data = "".join(toks).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    return data
