"""netdsl diagrams in other people's docs: a tiny Sphinx project and a tiny MkDocs
site are built for real, and the diagrams' labels are looked for in the HTML they
produce; a spec that does not check fails the build with the spec's position."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
block Unit(c: int) {
    conv(c, 3, padding=1) -> batchnorm -> relu
}

network Tiny() {
    input [3, 32, 32]
    Unit(16)
    Unit(32)
    global_avgpool -> flatten -> linear(10)
}
"""


def sphinx_build(src: Path, out: Path) -> tuple[int, str]:
    warnings = out.parent / "warnings.txt"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(warnings), str(src), str(out)],
                          capture_output=True, text=True, timeout=300)
    return done.returncode, (warnings.read_text() if warnings.exists() else "") + done.stderr


def test_sphinx_directive_draws_a_file_a_block_and_an_inline_spec(tmp_path):
    src = tmp_path / "src"
    (src / "specs").mkdir(parents=True)
    (src / "specs" / "tiny.net").write_text(SPEC)
    (src / "conf.py").write_text('extensions = ["netdsl.sphinx"]\n')
    (src / "index.rst").write_text(textwrap.dedent("""\
        Models
        ======

        .. netdsl:: specs/tiny.net

        .. netdsl:: specs/tiny.net
           :block: Unit
           :symbolic:

        .. netdsl::
           :caption: Written inline

           network Inline() {
               input [3, 8, 8]
               conv(24, 5, padding=2) -> relu
           }
        """))
    code, log = sphinx_build(src, tmp_path / "html")
    assert code == 0, log
    html = (tmp_path / "html" / "index.html").read_text()
    assert html.count("<svg") == 3
    assert "3x3 Conv (16)" in html and "3x3 Conv (32)" in html and "Linear (10)" in html  # the network
    assert "3x3 Conv (c)" in html  # the block, symbolic
    assert "5x5 Conv (24)" in html and "Written inline" in html


def test_sphinx_reports_a_broken_inline_spec_at_its_page_line(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["netdsl.sphinx"]\n')
    (src / "index.rst").write_text(textwrap.dedent("""\
        Broken
        ======

        .. netdsl::

           network Broken() {
               input [3, 8, 8]
               conv(8, 3) -> batchnorn
           }
        """))
    code, log = sphinx_build(src, tmp_path / "html")
    assert "index.rst:8:" in log and "batchnorn" in log and "ERROR" in log, log


def mkdocs_build(site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(site / "mkdocs.yml")],
                          capture_output=True, text=True, timeout=300, cwd=site)


def test_mkdocs_site_draws_fenced_specs(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "tiny.net").write_text(SPEC)
    (tmp_path / "mkdocs.yml").write_text(textwrap.dedent(f"""\
        site_name: t
        markdown_extensions:
          - fenced_code
          - netdsl.markdown:
              base_dir: {tmp_path}
        """))
    (tmp_path / "docs" / "index.md").write_text(textwrap.dedent("""\
        # Models

        ```netdsl file=specs/tiny.net
        ```

        ```netdsl file=specs/tiny.net block=Unit symbolic
        ```

        ```netdsl
        network Inline() {
            input [3, 8, 8]
            conv(24, 5, padding=2) -> relu
        }
        ```

        ```python
        print("code stays code")
        ```
        """))
    done = mkdocs_build(tmp_path)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "index.html").read_text()
    assert html.count("<svg") == 3
    assert "3x3 Conv (16)" in html and "3x3 Conv (c)" in html and "5x5 Conv (24)" in html
    assert "code stays code" in html


def test_mkdocs_build_fails_on_a_spec_that_does_not_check(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "bad.net").write_text("network Bad() {\n    input [3, 8, 8]\n    conv(8, 3) -> batchnorn\n}\n")
    (tmp_path / "mkdocs.yml").write_text(f"site_name: t\nmarkdown_extensions:\n  - netdsl.markdown:\n      base_dir: {tmp_path}\n")
    (tmp_path / "docs" / "index.md").write_text("# x\n\n```netdsl file=specs/bad.net\n```\n")
    done = mkdocs_build(tmp_path)
    assert done.returncode != 0
    assert "bad.net:3:" in done.stderr and "batchnorn" in done.stderr, done.stderr


def test_the_projects_gallery_shows_every_network_of_the_zoo():
    markdown = pytest.importorskip("markdown")
    gallery = (ROOT / "docs" / "gallery.md").read_text()
    networks = sorted(p.name for p in (ROOT / "specs").glob("*.net") if "\nnetwork " in "\n" + p.read_text())
    for name in networks:
        assert f"file=specs/{name}" in gallery, name
    # one entry drawn through the extension exactly as the site does
    entry = "```netdsl-diagram file=specs/resnet18.net\n```\n"
    html = markdown.markdown(entry, extensions=["netdsl.markdown"], extension_configs={
        "netdsl.markdown": {"fence": "netdsl-diagram", "base_dir": str(ROOT)}})
    assert "<svg" in html and "7x7 Conv (64 stride 2)" in html
