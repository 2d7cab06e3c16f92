"""A summary as text: a rich table for the terminal, a Markdown table, or JSON.

All three come from the same cells, so they always agree."""

from __future__ import annotations

from collections.abc import Callable

from ..ops.merge import describe_shape
from .receptive import Field
from .rows import BYTES_PER_VALUE, Row, Summary

__all__ = ["COLUMNS", "count", "megabytes", "share", "size", "summary_cells", "summary_json", "summary_markdown",
           "summary_rich", "markdown_table", "title"]

MEMORY_CONVENTION = (f"activation memory: output tensors of every node, float32 ({BYTES_PER_VALUE} bytes), batch 1, "
                     "no in-place or buffer reuse; 1 MB = 10^6 bytes")
FIELD_CONVENTION = ("receptive field and jump in input pixels at the row's output; a join takes the largest "
                    "field and jump of its inputs")


def count(n: int) -> str:
    return f"{n:,}"


def megabytes(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def size(pair: tuple[int, int]) -> str:
    """`7` for a square window, `1x7` (height x width) otherwise."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def _shape(shape) -> str:
    return describe_shape(shape) if shape else "?"


Cell = Callable[[Row, Row], str]
COLUMNS: tuple[tuple[str, str, Cell], ...] = (
    ("name", "left", lambda r, t: r.name),
    ("op / block", "left", lambda r, t: r.what),
    ("output", "right", lambda r, t: _shape(r.shape)),
    ("params", "right", lambda r, t: count(r.params)),
    ("% params", "right", lambda r, t: share(r.params, t.params)),
    ("MACs", "right", lambda r, t: count(r.macs)),
    ("% MACs", "right", lambda r, t: share(r.macs, t.macs)),
    ("memory", "right", lambda r, t: megabytes(r.memory)),
    ("% memory", "right", lambda r, t: share(r.memory, t.memory)),
    ("RF", "right", lambda r, t: size(r.field.size)),
    ("jump", "right", lambda r, t: size(r.field.jump)),
)


def summary_cells(summary: Summary) -> tuple[list[list[str]], list[str]]:
    """(body rows, totals row) as strings, one per column of COLUMNS."""
    t = summary.total
    body = [[cell(r, t) for _, _, cell in COLUMNS] for r in summary.rows]
    return body, [cell(t, t) for _, _, cell in COLUMNS]


def title(summary: Summary) -> str:
    args = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in summary.args.items())
    inp = _shape(summary.input_shape) if summary.input_shape else "?"
    counted = "training (auxiliary heads included)" if summary.training else "inference"
    left = f", {summary.left_out} nodes left out" if summary.left_out else ""
    return f"{summary.network}({args}) from {summary.file}: input {inp}, depth {summary.depth}, {counted}{left}"


# -- Markdown -------------------------------------------------------------------------------
def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(headers: list[str], justify: list[str], rows: list[list[str]]) -> str:
    rule = ["---:" if j == "right" else ":---" for j in justify]
    lines = [headers, rule, *rows]
    return "\n".join("| " + " | ".join(_escape(c) for c in line) + " |" for line in lines)


def summary_markdown(summary: Summary) -> str:
    body, totals = summary_cells(summary)
    totals[0] = f"**{totals[0]}**"
    table = markdown_table([h for h, _, _ in COLUMNS], [j for _, j, _ in COLUMNS], [*body, totals])
    return f"{title(summary)}\n\n{table}\n\n_{MEMORY_CONVENTION}; {FIELD_CONVENTION}._"


# -- rich -----------------------------------------------------------------------------------
def summary_rich(summary: Summary):
    from rich.table import Table

    table = Table(title=title(summary), caption=f"{MEMORY_CONVENTION}\n{FIELD_CONVENTION}", show_footer=True)
    body, totals = summary_cells(summary)
    for (header, justify, _), foot in zip(COLUMNS, totals):
        table.add_column(header, footer=foot, justify=justify, no_wrap=header != "op / block")
    for cells in body:
        table.add_row(*cells)
    return table


# -- JSON -----------------------------------------------------------------------------------
def _field_json(field: Field) -> dict:
    return {"receptive_field": list(field.size), "jump": list(field.jump)}


def _row_json(row: Row, total: Row) -> dict:
    return {
        "name": row.name, "kind": row.kind, "what": row.what, "nodes": len(row.nodes),
        "output": list(row.shape) if row.shape else None, "output_text": _shape(row.shape),
        "params": row.params, "macs": row.macs, "memory_bytes": row.memory,
        "params_share": row.params / total.params if total.params else None,
        "macs_share": row.macs / total.macs if total.macs else None,
        "memory_share": row.memory / total.memory if total.memory else None,
        **_field_json(row.field),
    }


def summary_json(summary: Summary) -> dict:
    t = summary.total
    return {
        "network": summary.network, "file": summary.file, "args": summary.args, "depth": summary.depth,
        "training": summary.training, "nodes_left_out": summary.left_out,
        "input": list(summary.input_shape) if summary.input_shape else None,
        "rows": [_row_json(r, t) for r in summary.rows],
        "total": {k: v for k, v in _row_json(t, t).items() if k not in ("name", "kind", "what")},
        "conventions": {"memory": MEMORY_CONVENTION, "receptive_field": FIELD_CONVENTION},
    }
