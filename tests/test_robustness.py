"""Bad input never hurts (issue 6): every hostile input is a netdsl diagnostic with a
documented exit code (0 ok, 1 the spec has errors, 2 usage or I/O error), never a
traceback, a RecursionError, a hang or a runaway allocation; CLI I/O failures are one
line, exit 2, no partial output; spec text cannot inject code into the generated
module; --root confines imports; checkpoints are never unpickled."""

from __future__ import annotations

import ast as pyast
import io
import os
import pickle
import re
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from netdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fuzz"))
from harness import check_generated  # noqa: E402

HEADLINE = re.compile(r"^(?:\S[^\n]*:\d+:\d+|netdsl): error: [^\n]+ \[([a-z-]+)\]$", re.M)
HEAD = "network N() {\n  input [3, 32, 32]\n"
SECONDS = 20  # nothing here may take longer (a hang fails the test instead of stalling the suite)


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def net(body: str) -> bytes:
    return (HEAD + body + "\n}\n").encode()


def nested(opener: str, closer: str, depth: int = 10_000) -> bytes:
    return net(f"  conv({opener * depth}8{closer * depth}, 3)")


def deep_blocks(n: int) -> bytes:
    blocks = "".join(f"block B{i}() {{ B{i + 1}() }}\n" for i in range(n)) + f"block B{n}() {{ relu }}\n"
    return blocks.encode() + net("  B0()")


