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
