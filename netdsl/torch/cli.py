"""`netdsl compile`, `netdsl port` and `netdsl export` (the COMMANDS that netdsl/cli.py registers). torch
is imported only when a command runs."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from ..commandline import Command, analyze, fail, print_failure

__all__ = ["COMMANDS", "cmd_compile", "cmd_export", "cmd_port"]


def _compile_arguments(p) -> None:
    p.add_argument("-o", "--output", help="the .py file to write (default: standard output)")
    p.add_argument("--optimize", choices=("inference",), help="write one flat module optimized for inference "
                   "instead (its from_state_dict() takes the unoptimized network's state_dict)")


def _port_arguments(p) -> None:
    p.add_argument("checkpoint", help="a state_dict saved with torch.save (read with weights_only=True) or .safetensors")
    p.add_argument("-o", "--output", required=True, help="the .safetensors file to write")


def cmd_compile(args) -> int:
    from ..codes import EXIT_OK, EXIT_USAGE
    from ..diagnostics import NetdslError, exit_status, format_diagnostics
    from ..files import WriteError, write_atomic
    from .codegen import generate

    result = analyze(args)
    if not result.ok:
        return print_failure(result)
    try:
        code = _optimized(result.graph, args.optimize) if args.optimize else generate(result.program, result.graph)
    except NetdslError as err:
        print(format_diagnostics(err.diagnostics, result.sources), file=sys.stderr)
        return exit_status(err.diagnostics)
    if not args.output:
        sys.stdout.write(code.source)
        return EXIT_OK
    try:
        write_atomic(args.output, code.source)
    except WriteError as err:
        return fail(str(err), EXIT_USAGE)
    return EXIT_OK


def _optimized(graph, mode: str):
    from ..optimizer.flat import compile_optimized

    return compile_optimized(graph, mode)[0]


def _read_checkpoint(path: str):
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError("the checkpoint holds no state_dict")
    return state


def cmd_port(args) -> int:
    from ..codes import EXIT_OK, EXIT_SPEC, EXIT_USAGE
    from ..diagnostics import NetdslError, exit_status, format_diagnostics
    from ..files import WriteError, write_atomic
    from .build import build_model
    from .port import PortError, port_weights

    try:
        state = _read_checkpoint(args.checkpoint)
    except Exception as err:  # noqa: BLE001 - an untrusted file: any failure to read it is one line, exit 2
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, pickle.UnpicklingError):
            first = "it holds pickled objects other than tensors"
        return fail(f"cannot read {args.checkpoint}: {first} (checkpoints are read with torch.load(weights_only=True) "
                    "or safetensors; pickled code is refused)", EXIT_USAGE)
    try:
        model = build_model(Path(args.file), dict(args.sets), root=args.root)
    except NetdslError as err:
        print(format_diagnostics(err.diagnostics, getattr(err.partial, "sources", None)), file=sys.stderr)
        return exit_status(err.diagnostics)
    try:
        port_weights(model, state)
    except PortError as err:
        return fail(str(err), EXIT_SPEC)
    from safetensors.torch import save

    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    try:
        write_atomic(args.output, save(tensors, metadata={"netdsl_spec": args.file}))
    except WriteError as err:
        return fail(str(err), EXIT_USAGE)
    print(f"ported {len(tensors)} tensors into {args.output}")
    return EXIT_OK


def _export_arguments(p) -> None:
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write (the optimized graph)")
    p.add_argument("--weights", help="the network's weights, as `netdsl port` writes them (.safetensors) or a state_dict "
                   "saved with torch.save; default: the spec's own initialisation")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")


def cmd_export(args) -> int:
    from ..codes import EXIT_OK, EXIT_SPEC, EXIT_USAGE
    from ..diagnostics import NetdslError, exit_status, format_diagnostics
    from .build import build_model
    from .export import export_onnx
    from .port import PortError

    try:
        model = build_model(Path(args.file), dict(args.sets), root=args.root)
    except NetdslError as err:
        print(format_diagnostics(err.diagnostics, getattr(err.partial, "sources", None)), file=sys.stderr)
        return exit_status(err.diagnostics)
    if args.weights:
        try:
            state = _read_checkpoint(args.weights)
        except Exception as err:  # noqa: BLE001 - an untrusted file: one line, exit 2
            return fail(f"cannot read {args.weights}: {str(err).strip().splitlines()[0] if str(err).strip() else err!r}",
                        EXIT_USAGE)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            return fail(f"{args.weights} does not fit {args.file}: {str(err).splitlines()[0]} "
                        "(`netdsl port` turns another library's checkpoint into this spec's names)", EXIT_SPEC)
    model.eval()
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        return fail(f"netdsl export needs onnx and onnxscript ({err}): pip install 'netdsl[onnx]'", EXIT_USAGE)
    try:
        proto = export_onnx(model, args.onnx, opset=args.opset)
    except (OSError, PortError) as err:
        return fail(f"cannot write {args.onnx}: {err}", EXIT_USAGE)
    print(f"wrote {args.onnx}: {len(proto.graph.node)} nodes, {len(proto.graph.initializer)} weight tensors")
    return EXIT_OK


COMMANDS = (
    Command("compile", "write the spec as a standalone PyTorch module", cmd_compile, _compile_arguments),
    Command("port", "port a checkpoint of the same architecture to the spec's layer names", cmd_port, _port_arguments),
    Command("export", "write the network's optimized graph as ONNX, for ONNX Runtime or OpenVINO", cmd_export,
            _export_arguments),
)
