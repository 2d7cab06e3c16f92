"""What the training tests share: a tiny spec with repeated blocks, batch norm and an
auxiliary head; its loss; seeded batches; a way to run a function in several processes
(gloo on the CPU); and the relative error the tests bound."""

from __future__ import annotations

import os

import torch
import torch.multiprocessing as mp

TINY = """
block Unit(width: int) {
    residual {
        conv(width, 3, padding=1, bias=false)
        batchnorm
        relu
        conv(width, 3, padding=1, bias=false)
        batchnorm
    }
    relu
}

network TinyAux(num_classes: int = 5) {
    input [3, 8, 8]
    conv(8, 3, padding=1, bias=false) -> batchnorm -> relu
    features = repeat(2) { Unit(8) }
    aux = features -> global_avgpool -> flatten -> linear(num_classes)
    main = features -> Unit(8) -> global_avgpool -> flatten -> linear(num_classes)
    output main
    output aux when training
}
"""
TINY_BLOCKS = ["unit1.0", "unit1.1", "unit2"]  # its outermost block instances
STEPS, BATCH = 3, 8


def loss_of(outputs, target):
    """Main head plus 0.4 x the auxiliary head (Inception-v3's weighting)."""
    main, aux = outputs
    return torch.nn.functional.cross_entropy(main, target) + 0.4 * torch.nn.functional.cross_entropy(aux, target)


def batches(steps: int = STEPS, batch: int = BATCH, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, 3, 8, 8, generator=gen), torch.randint(0, 5, (batch,), generator=gen)) for _ in range(steps)
    ]


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def spawn(worker, world: int, *args) -> None:
    """Run worker(rank, world, *args) in `world` fresh processes joined by a gloo group
    (rendezvous through a file next to the results)."""
    mp.spawn(_setup, args=(worker, world, args), nprocs=world, join=True)


def _setup(rank, worker, world, args):
    import torch.distributed as dist

    torch.set_num_threads(1)
    out = args[0]
    dist.init_process_group("gloo", init_method=f"file://{os.fspath(out)}/rendezvous", rank=rank, world_size=world)
    try:
        worker(rank, world, *args)
    finally:
        dist.destroy_process_group()