# name -> (file contents, exit code, diagnostic code, text the message must contain)
HOSTILE = {
    "binary garbage": (bytes(range(256)) * 40, 1, "encoding", "not valid UTF-8"),
    "empty file": (b"", 1, "no-network", "defines no network"),
    "50 MB file": (b"# padding\n" * 5_000_000, 1, "limit", "--max-file-size"),
    "10,000 nested brackets": (nested("[", "]"), 1, "limit", "--max-nesting"),
    "10,000 nested parentheses in a tuple": (nested("(", ",)"), 1, "limit", "--max-nesting"),
    "10,000 nested braces": (net("  residual {" * 10_000 + "relu" + "}" * 10_000), 1, "limit", "--max-nesting"),
    "10,000 unary minus": (net("  conv(" + "-" * 10_000 + "8, 3)"), 1, "limit", "--max-nesting"),
    "invalid UTF-8": (net("  conv(8, 3)  # caf\xe9").replace(b"\xc3\xa9", b"\xe9"), 1, "encoding", "offset 53"),  # 34 + 19 bytes before it
    "NUL byte": (net("  conv(8, 3)\x00"), 1, "encoding", "NUL byte"),
    "self import": (b'import "self.net"\n' + net("  conv(8, 3)"), 1, "import-cycle", "import cycle"),
    "missing import": (b'import "nowhere.net"\n' + net("  conv(8, 3)"), 1, "io", "no such file"),
    "recursive block": (b"block B() { relu -> B() }\n" + net("  B()"), 1, "recursive-block", "instantiates itself"),
    "mutually recursive blocks": (b"block A() { B() }\nblock B() { A() }\n" + net("  A()"), 1, "recursive-block", ""),
    "repeat of 10^9": (net("  1000000000 x conv(8, 3)"), 1, "limit", "--max-layers"),
    "repeat(10^9) group": (net("  repeat(1000 * 1000 * 1000) { relu }"), 1, "limit", "--max-layers"),
    "10^12 channels": (net("  conv(1000000000000, 3)"), 1, "limit", "--max-params"),
    "10^12 features": (b"network N() {\n  input [4096]\n  linear(1000000000000)\n}\n", 1, "limit", "--max-params"),
    "kernel 0": (net("  conv(8, 0)"), 1, "bad-value", "kernel must be at least 1"),
    "huge expression": (net("  conv(" + "+".join(["1"] * 20_000) + ", 3)"), 1, "limit", "--max-nesting"),
    "huge product": (net("  conv(" + " * ".join(["9"] * 40) + ", 3)"), 1, "value-too-large", "too large"),
    "5000-digit integer": (net("  conv(" + "9" * 5000 + ", 3)"), 1, "value-too-large", "5000 digits"),
    "1e999": (net("  dropout(1e999)"), 1, "value-too-large", "too large"),
    "deep block nesting": (deep_blocks(200), 1, "limit", "--max-depth"),
    "unclosed bracket": ((HEAD + "  conv(8, 3").encode(), 1, "syntax", "never closed"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_a_diagnostic(name, tmp_path):
    data, exit_code, code, words = HOSTILE[name]
    spec = tmp_path / "self.net"
    spec.write_bytes(data)
    start = time.monotonic()
    rc, out, err = cli("check", spec)
    assert time.monotonic() - start < SECONDS
    assert rc == exit_code, err
    assert "Traceback" not in err + out and "RecursionError" not in err
    assert code in HEADLINE.findall(err), err[:2000]
    assert words in err


@pytest.mark.parametrize("name", ["binary garbage", "10,000 nested brackets", "repeat of 10^9", "10^12 channels",
                                  "huge expression", "deep block nesting"])
def test_hostile_input_in_a_subprocess(name, tmp_path):
    """A whole process, memory capped at 2 GB: no traceback, the right exit code, no hang."""
    data, exit_code, code, _ = HOSTILE[name]
    spec = tmp_path / "self.net"
    spec.write_bytes(data)
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    proc = subprocess.run([sys.executable, "-c", limit + "import sys; from netdsl.cli import main; sys.exit(main())",
                           "check", str(spec)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == exit_code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert code in HEADLINE.findall(proc.stderr)


@pytest.mark.parametrize("command", ["compile", "render"])
def test_back_ends_never_allocate_a_spec_over_the_limits(command, tmp_path):
    spec = tmp_path / "big.net"
    spec.write_bytes(HOSTILE["10^12 channels"][0])
    out = tmp_path / ("big.py" if command == "compile" else "big.dot")
    rc, _, err = cli(command, spec, "-o", out)
    assert rc == 1 and "--max-params" in err and not out.exists()


def test_limits_can_be_raised_from_the_command_line(tmp_path):
    spec = tmp_path / "r.net"
    spec.write_bytes(net("  3 x relu"))
    assert cli("check", spec, "--max-layers", "3")[0] == 1  # the input is a layer too
    assert cli("check", spec, "--max-layers", "4")[0] == 0
    spec.write_bytes(net("  conv(" + "[" * 150 + "8" + "]" * 150 + ", 3)"))
    rc, _, err = cli("check", spec, "--max-nesting", "1000")
    assert rc == 1 and "[limit]" not in err  # past the limit, the nesting is checked as a value


def test_bom_crlf_and_tabs_read_like_plain_text(tmp_path):
    plain = net("  conv(8, 3)\n  relu")
    variants = {"bom": b"\xef\xbb\xbf" + plain, "crlf": plain.replace(b"\n", b"\r\n"),
                "tabs": plain.replace(b"  ", b"\t")}
    expected = cli("check", _write(tmp_path / "plain.net", plain))[1]
    assert "8x32x32" not in expected and "32x32x8" in expected
    for name, data in variants.items():
        rc, out, err = cli("check", _write(tmp_path / f"{name}.net", data))
        assert (rc, out.replace(f"{name}.net", "plain.net")) == (0, expected), err


def test_positions_count_crlf_and_tabs_as_one_column(tmp_path):
    data = b"network N() {\r\n\tinput [3, 8, 8]\r\n\tbogus(1)\r\n}\r\n"
    rc, _, err = cli("check", _write(tmp_path / "t.net", data))
    assert rc == 1 and f"{tmp_path / 't.net'}:3:2: error: unknown op or block 'bogus'" in err


def test_invalid_utf8_names_line_column_and_byte_offset(tmp_path):
    data = b"network N() {\n  input [3, 8, 8]  # \xff\n}\n"
    rc, _, err = cli("check", _write(tmp_path / "u.net", data))
    offset = data.index(b"\xff")
    assert rc == 1 and f"u.net:2:22: error: the file is not valid UTF-8: byte 0xff at offset {offset} [encoding]" in err


def test_shape_table_up_to_the_first_failing_layer(tmp_path):
    spec = _write(tmp_path / "s.net", net("  conv(8, 3)\n  maxpool(2)\n  conv(4, 40, padding=valid)\n  relu"))
    rc, _, err = cli("check", spec)
    assert rc == 1 and "[kernel-too-large]" in err
    table = err.split("shapes up to the first failing layer:")[1].splitlines()
    rows = [r.split() for r in table if r.strip()]
    # by hand: 32x32x3 input, conv 3x3 same keeps 32x32 with 8 channels, maxpool 2 halves it
    assert [r[1:] for r in rows] == [["input", "input", "32x32x3"], ["conv1", "conv", "32x32x8"],
                                     ["maxpool", "maxpool", "16x16x8"], ["conv2", "conv", "?"]]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- CLI I/O: one line, exit 2, no partial output ---------------------------------------------
def _one_line_usage_error(rc: int, err: str) -> None:
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("netdsl: error: "), err


def test_nonexistent_file(tmp_path):
    rc, _, err = cli("check", tmp_path / "nope.net")
    _one_line_usage_error(rc, err)
    assert "no such file" in err


def test_directory(tmp_path):
    rc, _, err = cli("check", tmp_path)
    _one_line_usage_error(rc, err)
    assert "is a directory" in err


def test_unreadable_file(tmp_path):
    """chmod 000 denies reading to anyone but root; as root, /proc/self/mem (whose
    first page is never mapped) is a file that exists and cannot be read."""
    if os.geteuid() == 0:
        path = Path("/proc/self/mem")
    else:
        path = _write(tmp_path / "secret.net", net("  relu"))
        path.chmod(0)
    rc, _, err = cli("check", path)
    _one_line_usage_error(rc, err)
    assert f"cannot read {path}" in err


def test_unknown_set_name(tmp_path):
    spec = _write(tmp_path / "w.net", b"network N(width: int = 8) {\n  input [3, 8, 8]\n  conv(width, 3)\n}\n")
    rc, _, err = cli("check", spec, "--set", "wdth=4")
    _one_line_usage_error(rc, err)
    assert "unknown network parameter 'wdth'; did you mean 'width'?" in err


@pytest.mark.parametrize("value", ["1.5", '"wide"', "true", "(1, 2)", "abc", "1 +"])
def test_set_value_of_the_wrong_type(tmp_path, value):
    spec = _write(tmp_path / "w.net", b"network N(width: int = 8) {\n  input [3, 8, 8]\n  conv(width, 3)\n}\n")
    rc, _, err = cli("check", spec, "--set", f"width={value}")
    _one_line_usage_error(rc, err)
    assert "[bad-set]" in err and "width" in err


@pytest.mark.parametrize("command", ["compile", "render"])
@pytest.mark.parametrize("target", ["missing-dir", "directory", "proc"])
def test_unwritable_output(tmp_path, command, target):
    spec = _write(tmp_path / "ok.net", net("  conv(8, 3)"))
    suffix = ".py" if command == "compile" else ".dot"
    out = {"missing-dir": tmp_path / "nowhere" / f"x{suffix}", "directory": tmp_path,
           "proc": Path(f"/proc/version{suffix}")}[target]
    before = sorted(os.listdir(tmp_path))
    rc, _, err = cli(command, spec, "-o", out)
    _one_line_usage_error(rc, err)
    assert sorted(os.listdir(tmp_path)) == before  # no temporary file left behind


def test_protected_existing_output_is_kept(tmp_path):
    """/proc/version exists and cannot be replaced, even by root."""
    spec = _write(tmp_path / "ok.net", net("  conv(8, 3)"))
    before = Path("/proc/version").read_text()
    rc, _, err = cli("compile", spec, "-o", "/proc/version")
    _one_line_usage_error(rc, err)
    assert Path("/proc/version").read_text() == before


def test_failed_compile_leaves_no_output(tmp_path):
    spec = _write(tmp_path / "bad.net", net("  conv(8, 0)"))
    rc, _, _ = cli("compile", spec, "-o", tmp_path / "bad.py")
    assert rc == 1 and sorted(os.listdir(tmp_path)) == ["bad.net"]


# ---- safe by construction -----------------------------------------------------------------------
EVIL = r'''a"; __import__("os").system("echo pwned") #\n''' + "\"\"\" ' \\\\ \u00e9\u4e2d\U0001f600 exec(open('x'))"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def injection_spec() -> str:
    s = _escaped(EVIL)
    return (f'block Evil(mode: str = "{s}", k: int = 3) {{\n'
            f'    if mode == "{s}" {{ conv(4, k) }} else {{ relu }}\n}}\n'
            f'network __import__(tag: str = "{s}") {{\n'
            f'    input [3, 8, 8]\n    eval_: Evil()\n    Evil("{s}\\n", k=1)\n}}\n')


@pytest.mark.parametrize("file_name", ["evil.net", 'evil"""\nimport os\n#\\.net'])
def test_spec_text_cannot_inject_code(tmp_path, file_name):
    import torch

    import netdsl
    from netdsl.torch.build import load_module
    from netdsl.torch.codegen import generate

    spec = _write(tmp_path / file_name, injection_spec().encode())
    rc, source, err = cli("compile", spec)
    assert rc == 0, err
    check_generated(source)  # parses; imports only torch/collections; no eval/exec/open/os/sys/__import__ names
    tree = pyast.parse(source)
    imports = [n for n in pyast.walk(tree) if isinstance(n, (pyast.Import, pyast.ImportFrom))]
    assert {a.name for n in imports for a in n.names} <= {"torch", "nn", "OrderedDict"}
    calls = {n.func.id for n in pyast.walk(tree) if isinstance(n, pyast.Call) and isinstance(n.func, pyast.Name)}
    assert calls <= {"super", "_padding", "isinstance", "tuple", "zip", "enumerate", "range", "len", "int", "Evil"}
    strings = [n.value for n in pyast.walk(tree) if isinstance(n, pyast.Constant) and isinstance(n.value, str)]
    assert EVIL in strings and EVIL + "\n" in strings  # the spec's strings survive as data
    # and the module does only what the spec says: the same shapes as the front end
    result = netdsl.analyze(spec)
    code = generate(result.program, result.graph)
    assert code.class_name.isidentifier() and code.class_name != "__import__"  # a class of its own, shadowing nothing
    model = load_module(code)[code.class_name]().eval()
    out_shape = result.graph.nodes[result.graph.outputs[0].node].shape
    assert tuple(model(torch.zeros(1, 3, 8, 8)).shape) == (1, *out_shape)


def _rooted(tmp_path: Path, import_line: str) -> tuple[int, str]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (tmp_path / "outside.net").write_text("block Out() { relu }\n")
    spec = _write(root / "main.net", (import_line + "\n").encode() + net("  relu"))
    rc, _, err = cli("check", spec, "--root", root)
    return rc, err


def test_root_rejects_absolute_import(tmp_path):
    rc, err = _rooted(tmp_path, f'import "{tmp_path / "outside.net"}"')
    assert rc == 1 and "main.net:1:1: error: import" in err and "[import-outside-root]" in err


def test_root_rejects_dotdot_escape(tmp_path):
    rc, err = _rooted(tmp_path, 'import "../outside.net"')
    assert rc == 1 and "[import-outside-root]" in err


def test_root_rejects_symlink_escape(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link.net").symlink_to(tmp_path / "outside.net")
    rc, err = _rooted(tmp_path, 'import "link.net"')
    assert rc == 1 and "[import-outside-root]" in err


def test_root_allows_imports_inside(tmp_path):
    (tmp_path / "root" / "lib").mkdir(parents=True)
    (tmp_path / "root" / "lib" / "b.net").write_text("block In() { relu }\n")
    rc, err = _rooted(tmp_path, 'import "lib/b.net"')
    assert rc == 0, err


def test_root_through_the_api(tmp_path):
    import netdsl

    (tmp_path / "outside.net").write_text("block Out() { relu }\n")
    result = netdsl.analyze(f'import "{tmp_path / "outside.net"}"\n' + net("  Out()").decode(), root=tmp_path / "r")
    assert "import-outside-root" in [d.code for d in result.diagnostics]


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_port_refuses_a_malicious_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = _write(tmp_path / "ok.net", net("  conv(8, 3)"))
    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"conv.weight": _Payload()}, fh)
    rc, _, err = cli("port", spec, tmp_path / "evil.pt", "-o", tmp_path / "out.safetensors")
    _one_line_usage_error(rc, err)
    assert "pickled objects other than tensors" in err
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "out.safetensors").exists()


def test_weights_are_only_read_safely():
    """Every torch.load in netdsl passes weights_only=True; nothing imports pickle to load."""
    loads = []
    for path in (ROOT / "netdsl").rglob("*.py"):
        for node in pyast.walk(pyast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, pyast.Call) and getattr(node.func, "attr", None) in ("load", "loads"):
                owner = getattr(node.func.value, "id", "")
                if owner in ("torch", "pickle", "dill", "cloudpickle"):
                    kw = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                    loads.append((path.name, owner, kw.get("weights_only")))
    assert loads and all(owner == "torch" and safe is True for _, owner, safe in loads), loads


@pytest.mark.parametrize("label", ["__init__", "forward", "_modules", "training", "state_dict", "out_channels",
                                   "in_channels"])
def test_layer_names_that_would_hide_module_attributes_are_refused(tmp_path, label):
    rc, _, err = cli("check", _write(tmp_path / "l.net", net(f"  {label}: conv(8, 3)")))
    assert rc == 1 and f"error: a layer cannot be named '{label}'" in err and "[reserved-name]" in err


def test_reserved_names_cover_every_module_attribute():
    from torch import nn

    from netdsl.ir.naming import MODULE_ATTRIBUTES, reserved_label

    public = {n for n in dir(nn.Module) if not n.startswith("_")} | set(vars(nn.Module()))
    assert all(reserved_label(n) for n in public), sorted(n for n in public if not reserved_label(n))
    assert "conv" not in MODULE_ATTRIBUTES and not reserved_label("stem")

