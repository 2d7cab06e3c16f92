"""`make docs` (`python -m netdsl.docs`): regenerate docs/diagrams/.

- `<spec>.svg` (and its `.dot`): the overview of every spec in specs/ that has a network;
- `blocks/<spec>.<block>.svg` (and `.dot`): every block used by the Inception-v4 family
  (the paper's Figures 3-8), drawn symbolically when the block has parameters, and the
  characteristic block of the later families (`FIGURES`), drawn two levels open at its first use;
- `blocks/<spec>.<block>.<param><value>.svg`: the figures of FIGURES, one block open with
  some parameters set (ShuffleNet V2's two units);
- `README.md`: the gallery, embedding them all;
- `docs/gallery.md`: the same gallery for the MkDocs site (`mkdocs.yml`), each diagram
  drawn at site-build time by the `netdsl.markdown` extension from its spec.

The `.dot` files are the exact text a test compares against (SVG coordinates depend on
the Graphviz version); the SVGs are what the documentation shows."""

from __future__ import annotations

import sys
from pathlib import Path

from .api import load_spec
from .diagnostics import NetdslError
from .ir import snake_case
from .render import Diagram, block_title, render, write_atomic

__all__ = ["build_diagrams", "FAMILY", "FIGURES", "main", "site_gallery"]

ROOT = Path(__file__).resolve().parent.parent
FAMILY = ("inception_v4.net", "inception_resnet_v1.net", "inception_resnet_v2.net")  # the 2016 paper's networks
# the block a later family is known by (its paper's figure): spec -> blocks, each a name
# (drawn at its first use, two levels open: a squeeze-excitation gate shows as a side
# path into its multiply, a residual as its sum) or (block, parameters, title) (drawn
# open, depth 1, symbolic, with those parameters set)
FIGURES = {
    "convnext_tiny.net": ("CNBlock",),
    "densenet121.net": ("DenseLayer", "Transition"),
    "efficientnet_b0.net": ("ResidualMBConv",),
    "mobilenet_v2.net": ("InvertedResidual",),
    "regnet_y_400mf.net": ("ResBottleneckBlock",),
    "resnext50_32x4d.net": ("Bottleneck",),
    "seresnet50.net": ("Bottleneck", "SqueezeExcite"),
    "shufflenet_v2_x1_0.net": (("ShuffleUnit", {"stride": 1}, "ShuffleNet V2 basic unit, Figure 3 (c)"),
                               ("ShuffleUnit", {"stride": 2}, "ShuffleNet V2 down-sampling unit, Figure 3 (d)")),
    "squeezenet1_1.net": ("Fire",),
    "wide_resnet50_2.net": ("Bottleneck",),
}


def _write(diagram: Diagram, stem: Path, svg: bool = True) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    dot = stem.parent / f"{stem.name}.dot"  # names hold dots (inception_v4.stem): no with_suffix
    write_atomic(dot, diagram.source.encode("utf-8"))
    if not svg:
        return [dot]
    return [dot, diagram.save(stem.parent / f"{stem.name}.svg")]


def _blocks_in_use(spec: Path) -> list[str]:
    """The blocks `spec`'s network instantiates, in order of first use."""
    from .api import check

    graph = check(spec)
    seen: list[str] = []
    for f in graph.frames:
        if f.kind == "block" and f.block not in seen:
            seen.append(f.block)
    return seen


def build_diagrams(specs: Path, out: Path, svg: bool = True, failed: list | None = None) -> list[tuple[str, str]]:
    """Write every diagram; return the gallery entries (title, file name without suffix).
    A spec with errors is skipped and its error appended to `failed`."""
    entries: list[tuple[str, str]] = []
    for spec in sorted(specs.glob("*.net")):
        try:
            entries += _diagrams_of(spec, out, svg)
        except NetdslError as err:
            (failed if failed is not None else []).append(err)
    return entries


def _diagrams_of(spec: Path, out: Path, svg: bool) -> list[tuple[str, str]]:
    entries = []
    for title, stem, options in _drawings(spec):
        _write(render(spec, **options), out / stem, svg)
        entries.append((title, stem))
    return entries


def _drawings(spec: Path) -> list[tuple[str, str, dict]]:
    """(title, file stem, render options) of each diagram drawn of `spec`: the network,
    and for the Inception-v4 family every block it uses."""
    program = load_spec(spec)
    if program.network is None:
        return []
    found = [(f"{program.network.name} ({spec.name})", spec.stem, {})]
    for figure in FIGURES.get(spec.name, ()):
        if isinstance(figure, str):
            found.append((f"{block_title(figure)} ({spec.name})", f"blocks/{spec.stem}.{snake_case(figure)}",
                          {"block": figure, "depth": 2}))
            continue
        block, params, title = figure
        stem = f"blocks/{spec.stem}.{snake_case(block)}" + "".join(f".{k}{v}" for k, v in params.items())
        found.append((f"{title} ({spec.name})", stem, {"block": block, "symbolic": True, "depth": 1, "params": params}))
    if spec.name in FAMILY:
        for block in _blocks_in_use(spec):
            options = {"block": block, "symbolic": bool(program.blocks[block].params)}
            found.append((f"{block_title(block)} ({spec.name})", f"blocks/{spec.stem}.{snake_case(block)}", options))
    return found


def site_gallery(specs: Path) -> str:
    """docs/gallery.md: one fenced `netdsl-diagram` entry per diagram, for the MkDocs
    site's Markdown extension to draw."""
    lines = ["# Gallery", "",
             "Every network of the zoo, drawn from its spec when the site is built (`mkdocs build`, with",
             "the `netdsl.markdown` extension; generated by `make docs`, do not edit).", ""]
    for spec in sorted(specs.glob("*.net")):
        for title, _, options in _drawings(spec):
            words = [f"file=specs/{spec.name}"] + ([f"block={options['block']}"] if "block" in options else [])
            words += ["symbolic"] if options.get("symbolic") else []
            words += [f"depth={options['depth']}"] if "depth" in options else []
            params = ",".join(f"{k}={v}" for k, v in options.get("params", {}).items())
            words += [f"set={params}"] if params else []
            lines += [f"## {title}", "", f"```netdsl-diagram {' '.join(words)}", "```", ""]
    return "\n".join(lines)


def gallery(entries: list[tuple[str, str]]) -> str:
    lines = ["# Diagrams", "",
             "Generated by `make docs` (`python -m netdsl.docs`) from the specs in `specs/`; do not edit.",
             "A test checks that they match today's specs. Redraw one with, e.g.,",
             "`netdsl render specs/inception_v4.net -o out.svg --block ReductionA --symbolic`.", ""]
    for title, stem in entries:
        lines += [f"## {title}", "", f"![{title}]({stem}.svg)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    out = ROOT / "docs" / "diagrams"
    failed: list[NetdslError] = []
    entries = build_diagrams(ROOT / "specs", out, failed=failed)
    write_atomic(out / "README.md", gallery(entries).encode("utf-8"))
    write_atomic(ROOT / "docs" / "gallery.md", site_gallery(ROOT / "specs").encode("utf-8"))
    print(f"wrote {len(entries)} diagrams to {out.relative_to(ROOT)}/")
    for err in failed:
        print(f"skipped: {err}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
