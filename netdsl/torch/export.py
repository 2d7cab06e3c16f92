"""`export_onnx`: a built network, with its weights, as an ONNX model of its optimized
graph - batch norms folded into the convs, sibling 1x1 convs fused into one, pools
moved before the convs they commute with - rather than a trace of the layers as
written. The engines (ONNX Runtime, OpenVINO) get less to do, and every ONNX node is
named after the spec layer it computes (`layer1.0.conv1/Conv`).

The optimizer's CPU-only steps stay out (oneDNN weight packing, in-place sums,
channels_last): they are decisions the engine makes for itself. The export goes
through `torch.onnx.export(dynamo=True)` (torch.export, then onnxscript), with a
dynamic batch dimension."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import torch

__all__ = ["ONNX_SKIP", "export_onnx"]

# optimizer passes that only make sense for netdsl's own CPU runtime
ONNX_SKIP = ("mark_inplace", "prepack_weights", "channels_last")
_NAMESPACE = re.compile(r"^[^/]*/(?P<attr>[^:/]+):")


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, *, opset: int | None = None, dynamic_batch: bool = True):
    """Write `model` (built by netdsl.build, with any weights) to `path` as ONNX and
    return the onnx.ModelProto written. The graph input is `input` (N x C x H x W, the
    spec's input size); outputs are named after the spec's outputs."""
    import onnx

    from ..optimizer import optimize

    graph = getattr(model, "netdsl_graph", None)
    if graph is None:
        raise TypeError("export_onnx() takes a model built by netdsl.build (it reads model.netdsl_graph)")
    fast = optimize(model, "inference", skip=ONNX_SKIP)
    names = {node.name.replace(".", "_"): node.name for node in reversed(fast.netdsl_graph.nodes)}
    x = torch.randn(2, *graph.nodes[0].shape, generator=torch.Generator().manual_seed(0))
    outputs = [o.name for o in graph.outputs][:1] or ["output"]  # in eval mode the network returns its first output
    kwargs = {"dynamic_shapes": ({0: torch.export.Dim("batch")},)} if dynamic_batch else {}
    with torch.no_grad():
        program = torch.onnx.export(fast, (x,), dynamo=True, input_names=["input"], output_names=outputs,
                                    opset_version=opset, verbose=False, **kwargs)
    proto = program.model_proto
    _name_nodes(proto, names)
    onnx.checker.check_model(proto)
    Path(path).write_bytes(proto.SerializeToString())
    return proto


def _name_nodes(proto, names: dict[str, str]) -> None:
    """Each node after the spec layer whose module computed it: the exporter records
    the module path in the node's `namespace` metadata."""
    seen: Counter = Counter()
    for node in proto.graph.node:
        namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
        match = _NAMESPACE.match(namespace)
        layer = names.get(match["attr"].strip(), match["attr"].strip()) if match else None
        if layer is None:
            continue
        base = f"{layer}/{node.op_type}"
        seen[base] += 1
        node.name = base if seen[base] == 1 else f"{base}_{seen[base]}"
