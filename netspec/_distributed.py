"""FSDP2 over a built module, one group per block instance, read from the block-instance tree.

A built module calls its layers directly from its generated `forward`: the module of a block instance
(`layer1.0`) is a container whose own `forward` never runs. So each instance is sharded as the list of
the layers it calls, which `torch.distributed.fsdp.fully_shard` takes as one group: the group is
all-gathered when the first of them runs and freed after the last.

The groups come from the tree `_compile` keeps in `meta["netspec"]["instances"]` (no names are parsed):
`block_groups` is the pure function from that tree to the groups, `shard_groups` applies it to a model,
`fully_shard_blocks` shards. `torch.distributed` is imported by `fully_shard_blocks` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = ["block_groups", "fully_shard_blocks", "shard_groups"]


def _check_depth(depth: int | None) -> None:
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"`depth` must be a whole number >= 0 or None, got {depth!r:.40}")


def block_groups(tree: Mapping[str, Any], depth: int | None = None) -> dict[str, list[str]]:
    """The FSDP groups of a block-instance tree (the form of `meta["netspec"]["instances"]`).

    Returns instance name -> the names of the modules in its group, in execution order, the groups in
    the order their first module runs. Every block instance or repeat holding modules directly is a
    group of those modules; with `depth`, an instance nested in more than `depth` others is folded
    into its ancestor nested in `depth` (so `depth=0` groups each top-level instance with everything
    below it), as the summary and the drawings fold. The spec's own modules (the stem, the head) are
    in no group: they stay with the root. Linear in modules and instances.
    """
    _check_depth(depth)
    entries = tree["instances"]
    parents: dict[str, str | None] = {entry["name"]: entry["parent"] for entry in entries}
    # The group of each instance: itself, or its ancestor at `depth`. Walk up with a stack (the tree
    # may be as deep as a spec nests) and remember every answer, so each instance is visited once.
    levels: dict[str, int] = {"": -1}
    target: dict[str, str] = {"": ""}
    for name in parents:
        chain: list[str] = []
        at = name
        while at not in levels:
            parent = parents.get(at)
            if parent is None or at in chain:
                raise ValueError(f"instance `{at}` is not below the spec in the tree")
            chain.append(at)
            at = parent
        for below in reversed(chain):
            up = parents[below]
            assert up is not None
            levels[below] = levels[up] + 1
            fold = depth is not None and levels[below] > depth
            target[below] = target[up] if fold else below
    groups: dict[str, list[str]] = {}
    for module, owner in tree["modules"]:
        if owner not in target:
            raise ValueError(f"module `{module}` is held by `{owner}`, which is not in the tree")
        group = target[owner]
        if group:
            groups.setdefault(group, []).append(module)
    return groups


def _tree(model: nn.Module, function: str) -> Mapping[str, Any]:
    meta = getattr(model, "meta", None)
    if isinstance(meta, dict) and "netspec_inference" in meta:
        raise ValueError(
            f"`netspec.{function}` takes a module to train; this one was made by `netspec.optimize` for"
            " inference (folded, fused, no gradients): shard the module `netspec.build` returned"
        )
    tree = meta.get("netspec", {}).get("instances") if isinstance(meta, dict) else None
    if not isinstance(tree, Mapping):
        raise ValueError(
            f"`netspec.{function}` takes a module built by `netspec.build` (it reads the block-instance tree"
            f" the build keeps in `model.meta`); this {type(model).__name__} has none. Shard the module `build`"
            " returned before wrapping it (`torch.compile`, DistributedDataParallel); a GraphModule loses"
            " `meta` when pickled: build the model in each process, or call"
            " `torch.distributed.fsdp.fully_shard` on its modules yourself"
        )
    return tree


def shard_groups(model: nn.Module, *, depth: int | None = None) -> dict[str, list[str]]:
    """The groups `fully_shard_blocks` makes: block instance -> the names of its modules.

    Only modules with parameters are listed, and instances without any are left out; everything not
    listed (the spec's own layers, learned tensors, modules the forward does not call) is sharded
    with the root. Needs no process group::

        model = netspec.build("resnet18")
        groups = netspec.shard_groups(model)
        assert list(groups)[:4] == ["layer1.0", "layer1.1", "layer2.0", "layer2.0.downsample"]
        assert groups["layer2.0.downsample"] == ["layer2.0.downsample.0", "layer2.0.downsample.1"]
        assert list(netspec.shard_groups(model, depth=1))[:3] == ["layer1.0", "layer1.1", "layer2.0"]
    """
    tree = _tree(model, "shard_groups")
    groups = {}
    for name, modules in block_groups(tree, depth).items():
        with_params = [m for m in modules if next(model.get_submodule(m).parameters(), None) is not None]
        if with_params:
            groups[name] = with_params
    return groups


def fully_shard_blocks(
    model: nn.Module, *, depth: int | None = None, mesh: Any = None, **fully_shard_kwargs: Any
) -> nn.Module:
    """Shard a built module with FSDP2, one group per block instance, then the rest at the root.

    Calls `torch.distributed.fsdp.fully_shard` on the modules of each group of `shard_groups(model,
    depth=depth)` (each block instance the deepest by default; with `depth`, instances nested in more
    than `depth` others are folded into their ancestor), then on `model`, with `mesh` and the other
    keyword arguments (`reshard_after_forward`, `mp_policy`, `offload_policy`, ...) passed to every
    call. Returns `model`, now an `FSDPModule`. Run it in every process after
    `torch.distributed.init_process_group`, on the same model in each (built under the same seed)::

        model = netspec.fully_shard_blocks(netspec.build("resnet18"))
        optimizer = torch.optim.AdamW(model.parameters())

    A module made by `netspec.optimize` (for inference) is refused with a `ValueError`, as is a
    module `netspec.build` did not make.
    """
    groups = shard_groups(model, depth=depth)
    from torch.distributed.fsdp import fully_shard

    for modules in groups.values():
        fully_shard([model.get_submodule(m) for m in modules], mesh=mesh, **fully_shard_kwargs)
    fully_shard(model, mesh=mesh, **fully_shard_kwargs)
    return model
