"""What a network costs, from the spec alone: per-layer/per-block parameters, MACs,
activation memory and receptive field (`netdsl summary`), side-by-side comparisons
(`netdsl compare`). Front end only: no torch."""

from .compare import Comparison, compare, comparison_json, comparison_markdown
from .receptive import Field, receptive_fields
from .rows import Row, Summary, summarize, tensor_bytes
from .table import summary_json, summary_markdown

__all__ = ["Field", "receptive_fields", "Row", "Summary", "summarize", "tensor_bytes", "summary_json",
           "summary_markdown", "Comparison", "compare", "comparison_json", "comparison_markdown"]
