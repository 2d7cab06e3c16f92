"""Every diagnostic code, declared once (after mypy's `ErrorCode`).

A code is the string shown in `[code]` and in `--json` output, so an :class:`ErrorCode`
*is* that string (a `str` subclass: it compares, hashes, formats and serialises as the
string) and carries its description and whether it is a usage error. Call sites use
the constants (`codes.BAD_VALUE`), never the bare string; docs/errors.md documents each
one, and tests/test_codes.py holds the two together.

Exit statuses of the `netdsl` command: 0 ok, 1 the spec has errors, 2 a usage or I/O
error. A *usage* code reported without a position is an error in the command line
itself (the file named, a `--set`): exit 2. The same code with a position points into
a spec (an import that cannot be read, a keyword in a call) and is a spec error: exit 1.
"""

from __future__ import annotations

__all__ = ["ErrorCode", "REGISTRY", "EXIT_OK", "EXIT_SPEC", "EXIT_USAGE"]

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2

REGISTRY: dict[str, ErrorCode] = {}  # code string -> its ErrorCode, in declaration order


class ErrorCode(str):
    """A diagnostic code: the code string, what it means, whether it is a usage error."""

    description: str
    usage: bool
    warning: bool  # reported as a warning: the exit status stays 0 (unless --warnings-as-errors)

    def __new__(cls, code: str, description: str, *, usage: bool = False, warning: bool = False) -> ErrorCode:
        if code in REGISTRY:
            raise ValueError(f"diagnostic code {code!r} is declared twice")
        self = super().__new__(cls, code)
        self.description, self.usage, self.warning = description, usage, warning
        REGISTRY[code] = self
        return self

    def exit_status(self, has_span: bool) -> int:
        """EXIT_USAGE for a usage code reported against the command line, else EXIT_SPEC."""
        return EXIT_USAGE if self.usage and not has_span else EXIT_SPEC

    def __reduce__(self):  # pickles (and copies) as the registered constant
        return _registered, (str(self),)


def _registered(code: str) -> ErrorCode:
    return REGISTRY[code]


# ---- reading and parsing the files ---------------------------------------------------------
SYNTAX = ErrorCode("syntax", "The text does not follow the grammar. The message says what was expected there.")
ENCODING = ErrorCode("encoding", "The file is not UTF-8 text (the message gives the byte offset), or holds a NUL byte.")
IO = ErrorCode("io", "A file cannot be read: it does not exist, is a directory, or reading failed. For the file named "
               "on the command line that is a usage error (exit 2); an import that cannot be read is an error in "
               "the spec (exit 1).", usage=True)
IMPORT_CYCLE = ErrorCode("import-cycle", "Files import each other in a circle (or a file imports itself).")
IMPORT_OUTSIDE_ROOT = ErrorCode("import-outside-root", "With `--root DIR`, an import leaves `DIR` (absolute path, `..`, "
                                "or a symlink out).")
NO_NETWORK = ErrorCode("no-network", "The file holds no `network`: nothing to check if it holds no blocks either, "
                       "and nothing to summarise, compile or port in a file of blocks (`netdsl check` checks each "
                       "block of one).")
DUPLICATE_NETWORK = ErrorCode("duplicate-network", "A file holds two networks.")

# ---- names ------------------------------------------------------------------------------------
DUPLICATE_NAME = ErrorCode("duplicate-name", "A block is defined twice or has an op's name, two layers share a label, "
                           "or an output is declared twice.")
RESERVED_NAME = ErrorCode("reserved-name", "A layer label would hide an attribute of `torch.nn.Module` (`forward`, "
                          "`train`, `__init__`, anything starting with `_`) or of a generated module "
                          "(`in_channels`, `out_channels`).")
SHADOWED_NAME = ErrorCode("shadowed-name", "A named value has the name of an op or block.")
UNKNOWN_OP = ErrorCode("unknown-op", 'A call names no op, block or value (with a "did you mean").')
UNKNOWN_NAME = ErrorCode("unknown-name", "An expression or an `output` uses a name that is not defined.")
UNKNOWN_FUNCTION = ErrorCode("unknown-function", "An expression calls a function netdsl does not have.")

# ---- arguments and values ---------------------------------------------------------------------
UNKNOWN_PARAMETER = ErrorCode("unknown-parameter", "A call passes a keyword its op or block does not have, or `--set` "
                              "names no network parameter (a usage error: exit 2).", usage=True)
MISSING_ARGUMENT = ErrorCode("missing-argument", "A required argument is not given.")
TOO_MANY_ARGUMENTS = ErrorCode("too-many-arguments", "More positional arguments than parameters.")
DUPLICATE_ARGUMENT = ErrorCode("duplicate-argument", "The same argument given twice.")
TYPE_ERROR = ErrorCode("type-error", "A value of the wrong type: an argument, an operand, a condition.")
BAD_SET = ErrorCode("bad-set", "A `--set` value that is not a value or has the wrong type for the parameter (a usage "
                    "error: exit 2).", usage=True)
BAD_VALUE = ErrorCode("bad-value", "A value out of range: a kernel of 0, a negative repeat count, bad input dimensions. "
                      "Constant arguments are range-checked in bodies that never run too (a `repeat(0)`, an `if` arm "
                      "not taken): the back end writes their code all the same.")
