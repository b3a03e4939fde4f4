"""A built module trains on two CPU processes (gloo): under DistributedDataParallel the ranks stay in
lockstep; sharded by `netspec.fully_shard_blocks` (FSDP2), a step equals one process's."""

from __future__ import annotations

import datetime
import os
import socket
from pathlib import Path

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


def _join(rank: int, port: int, *, seconds: int) -> None:
    """This process as `rank` of the gloo group on `port`, computing on one thread."""
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=seconds),
    )
    torch.set_num_threads(1)


def _leave() -> None:
    """End this rank once every rank is done. Without running destructors: gloo's worker threads can
    abort the process at teardown ("terminate called without an active exception") after the work,
    and the results are already with the parent."""
    dist.barrier()
    os._exit(0)


def _train(rank: int, port: int, results: dict) -> None:
    _join(rank, port, seconds=20)
    try:
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
    except BaseException:
        dist.destroy_process_group()
        raise
    _leave()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # multiprocessing's fork/spawn notices
def test_ddp_keeps_ranks_identical():
    port = _free_port()
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_train, args=(port, results), nprocs=WORLD, join=True)
        assert dict(results) == {0: [], 1: []}


# --- FSDP2, one group per block instance: `netspec.fully_shard_blocks` ------------------------------

NESTED = str(Path(__file__).parent / "specs" / "shard" / "nested.yaml")
# (source, params, input size, keyword arguments of `fully_shard_blocks`)
FSDP_CASES = {
    "resnet18": ("resnet18", {"num_classes": 10}, 32, {}),
    "resnet18 depth=1": ("resnet18", {"num_classes": 10}, 32, {"depth": 1}),
    "nested": (NESTED, None, 8, {"mesh": "cpu"}),
    "nested depth=0": (NESTED, None, 8, {"depth": 0, "reshard_after_forward": False}),
    "lenet5 (no blocks)": ("lenet5", {"num_classes": 10}, 28, {}),
}


def _batches(size: int, channels: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    data = torch.Generator().manual_seed(7)
    return [
        (torch.randn(2, channels, size, size, generator=data), torch.randint(0, 3, (2,), generator=data))
        for _ in range(WORLD)
    ]


def _fsdp_case(rank: int, case: str) -> list[str]:
    """One training step of a sharded model on this rank's half of the batch, against (on rank 0) one
    process stepping on both halves: FSDP averages the two ranks' gradients, which is the gradient of
    the mean of the two losses (BatchNorm normalising each half by its own statistics, as each rank)."""
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    source, params, size, options = FSDP_CASES[case]
    options = dict(options)
    if options.get("mesh") == "cpu":
        options["mesh"] = dist.device_mesh.init_device_mesh("cpu", (WORLD,))
    torch.manual_seed(0)  # the same initial parameters on every rank and in the reference
    built = netspec.build(source, params=params)
    groups = netspec.shard_groups(built, depth=options.get("depth"))
    model = netspec.fully_shard_blocks(built, **options)
    channels = next(model.parameters()).shape[1]
    batches = _batches(size, channels)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, target = batches[rank]
    torch.nn.functional.cross_entropy(model(x), target).backward()
    optimizer.step()
    full = {name: p.full_tensor().detach() for name, p in model.named_parameters()}  # a collective
    if rank != 0:
        return []
    problems = []
    root = fully_shard.state(model)
    states = {name: {id(fully_shard.state(model.get_submodule(m))) for m in ms} for name, ms in groups.items()}
    for name, ids in states.items():
        if len(ids) != 1 or id(root) in ids:
            problems.append(f"group {name}: {len(ids)} FSDP states")
    if len({next(iter(ids)) for ids in states.values()}) != len(states):
        problems.append("two groups share an FSDP state")
    in_groups = {m for ms in groups.values() for m in ms}
    for name, module in model.named_modules():
        if name and name not in in_groups and fully_shard.state(module) is not None:
            problems.append(f"{name} is sharded on its own")
    if not all(isinstance(p, DTensor) for p in model.parameters()):
        problems.append("a parameter is not sharded")
    torch.manual_seed(0)
    reference = netspec.build(source, params=params)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    loss = sum(torch.nn.functional.cross_entropy(reference(x), t) for x, t in batches) / WORLD
    loss.backward()
    optimizer.step()
    expected = dict(reference.named_parameters())
    if set(full) != set(expected):
        problems.append(f"parameters {sorted(set(full) ^ set(expected))}")
    for name, value in expected.items():
        if name in full and not torch.allclose(full[name], value.detach(), rtol=1e-4, atol=1e-6):
            problems.append(f"{name}: off by {(full[name] - value).abs().max().item():.3g}")
    return problems


def _train_fsdp(rank: int, port: int, results: dict) -> None:
    _join(rank, port, seconds=60)
    try:
        for case in FSDP_CASES:
            problems = _fsdp_case(rank, case)
            if rank == 0:
                results[case] = problems
            dist.barrier()  # rank 0 checks against a reference alone: the next case waits for it
    except BaseException:
        dist.destroy_process_group()
        raise
    _leave()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fully_shard_blocks_trains_like_one_process():
    port = _free_port()
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_train_fsdp, args=(port, results), nprocs=WORLD, join=True)
        results = dict(results)
    assert results == {case: [] for case in FSDP_CASES}
