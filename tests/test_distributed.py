"""The FSDP2 groups of a built module come from its block-instance tree (`meta["netspec"]["instances"]`).

These checks need no process group: `block_groups` is a pure function of the tree and `shard_groups`
reads it from a model. `tests/test_ddp.py` shards for real on two gloo processes.
"""

from __future__ import annotations

import copy
import pickle
import sys
from pathlib import Path

import pytest
import torch

import netspec
from netspec._distributed import block_groups

NESTED = Path(__file__).parent / "specs" / "shard" / "nested.yaml"
FAST_SPECS = ["resnet18", "resnet50", "vgg11_bn", "densenet121", "convnext_tiny", "unet", "m5", "lenet5"]


def _tree(*instances: tuple[str, str | None], modules: list[tuple[str, str]]) -> dict:
    return {
        "instances": [{"name": n, "kind": "block", "block": "b", "parent": p} for n, p in instances],
        "modules": [list(m) for m in modules],
    }


TREE = _tree(
    ("", None),
    ("a", ""),
    ("a.x", "a"),
    ("a.x.y", "a.x"),
    ("b", ""),
    modules=[
        ("stem", ""),
        ("a.pre", "a"),
        ("a.x.m", "a.x"),
        ("a.x.y.m", "a.x.y"),
        ("a.post", "a"),
        ("b.m", "b"),
        ("head", ""),
    ],
)


def test_every_instance_holding_modules_is_a_group_in_execution_order():
    assert block_groups(TREE) == {
        "a": ["a.pre", "a.post"],  # an instance's own layers beside a nested instance: a group of their own
        "a.x": ["a.x.m"],
        "a.x.y": ["a.x.y.m"],
        "b": ["b.m"],
    }


def test_depth_folds_deeper_instances_into_their_ancestor():
    assert block_groups(TREE, 0) == {"a": ["a.pre", "a.x.m", "a.x.y.m", "a.post"], "b": ["b.m"]}
    assert block_groups(TREE, 1) == {"a": ["a.pre", "a.post"], "a.x": ["a.x.m", "a.x.y.m"], "b": ["b.m"]}
    assert block_groups(TREE, 2) == block_groups(TREE) == block_groups(TREE, 50)


def test_a_spec_without_blocks_has_no_group():
    assert block_groups(_tree(("", None), modules=[("conv", ""), ("fc", "")])) == {}


def test_a_deep_tree_costs_no_recursion():
    depth = 5 * sys.getrecursionlimit()
    names = [""] + [f"i{k}" for k in range(depth)]
    tree = _tree(*zip(names, [None, *names[:-1]]), modules=[("m", names[-1])])
    assert block_groups(tree) == {names[-1]: ["m"]}
    assert block_groups(tree, 0) == {"i0": ["m"]}


@pytest.mark.parametrize("depth", [-1, True, 1.5, "1"])
def test_depth_is_a_whole_number(depth):
    with pytest.raises(ValueError, match="`depth` must be a whole number"):
        block_groups(TREE, depth)


def test_a_malformed_tree_is_refused():
    with pytest.raises(ValueError, match="not below the spec"):
        block_groups(_tree(("", None), ("a", "z"), modules=[]))
    with pytest.raises(ValueError, match="not below the spec"):
        block_groups(_tree(("", None), ("a", "b"), ("b", "a"), modules=[]))
    with pytest.raises(ValueError, match="not in the tree"):
        block_groups(_tree(("", None), modules=[("m", "gone")]))


def test_resnet18_groups_are_its_blocks():
    model = netspec.build("resnet18", device="meta")
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
    by_block = netspec.shard_groups(model, depth=1)
    assert list(by_block) == blocks
    # the layers with parameters of each block, as listing them by hand gives
    for name in blocks:
        layers = [n for n, m in model.get_submodule(name).named_modules() if list(m.parameters(recurse=False))]
        assert by_block[name] == [f"{name}.{n}" for n in layers]
    deepest = netspec.shard_groups(model)
    assert list(deepest) == [
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "layer2.0.downsample",
        "layer2.1",
        "layer3.0",
        "layer3.0.downsample",
        "layer3.1",
        "layer4.0",
        "layer4.0.downsample",
        "layer4.1",
    ]
    assert deepest["layer2.0"] == ["layer2.0.conv1", "layer2.0.bn1", "layer2.0.conv2", "layer2.0.bn2"]
    assert netspec.shard_groups(model, depth=0) == {
        f"layer{i}": [m for j in range(2) for m in by_block[f"layer{i}.{j}"]] for i in range(1, 5)
    }


