"""Run the netdsl fuzzers and sum up what they did.

    python fuzz/run.py --runs 1000000 --jobs 2          # both engines, split across jobs
    python fuzz/run.py --engine hypothesis --runs 20000
    python fuzz/run.py --report                         # totals of fuzz/out/stats-*.json

Engines: `atheris` (coverage-guided libFuzzer over bytes, seeded with specs/) and
`hypothesis` (valid specs generated from the grammar, then mutated). Every execution
goes through fuzz/harness.py; inputs that break a promise land in fuzz/out/findings/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_LEN = 512  # bytes per atheris input: short inputs keep executions fast


def _workdir() -> Path:
    """A copy of specs/ as working directory and import root, so `import "common.net"` resolves."""
    d = Path(tempfile.mkdtemp(prefix="netdsl-fuzz-"))
    for spec in (ROOT / "specs").glob("*.net"):
        shutil.copy(spec, d / spec.name)
    return d


def _corpus(out: Path, seeds: int = 60) -> Path:
    """Small generated specs, the regression inputs and the small files of specs/: short
    inputs keep libFuzzer fast (a whole Inception spec takes ~0.1 s per execution)."""
    import warnings

    from hypothesis.errors import NonInteractiveExampleWarning

    sys.path.insert(0, str(ROOT))
    from fuzz.specgen import valid_specs

    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        for i in range(seeds):
            (corpus / f"generated-{i}.net").write_text(valid_specs().example().text, encoding="utf-8")
    for spec in sorted((ROOT / "specs").rglob("*.net")) + sorted((ROOT / "tests" / "data" / "fuzz").glob("*")):
        if spec.is_file() and spec.stat().st_size <= MAX_LEN:
            shutil.copy(spec, corpus / spec.name)
    return corpus


def _atheris(runs: int, out: Path, cwd: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(HERE / "atheris_target.py"), f"-runs={runs}", f"-max_len={MAX_LEN}", "-timeout=120",
           "-rss_limit_mb=3000", f"-artifact_prefix={out}/", "--out", str(out), str(_corpus(out))]
    log = open(out / f"atheris-{os.getpid()}-{len(list(out.glob('atheris-*.log')))}.log", "w")
    return subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def _hypothesis(runs: int, out: Path, cwd: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(HERE / "hypothesis_target.py"), str(runs), str(out)]
    return subprocess.Popen(cmd, cwd=cwd)


def report(out: Path) -> dict:
    total = {"executions": 0, "findings": {}, "by_engine": {}}
    for stats in sorted(out.glob("stats-*.json")):
        doc = json.loads(stats.read_text(encoding="utf-8"))
        total["executions"] += doc["executions"]
        total["by_engine"][doc["engine"]] = total["by_engine"].get(doc["engine"], 0) + doc["executions"]
        total["findings"].update(doc["findings"])
    return total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10_000, help="executions in total")
    p.add_argument("--engine", choices=["atheris", "hypothesis", "both"], default="both")
    p.add_argument("--jobs", type=int, default=2, help="parallel processes")
    p.add_argument("--out", type=Path, default=HERE / "out")
    p.add_argument("--report", action="store_true", help="only sum up earlier runs")
    args = p.parse_args(argv)
    args.out = args.out.resolve()  # the fuzzers run in a copy of specs/
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        engines = ["atheris", "hypothesis"] if args.engine == "both" else [args.engine]
        jobs = [engines[i % len(engines)] for i in range(max(args.jobs, len(engines)))]
        cwd = _workdir()
        procs = [(_atheris if e == "atheris" else _hypothesis)(args.runs // len(jobs), args.out, cwd) for e in jobs]
        for proc in procs:
            proc.wait()
    total = report(args.out)
    print(json.dumps(total, indent=1))
    return 1 if total["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
