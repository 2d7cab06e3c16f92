"""The documentation can never drift: every ```netdsl block of docs/language.md and
README.md checks, the generated op reference is current, and the README's quoted
`netdsl check` output is what the CLI prints today."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import netdsl
from netdsl.cli import main
from netdsl.syntax.docgen import LANGUAGE_MD, op_reference, ops_in_order, splice

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_DECLARATION = re.compile(r"^\s*(network|block|import)\b", re.M)
PRELUDES = (
    "input [3, 32, 32]\n    a = conv(8, 1)\n    b = conv(8, 3)\n",  # a feature map, two named values
    "input [64]\n",  # a flat vector
)


def fenced(path: Path, lang: str) -> list[tuple[int, str]]:
    """(line number, text) of every fenced block in `path` tagged `lang`."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in _FENCE.finditer(text) if m.group(1) == lang]


def _blocks():
    for path in (LANGUAGE_MD, README):
        for line, text in fenced(path, "netdsl"):
            yield pytest.param(text, id=f"{path.name}:{line}")


def wrapped(fragment: str) -> list[str]:
    body = "\n".join("    " + ln for ln in fragment.splitlines())
    return [f"network Doc() {{\n    {prelude}{body}\n}}\n" for prelude in PRELUDES]


def problems(text: str) -> list[str]:
    """The errors (an example of parameter types may leave a parameter unused: a warning)."""
    return [f"{d.headline()}" for d in netdsl.analyze(text).diagnostics if d.severity == "error"]


@pytest.mark.parametrize("text", list(_blocks()))
def test_every_netdsl_example_checks(text, monkeypatch):
    monkeypatch.chdir(ROOT / "specs")  # `import "common.net"` examples
    if _DECLARATION.search(text):
        assert "network" in text, "a full example needs a network"
        assert problems(text) == []
    else:
        attempts = [problems(t) for t in wrapped(text)]
        assert [] in attempts, attempts[0]


def test_language_md_has_examples_for_every_construct():
    text = "\n".join(t for _, t in fenced(LANGUAGE_MD, "netdsl"))
    for construct in ("import ", "block ", "network ", "input [", "output ", "when training", "concat {", "| tower:",
                      "concat(", "residual(scale=", "shortcut ", " x conv", "repeat(", " as i", "if ", "elif ",
                      "else ", " = ", "stem:", "1x7", "//", "%", " and ", "not ", "min(", "make_divisible(", "init conv:",
                      " ** ", "[s]", "[-1]", "[:2]", "len(", "sum(", "max(depths)", "log(", "exp(", "sqrt(",
                      "for w in ", "for (t, c, n, s) in setting as k",
                      "in_channels // 2", "= in_channels", "residual(when=",
                      "gate {", "gate se {", "split(2, 0)", "init *.bn3:", "init classifier.conv:"):
        assert construct in text, f"no example uses {construct!r}"


def test_every_op_is_documented_with_its_example():
    text = LANGUAGE_MD.read_text(encoding="utf-8")
    for op in ops_in_order():
        assert f"### `{op.name}`" in text
        assert f"```netdsl\n{op.example}\n```" in text


def test_generated_op_reference_is_current():
    page = LANGUAGE_MD.read_text(encoding="utf-8")
    assert splice(page, op_reference()) == page, "run: python -m netdsl.syntax.docgen"


# ---- README: the quick tour ------------------------------------------------------------------
def _cli(argv: list[str], monkeypatch) -> tuple[int, str, str]:
    monkeypatch.chdir(ROOT)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _quoted_runs() -> dict[str, str]:
    """`$ netdsl check X` console blocks of the README: command -> quoted output."""
    runs = {}
    for _, text in fenced(README, "console"):
        command, _, output = text.partition("\n")
        runs[command.removeprefix("$ ").strip()] = output
    return runs


def test_readme_tour_spec_is_docs_examples_tour_net():
    quoted = [t for _, t in fenced(README, "netdsl")]
    assert (ROOT / "docs/examples/tour.net").read_text(encoding="utf-8") in quoted


def test_readme_quotes_the_tour_and_its_mistake():
    assert {"netdsl check docs/examples/tour.net", "netdsl check docs/examples/tour_broken.net"} <= set(_quoted_runs())


@pytest.mark.parametrize("command", list(_quoted_runs()))
def test_readme_quotes_what_the_cli_prints_today(command, monkeypatch):
    quoted = _quoted_runs()[command]
    code, out, err = _cli(command.split()[1:], monkeypatch)
    if code == 0:
        assert err == "" and quoted == out
    else:
        assert code == 1
        assert quoted == err.split("\n\nshapes up to the first failing layer:")[0] + "\n"


def test_broken_tour_differs_from_the_tour_by_the_mistake_only():
    good = (ROOT / "docs/examples/tour.net").read_text(encoding="utf-8").splitlines()
    bad = (ROOT / "docs/examples/tour_broken.net").read_text(encoding="utf-8").splitlines()
    assert [ln for ln in good if ln not in bad] == ["        conv(width, 1)"]


def test_readme_python_example_runs(monkeypatch):
    """The README's Python example, as written (timm's model with its own random init)."""
    monkeypatch.chdir(ROOT)
    (source,) = [t for _, t in fenced(README, "python")]
    namespace: dict = {}
    exec(compile(source, "README.md", "exec"), namespace)
    assert tuple(namespace["logits"].shape) == (8, 1000)
    assert not namespace["fast"].training


@pytest.mark.parametrize("spec", ["inception_v4", "resnet50"])
def test_performance_inference_quotes_the_optimized_code_generated_today(spec, monkeypatch):
    """docs/performance-inference.md quotes forward's code of the optimized module: each
    quoted block whose header names a spec is a run of lines of that spec's optimized file."""
    from netdsl.optimizer.flat import compile_optimized

    monkeypatch.chdir(ROOT)  # the comments quote specs/... paths
    source = compile_optimized(netdsl.check(f"specs/{spec}.net"))[0].source
    quoted = [text for _, text in fenced(ROOT / "docs" / "performance-inference.md", "python")
              if f"(specs/{spec}.net:" in text.split("\n", 1)[0]]
    assert quoted, f"no quoted block of {spec}"
    for text in quoted:
        assert text in source, f"the quoted forward of {spec} is not what netdsl generates today:\n{text}"
