"""`netdsl fmt FILE|DIR...`: rewrite .net files in the canonical layout (as `ruff format`
does Python); `--check` lists the files that would change, `--diff` shows how. A COMMANDS
entry that netdsl/cli.py registers.

Exit status: 0 nothing to do (or everything rewritten), 1 `--check`/`--diff` found a file
to change or a file does not parse (its syntax diagnostic is printed, the file left as it
is), 2 a path that cannot be read or written."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .. import codes
from ..codes import EXIT_OK, EXIT_SPEC, EXIT_USAGE
from ..commandline import Command
from ..diagnostics import Diagnostic, NetdslError, SourceMap, exit_status, format_diagnostics
from ..files import WriteError, write_atomic
from ..ir.program import display_path
from .layout import FormatterBug, format_source

__all__ = ["COMMANDS", "cmd_fmt", "spec_files"]

SUFFIX = ".net"


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="+",
        metavar="FILE|DIR",
        help="spec files, or folders searched for *.net files; `-` formats stdin to stdout",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list the files that would change and exit 1 if there are any",
    )
    mode.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print a unified diff of each change and exit 1 if there is one",
    )


def shown(path: Path) -> str:
    """A path as reports print it (:func:`netdsl.ir.program.display_path`)."""
    return display_path(path)


def spec_files(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The files named, and every *.net file under the folders named (sorted, hidden
    folders skipped); the paths that do not exist."""
    files, missing = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file() and not _hidden(p.relative_to(path)))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(name)
    return files, missing


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class _Run:
    """One `netdsl fmt` run: what it found, for the exit status and the summary line."""

    def __init__(self, args):
        self.args = args
        self.changed = self.unchanged = 0
        self.status = EXIT_OK

    def problem(self, status: int) -> None:
        self.status = max(self.status, status)

    def one(self, path: Path) -> None:
        name = shown(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            diagnostic = Diagnostic(codes.ENCODING, f"{name}: not UTF-8 text (byte {err.start})", None)
            print(format_diagnostics([diagnostic]), file=sys.stderr)
            return self.problem(EXIT_SPEC)
        except OSError as err:
            print(f"netdsl: error: cannot read {name}: {err.strerror or err} [{codes.IO}]", file=sys.stderr)
            return self.problem(EXIT_USAGE)
        result = self.format(text, name)
        if result is None:
            return None
        if result == text:
            self.unchanged += 1
            return None
        self.changed += 1
        self.report(path, name, text, result)
        return None

    def format(self, text: str, name: str) -> str | None:
        try:
            return format_source(text, name)
        except NetdslError as err:
            print(format_diagnostics(err.diagnostics, SourceMap({name: text})), file=sys.stderr)
            self.problem(exit_status(err.diagnostics))
        except FormatterBug as err:
            print(f"netdsl: error: {err}", file=sys.stderr)
            self.problem(EXIT_USAGE)
        return None

    def report(self, path: Path, name: str, text: str, result: str) -> None:
        if self.args.check:
            print(f"would reformat {name}")
            self.problem(EXIT_SPEC)
        elif self.args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), result.splitlines(True), name, name))
            self.problem(EXIT_SPEC)
        else:
            try:
                write_atomic(path, result)
            except WriteError as err:
                print(f"netdsl: error: {err}", file=sys.stderr)
                self.problem(EXIT_USAGE)

    def summary(self) -> str:
        verb = "would be reformatted" if self.args.check or self.args.diff else "reformatted"
        parts = [f"{self.changed} file{'s' * (self.changed != 1)} {verb}"] if self.changed else []
        if self.unchanged:
            parts.append(f"{self.unchanged} file{'s' * (self.unchanged != 1)} left unchanged")
        return ", ".join(parts)


def _stdin(args) -> int:
    text = sys.stdin.read()
    run = _Run(args)
    result = run.format(text, "<stdin>")
    if result is None:
        return run.status
    if args.check or args.diff:
        if result != text:
            if args.diff:
                sys.stdout.writelines(
                    difflib.unified_diff(text.splitlines(True), result.splitlines(True), "<stdin>", "<stdin>")
                )
            return EXIT_SPEC
        return EXIT_OK
    sys.stdout.write(result)
    return EXIT_OK


def cmd_fmt(args) -> int:
    if args.paths == ["-"]:
        return _stdin(args)
    files, missing = spec_files(args.paths)
    run = _Run(args)
    for name in missing:
        print(f"netdsl: error: {name}: no such file or folder [{codes.IO}]", file=sys.stderr)
        run.problem(EXIT_USAGE)
    for path in files:
        run.one(path)
    if files and (summary := run.summary()):
        print(summary, file=sys.stderr)
    elif not files and not missing:
        print("netdsl: warning: no .net files found", file=sys.stderr)
    return run.status


FMT = Command(
    "fmt", "rewrite .net files in the canonical layout (comments kept)", cmd_fmt, _arguments, takes_spec=False
)
COMMANDS = (FMT,)
