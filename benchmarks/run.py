"""netdsl benchmarks (issue 2 section 7, issue 3 section 5): `python benchmarks/run.py [--quick]`.

Prints one Markdown report (the goals, what was measured, whether each goal is met) and
can save it and the raw timings (`--json`). Nothing here is a test: goals are reported,
never asserted. Paired comparisons alternate the two sides in one process so that both
see the same machine; every figure is a median with its spread."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backend  # noqa: E402
import frontend  # noqa: E402
from machine import describe_machine, load_average  # noqa: E402
from timing import Sample  # noqa: E402

FULL = {"process": 15, "pairs": 15, "builds": 7, "chain_runs": {1_000: 7, 10_000: 5, 100_000: 1}}
QUICK = {"process": 5, "pairs": 5, "builds": 3, "chain_runs": {1_000: 3, 10_000: 2}}


class Report:
    """Rows of (what, measured, goal, met) plus the raw numbers for --json."""

    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []
        self.raw: dict = {}

    def add(self, what: str, measured: str, goal: str = "", met: bool | None = None) -> None:
        self.rows.append((what, measured, goal, "" if met is None else ("yes" if met else "**no**")))
        print(f"  {what}: {measured}" + (f"  [goal {goal}: {'met' if met else 'NOT met'}]" if goal else ""),
              file=sys.stderr, flush=True)

    def markdown(self) -> str:
        lines = ["| benchmark | measured (median, IQR, min-max, runs) | goal | met |", "|---|---|---|---|"]
        lines += [f"| {w} | {m} | {g} | {ok} |" for w, m, g, ok in self.rows]
        return "\n".join(lines)


def bench_check(report: Report, cfg: dict) -> None:
    startup = frontend.python_startup(cfg["process"])
    report.add("`python -c pass` (interpreter start-up, for reference)", startup.describe())
    check = frontend.check_process(cfg["process"])
    report.add("`netdsl check specs/inception_v4.net`, whole process", check.describe(), "<= 0.5 s",
               check.median <= 0.5)
    report.raw["python_startup"], report.raw["check_process"] = startup.to_json(), check.to_json()


def bench_chains(report: Report, cfg: dict, with_100k: bool) -> None:
    runs = cfg["chain_runs"]
    sizes = [s for s in runs if s <= 10_000 or with_100k]
    for written_out, form in ((True, "one line per layer"), (False, "`repeat(N) { conv }`")):
        result = frontend.chain_scaling(sizes, runs, written_out)
        per = {s: Sample([t / s for t in result[s].values]) for s in sizes}
        for s in sizes:
            goal, met = ("<= 2 s", result[s].median <= 2.0) if s == 10_000 else ("", None)
            report.add(f"check a {s:,}-conv chain ({form}), in process", result[s].describe(), goal, met)
            report.add(f"  per layer ({s:,}, {form})", Sample([v * 1e3 for v in per[s].values]).describe("ms", 4))
        growth = per[10_000].median / per[1_000].median
        report.add(f"per-layer time 10,000 / 1,000 ({form})", f"{growth:.2f}x", "<= 1.3x", growth <= 1.3)
        if 100_000 in per:
            report.add(f"per-layer time 100,000 / 1,000 ({form})", f"{per[100_000].median / per[1_000].median:.2f}x")
        report.raw[f"chains_{'written' if written_out else 'repeat'}"] = {s: r.to_json() for s, r in result.items()}


def bench_forward(report: Report, cfg: dict) -> None:
    ours, theirs, ratio, difference = backend.forward_pair(cfg["pairs"])
    report.add("eager forward, netdsl inception_v4 (batch 8, 299x299, fp32, CPU)", ours.describe())
    report.add("eager forward, timm inception_v4 (same input, same weights)", theirs.describe())
    report.add("forward time ratio netdsl / timm (per pair)", ratio.describe("x"), "<= 1.03", ratio.median <= 1.03)
    report.add("relative difference of the logits ||a-b||/||b||", f"{difference:.1e}")
    report.raw["forward"] = {"netdsl": ours.to_json(), "timm": theirs.to_json(), "ratio": ratio.to_json(),
                             "relative_difference": difference}


def bench_build(report: Report, cfg: dict) -> None:
    ours, theirs, ratio = backend.build_pair(cfg["builds"])
    report.add('`netdsl.build("specs/inception_v4.net")`', ours.describe())
    report.add('`timm.create_model("inception_v4")`', theirs.describe())
    report.add("construction time ratio netdsl / timm (per pair)", ratio.describe("x"), "<= 1.2", ratio.median <= 1.2)
    report.raw["build"] = {"netdsl": ours.to_json(), "timm": theirs.to_json(), "ratio": ratio.to_json()}


def bench_compile(report: Report, cfg: dict) -> None:
    sample = backend.compile_process(cfg["process"])
    report.add("`netdsl compile specs/inception_v4.net -o x.py`, whole process", sample.describe(), "<= 1 s",
               sample.median <= 1.0)
    report.raw["compile_process"] = sample.to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no 100,000-layer chain")
    parser.add_argument("--only", choices=["check", "chains", "forward", "build", "compile"], action="append",
                        help="run only these benchmarks (repeatable)")
    parser.add_argument("--json", help="also write the raw timings here")
    parser.add_argument("--markdown", help="also write the report here")
    args = parser.parse_args(argv)
    os.chdir(frontend.ROOT)
    cfg = QUICK if args.quick else FULL
    report = Report()
    before = load_average()
    steps = {"check": lambda: bench_check(report, cfg), "chains": lambda: bench_chains(report, cfg, not args.quick),
             "forward": lambda: bench_forward(report, cfg), "build": lambda: bench_build(report, cfg),
             "compile": lambda: bench_compile(report, cfg)}
    for name in args.only or steps:
        print(f"{name} ...", file=sys.stderr, flush=True)
        steps[name]()
    machine = describe_machine()
    machine["load average before / after"] = f"{before} / {load_average()}"
    machine["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    machine["mode"] = "quick" if args.quick else "full"
    text = "\n".join(f"- {k}: {v}" for k, v in machine.items()) + "\n\n" + report.markdown() + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "results": report.raw}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
