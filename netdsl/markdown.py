"""A Python-Markdown extension (and so an MkDocs one): netdsl diagrams in Markdown,
drawn at build time.

In `mkdocs.yml`::

    markdown_extensions:
      - netdsl.markdown:
          base_dir: .          # where spec paths are looked up (default: the working directory)

In a page, a fenced block holding a spec inline, or naming a spec file, with options
on the fence line::

    ```netdsl block=InceptionA symbolic
    import "inception_blocks.net"
    ```

    ```netdsl file=specs/inception_v4.net expand=stem
    ```

Options: `file`, `block`, `symbolic`, `expand` (comma-separated), `depth`, `set`
(`name=value,...`), `direction`, `shapes`. The `fence` setting changes the fence's
language word (default `netdsl`), for a site whose pages also show specs as code. A
spec that does not check stops the build with its diagnostics, positioned in the spec
file or, for an inline spec, in the page."""

from __future__ import annotations

import re
import shlex

from markdown import Extension
from markdown.preprocessors import Preprocessor

from .render.embed import EmbedError, diagram_svg, parse_options, resolve

__all__ = ["NetdslExtension", "makeExtension"]


class _Diagrams(Preprocessor):
    def __init__(self, md, fence: str, base_dir: str):
        super().__init__(md)
        self.base_dir = base_dir
        self.pattern = re.compile(rf"^(?P<ticks>`{{3,}}|~{{3,}})[ \t]*{re.escape(fence)}(?:[ \t]+(?P<opts>[^\n]*))?$")

    def run(self, lines: list[str]) -> list[str]:
        out, i = [], 0
        while i < len(lines):
            m = self.pattern.match(lines[i])
            if not m:
                out.append(lines[i])
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == m["ticks"]), None)
            if end is None:
                raise EmbedError(f"page line {i + 1}: the netdsl fence is never closed")
            svg = self._svg(m["opts"] or "", lines[i + 1:end], first_line=i + 2)
            out += ["", self.md.htmlStash.store(f'<div class="netdsl-diagram">{svg}</div>'), ""]
            i = end + 1
        return out

    def _svg(self, opts: str, body: list[str], first_line: int) -> str:
        raw = {}
        for word in shlex.split(opts):
            name, eq, value = word.partition("=")
            raw[name] = value if eq else None
        path = raw.pop("file", None)
        options = parse_options(raw)
        page = getattr(self.md, "netdsl_page", "<page>")
        if path:
            return diagram_svg(resolve(path, self.base_dir), **options)
        if not any(ln.strip() for ln in body):
            raise EmbedError(f"{page}:{first_line - 1}: a netdsl fence needs a spec inline or file=PATH")
        return diagram_svg("\n".join(body) + "\n", origin=page, first_line=first_line, **options)


class NetdslExtension(Extension):
    def __init__(self, **kwargs):
        self.config = {
            "fence": ["netdsl", "the fence's language word that draws a diagram"],
            "base_dir": [".", "the folder spec paths are relative to"],
        }
        super().__init__(**kwargs)

    def extendMarkdown(self, md) -> None:
        # before fenced_code (priority 25) turns the block into code
        md.preprocessors.register(_Diagrams(md, self.getConfig("fence"), self.getConfig("base_dir")), "netdsl", 30)


def makeExtension(**kwargs) -> NetdslExtension:
    return NetdslExtension(**kwargs)
