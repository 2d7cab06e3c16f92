"""The generated modules under torch.distributed, in two processes on the CPU (gloo):
DistributedDataParallel and FSDP2 sharding by block (`netdsl.shard`) train to the same
parameters as one process given the same samples (relative error <= 1e-5).

Batch norm in data parallel: each process normalises its own part of the batch, so the
one-process reference runs the combined batch as the same parts (each its own forward,
the mean of their losses). SyncBatchNorm, which would normalise over the combined batch,
runs only on GPUs in this torch: on the CPU its forward raises `ValueError:
SyncBatchNorm expected input tensor to be on GPU or XPU or privateuseone`, and its
kernel `torch.batch_norm_stats` has no CPU implementation; here the conversion is
checked to keep every state_dict key and value."""

from __future__ import annotations

import pytest
import torch
from references import randomize
from training import BATCH, TINY, TINY_BLOCKS, batches, loss_of, relative_error, sgd, spawn

import netdsl

TOLERANCE = 1e-5


def reference(world: int, **build) -> dict:
    """The steps in one process: each step's batch as `world` parts, gradients averaged."""
    model = randomize(netdsl.build(TINY, **build))
    optimizer = sgd(model)
    for x, y in batches():
        optimizer.zero_grad()
        for xs, ys in zip(x.chunk(world), y.chunk(world)):
            (loss_of(model(xs), ys) / world).backward()
        optimizer.step()
    return dict(model.named_parameters())


def part(rank, world, x, y):
    size = BATCH // world
    return x[rank * size : (rank + 1) * size], y[rank * size : (rank + 1) * size]


def worker(rank, world, out):
    """Every run in the same two processes (starting processes is the expensive part)."""
    results = {
        "ddp": train_ddp(rank, world),
        "fsdp": train_fsdp(rank, world, None),
        "fsdp+checkpoint": train_fsdp(rank, world, "blocks"),
    }
    torch.save(results, out / f"rank{rank}.pt")


def train_ddp(rank, world):
    from torch.nn.parallel import DistributedDataParallel

    model = randomize(netdsl.build(TINY))
    ddp = DistributedDataParallel(model)  # find_unused_parameters=False: every parameter is used
    optimizer = sgd(ddp)
    for x, y in batches():
        optimizer.zero_grad()
        xs, ys = part(rank, world, x, y)
        loss_of(ddp(xs), ys).backward()
        optimizer.step()
    return {"params": {n: p.detach() for n, p in model.named_parameters()}}


def train_fsdp(rank, world, checkpoint):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule

    model = randomize(netdsl.build(TINY, checkpoint=checkpoint))
    netdsl.shard(model, init_device_mesh("cpu", (world,)))
    optimizer = sgd(model)
    for x, y in batches():
        optimizer.zero_grad()
        xs, ys = part(rank, world, x, y)
        loss_of(model(xs), ys).backward()
        optimizer.step()
    units = [name for name, m in model.named_modules() if isinstance(m, FSDPModule)]
    return {"units": units, "params": {n: p.full_tensor().detach() for n, p in model.named_parameters()}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    spawn(worker, 2, out)
    return [torch.load(out / f"rank{rank}.pt") for rank in range(2)]


def assert_same_parameters(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name, p in want.items():
        assert relative_error(got[name], p.detach()) <= TOLERANCE, name


def test_ddp_trains_like_one_process(trained):
    want = reference(2)
    for rank in range(2):
        assert_same_parameters(trained[rank]["ddp"]["params"], want)


@pytest.mark.parametrize("run", ["fsdp", "fsdp+checkpoint"])
def test_fsdp_shards_by_block_and_trains_like_one_process(trained, run):
    want = reference(2)
    for rank in range(2):
        assert trained[rank][run]["units"] == ["", *TINY_BLOCKS]  # each block instance, then the root
        assert_same_parameters(trained[rank][run]["params"], want)


def test_sync_batchnorm_conversion_keeps_the_state_dict():
    model = randomize(netdsl.build(TINY))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    kinds = [type(m) for m in converted.modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    assert kinds and all(k is torch.nn.SyncBatchNorm for k in kinds)
    after = converted.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert netdsl.block_instances(converted)[0].path == TINY_BLOCKS[0]  # the graph survives the conversion
