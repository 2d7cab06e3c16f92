"""`netdsl check` on libraries of blocks and on one block, and the report around the
diagnostics: one path style, an aligned shape table, warnings as errors, SARIF, and
`--json` of a command line the spec rejects."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from netdsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = sorted([*ROOT.glob("specs/*_blocks.net"), ROOT / "specs" / "common.net"])


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exit:  # argparse rejected the command line
            status = exit.code
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("path", LIBRARIES, ids=lambda p: p.name)
def test_the_zoo_s_libraries_check_clean(path):
    status, out, err = cli("check", path)
    assert (status, err) == (0, "")
    assert "block" in out and "checked" in out


def test_one_block_on_a_given_input_prints_its_shape_params_and_macs():
    status, out, err = cli(
        "check",
        ROOT / "specs/resnet_blocks.net",
        "--block",
        "Bottleneck",
        "--args",
        "planes=64,stride=2,project=true",
        "--input",
        "256x56x56",
    )
    assert status == 0, err
    # by hand: 1x1 256->64, 3x3 64->64 (stride 2), 1x1 64->256, projection 1x1 256->256; four batch norms
    params = 256 * 64 + 9 * 64 * 64 + 64 * 256 + 256 * 256 + 2 * (64 + 64 + 256 + 256)
    macs = 56 * 56 * 256 * 64 + 28 * 28 * 9 * 64 * 64 + 28 * 28 * 64 * 256 + 28 * 28 * 256 * 256
    assert out.startswith(
        "Bottleneck(planes=64, stride=2, project=true, stride_on_3x3=true, groups=1, width_per_group=64, width=64, se=false): input 56x56x256 -> 28x28x256;"
    )
    assert f"{params:,} parameters; {macs:,} MACs" in out


def test_a_block_s_shape_error_on_its_input_is_found(tmp_path):
    status, _, err = cli(
        "check", ROOT / "specs/resnet_blocks.net", "--block", "Bottleneck", "--args", "planes=64", "--input", "64x56x56"
    )
    assert status == 1 and "[residual-mismatch]" in err  # the identity shortcut carries 64 channels, the body 256


def test_one_block_as_json(tmp_path):
    status, out, _ = cli(
        "check",
        ROOT / "specs/resnet_blocks.net",
        "--block",
        "BasicBlock",
        "--args",
        "planes=8",
        "--input",
        "8x16x16",
        "--json",
    )
    report = json.loads(out)
    assert status == 0 and report["diagnostics"] == []
    (block,) = report["blocks"]
    assert block["block"] == "BasicBlock" and block["input"] == [8, 16, 16] and block["outputs"] == [[8, 16, 16]]
    assert block["params"] == 2 * (9 * 8 * 8 + 2 * 8)


def test_block_requests_the_command_line_cannot_meet_are_usage_errors():
    lib = ROOT / "specs/resnet_blocks.net"
    status, _, err = cli("check", lib, "--block", "Bottlenek")
    assert status == 2 and "did you mean 'Bottleneck'?" in err
    status, _, err = cli("check", lib, "--block", "Bottleneck", "--args", "planes")
    assert status == 2 and "--args takes name=value" in err
    status, _, err = cli("check", lib, "--block", "Bottleneck", "--input", "0x7")
    assert status == 2 and "--input takes CxHxW" in err


def test_render_draws_a_block_of_a_library(tmp_path):
    out = tmp_path / "b.dot"
    status, _, err = cli(
        "render", ROOT / "specs/inception_blocks.net", "--block", "ReductionA", "--symbolic", "-o", out
    )
    assert status == 0, err
    dot = out.read_text()
    assert '"3x3 Conv (n stride 2 V)"' in dot and '"1x1 Conv (k)"' in dot


# ---- the report ---------------------------------------------------------------------------------
TYPO_LIB = "block ConvBN(filters: int) {\n    conv(filters, 3) -> batchnorn\n}\n"
USER = 'import "common.net"\nnetwork M() {\n    input [3, 8, 8]\n    ConvBN(8)\n    ConvBN(8)\n}\n'


def test_paths_print_relative_under_the_working_directory_and_absolute_elsewhere(tmp_path, monkeypatch):
    (tmp_path / "x").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "x" / "common.net").write_text(TYPO_LIB)
    (tmp_path / "x" / "m.net").write_text(USER)
    monkeypatch.chdir(tmp_path)
    _, _, err = cli("check", tmp_path / "x" / "m.net")  # an absolute path named, under the working directory
    assert err.startswith("x/common.net:2:25: error:") and "x/m.net:4:5: note:" in err
    assert "note: in 1 more instantiation\n" in err and err.count("error:") == 1
    monkeypatch.chdir(tmp_path / "elsewhere")
    _, _, err = cli("check", "../x/m.net")
    assert err.startswith(f"{tmp_path}/x/common.net:2:25: error:") and f"{tmp_path}/x/m.net:4:5: note:" in err
    assert "../" not in err


def test_the_shape_table_is_aligned_whatever_the_path_lengths(tmp_path, monkeypatch):
    deep = tmp_path / ("a_rather_long_folder_name/" * 3)
    deep.mkdir(parents=True)
    (deep / "lib.net").write_text("block B() {\n    conv(8, 3)\n}\n")
    (tmp_path / "m.net").write_text(
        f'import "{deep.relative_to(tmp_path)}/lib.net"\n'
        "network M() {\n    input [3, 8, 8]\n    B()\n    conv(4, 40, padding=valid)\n}\n"
    )
    monkeypatch.chdir(tmp_path)
    status, _, err = cli("check", "m.net")
    assert status == 1
    rows = [r for r in err.split("shapes up to the first failing layer:\n")[1].splitlines() if r.strip()]
    assert len(rows) == 3 and {len(r.split()) for r in rows} == {4}
    op_columns = {r.index(r.split()[2], r.index(r.split()[1]) + len(r.split()[1])) for r in rows}
    assert len(op_columns) == 1, rows


def test_json_of_a_rejected_set_has_no_numbers_of_the_default_network(tmp_path):
    spec = tmp_path / "n.net"
    spec.write_text("network N(width: int = 8) {\n    input [3, 8, 8]\n    conv(width, 3)\n}\n")
    status, out, _ = cli("check", spec, "--set", "no_such=3", "--json")
    report = json.loads(out)
    assert status == 2 and [d["code"] for d in report["diagnostics"]] == ["unknown-parameter"]
    assert report["params"] is None and report["macs"] is None and report["nodes"] == []
    status, out, _ = cli("check", spec, "--set", "width=4", "--json")
    assert status == 0 and json.loads(out)["params"] == 3 * 9 * 4 + 4


WARNED = "network N() {\n    input [3, 8, 8]\n    x = conv(8, 3)\n    side = x -> conv(4, 1)\n    x -> relu\n}\n"


def test_warnings_as_errors(tmp_path):
    spec = tmp_path / "w.net"
    spec.write_text(WARNED)
    status, out, err = cli("check", spec)
    assert status == 0 and "warning: the value 'side' is never used" in err and out.startswith("N: input")
    status, out, err = cli("check", spec, "--warnings-as-errors")
    assert status == 1 and "error: the value 'side' is never used" in err and out == ""


def test_sarif_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.net").write_text(WARNED)
    (tmp_path / "lib.net").write_text(TYPO_LIB)
    status, out, _ = cli("check", "w.net", "--format", "sarif")
    sarif = json.loads(out)
    assert status == 0 and sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["unused-value"]
    (result,) = run["results"]
    assert result["ruleId"] == "unused-value" and result["level"] == "warning"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "w.net" and location["region"]["startLine"] == 4
    status, out, _ = cli("check", "lib.net", "--format", "sarif")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert status == 1 and result["level"] == "error" and result["ruleId"] == "unknown-op"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