DIVISION_BY_ZERO = ErrorCode("division-by-zero", "An expression divides by zero (`/`, `//` or `%`).")
INDEX_OUT_OF_RANGE = ErrorCode("index-out-of-range", "A list subscript past either end of the list (the message "
                               "gives the list's length and the valid indices).")
NOT_SUBSCRIPTABLE = ErrorCode("not-subscriptable", "A subscript or slice (`x[0]`, `x[1:]`) of a value that is not a "
                              "list or tuple: a number, a bool, a string.")
TABLE_ROW_ARITY = ErrorCode("table-row-arity", "A row of the table a `for (a, b, ...) in rows` loop iterates over "
                            "does not have one item for each name of the loop.")
MATH_DOMAIN = ErrorCode("math-domain", "A number outside a function's domain: `log` of a number <= 0, `sqrt` of a "
                        "negative number, a negative number to a fractional power (`**`).")
VALUE_TOO_LARGE = ErrorCode("value-too-large", "A number beyond 2^62 (or not finite); a literal with more than 19 digits.")

# ---- limits -----------------------------------------------------------------------------------
LIMIT = ErrorCode("limit", "A limit was hit: file size (`--max-file-size`), layers (`--max-layers`), parameters "
                  "(`--max-params`), block nesting (`--max-depth`), expression size (`--max-expr-size`), or nesting "
                  "of the text (`--max-nesting`). Limits are checked before anything is built.")
TOO_DEEP = ErrorCode("too-deep", "A safety net: an expression nests too deeply to evaluate even though `--max-nesting` "
                     "was raised far past its default.")
RECURSIVE_BLOCK = ErrorCode("recursive-block", "A block instantiates itself, directly or through other blocks.")

# ---- structure --------------------------------------------------------------------------------
MISSING_INPUT = ErrorCode("missing-input", "A network without an `input` statement.")
NO_INPUT = ErrorCode("no-input", "A layer with nothing before it.")
DUPLICATE_INPUT = ErrorCode("duplicate-input", "A network declares its `input` twice.")
MISPLACED_INPUT = ErrorCode("misplaced-input", "An `input` statement in a block.")
MISPLACED_OUTPUT = ErrorCode("misplaced-output", "An `output` statement in a block.")
BAD_INIT = ErrorCode("bad-init", "An `init` statement outside a network, for a layer kind other than `conv` or "
                     "`linear` (or a layer's name), with an unknown scheme, given twice for one kind or name, or with "
                     "a scheme the layers it names cannot take.")
INIT_NO_MATCH = ErrorCode("init-no-match", "An `init` by layer name or pattern (`init classifier.conv: ...`, "
                          "`init *.bn3: ...`) that names no layer with a weight.")

# ---- shapes -----------------------------------------------------------------------------------
SHAPE_MISMATCH = ErrorCode("shape-mismatch", "The branches of a concat disagree in height or width.")
RESIDUAL_MISMATCH = ErrorCode("residual-mismatch", "The body of a residual changes the shape but the shortcut does not.")
GATE_MISMATCH = ErrorCode("gate-mismatch", "A channel-wise product (`mul`, or a `gate { }`: squeeze-excitation) of "
                          "tensors whose channels differ, or whose gate is neither 1x1 nor the size of the map. For a "
                          "`gate { }` the notes show the gated value's shape and the body's.")
KERNEL_TOO_LARGE = ErrorCode("kernel-too-large", "A kernel reaches past its (padded) input; the spatial size would "
                             "shrink to zero.")
BAD_PADDING = ErrorCode("bad-padding", "`padding=same` with an even kernel would pad unevenly.")
BAD_GROUPS = ErrorCode("bad-groups", "Groups do not divide the channels.")
SPLIT_INDIVISIBLE = ErrorCode("split-indivisible", "A channel `split` into parts that do not divide the channels "
                              "(an odd count split in two).")
NEEDS_FEATURE_MAP = ErrorCode("needs-feature-map", "A spatial op (conv, pool) after the network was flattened.")
NEEDS_FLATTEN = ErrorCode("needs-flatten", "`linear` on a feature map.")

# ---- warnings (exit 0; exit 1 with --warnings-as-errors) ----------------------------------------
UNUSED_VALUE = ErrorCode("unused-value", "A warning: a named value that nothing reads (no later reference, and the "
                         "next statement starts from another value), so its layers are built and counted for nothing.",
                         warning=True)
UNUSED_RESULT = ErrorCode("unused-result", "A warning: a statement without a name whose result nothing reads (the next "
                          "statement starts from a named value, or the network names its outputs), so its layers are built "
                          "and counted for nothing.", warning=True)
UNUSED_PARAMETER = ErrorCode("unused-parameter", "A warning: a block parameter that neither the body nor a later default "
                             "reads.", warning=True)
SHADOWED_PARAMETER = ErrorCode("shadowed-parameter", "A warning: `repeat(n) as i` where `i` is also a parameter of the "
                               "block; inside the repeat `i` is the index, not the argument.", warning=True)
SET_DEFAULT = ErrorCode("set-default", "A warning: `--set name=value` gives the parameter its default value, so the "
                        "option changes nothing (a typo in the value?).", warning=True)

# ---- the PyTorch back end ---------------------------------------------------------------------
UNSUPPORTED = ErrorCode("unsupported", "`netdsl compile` cannot lower a construct to PyTorch (the front end accepts it).")

__all__ += [name for name, value in list(globals().items()) if isinstance(value, ErrorCode)]
