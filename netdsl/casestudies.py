"""docs/case-studies.md, generated: each claim about what CNNs cost, stated once, then
the exact netdsl command that checks it and that command's real output.

    python -m netdsl.casestudies            # rewrite docs/case-studies.md
    python -m netdsl.casestudies --check    # exit 1 if the committed page is stale

A claim whose spec is not in specs/ yet prints "(spec not yet in the zoo)" instead of
failing; the page fills in when the spec lands."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import api, cli
from .summary import Summary, summarize

__all__ = ["Claim", "CLAIMS", "render_page", "main", "ROOT", "PAGE"]

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "case-studies.md"


@dataclass(frozen=True)
class Claim:
    title: str
    text: str  # the claim, stated once
    commands: tuple[str, ...]  # netdsl command lines, run from the repository root
    finding: Callable[[], str] | None = None  # a sentence computed from the specs
    specs: tuple[str, ...] = field(default=())  # every spec the claim needs

    def missing(self) -> list[str]:
        return [s for s in self.specs if not (ROOT / s).exists()]


# -- running netdsl ---------------------------------------------------------------------------
def run(command: str) -> str:
    """The stdout of `netdsl ...`, run in this process."""
    argv = shlex.split(command)[1:]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), _in_root():
        code = cli.main(argv)
    if code != 0:
        raise RuntimeError(f"`{command}` exited with {code}")
    return out.getvalue().rstrip("\n")


@contextlib.contextmanager
def _in_root():
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


def _summary(spec: str, **sets) -> Summary:
    with _in_root():
        return summarize(api.check(spec, sets or None), 0)


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.1f}x"


def _pct(part: int, whole: int) -> str:
    p = 100 * part / whole
    return f"{p:.1f}%" if p < 1 else f"{p:.0f}%"


# -- the findings: one sentence each, from the numbers --------------------------------------
def _stacked_3x3() -> str:
    one, three = _summary("specs/studies/conv7x7.net"), _summary("specs/studies/stacked_3x3.net")
    c = one.args["C"]
    return (f"With C = {c}: {three.total.params:,} = 27 x {c}^2 weights against {one.total.params:,} = 49 x {c}^2 "
            f"({three.total.params / one.total.params:.3f} = 27/49), and both outputs see "
            f"{three.total.field.size[0]}x{three.total.field.size[1]} input pixels.")


def _early_late() -> str:
    s = _summary("specs/vgg16.net")
    stages = [r for r in s.rows if r.kind != "op"]
    first, last = stages[:2], stages[-1]
    mem = sum(r.memory for r in first)
    return (f"In VGG-16 the first two stages ({', '.join(r.name for r in first)}) hold {_pct(mem, s.total.memory)} of "
            f"the activation memory and {_pct(sum(r.params for r in first), s.total.params)} of the parameters; "
            f"the fully connected {last.name} holds {_pct(last.params, s.total.params)} of the parameters and "
            f"{_pct(last.memory, s.total.memory)} of the memory.")


def _googlenet_alexnet() -> str:
    alex, goog = _summary("specs/alexnet_2012.net"), _summary("specs/googlenet_2014.net")
    fc = sum(r.params for r in alex.rows if r.what.startswith("Linear"))
    return (f"AlexNet has {alex.total.params:,} parameters, {_pct(fc, alex.total.params)} of them in its fully "
            f"connected layers; GoogLeNet has {goog.total.params:,}: {_ratio(alex.total.params, goog.total.params)} "
            f"fewer (at inference: its auxiliary classifiers, used in training only, are left out), "
            f"while doing {_ratio(goog.total.macs, alex.total.macs)} the MACs. The paper's 12x compares its "
            f"~5M with AlexNet's 60M.")


def _reductions() -> str:
    red, naive = _summary("specs/studies/inception_3.net"), _summary("specs/studies/inception_3.net", reductions="false")
    a, b = red.row("inception_3a"), naive.row("inception_3a")
    return (f"Inception (3a) alone: {a.macs:,} MACs with the 1x1 reductions, {b.macs:,} without "
            f"({_ratio(b.macs, a.macs)}); over (3a) and (3b) the naive modules cost "
            f"{_ratio(naive.total.macs, red.total.macs)} the MACs and {_ratio(naive.total.params, red.total.params)} "
            f"the parameters, and their output has grown to {naive.total.shape[0]} channels against {red.total.shape[0]}.")


def _separable() -> str:
    sep, std = _summary("specs/studies/mobilenet_conv.net"), _summary("specs/studies/mobilenet_conv.net", separable="false")
    return (f"MobileNet: {sep.total.macs:,} MACs and {sep.total.params:,} parameters; the same network with "
            f"standard 3x3 convolutions: {std.total.macs:,} MACs and {std.total.params:,} parameters, "
            f"{_ratio(std.total.macs, sep.total.macs)} the computation (the paper's Table 4: 4866M vs 569M "
            f"mult-adds). A 3x3 layer from M to N channels costs 1/N + 1/9 as much when separable: "
            f"{1 / (1 / 512 + 1 / 9):.1f}x less for N = 512.")


def _big_three() -> str:
    nets = [_summary(f"specs/{n}.net") for n in ("inception_v4", "inception_resnet_v2", "resnet152")]
    return "; ".join(f"{s.network}: {s.total.params / 1e6:.1f}M parameters, {s.total.macs / 1e9:.2f} G MACs"
                     for s in nets) + "."


# -- the claims -----------------------------------------------------------------------------
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "Stacked 3x3 convolutions",
        "Three stacked 3x3 convolutions see as far as one 7x7 (a 7x7 receptive field) but need 27C^2 weights "
        "where one 7x7 needs 49C^2 (C channels in and out), and put three non-linearities in its place.",
        ("netdsl compare specs/studies/conv7x7.net specs/studies/stacked_3x3.net --markdown",
         "netdsl summary specs/studies/stacked_3x3.net --markdown"),
        _stacked_3x3, ("specs/studies/conv7x7.net", "specs/studies/stacked_3x3.net")),
    Claim(
        "Memory early, parameters late",
        "Activation memory is eaten by the early layers, which hold large maps; parameters by the late ones, "
        "above all the fully connected layers.",
        ("netdsl summary specs/vgg16.net --markdown",),
        _early_late, ("specs/vgg16.net",)),
    Claim(
        "GoogLeNet against AlexNet",
        "GoogLeNet has about 12x fewer parameters than AlexNet, because it replaces the large fully connected "
        "layers by global average pooling.",
        ("netdsl summary specs/alexnet_2012.net --markdown",
         "netdsl compare specs/alexnet_2012.net specs/googlenet_2014.net --totals --markdown"),
        _googlenet_alexnet, ("specs/alexnet_2012.net", "specs/googlenet_2014.net")),
    Claim(
        "1x1 reductions",
        "The 1x1 reductions make Inception affordable: without them the 3x3 and 5x5 convolutions run on "
        "every input channel, and the pooling branch makes the output grow from module to module.",
        ("netdsl compare specs/studies/inception_3.net specs/studies/inception_3.net --set-b reductions=false "
         "--markdown",),
        _reductions, ("specs/studies/inception_3.net",)),
    Claim(
        "Depthwise separable convolutions",
        "Depthwise separable convolutions cut computation 8-9x against standard convolutions of the same "
        "widths, for a small loss of accuracy (MobileNet).",
        ("netdsl compare specs/studies/mobilenet_conv.net specs/studies/mobilenet_conv.net --set-b separable=false "
         "--markdown",),
        _separable, ("specs/studies/mobilenet_conv.net",)),
    Claim(
        "Inception-v4, Inception-ResNet-v2 and ResNet-152",
        "Inception-v4 and Inception-ResNet-v2 (at 299x299) cost about as much computation as ResNet-152 "
        "(at 224x224), with fewer parameters.",
        ("netdsl compare specs/inception_v4.net specs/inception_resnet_v2.net specs/resnet152.net --markdown",),
        _big_three, ("specs/inception_v4.net", "specs/inception_resnet_v2.net", "specs/resnet152.net")),
)

HEADER = """\
# Case studies: what a network costs, checked by netdsl

