"""netdsl/torch/pyformat.py lays generated statements out as `ruff format` would: each
case's expected text is what ruff itself gives for the one-line statement (checked here
against the ruff of the venv), and the generator must give the same."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netdsl.torch.build import compile_spec
from netdsl.torch.pyformat import layout

RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
BODY = " " * 8  # a statement in a method


def ruff_format(source: str) -> str:
    out = subprocess.run([RUFF, "format", "--isolated", "-"], input=source, capture_output=True, text=True, check=True)
    return out.stdout


def in_method(lines: str) -> str:
    """The statement (at BODY) in a method, with a body for a loop header."""
    if lines.rstrip().endswith(":"):
        lines += "\n" + BODY + "    pass"
    return f"class A:\n    def f(self):\n{lines}\n"


# (one-line statement, ruff's layout of it at BODY, without the indentation)
CASES = {
    "chained_conditional": (  # densenet121's DenseStage.out_channels
        "self.out_channels = (self.denseblock[-1].out_channels if n > 0 else in_channels) // 2 if transition "
        "else self.denseblock[-1].out_channels if n > 0 else in_channels",
        """\
self.out_channels = (
    (self.denseblock[-1].out_channels if n > 0 else in_channels) // 2
    if transition
    else self.denseblock[-1].out_channels
    if n > 0
    else in_channels
)""",
    ),
    "conditional_in_the_body": (
        "x = (a if b else c) if self.a_long_attribute_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx "
        "else self.other_value",
        """\
x = (
    (a if b else c)
    if self.a_long_attribute_name_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
    else self.other_value
)""",
    ),
    "returned_chained_conditional": (
        "return self.a_long_attribute_name if self.condition_value > 3 else self.other_value if n else self.zz",
        """\
return (
    self.a_long_attribute_name
    if self.condition_value > 3
    else self.other_value
    if n
    else self.zz
)""",
    ),
    "for_over_a_tuple_of_rows": (  # mobilenet_v2's inverted-residual table
        "for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), "
        "(6, 160, 3, 2), (6, 320, 1, 1)):",
        """\
for t, c, n, s in (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
):""",
    ),
    "for_over_a_list_with_a_one_tuple": (
        "for t in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (1,)]:",
        """\
for t in [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (1,),
]:""",
    ),
    "a_long_positional_sum": (  # efficientnet_b0's block count under depth scaling
        "self.layers = Stage(192, 320, 1, _ceil(depth_mult) + 2 * _ceil(2 * depth_mult) - (a - b) + 2 * _ceil(3 * "
        "depth_mult) + _ceil(4 * depth_mult), width_mult)",
        """\
self.layers = Stage(
    192,
    320,
    1,
    _ceil(depth_mult)
    + 2 * _ceil(2 * depth_mult)
    - (a - b)
    + 2 * _ceil(3 * depth_mult)
    + _ceil(4 * depth_mult),
    width_mult,
)""",
    ),
    "a_concat_of_many_branches": (  # found by compiling generated specs: nested concats' long names
        "concat2_b2 = torch.cat([concat2_b2_concat2_b1, concat2_b2_concat2_b2, concat2_b2_concat2_b3, "
        "concat2_b2_concat2_b4], 1)",
        """\
concat2_b2 = torch.cat(
    [
        concat2_b2_concat2_b1,
        concat2_b2_concat2_b2,
        concat2_b2_concat2_b3,
        concat2_b2_concat2_b4,
    ],
    1,
)""",
    ),
    "a_repeated_separable_conv": (  # found by compiling generated specs: `repeat(n) { sepconv(...) }`
        "self.sepconv = nn.Sequential(*[nn.Sequential(nn.Conv2d(width - 7, width - 7, 1, groups=width - 7), "
        "nn.Conv2d(width - 7, width - 7, 1)) for _ in range(0)])",
        """\
self.sepconv = nn.Sequential(
    *[
        nn.Sequential(
            nn.Conv2d(width - 7, width - 7, 1, groups=width - 7),
            nn.Conv2d(width - 7, width - 7, 1),
        )
        for _ in range(0)
    ]
)""",
    ),
    "a_comprehension_with_a_condition": (
        "self.layers = nn.ModuleList([nn.Conv2d(channels_in_a_long_name, channels_in_a_long_name, 3) for i in "
        "range(depth) if i % 2], strict=True)",
        """\
self.layers = nn.ModuleList(
    [
        nn.Conv2d(channels_in_a_long_name, channels_in_a_long_name, 3)
        for i in range(depth)
        if i % 2
    ],
    strict=True,
)""",
    ),
    "for_over_a_sum": (
        "for i in self.something_long_name_here_and_more + self.other_long_name_there_and_more:",
        """\
