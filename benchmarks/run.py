"""netdsl benchmarks (issue 2 section 7, issue 3 section 5): `python benchmarks/run.py [--quick]`.

Prints one Markdown report (the goals, what was measured, whether each goal is met) and
can save it and the raw timings (`--json`). Nothing here is a test: goals are reported,
never asserted. Paired comparisons alternate the two sides in one process so that both
see the same machine; every figure is a median with its spread."""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backend
import frontend
from machine import describe_machine, load_average, python_speed

FULL = {"process": 15, "pairs": 15, "builds": 15, "chain_runs": {1_000: 7, 10_000: 5, 100_000: 1}}
QUICK = {"process": 5, "pairs": 5, "builds": 3, "chain_runs": {1_000: 3, 10_000: 2}}


class Report:
    """Rows of (what, measured, goal, met) plus the raw numbers for --json."""

    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []
        self.raw: dict = {}

    def add(
        self, what: str, measured: str, goal: str = "", met: bool | None = None, met_cpu: bool | None = None
    ) -> None:
        """`met` judges the wall-clock median; `met_cpu` the CPU-time median, where one exists."""

        def word(ok):
            return "" if ok is None else ("yes" if ok else "**no**")

        self.rows.append((what, measured, goal, word(met), word(met_cpu)))
        verdict = f"  [goal {goal}: wall {word(met) or '-'}, CPU {word(met_cpu) or '-'}]" if goal else ""
        print(f"  {what}: {measured}{verdict}", file=sys.stderr, flush=True)

    def markdown(self) -> str:
        lines = [
            "| benchmark | measured: median (IQR, min, max, runs) | goal | met (wall) | met (CPU time) |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)


def bench_check(report: Report, cfg: dict) -> None:
    startup = frontend.python_startup(cfg["process"])
    report.add("`python -c pass` (interpreter start-up, for reference)", startup.describe())
    check = frontend.check_process(cfg["process"])
    report.add(
        "`netdsl check specs/inception_v4.net`, whole process",
        check.describe(),
        "<= 0.5 s",
        check.wall.median <= 0.5,
        check.cpu.median <= 0.5,
    )
    report.raw["python_startup"], report.raw["check_process"] = startup.to_json(), check.to_json()


def bench_chains(report: Report, cfg: dict, with_100k: bool) -> None:
    runs = cfg["chain_runs"]
    sizes = [s for s in runs if s <= 10_000 or with_100k]
    for written_out, form in ((True, "one line per layer"), (False, "`repeat(N) { conv }`")):
        result = frontend.chain_scaling(sizes, runs, written_out)
        for s in sizes:
            wall, cpu = result[s].wall.median, result[s].cpu.median
            goal, met, met_cpu = ("<= 2 s", wall <= 2.0, cpu <= 2.0) if s == 10_000 else ("", None, None)
            report.add(f"check a {s:,}-conv chain ({form}), in process", result[s].describe(), goal, met, met_cpu)
            report.add(f"per layer, {s:,} layers", f"wall {wall / s * 1e3:.4f} ms; CPU {cpu / s * 1e3:.4f} ms")
        for big in [s for s in sizes if s > 1_000]:
            wall = (result[big].wall.median / big) / (result[1_000].wall.median / 1_000)
            cpu = (result[big].cpu.median / big) / (result[1_000].cpu.median / 1_000)
            goal, met, met_cpu = ("<= 1.3x", wall <= 1.3, cpu <= 1.3) if big == 10_000 else ("", None, None)
            report.add(
                f"per-layer time {big:,} / 1,000 ({form})", f"wall {wall:.2f}x; CPU {cpu:.2f}x", goal, met, met_cpu
            )
        report.raw[f"chains_{'written' if written_out else 'repeat'}"] = {s: r.to_json() for s, r in result.items()}


def bench_forward(report: Report, cfg: dict) -> None:
    ours, theirs, ratio, difference = backend.forward_pair(cfg["pairs"])
    report.add("eager forward, netdsl inception_v4 (batch 8, 299x299, fp32, CPU)", ours.describe())
    report.add("eager forward, timm inception_v4 (same input, same weights)", theirs.describe())
    report.add("forward time ratio netdsl / timm (per pair)", ratio.describe("x"), "<= 1.03", ratio.median <= 1.03)
    report.add("relative difference of the logits ||a-b||/||b||", f"{difference:.1e}")
    report.raw["forward"] = {
        "netdsl": ours.to_json(),
        "timm": theirs.to_json(),
        "ratio": ratio.to_json(),
        "relative_difference": difference,
    }


def bench_build(report: Report, cfg: dict) -> None:
    for cold, how in ((True, "cold: caches cleared before each build"), (False, "warm: the same spec built again")):
        ours, theirs, ratio = backend.build_pair(cfg["builds"], cold=cold)
        report.add(f'`netdsl.build("specs/inception_v4.net")`, {how}', ours.describe())
        report.add('`timm.create_model("inception_v4")`', theirs.describe())
        report.add(f"construction time ratio netdsl / timm (per pair), {how.split(':')[0]}", ratio.describe("x"),
                   "<= 1.2", ratio.median <= 1.2)
        report.raw["build_cold" if cold else "build_warm"] = {"netdsl": ours.to_json(), "timm": theirs.to_json(),
                                                              "ratio": ratio.to_json()}


def bench_compile(report: Report, cfg: dict) -> None:
    sample = backend.compile_process(cfg["process"])
    report.add(
        "`netdsl compile specs/inception_v4.net -o x.py`, whole process",
        sample.describe(),
        "<= 1 s",
        sample.wall.median <= 1.0,
        sample.cpu.median <= 1.0,
    )
    report.raw["compile_process"] = sample.to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no 100,000-layer chain")
    parser.add_argument(
        "--only",
        choices=["check", "chains", "forward", "build", "compile"],
        action="append",
        help="run only these benchmarks (repeatable)",
    )
    parser.add_argument("--json", help="also write the raw timings here")
    parser.add_argument("--markdown", help="also write the report here")
    args = parser.parse_args(argv)
    os.chdir(frontend.ROOT)
    # An installed package has its bytecode compiled (pip does it); an editable install
    # run with PYTHONDONTWRITEBYTECODE=1 (as on the dev machine) would recompile every
    # module in every process and the process timings would measure that instead.
    compileall.compile_dir(str(frontend.ROOT / "netdsl"), quiet=1)
    cfg = QUICK if args.quick else FULL
    report = Report()
    before = load_average()
    speed_before = python_speed()
    steps = {
        "check": lambda: bench_check(report, cfg),
        "chains": lambda: bench_chains(report, cfg, not args.quick),
        "forward": lambda: bench_forward(report, cfg),
        "build": lambda: bench_build(report, cfg),
        "compile": lambda: bench_compile(report, cfg),
    }
    for name in args.only or steps:
        print(f"{name} ...", file=sys.stderr, flush=True)
        steps[name]()
    machine = describe_machine()
    machine["load average before / after"] = f"{before} / {load_average()}"
    machine["host speed (fixed Python workload) before / after"] = f"{speed_before} / {python_speed()}"
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
