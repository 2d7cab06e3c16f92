"""The language server's latency: time from an edit (didChange sent) to the diagnostics
published for that version, on specs/inception_v4.net and on a generated 2,000-layer
spec, driving a real `netdsl lsp` process over stdio with pygls's LanguageClient.

    python benchmarks/lsp.py [--edits 15] [--markdown FILE]

Measured: (1) single edits, alternately breaking and fixing the spec, with the server's
default debounce and with none (the analysis itself); (2) a burst of keystrokes 30 ms
apart: diagnostics published per burst (the debounce should make it one) and the time
from the last keystroke to them; (3) completion requests answered during the burst
(the server stays responsive while checking). Goals are reported, never asserted."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from lsp_session import Session
from machine import describe_machine, load_average
from timing import Sample

from netdsl import api
from netdsl.lsp.server import DEBOUNCE

BREAK = ("ConvBN(32, 3, padding=valid)", "ConvBN(32, 3, padding=vaild)")


def generated(layers: int) -> str:
    """A network of `layers` layers: ConvBN units (conv, batchnorm, relu) in one chain."""
    lines = [
        "block ConvBN(filters: int) {",
        "    conv(filters, 3, padding=1, bias=false)",
        "    batchnorm",
        "    relu",
        "}",
        "network Deep() {",
        "    input [3, 32, 32]",
    ]
    lines += [f"    ConvBN({16 + 8 * (i % 4)})" for i in range(layers // 3)]
    lines += ["}"]
    return "\n".join(lines) + "\n"


def single_edits(session: Session, uri: str, text: str, edits: int, broken: tuple[str, str]) -> Sample:
    assert broken[0] in text, f"the edit {broken} does not apply"
    times = []
    for i in range(edits):
        new = text.replace(*broken, 1) if i % 2 == 0 else text
        sent = time.perf_counter()
        version = session.change(uri, new)
        times.append(session.published_at(uri, version) - sent)
    session.change(uri, text)
    session.diagnostics(uri)
    return Sample(times)


def burst(session: Session, uri: str, text: str, keys: int = 20, gap: float = 0.03) -> tuple[Sample, int, Sample]:
    """Type `keys` characters into a comment, `gap` apart; completion after each."""
    before = len(session.published.get(uri, []))
    last_line = text.rstrip("\n").count("\n")
    typed, answers = text + "# ", []
    for _ in range(keys):
        typed += "x"
        last = time.perf_counter()
        version = session.change(uri, typed)
        asked = time.perf_counter()
        session.completion(uri, last_line + 1, 0)
        answers.append(time.perf_counter() - asked)
        time.sleep(max(0.0, gap - (time.perf_counter() - last)))
    published = session.published_at(uri, version)
    count = len(session.published[uri]) - before
    session.change(uri, text)
    session.diagnostics(uri)
    return Sample([published - last]), count, Sample(answers)


def run(edits: int) -> list[str]:
    spec = ROOT / "specs" / "inception_v4.net"
    text = spec.read_text()
    deep_text = generated(2000)
    deep_layers = len(api.analyze(deep_text).graph.nodes) - 1  # less the input
    deep = ROOT / "specs" / "_deep_2000.net"  # never written: the text goes to the server only
    rows = []
    for debounce in (DEBOUNCE, 0.0):
        session = Session(debounce=debounce, cwd=ROOT)
        try:
            uri = session.open(spec, text)
            assert session.diagnostics(uri).diagnostics == ()
            edit = single_edits(session, uri, text, edits, BREAK)
            rows.append(f"| inception_v4.net, one edit | {debounce:g} s | {edit.describe()} |")
            duri = session.open(deep, deep_text)
            session.diagnostics(duri)
            d = single_edits(session, duri, deep_text, edits, ("ConvBN(16)", "ConvBN(1.5)"))
            rows.append(f"| generated, {deep_layers:,} layers, one edit | {debounce:g} s | {d.describe()} |")
            if debounce:
                last, count, answers = burst(session, uri, text)
                rows.append(
                    f"| inception_v4.net, 20 keystrokes 30 ms apart: last keystroke to diagnostics "
                    f"({count} publication{'s' if count != 1 else ''} for the burst) | {debounce:g} s | {last.describe()} |"
                )
                rows.append(
                    f"| inception_v4.net, completion answered while typing | {debounce:g} s | {answers.describe()} |"
                )
                last, count, answers = burst(session, duri, deep_text)
                rows.append(
                    f"| {deep_layers:,} layers, 20 keystrokes 30 ms apart: last keystroke to diagnostics "
                    f"({count} publication{'s' if count != 1 else ''}) | {debounce:g} s | {last.describe()} |"
                )
                rows.append(
                    f"| {deep_layers:,} layers, completion answered while typing | {debounce:g} s | {answers.describe()} |"
                )
        finally:
            session.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=15)
    parser.add_argument("--markdown", metavar="FILE")
    args = parser.parse_args(argv)
    load_before = load_average()
    rows = run(args.edits)
    machine = describe_machine()
    out = [
        "| what | debounce | time from the edit to published diagnostics |",
        "|---|---|---|",
        *rows,
        "",
        f"load average (1, 5, 15 min) before: {load_before}, after: {load_average()}",
        "; ".join(f"{k}: {v}" for k, v in machine.items()),
    ]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
