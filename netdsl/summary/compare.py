"""Two (or more) networks side by side: totals and per-stage differences.

A stage is a row of the depth-0 summary (a top-level block, repeat group or op);
stages are matched by name, so a spec compared with itself under other `--set`
values lines up stage by stage."""

from __future__ import annotations

from dataclasses import dataclass

from .rows import Row, Summary
from .table import count, markdown_table, megabytes

__all__ = ["METRICS", "Comparison", "compare", "comparison_json", "comparison_markdown", "comparison_rich",
           "totals_markdown", "totals_rich"]

METRICS = (("params", count), ("macs", count), ("memory", megabytes))
_HEADS = {"params": "params", "macs": "MACs", "memory": "memory"}


@dataclass
class Comparison:
    labels: list[str]  # what each side is: file and --set values
    summaries: list[Summary]

    def stages(self) -> list[tuple[str, list[Row | None]]]:
        """Stage name and each side's row (None where that side has no such stage)."""
        names: list[str] = []
        for s in self.summaries:
            names += [r.name for r in s.rows if r.name not in names]
        return [(n, [s.row(n) for s in self.summaries]) for n in names]


def compare(labels: list[str], summaries: list[Summary]) -> Comparison:
    return Comparison(labels, summaries)


def _value(row: Row | None, metric: str) -> int | None:
    return None if row is None else getattr(row, metric)


def _delta(a: int | None, b: int | None, fmt) -> str:
    if a is None or b is None:
        return "-"
    sign = "+" if b > a else "-" if b < a else ""
    return sign + fmt(abs(b - a))


def _ratio(a: int | None, b: int | None) -> str:
    return f"x{b / a:.3g}" if a and b is not None else "-"


def _pair_cells(name: str, a: Row | None, b: Row | None) -> list[str]:
    cells = [name]
    for metric, fmt in METRICS:
        va, vb = _value(a, metric), _value(b, metric)
        cells += [fmt(va) if va is not None else "-", fmt(vb) if vb is not None else "-", _delta(va, vb, fmt)]
    return cells


def _ratio_cells(a: Row, b: Row) -> list[str]:
    cells = ["B / A"]
    for metric, _ in METRICS:
        cells += ["", "", _ratio(_value(a, metric), _value(b, metric))]
    return cells


def _pair_table(c: Comparison) -> tuple[list[str], list[str], list[list[str]], list[str]]:
    heads = ["stage"]
    for metric, _ in METRICS:
        h = _HEADS[metric]
        heads += [f"{h} A", f"{h} B", f"Δ {h}"]
    body = [_pair_cells(name, *rows) for name, rows in c.stages()]
    a, b = c.summaries[0].total, c.summaries[1].total
    return heads, ["left"] + ["right"] * (len(heads) - 1), body, [_pair_cells("total", a, b), _ratio_cells(a, b)]


def _totals_table(c: Comparison) -> tuple[list[str], list[str], list[list[str]]]:
    heads = ["network", "output", "params", "MACs", "memory", "params / first", "MACs / first"]
    first = c.summaries[0].total
    body = []
    for label, s in zip(c.labels, c.summaries):
        t = s.total
        shape = "x".join(str(d) for d in (t.shape or ()))
        body.append([label, shape, count(t.params), count(t.macs), megabytes(t.memory),
                     _ratio(first.params, t.params), _ratio(first.macs, t.macs)])
    return heads, ["left"] + ["right"] * (len(heads) - 1), body


def _legend(c: Comparison) -> str:
    return "\n".join(f"{chr(ord('A') + i)} = {label}" for i, label in enumerate(c.labels))


def comparison_markdown(c: Comparison, totals_only: bool = False) -> str:
    if len(c.summaries) != 2 or totals_only:
        return totals_markdown(c)
    heads, justify, body, (totals, ratios) = _pair_table(c)
    totals[0], ratios[0] = "**total**", "**B / A**"
    legend = "  \n".join(_legend(c).splitlines())
    return f"{legend}\n\n{markdown_table(heads, justify, [*body, totals, ratios])}"


def totals_markdown(c: Comparison) -> str:
    heads, justify, body = _totals_table(c)
    return markdown_table(heads, justify, body)


def _rich(title: str, heads: list[str], justify: list[str], body: list[list[str]], footer: list[list[str]]):
    from rich.table import Table

    table = Table(title=title)
    for i, (h, j) in enumerate(zip(heads, justify)):
        table.add_column(h, justify=j, no_wrap=i > 0)
    for i, cells in enumerate([*body, *footer]):
        table.add_row(*cells, end_section=i == len(body) - 1)
    return table


def comparison_rich(c: Comparison, totals_only: bool = False):
    if len(c.summaries) != 2 or totals_only:
        return totals_rich(c)
    heads, justify, body, footer = _pair_table(c)
    return _rich(_legend(c), heads, justify, body, list(footer))


def totals_rich(c: Comparison):
    heads, justify, body = _totals_table(c)
    return _rich("", heads, justify, body, [])


def _side_json(row: Row | None) -> dict | None:
    return None if row is None else {m: getattr(row, m) for m, _ in METRICS}


def comparison_json(c: Comparison, totals_only: bool = False) -> dict:
    stages = [] if totals_only else [{"stage": name, "sides": [_side_json(r) for r in rows]} for name, rows in c.stages()]
    return {
        "sides": [{"label": label, "network": s.network, "file": s.file, "args": s.args,
                   "total": _side_json(s.total)} for label, s in zip(c.labels, c.summaries)],
        "stages": stages,
        "memory_unit": "bytes",
    }
