"""A built module trains under DistributedDataParallel: two CPU processes (gloo) stay in lockstep."""

from __future__ import annotations

import datetime
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

import netspec

WORLD = 2
STEPS = 3
SPEC = {
    "netspec": 1,
    "name": "ddp-net",
    "inputs": {"x": ["N", 3, 16, 16]},
    "nodes": {
        "conv": {"op": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        "bn": "BatchNorm2d",
        "relu": "ReLU",
        "pool": {"op": "AdaptiveAvgPool2d", "output_size": 1},
        "flatten": "Flatten",
        "fc": {"op": "Linear", "out_features": 4},
    },
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gathered(tensor: torch.Tensor) -> list[torch.Tensor]:
    parts = [torch.empty_like(tensor) for _ in range(WORLD)]
    dist.all_gather(parts, tensor.contiguous())
    return parts


def _train(rank: int, port: int, results: dict) -> None:
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=20),
    )
    try:
        torch.set_num_threads(1)
        torch.manual_seed(0)  # the same seed on every rank: the same initial parameters
        model = DistributedDataParallel(netspec.build(SPEC))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        data = torch.Generator().manual_seed(100 + rank)  # different data on each rank
        mismatches = []
        for step in range(STEPS):
            x = torch.randn(4, 3, 16, 16, generator=data)
            target = torch.randint(0, 4, (4,), generator=data)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), target).backward()
            for name, parameter in model.module.named_parameters():
                grads = _gathered(parameter.grad)
                if not torch.equal(grads[0], grads[1]):
                    mismatches.append(f"step {step}: gradient of {name}")
            optimizer.step()
        for name, parameter in model.module.named_parameters():
            values = _gathered(parameter.detach())
            if not torch.equal(values[0], values[1]):
                mismatches.append(f"parameter {name}")
        results[rank] = mismatches
    finally:
        dist.destroy_process_group()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # multiprocessing's fork/spawn notices
def test_ddp_keeps_ranks_identical():
    port = _free_port()
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_train, args=(port, results), nprocs=WORLD, join=True)
        assert dict(results) == {0: [], 1: []}


# --- FSDP2, one group per block instance (the recipe in docs/deploy.md) ---------------------------

FSDP_SPEC = {
    "netspec": 1,
    "name": "fsdp-net",
    "inputs": {"x": ["N", 3, 8, 8]},
    "blocks": {
        "stage": {
            "params": {"out": "int"},
            "nodes": {
                "conv": {"op": "Conv2d", "out_channels": "$out", "kernel_size": 3, "padding": 1},
                "relu": "ReLU",
            },
        }
    },
    "nodes": {
        "stages": {"block": "stage", "repeat": 2, "out": "${4 * (i + 1)}"},
        "pool": {"op": "AdaptiveAvgPool2d", "output_size": 1},
        "flatten": "Flatten",
        "fc": {"op": "Linear", "out_features": 3},
    },
}


def _shard_per_block(model, block_instances):
    from torch.distributed.fsdp import fully_shard

    for name in block_instances:
        layers = [
            m
            for m in model.get_submodule(name).modules()
            if not list(m.children()) and list(m.parameters(recurse=False))
        ]
        fully_shard(layers)
    fully_shard(model)
    return model


def _batches():
    data = torch.Generator().manual_seed(7)
    return [(torch.randn(4, 3, 8, 8, generator=data), torch.randint(0, 3, (4,), generator=data)) for _ in range(WORLD)]


def _train_fsdp(rank: int, port: int, results: dict) -> None:
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        torch.set_num_threads(1)
        torch.manual_seed(0)
        model = _shard_per_block(netspec.build(FSDP_SPEC), ["stages.0", "stages.1"])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, target = _batches()[rank]
        torch.nn.functional.cross_entropy(model(x), target).backward()
        optimizer.step()
        full = {name: p.full_tensor().detach().clone() for name, p in model.named_parameters()}
        if rank == 0:
            results["params"] = full
            results["sharded"] = type(next(model.get_submodule("stages.0.conv").parameters())).__name__
    finally:
        dist.destroy_process_group()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fsdp2_per_block_instance_trains_like_one_process():
    port = _free_port()
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_train_fsdp, args=(port, results), nprocs=WORLD, join=True)
        sharded, kind = dict(results["params"]), results["sharded"]
    assert kind == "DTensor"
    torch.manual_seed(0)
    model = netspec.build(FSDP_SPEC)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = _batches()
    x = torch.cat([b[0] for b in batches])
    target = torch.cat([b[1] for b in batches])
    torch.nn.functional.cross_entropy(model(x), target).backward()
    optimizer.step()
    # Gradients averaged over the two ranks' halves are those of the whole batch in one process.
    expected = {name: p.detach() for name, p in model.named_parameters()}
    assert set(sharded) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(sharded[name], value, rtol=1e-5, atol=1e-6)
