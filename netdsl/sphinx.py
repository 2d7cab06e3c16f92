"""A Sphinx extension: netdsl diagrams in a Sphinx site, drawn at build time.

In `conf.py`: ``extensions = ["netdsl.sphinx"]``. In a page::

    .. netdsl:: specs/inception_v4.net
       :block: InceptionA
       :symbolic:

    .. netdsl::
       :caption: A tiny network

       network Tiny() {
           input [3, 32, 32]
           conv(16, 3) -> relu
       }

A path is relative to the page's folder (or, starting with `/`, to the source folder).
Options: `:block:`, `:symbolic:`, `:expand:` (comma-separated), `:depth:`, `:set:`
(`name=value,...`), `:direction:`, `:shapes:`, `:caption:`. The diagram is inline SVG
in HTML output. A spec that does not check is a build error at the directive, with
the spec's own file:line:col (the page's line for an inline spec)."""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from .render.embed import EmbedError, diagram_svg, parse_options

__all__ = ["NetdslDirective", "setup"]


def _flag_or_text(argument):
    return "" if argument is None else argument.strip()


class NetdslDirective(SphinxDirective):
    """``.. netdsl:: [path]`` with the spec inline as content when there is no path."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {
        "block": directives.unchanged_required, "symbolic": _flag_or_text, "expand": directives.unchanged_required,
        "depth": directives.unchanged_required, "set": directives.unchanged_required,
        "direction": directives.unchanged_required, "shapes": _flag_or_text, "caption": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        raw = {k: v for k, v in self.options.items() if k != "caption"}
        try:
            options = parse_options(raw)
            if self.arguments:
                rel, path = self.env.relfn2path(self.arguments[0])
                self.env.note_dependency(rel)  # the page is rebuilt when the spec changes
                svg = diagram_svg(Path(path), **options)
            elif self.content:
                page, line = self.get_source_info()
                svg = diagram_svg("\n".join(self.content) + "\n", origin=page, first_line=self.content_offset + 1,
                                  **options)
            else:
                raise EmbedError("the netdsl directive needs a spec path or the spec as its content")
        except EmbedError as err:
            raise self.error(str(err)) from None
        figure = nodes.container(classes=["netdsl-diagram"])
        figure += nodes.raw("", svg, format="html")
        if self.options.get("caption"):
            figure += nodes.paragraph("", self.options["caption"], classes=["caption"])
        return [figure]


def setup(app) -> dict:
    app.add_directive("netdsl", NetdslDirective)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