def test_nested_repeated_inline_flat_and_parallel_instances():
    model = netspec.build(NESTED)
    assert netspec.shard_groups(model) == {
        # the inline instance's layers (`conv`, `bn`) are the unit's own; the learned `gain` stays at the root
        "stages.0": ["stages.0.proj", "stages.0.conv", "stages.0.bn"],
        "stages.0.body": ["stages.0.body.conv", "stages.0.body.bn"],
        "stages.1": ["stages.1.proj", "stages.1.conv", "stages.1.bn"],
        "stages.1.body": ["stages.1.body.conv", "stages.1.body.bn"],
        "features[0]": ["features.0"],  # a flat repeat's instances: modules numbered in the repeat's run
        "features[1]": ["features.2"],
        "aspp.1": ["aspp.1.conv"],  # the branches of a parallel repeat
        "aspp.2": ["aspp.2.conv"],
    }
    assert netspec.shard_groups(model, depth=0) == {
        "stages": [
            "stages.0.proj",
            "stages.0.body.conv",
            "stages.0.body.bn",
            "stages.0.conv",
            "stages.0.bn",
            *["stages.1.proj", "stages.1.body.conv", "stages.1.body.bn", "stages.1.conv", "stages.1.bn"],
        ],
        "features": ["features.0", "features.2"],
        "aspp": ["aspp.1.conv", "aspp.2.conv"],
    }
    kinds = {e["name"]: (e["kind"], e["block"], e["parent"]) for e in model.meta["netspec"]["instances"]["instances"]}
    assert kinds["stages.0.body"] == ("block", "conv_bn", "stages.0")
    assert kinds["features[1]"] == ("block", "layer", "features")
    assert kinds["aspp"] == ("repeat", None, "")
    assert "stages.0.tail" not in kinds  # an inline instance has no level of its own


def test_bundled_specs_without_blocks_have_only_the_root():
    for name in ["lenet5", "m5"]:
        assert netspec.shard_groups(netspec.build(name, device="meta")) == {}


@pytest.mark.parametrize("name", FAST_SPECS)
def test_groups_partition_the_modules_of_every_instance(name):
    model = netspec.build(name, device="meta")
    tree = model.meta["netspec"]["instances"]
    called = [m for m, _ in tree["modules"]]
    parents = {e["name"]: e["parent"] for e in tree["instances"]}
    assert len(called) == len(set(called))
    code = model.code
    assert all(f".{m.rsplit('.', 1)[-1]}(" in code or f'"{m.rsplit(".", 1)[-1]}")(' in code for m in called)
    grouped = None
    for depth in (None, 0, 1, 2):
        groups = netspec.shard_groups(model, depth=depth)
        members = [m for modules in groups.values() for m in modules]
        assert len(members) == len(set(members)), "a module in two groups"
        # A container instance's modules are named under it; a flat repeat's (`features[3]`) under the
        # container its modules are numbered in.
        for instance, modules in groups.items():
            container = instance
            while "[" in container:
                container = parents[container]
            prefix = container + "."
            assert all(m.startswith(prefix) for m in modules), instance
            assert all(list(model.get_submodule(m).parameters()) for m in modules)
        if grouped is None:
            grouped = set(members)
        assert set(members) == grouped, "the modules in groups depend on the depth"
    # What no group holds has parameters at the root: the spec's own layers and learned tensors.
    owners = dict(tree["modules"])
    for module, _ in model.named_modules():
        if module in owners and module not in grouped and list(model.get_submodule(module).parameters()):
            assert owners[module] == "", module


def test_the_tree_survives_a_copy_and_a_move():
    model = netspec.build("resnet18")
    groups = netspec.shard_groups(model)
    assert netspec.shard_groups(copy.deepcopy(model)) == groups
    assert netspec.shard_groups(model.to(torch.float64)) == groups


def test_an_inference_module_is_refused():
    model = netspec.build(NESTED)
    fast = netspec.optimize(model)
    for function in (netspec.shard_groups, netspec.fully_shard_blocks):
        with pytest.raises(ValueError, match=r"made by `netspec.optimize` for inference"):
            function(fast)


def test_a_module_netspec_did_not_build_is_refused():
    with pytest.raises(ValueError, match=r"takes a module built by `netspec\.build`"):
        netspec.fully_shard_blocks(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"before wrapping it \(`torch\.compile`"):
        netspec.shard_groups(torch.nn.Sequential(netspec.build("lenet5", device="meta")))
    unpickled = pickle.loads(pickle.dumps(netspec.build("lenet5")))  # torch drops a GraphModule's `meta`
    with pytest.raises(ValueError, match="loses `meta` when pickled"):
        netspec.shard_groups(unpickled)


def test_grouping_imports_no_torch_distributed(monkeypatch):
    # `import netspec` and `netspec validate` import no torch at all (tests/test_signatures.py); the
    # grouping does not need torch.distributed either, only the sharding does.
    monkeypatch.setitem(sys.modules, "torch.distributed.fsdp", None)  # importing it now fails
    model = netspec.build("lenet5", device="meta")
    assert netspec.shard_groups(model) == {}
    with pytest.raises(ImportError):
        netspec.fully_shard_blocks(model)
