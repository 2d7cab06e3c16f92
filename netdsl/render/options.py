"""What a caller can ask of a diagram, and the one error that bad requests raise."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RenderOptions", "RenderError", "DIRECTIONS", "FORMATS"]

DIRECTIONS = ("TB", "LR", "BT", "RL")
FORMATS = ("svg", "png", "pdf", "dot")


class RenderError(Exception):
    """A request the renderer cannot serve (unknown block, bad depth, no `dot`, I/O)."""

    def __init__(self, message: str, code: str = "render"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class RenderOptions:
    block: str | None = None  # draw this block alone (paper Figures 3-8) instead of the network
    depth: int = 0  # block levels drawn open, as clusters
    expand: tuple[str, ...] = ()  # blocks (by name or layer path) drawn open whatever the depth
    shapes: bool | None = None  # tensor shapes on edges; default: on unless symbolic
    direction: str = "TB"
    symbolic: bool = False  # filter counts as the parameters' names (k, l, m, n)
    params: dict = field(default_factory=dict)  # --set overrides (network or block parameters)

    def validate(self) -> None:
        if not isinstance(self.depth, int) or isinstance(self.depth, bool) or self.depth < 0:
            raise RenderError(f"depth must be a non-negative integer, got {self.depth!r}", "bad-depth")
        if self.direction not in DIRECTIONS:
            raise RenderError(f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}", "bad-direction")

    @property
    def show_shapes(self) -> bool:
        return (not self.symbolic) if self.shapes is None else self.shapes
