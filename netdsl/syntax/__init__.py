"""Syntax: the grammar (grammars/netdsl.lark), the typed AST and the parser."""

from . import ast
from .parser import parse, parse_expression

__all__ = ["ast", "parse", "parse_expression"]
