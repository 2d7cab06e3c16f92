"""Train a netdsl spec: a starting point to copy and change.

    python examples/train.py specs/resnet18.net --set num_classes=10 --set resolution=64 --epochs 2
    torchrun --nproc-per-node 2 examples/train.py specs/resnet18.net ...     # data parallel

One process, or DistributedDataParallel when launched with several (torchrun sets
WORLD_SIZE; gloo on the CPU, NCCL on GPUs); automatic mixed precision (`--amp bf16` on the
CPU, `bf16` or `fp16` on CUDA, fp16 with a gradient scaler); checkpoints that resume
bit-exactly (`--save DIR` writes DIR/model.safetensors and DIR/optimizer.safetensors -
the optimizer state, the step and the RNG state - every `--save-every` steps and at the
end; `--resume DIR` continues from there); a progress bar and one line per epoch with
the mean loss and the throughput. Auxiliary heads (outputs marked `when training`) add
`--aux-weight` x their loss, as Inception-v3 is trained.

The data is generated (nothing is downloaded): each class is a fixed random image, a
sample is its class's image plus noise, so a network can learn it in a few dozen steps.
Every batch is a function of the seed and the global step, so a resumed run sees the
batches the uninterrupted run would have."""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import netdsl


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a netdsl spec on generated data.")
    p.add_argument("spec", help="a .net file or spec text")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a network parameter (a Python literal)",
    )
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps-per-epoch", type=int, default=20)
    p.add_argument("--batch", type=int, default=16, help="per process")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--aux-weight", type=float, default=0.4)
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none")
    p.add_argument("--checkpoint-blocks", action="store_true", help="recompute every block in the backward pass")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", type=Path, help="checkpoint directory")
    p.add_argument("--save-every", type=int, default=0, help="steps between checkpoints (0: only at the end)")
    p.add_argument("--resume", type=Path, help="continue from this checkpoint directory")
    p.add_argument("--stop-after", type=int, help="stop after this global step (to test resuming)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def overrides(items: list[str]) -> dict:
    import ast

    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value
    return out


# -- processes -------------------------------------------------------------------------
def start_processes() -> tuple[int, int, torch.device]:
    """(rank, world size, device): a process group when torchrun started several."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return int(os.environ.get("RANK", "0")), world, device


# -- data ------------------------------------------------------------------------------
class GeneratedImages:
    """Class templates plus noise; batch `step` of process `rank` depends on nothing else."""

    def __init__(self, shape, classes: int, seed: int):
        self.shape, self.classes, self.seed = tuple(shape), classes, seed
        self.templates = torch.randn((classes, *self.shape), generator=torch.Generator().manual_seed(seed))

    def batch(self, step: int, size: int, rank: int, world: int):
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        labels = torch.randint(0, self.classes, (size * world,), generator=gen)
        images = self.templates[labels] + torch.randn((size * world, *self.shape), generator=gen)
        part = slice(rank * size, (rank + 1) * size)
        return images[part], labels[part]


# -- checkpoints -----------------------------------------------------------------------
def save_checkpoint(directory: Path, model, optimizer, scaler, step: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, directory / "model.safetensors")
    tensors, plain = {}, {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value.contiguous()
            else:
                plain[f"state.{index}.{name}"] = value
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {
        "step": step,
        "param_groups": optimizer.state_dict()["param_groups"],
        "plain": plain,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
    }
    save_file(tensors, directory / "optimizer.safetensors", metadata={"netdsl": json.dumps(meta)})


def load_checkpoint(directory: Path, model, optimizer, scaler, device) -> int:
    """Restore weights, optimizer state, scaler and RNG; returns the step to continue at."""
    model.load_state_dict(load_file(directory / "model.safetensors", device=str(device)))
    tensors = load_file(directory / "optimizer.safetensors", device=str(device))
    with safe_open(directory / "optimizer.safetensors", "pt") as f:
        meta = json.loads(f.metadata()["netdsl"])
    state: dict = {}
    entries = [(k, v) for k, v in tensors.items() if k.startswith("state.")] + list(meta["plain"].items())
    for key, value in entries:
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    if scaler is not None and meta["scaler"] is not None:
        scaler.load_state_dict(meta["scaler"])
    torch.set_rng_state(tensors["rng.cpu"].cpu())
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"].cpu())
    return meta["step"]


# -- training --------------------------------------------------------------------------
def loss_of(outputs, labels, aux_weight: float):
    """The first output's cross entropy plus aux_weight x each auxiliary head's."""
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    losses = [torch.nn.functional.cross_entropy(o.float(), labels) for o in outputs]
    return losses[0] + aux_weight * sum(losses[1:])


def autocast(device: torch.device, amp: str):
    if amp == "none":
        return nullcontext()
    if amp == "fp16" and device.type != "cuda":
        raise SystemExit("--amp fp16 needs CUDA; use --amp bf16 on the CPU")
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def train(args: argparse.Namespace) -> dict:
    """Run the training; returns {"losses": per-step losses of this process, "step": the
    last step done}."""
    rank, world, device = start_processes()
    torch.manual_seed(args.seed)
    model = netdsl.build(args.spec, checkpoint="blocks" if args.checkpoint_blocks else None, **overrides(args.set)).to(
        device
    )
    graph = model.netdsl_graph
    data = GeneratedImages(graph.input_shape, graph.output_shape[-1], args.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp == "fp16")
    step = load_checkpoint(args.resume, model, optimizer, scaler, device) if args.resume else 0
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    total = args.epochs * args.steps_per_epoch
    last = min(total, args.stop_after) if args.stop_after is not None else total
    losses: list[float] = []
    with progress(args.quiet or rank != 0) as bar:
        task = bar.add_task("train", total=total, completed=step)
        while step < last:
            end = min((step // args.steps_per_epoch + 1) * args.steps_per_epoch, last)
            start, first = time.perf_counter(), len(losses)
            for index in range(step, end):
                losses.append(
                    train_step(net, optimizer, scaler, data.batch(index, args.batch, rank, world), device, args)
                )
                bar.update(
                    task, advance=1, description=f"epoch {index // args.steps_per_epoch + 1} loss {losses[-1]:.3f}"
                )
                if args.save and args.save_every and (index + 1) % args.save_every == 0 and rank == 0:
                    save_checkpoint(args.save, model, optimizer, scaler, index + 1)
            if rank == 0:
                report_epoch(bar, args, world, losses[first:], time.perf_counter() - start, end)
            step = end
    if args.save and rank == 0:
        save_checkpoint(args.save, model, optimizer, scaler, step)
    if world > 1:
        dist.destroy_process_group()
    return {"losses": losses, "step": step}


def train_step(net, optimizer, scaler, batch, device, args) -> float:
    images, labels = (t.to(device) for t in batch)
    net.train()
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, args.amp):
        loss = loss_of(net(images), labels, args.aux_weight)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


def report_epoch(bar, args, world: int, losses: list[float], seconds: float, end: int) -> None:
    rate = len(losses) * args.batch * world / seconds
    epoch = (end - 1) // args.steps_per_epoch + 1
    bar.console.print(
        f"epoch {epoch}/{args.epochs}: loss {sum(losses) / len(losses):.4f}, {rate:,.0f} images/s, {seconds:.1f} s"
    )


def progress(disabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=disabled
    )


def main(argv=None) -> dict:
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
