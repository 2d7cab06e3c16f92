"""Two source trees of netdsl timed against each other: `python benchmarks/paired.py --old DIR --new DIR`.

Each round runs, in a shuffled order, for each tree: one worker process that imports
that tree's netdsl and times in process `netdsl.check` of inception_v4, a generated
1,000-conv chain (one line per layer), resnet50 and mobilenet_v1 (the parse cache
cleared before every check), the code generator alone (`netdsl.torch.codegen.generate`)
on each of those three graphs, checked once, and cold processes,
`python -c "import netdsl; netdsl.check('.../inception_v4.net')"`. A round gives one
ratio new/old per benchmark (a worker's time for a check is the fastest of its `--reps`
runs, a cold process's the fastest of `--cold-reps`: a burst of other work on a shared
machine slows single runs, not all of them); the report is the median of those ratios
with their interquartile range, in wall-clock and CPU time (on a shared machine the CPU
time is the steadier figure). Both trees check the same spec files (the old tree's,
which both parse) unless `--own-specs`. Nothing is asserted; this is a measuring tool."""

from __future__ import annotations

import argparse
import compileall
import functools
import json
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from frontend import chain_spec, check_fresh
from machine import load_average, python_speed
from timing import Sample, process, repeat

SPECS = ("inception_v4", "resnet50", "mobilenet_v1")
CHAIN = 1_000
BENCHMARKS = (
    "check inception_v4",
    f"check {CHAIN:,}-conv chain",
    "check resnet50",
    "check mobilenet_v1",
    *(f"generate {name}" for name in SPECS),
    "cold process: import netdsl + check inception_v4",
)


def worker(spec_dir: str, reps: int) -> dict:
    """In the tree's own interpreter: the fastest wall and CPU time of each in-process check."""
    import netdsl

    jobs = {f"check {name}": (str(Path(spec_dir) / f"{name}.net"), 1) for name in SPECS}
    jobs[f"check {CHAIN:,}-conv chain"] = (chain_spec(CHAIN), CHAIN)
    out = {"netdsl": netdsl.__file__}
    for what, (spec, layers) in jobs.items():
        timing = repeat(functools.partial(check_fresh, spec, layers), reps, warmup=1)
        out[what] = {"wall": min(timing.wall.values), "cpu": min(timing.cpu.values)}
    from netdsl.api import analyze
    from netdsl.torch.codegen import generate

    for name in SPECS:  # the code generator alone, on a graph checked once
        result = analyze(str(Path(spec_dir) / f"{name}.net"))
        timing = repeat(functools.partial(generate, result.program, result.graph), reps, warmup=1)
        out[f"generate {name}"] = {"wall": min(timing.wall.values), "cpu": min(timing.cpu.values)}
    return out


def tree_env(tree: Path) -> dict:
    """This process's environment with `tree` first on the import path (before an editable install)."""
    return {**os.environ, "PYTHONPATH": str(tree)}


def run_worker(tree: Path, spec_dir: Path, reps: int) -> dict:
    argv = [sys.executable, __file__, "--worker", str(spec_dir), "--reps", str(reps)]
    done = subprocess.run(argv, cwd=tree, env=tree_env(tree), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker in {tree} failed:\n{done.stderr}")
    result = json.loads(done.stdout)
    if not Path(result["netdsl"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the worker in {tree} imported {result['netdsl']}, not that tree's netdsl")
    return result


def run_cold(tree: Path, spec_dir: Path, reps: int) -> dict:
    code = f"import netdsl; netdsl.check({str(spec_dir / 'inception_v4.net')!r})"
    timing = process([sys.executable, "-c", code], reps, warmup=0, cwd=str(tree), env=tree_env(tree))
    return {"wall": min(timing.wall.values), "cpu": min(timing.cpu.values)}


def measure(
    trees: dict[str, Path], specs: dict[str, Path], rounds: int, reps: int, cold_reps: int, seed: int
) -> list[dict]:
    """`rounds` rounds; in each, the 2 x 2 tasks (tree x worker/cold process) in a shuffled order."""
    rng = random.Random(seed)
    for side, tree in trees.items():  # one unmeasured round: file caches
        run_worker(tree, specs[side], 1)
        run_cold(tree, specs[side], 1)
    out = []
    for number in range(rounds):
        tasks = [(side, kind) for side in trees for kind in ("worker", "cold")]
        rng.shuffle(tasks)
        result: dict[str, dict] = {side: {} for side in trees}
        for side, kind in tasks:
            if kind == "worker":
                result[side].update(run_worker(trees[side], specs[side], reps))
            else:
                result[side][BENCHMARKS[-1]] = run_cold(trees[side], specs[side], cold_reps)
        out.append(result)
        print(
            f"  round {number + 1}/{rounds}: " + " ".join(f"{side}/{kind}" for side, kind in tasks),
            file=sys.stderr,
            flush=True,
        )
    return out


def summarise(rounds: list[dict]) -> list[dict]:
    rows = []
    for what in BENCHMARKS:
        row = {"benchmark": what}
        for clock in ("wall", "cpu"):
            old = Sample([r["old"][what][clock] for r in rounds])
            new = Sample([r["new"][what][clock] for r in rounds])
            ratio = Sample([r["new"][what][clock] / r["old"][what][clock] for r in rounds])
            row[clock] = {"old": old.median, "new": new.median, "ratio": ratio}
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| benchmark | old (wall / CPU) | new (wall / CPU) | ratio new/old, wall: median (IQR) | ratio, CPU: median (IQR) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        w, c = row["wall"], row["cpu"]

        def ratio(sample: Sample) -> str:
            q1, q3 = sample.quartiles
            return f"{sample.median:.3f}x ({q1:.3f}-{q3:.3f})"

        lines.append(
            f"| {row['benchmark']} | {w['old'] * 1e3:.1f} / {c['old'] * 1e3:.1f} ms | "
            f"{w['new'] * 1e3:.1f} / {c['new'] * 1e3:.1f} ms | {ratio(w['ratio'])} | {ratio(c['ratio'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="the reference source tree (a worktree of an older commit)")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parent.parent, help="the tree measured")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5, help="in-process runs of each check per worker (fastest taken)")
    parser.add_argument("--cold-reps", type=int, default=3, help="cold processes per tree and round (fastest taken)")
    parser.add_argument(
        "--own-specs", action="store_true", help="each tree checks its own specs/ (default: the old tree's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write every round's timings here")
    parser.add_argument("--worker", metavar="SPEC_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.reps)))
        return 0
    if args.old is None:
        parser.error("--old is required")
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    specs = {side: (tree if args.own_specs else trees["old"]) / "specs" for side, tree in trees.items()}
    for tree in trees.values():  # bytecode, as an installed package has (PYTHONDONTWRITEBYTECODE may be set)
        compileall.compile_dir(str(tree / "netdsl"), quiet=1)
    before, speed_before = load_average(), python_speed()
    rounds = measure(trees, specs, args.rounds, args.reps, args.cold_reps, args.seed)
    rows = summarise(rounds)
    head = (
        f"- old: {trees['old']}\n- new: {trees['new']}\n- specs: {'each tree its own' if args.own_specs else specs['old']}\n"
        f"- rounds: {args.rounds} (per round and tree: the fastest of {args.reps} in-process runs of each check, "
        f"of {args.cold_reps} cold processes)\n"
        f"- load average before / after: {before} / {load_average()}\n"
        f"- host speed (fixed Python workload) before / after: {speed_before} / {python_speed()}\n"
    )
    print(head + "\n" + markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds, "head": head}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
