"""Diagnostics as SARIF 2.1.0 (`netdsl check --format sarif`), the format code-scanning
views (GitHub's among them) read: one run, one rule per code used, one result per
diagnostic with its span as the location and its notes as related locations."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from .codes import REGISTRY
from .diagnostics import Diagnostic, Span

__all__ = ["SCHEMA", "to_sarif"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(span: Span) -> dict:
    region = {"startLine": span.line, "startColumn": span.column}
    if span.end_line >= span.line and span.end_line:
        region.update(endLine=span.end_line, endColumn=max(span.end_column, 1))
    return {"physicalLocation": {"artifactLocation": {"uri": quote(span.file.replace("\\", "/"))}, "region": region}}


def _result(d: Diagnostic, rules: list[str]) -> dict:
    unplaced = [n.message for n in d.notes if n.span is None]
    text = d.message + "".join(f"\nnote: {m}" for m in unplaced)
    result = {"ruleId": str(d.code), "ruleIndex": rules.index(d.code), "level": d.severity, "message": {"text": text}}
    if d.span is not None:
        result["locations"] = [_location(d.span)]
    related = [dict(_location(n.span), id=i, message={"text": n.message}) for i, n in enumerate(d.notes) if n.span]
    if related:
        result["relatedLocations"] = related
    return result


def to_sarif(diagnostics: Iterable[Diagnostic], version: str = "") -> dict:
    diagnostics = list(diagnostics)
    rules = list(dict.fromkeys(str(d.code) for d in diagnostics))
    driver = {
        "name": "netdsl",
        "rules": [{"id": r, "shortDescription": {"text": REGISTRY[r].description}} for r in rules],
    }
    if version:
        driver["version"] = version
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": [_result(d, rules) for d in diagnostics]}],
    }