<!-- Generated by `python -m netdsl.casestudies` from netdsl/casestudies.py; do not edit.
     tests/test_summary.py fails when this page is stale. -->

Each claim below is stated once, followed by the netdsl commands that check it and their
real output, computed from the specs in milliseconds without PyTorch.

Conventions (the same in `netdsl summary` and `netdsl compare`):

- **MACs** are the multiply-accumulates of convolutions and fully connected layers, the
  convention of the papers and of fvcore (batchnorm, activations, pooling and additions are
  not counted); `tests/test_summary.py` checks them against fvcore on PyTorch reference models.
- **Activation memory** is the size of the output tensor of every node in a row, float32
  (4 bytes) at batch 1, with no in-place operations or buffer reuse; the input image is the
  `input` row. 1 MB = 10^6 bytes.
- **Receptive field** (RF) and **jump** (the stride of the row's output relative to the input)
  are in input pixels, computed by walking the graph: a window with kernel k, stride s and
  dilation d turns (r, j) into (r + d(k-1)j, js); padding moves the field but does not change
  its size; a concat or addition takes the largest field and jump of its inputs; global
  pooling and flatten see the whole map. `1x7` means height 1, width 7.
- Summaries count what **inference** runs: auxiliary classifiers (outputs marked
  `when training`) are left out unless `--training` is given.
- A summary at `--depth 0` has one row per top-level block, repeat group (`4 x InceptionA`)
  and op; `compare` matches these stages by name.
"""


def _section(number: int, claim: Claim) -> str:
    parts = [f"## {number}. {claim.title}", "", f"**Claim.** {claim.text}", ""]
    missing = claim.missing()
    if missing:
        return "\n".join([*parts, f"_(spec not yet in the zoo: {', '.join(missing)})_", ""])
    for command in claim.commands:
        parts += ["```", f"$ {command}", "```", "", run(command), ""]
    if claim.finding:
        parts += [f"**What the numbers say.** {claim.finding()}", ""]
    return "\n".join(parts)


def render_page() -> str:
    sections = [_section(i, c) for i, c in enumerate(CLAIMS, start=1)]
    return HEADER + "\n" + "\n".join(sections).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    page = render_page()
    if "--check" in argv:
        stale = not PAGE.exists() or PAGE.read_text() != page
        print(f"{PAGE.relative_to(ROOT)} is {'stale' if stale else 'up to date'}")
        return 1 if stale else 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