for i in (
    self.something_long_name_here_and_more + self.other_long_name_there_and_more
):""",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_layout_is_ruffs(name):
    stmt, expected = CASES[name]
    expected = textwrap.indent(expected, BODY)
    assert ruff_format(in_method(BODY + stmt)) == in_method(expected)  # the expected text is ruff's
    assert layout(stmt, BODY) == expected


@pytest.mark.parametrize(
    "stmt",
    [
        "for i, (a, b) in enumerate(zip(self.something_long_name_here, self.other_long_name_there, strict=True)):",
        "for t in (nn.Conv2d(in_channels_long_name, out_channels_long_name, kernel_size=3, padding=1), 1, 2):",
        "for i in range(self.something_long_name_here_and_more, self.other_long_name_there_and_more, 2):",
    ],
    ids=["call_of_a_call", "tuple_holding_a_long_call", "call"],
)
def test_a_split_loop_header_is_left_alone_by_ruff(stmt):
    """A call split one argument a line (trailing comma) is a layout ruff keeps."""
    laid_out = layout(stmt, BODY)
    assert laid_out.count("\n") > 1 and all(len(line) <= 88 for line in laid_out.split("\n"))
    assert ruff_format(in_method(laid_out)) == in_method(laid_out)


SPEC = """\
block Dense(growth_rate: int, bottleneck_size: int, wide: bool) {
    concat {
        | identity
        | norm: batchnorm -> conv: conv(bottleneck_size * growth_rate, 3, padding=1, bias=false)
    }
    if wide {
        concat {
            | identity
            | norm: batchnorm -> conv: conv(bottleneck_size * growth_rate, 3, padding=1, bias=false)
        }
    }
}

network Net() {
    input [3, 8, 8]
    Dense(4, 2, true)
}
"""


def test_a_split_call_inside_a_sequential_of_named_layers_is_indented_as_ruff_does():
    """`conv=nn.Conv2d(...)` too long for its line, inside nn.Sequential(OrderedDict(...)),
    at the method's level and inside an `if` arm (densenet121's conv2 was 8 columns too deep)."""
    source = compile_spec(SPEC)[0].source
    assert ruff_format(source) == source
    outer = """\
        self.concat1.norm = nn.Sequential(
            OrderedDict(
                bn=nn.BatchNorm2d(in_channels),
                conv=nn.Conv2d(
                    in_channels,
                    bottleneck_size * growth_rate,
                    3,
                    padding=1,
                    bias=False,
                ),
            )
        )
"""
    inner = """\
                    conv=nn.Conv2d(
                        in_channels + bottleneck_size * growth_rate,
                        bottleneck_size * growth_rate,
                        3,
                        padding=1,
                        bias=False,
                    ),
"""
    assert outer in source and inner in source
    conditional = """\
        self.out_channels = (
            in_channels + bottleneck_size * growth_rate + bottleneck_size * growth_rate
            if wide
            else in_channels + bottleneck_size * growth_rate
        )
"""
    assert conditional in source


def test_a_long_default_table_in_a_signature_is_split_as_ruff_does():
    """A network parameter whose default is a table (mobilenet_v2's inverted_residual_setting,
    convnext's depths) in the class's signature: one row a line inside its brackets."""
    from netdsl.torch.pyformat import layout_parameter

    rows = ", ".join(f"({t}, {c}, {n}, {s})" for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                                                                  (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2)])
    params = ["self", "num_classes: int = 1000", f"setting=({rows})", "depths=(3, 3, 9, 3)"]
    one_line = f"class A:\n    def __init__({', '.join(params)}):\n        pass\n"
    laid_out = "".join(f"{layout_parameter(p, '        ')},\n" for p in params)
    source = f"class A:\n    def __init__(\n{laid_out}    ):\n        pass\n"
    assert ruff_format(one_line) == source


def test_strings_are_requoted_without_breaking_strings_that_hold_quotes():
    """Only a string holding no quote or backslash changes its quotes; one that holds
    single quotes, double quotes and backslashes (a spec's string default) stays valid
    Python with the same value (a pattern over the text once broke it)."""
    import ast

    from netdsl.torch.pyformat import _unparse

    tricky = "a\"; __import__(\"os\") #\\n\"\"\" ' \\\\ exec(open('x'))"
    expr = ast.IfExp(ast.Compare(ast.Name("mode"), [ast.Eq()], [ast.Constant(tricky)]), ast.Constant("plain"),
                     ast.Call(ast.Name("f"), [ast.Constant("k"), ast.Constant("it's")], []))
    text = _unparse(expr)
    assert ast.dump(ast.parse(text, mode="eval").body) == ast.dump(ast.parse(ast.unparse(expr), mode="eval").body)
    assert '"plain"' in text and '"k"' in text
