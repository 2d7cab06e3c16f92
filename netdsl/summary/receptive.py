"""Receptive field and jump of every node, by walking the graph from the input.

For one axis, a window op with kernel k, stride s and dilation d maps the field r and
jump j of its input (in input-image pixels) to

    r' = r + d * (k - 1) * j        j' = j * s

Padding moves where the field sits, never how large it is, so it takes no part here;
the field is the theoretical one, not clipped at the image border.

Conventions:
- the input node has field 1 and jump 1;
- an op with a `kernel` argument (conv, dwconv, sepconv, pools) is a window as above;
  a missing pool stride is the kernel;
- an op without a kernel that flattens a feature map, or shrinks it (global or adaptive
  pooling), is a window as large as its widest bin: PyTorch's adaptive bins run from
  floor(i*n/m) to ceil((i+1)*n/m) for n inputs and m outputs; its stride is ceil(n/m)
  (the whole map for global pooling and flatten);
- everything else (batchnorm, activations, dropout, scale, linear on vectors) keeps
  its input's field;
- a node with several inputs (concat, add) takes, per axis, the largest field and the
  largest jump over its inputs."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph, Node

__all__ = ["Field", "receptive_fields"]

Pair = tuple[int, int]


def _pair(v) -> Pair:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


@dataclass(frozen=True)
class Field:
    """Receptive field (height, width) and jump (height, width), in input pixels."""

    size: Pair = (1, 1)
    jump: Pair = (1, 1)

    def through(self, kernel: Pair, stride: Pair, dilation: Pair = (1, 1)) -> Field:
        size = tuple(r + d * (k - 1) * j for r, k, d, j in zip(self.size, kernel, dilation, self.jump))
        jump = tuple(j * s for j, s in zip(self.jump, stride))
        return Field(size, jump)

    @staticmethod
    def widest(fields: list[Field]) -> Field:
        size = tuple(max(f.size[a] for f in fields) for a in (0, 1))
        jump = tuple(max(f.jump[a] for f in fields) for a in (0, 1))
        return Field(size, jump)


def _window(node: Node, graph: Graph) -> tuple[Pair, Pair, Pair] | None:
    """(kernel, stride, dilation) of the node's sliding window, if it has one."""
    attrs = node.attrs
    if "kernel" in attrs:
        kernel = _pair(attrs["kernel"])
        stride = _pair(attrs["stride"]) if attrs.get("stride") is not None else kernel
        return kernel, stride, _pair(attrs.get("dilation", 1))
    source = graph.nodes[node.inputs[0]].shape if node.inputs else None
    if source is None or node.shape is None or len(source) != 3:
        return None
    if len(node.shape) != 3:
        whole = (source[1], source[2])
        return whole, whole, (1, 1)
    if node.shape[1:] != source[1:]:
        bins = list(zip(source[1:], node.shape[1:]))
        return tuple(_widest_bin(n, m) for n, m in bins), tuple(-(-n // m) for n, m in bins), (1, 1)
    return None


def _widest_bin(n: int, m: int) -> int:
    return max(-(-(i + 1) * n // m) - (i * n // m) for i in range(m))


def receptive_fields(graph: Graph) -> list[Field]:
    """The field at every node's output, indexed by node id."""
    fields: list[Field] = []
    for node in graph.nodes:
        if not node.inputs:
            fields.append(Field())
            continue
        field = Field.widest([fields[i] for i in node.inputs])
        window = _window(node, graph)
        fields.append(field.through(*window) if window else field)
    return fields
