"""`netdsl fmt`: one canonical layout for .net files, comments kept (see layout.py)."""

from .layout import FormatterBug, format_source

__all__ = ["FormatterBug", "format_source"]
