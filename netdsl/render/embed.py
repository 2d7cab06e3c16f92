"""Diagrams inside someone else's documentation: the shared core of the Sphinx
directive (:mod:`netdsl.sphinx`) and the Python-Markdown extension (:mod:`netdsl.markdown`,
for MkDocs). A spec - a file or text written inline in the page - becomes inline SVG
at docs-build time; a spec that does not check becomes an :class:`EmbedError` whose
message is the spec's diagnostics, positioned in the file that holds the spec (the page
itself for an inline spec)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..diagnostics import NetdslError
from .diagram import render
from .options import RenderError

__all__ = ["EmbedError", "OPTION_NAMES", "diagram_svg", "parse_options", "resolve"]

OPTION_NAMES = ("file", "block", "symbolic", "expand", "depth", "set", "direction", "shapes")
_INLINE = re.compile(r"<string>:(\d+)")


class EmbedError(Exception):
    """A diagram that cannot be drawn: the message says where and why, in one place."""


def parse_options(raw: dict[str, str | None]) -> dict:
    """Directive/fence options (strings; a flag is None or "") -> render() keywords."""
    unknown = set(raw) - set(OPTION_NAMES)
    if unknown:
        raise EmbedError(f"unknown netdsl diagram option(s) {', '.join(sorted(unknown))}; "
                         f"the options are {', '.join(OPTION_NAMES)}")
    out: dict = {}
    if raw.get("block"):
        out["block"] = raw["block"].strip()
    if "symbolic" in raw:
        out["symbolic"] = (raw["symbolic"] or "true").strip().lower() not in ("false", "no", "0")
    if "shapes" in raw:
        out["shapes"] = (raw["shapes"] or "true").strip().lower() not in ("false", "no", "0")
    if raw.get("expand"):
        out["expand"] = tuple(x.strip() for x in raw["expand"].split(",") if x.strip())
    if raw.get("depth"):
        try:
            out["depth"] = int(raw["depth"])
        except ValueError:
            raise EmbedError(f"netdsl diagram option depth takes a number, got {raw['depth']!r}") from None
    if raw.get("direction"):
        out["direction"] = raw["direction"].strip()
    if raw.get("set"):
        params = {}
        for pair in raw["set"].split(","):
            name, eq, value = pair.partition("=")
            if not eq or not name.strip().isidentifier():
                raise EmbedError(f"netdsl diagram option set takes name=value[,name=value], got {pair.strip()!r}")
            params[name.strip()] = value.strip()
        out["params"] = params
    return out


def diagram_svg(spec: str | os.PathLike, *, origin: str | None = None, first_line: int = 1, **options) -> str:
    """The diagram of `spec` (a path, or spec text written inline in a page) as an
    <svg> element. For inline text, `origin` names the page and `first_line` the page
    line of the spec's first line, so that errors point into the page."""
    try:
        svg = render(spec, **options).pipe("svg").decode("utf-8")
    except NetdslError as err:
        text = "\n".join(d.headline() for d in err.diagnostics)
        if origin is not None:
            text = _INLINE.sub(lambda m: f"{origin}:{int(m[1]) + first_line - 1}", text)
        raise EmbedError(f"netdsl diagram: the spec does not check:\n{text}") from None
    except RenderError as err:
        where = origin if isinstance(spec, str) and "\n" in spec else os.fspath(spec)
        raise EmbedError(f"netdsl diagram of {where}: {err}") from None
    return svg[svg.index("<svg"):]  # the XML declaration and DOCTYPE do not belong inside HTML


def resolve(path: str, base: str | os.PathLike) -> Path:
    """A spec path as the page wrote it, relative to `base` (the docs' source folder)."""
    p = Path(path)
    return p if p.is_absolute() else Path(base) / p
