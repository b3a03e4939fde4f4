"""A grammar-aware fuzzer: specs drawn from the language itself (ops of the catalog with arguments of
their types and hostile values, edges, blocks, repeats, `when`, `extends`, expressions), each run
through every entry point (`entry_points.py`): loads, validate, count_params, summarize,
infer_shapes, to_mermaid/to_dot, build and export_python. Every case must end in success or a
`SpecError` whose errors all have a line, each call within a deadline and the case within 500 MB;
`run_grammar_fuzz` reports the slowest call, the slowest case and the memory of the worst case.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
import traceback
from typing import Any

from entry_points import CaseFigures, Deadline, OverMemory, add_case, run_entry_points, warm_up

CASE_SECONDS = 2.0  # for each call

# Ops with the arguments the generator knows; other catalog ops are drawn with no arguments.
_OPS: dict[str, dict[str, list[Any]]] = {
    "Conv2d": {
        "out_channels": [1, 4, 8, 0, -1, "${width}"],
        "kernel_size": [1, 3, 5, [3, 1], 0],
        "stride": [1, 2, 3, 0],
        "padding": [0, 1, "same", "valid", -1],
        "dilation": [1, 2],
        "groups": [1, 2],
        "padding_mode": ["zeros", "reflect", "circular", "bogus"],
        "bias": [True, False],
    },
    "ConvTranspose2d": {"out_channels": [1, 4], "kernel_size": [2, 3], "stride": [1, 2], "padding_mode": ["zeros"]},
    "Conv1d": {"out_channels": [2, 4], "kernel_size": [1, 3]},
    "Linear": {"out_features": [1, 8, 0, "${width * 2}"], "bias": [True, False]},
    "BatchNorm2d": {"eps": [1e-5, 0.0, -1.0], "momentum": [0.1, None], "affine": [True, False]},
    "BatchNorm1d": {"eps": [1e-5]},
    "InstanceNorm2d": {"affine": [True, False], "track_running_stats": [True, False]},
    "GroupNorm": {"num_groups": [1, 2, 3, 0]},
    "LayerNorm": {"normalized_shape": [8, [4, 4]], "eps": [1e-5, -1.0]},
    "MaxPool2d": {"kernel_size": [2, 3, 0], "stride": [1, 2], "padding": [0, 1, 5], "ceil_mode": [True, False]},
    "AvgPool2d": {"kernel_size": [2, 3], "stride": [1, 2]},
    "AdaptiveAvgPool2d": {"output_size": [1, [2, 2], 0]},
    "Upsample": {"scale_factor": [2, 0.5, 1e30, 0], "mode": ["nearest", "bilinear", "bogus"]},
    "Dropout": {"p": [0.1, 0.5, 1.5, -0.1]},
    "ReLU": {"inplace": [True, False]},
    "LeakyReLU": {"negative_slope": [0.01, -1.0]},
    "GELU": {"approximate": ["none", "tanh", "x"]},
    "Flatten": {"start_dim": [1, 0, 5], "end_dim": [-1, 2]},
    "Unflatten": {"dim": [1], "unflattened_size": [[2, 4], [0, -1], [-1, 2]]},
    "Identity": {},
    "Softmax": {"dim": [1, -1, None]},
    "PixelShuffle": {"upscale_factor": [2, 0]},
    "add": {},
    "concat": {"dim": [1, 0, 5]},
    "crop": {},
    "pad": {"pad": [[1, 1, 1, 1], [1], []], "mode": ["constant", "reflect", "bogus"]},
}
_HOSTILE = [10**29, -(10**29), 2**48 + 1, 1.5, "x", True, None, [], {}, "${1/0}", "${width ** 99}", "\u202e", "$nope"]
_NAMES = ["conv", "bn", "relu", "pool", "fc", "block1-0", "0", "a_b", "None", "forward", "x", "i", "a.b", "a:b", "é"]
_BUNDLED = ["lenet5", "resnet18", "unet", "m5"]


def _value(rng: random.Random, choices: list[Any]) -> Any:
    if rng.random() < 0.07:
        return rng.choice(_HOSTILE)
    return rng.choice(choices) if choices else rng.choice(_HOSTILE)


def _node(rng: random.Random, earlier: list[str], blocks: list[str]) -> Any:
    if blocks and rng.random() < 0.2:
        node: dict[str, Any] = {"block": rng.choice(blocks)}
        if rng.random() < 0.5:
            node["planes"] = _value(rng, [2, 4, "${width}"])
    else:
        op = rng.choice(list(_OPS)) if rng.random() < 0.9 else rng.choice(["Bogus", "os.system", "__import__"])
        if rng.random() < 0.15 and op in ("ReLU", "Identity", "BatchNorm2d"):
            return op  # the short form
        node = {"op": op}
        for arg, choices in _OPS.get(op, {}).items():
            if rng.random() < 0.5:
                node[arg] = _value(rng, choices)
        if rng.random() < 0.03:
            node[rng.choice(["bogus_arg", "in_channel", "kernal_size"])] = 1
    if earlier and (rng.random() < 0.3 or node.get("op") in ("add", "concat", "crop")):
        count = 2 if node.get("op") in ("add", "concat", "crop") else 1
        refs = [rng.choice(earlier + ["nowhere", "x:0", "b.0"]) for _ in range(count)]
        node["in"] = refs if len(refs) > 1 or rng.random() < 0.5 else refs[0]
    if rng.random() < 0.15:
        node["repeat"] = _value(
            rng, [0, 1, 2, 3, "${depth}", 100_000, "${depth * 1000000}", 4_999, 9_999, "${depth * 3333}"]
        )
    if rng.random() < 0.15:
        node["when"] = _value(rng, [True, False, "${depth > 1}", "${i == 0}", "yes"])
    return node


def _nodes(rng: random.Random, count: int, start: list[str], blocks: list[str]) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    earlier = list(start)
    for k in range(count):
        name = rng.choice(_NAMES) + (str(k) if rng.random() < 0.8 else "")
        nodes[name] = _node(rng, earlier, blocks)
        earlier.append(name)
    return nodes


def generate(rng: random.Random) -> dict[str, Any]:
    """One spec as data, drawn from the grammar of the language."""
    spec: dict[str, Any] = {"netspec": 1, "name": rng.choice(["net", "my-net", "None", "x\u202e"])}
    if rng.random() < 0.1:
        spec["extends"] = rng.choice(_BUNDLED + ["../etc/passwd", "nope"])
        if rng.random() < 0.5:
            spec["remove"] = [rng.choice(["fc", "conv1", "nope"])]
        if rng.random() < 0.5:
            spec["nodes"] = _nodes(rng, rng.randint(1, 3), ["x"], [])
        return spec
    rank = rng.choice([2, 3, 4, 4, 4])
    shape: list[Any] = ["N", rng.choice([1, 3, 4, 8])] + [rng.choice(["H", "W", 8, 16, 1]) for _ in range(rank - 2)]
    spec["inputs"] = {rng.choice(["x", "x", "image", "0", "self"]): shape}
    spec["params"] = {"width": rng.choice([4, 8, 0, -1]), "depth": rng.choice([1, 2, 3])}
    if rng.random() < 0.3:
        spec["dims"] = {"H": rng.choice([8, 32, 1]), "W": rng.choice([8, 32])}
    blocks: dict[str, Any] = {}
    for b in range(rng.choice([0, 0, 1, 2])):
        body = _nodes(rng, rng.randint(1, 3), ["x"], list(blocks))
        block: dict[str, Any] = {"nodes": body}
        if rng.random() < 0.5:
            block["params"] = {"planes": rng.choice(["int", 4])}
        blocks[f"blk{b}"] = block
    if blocks:
        spec["blocks"] = blocks
    inputs = list(spec["inputs"])
    spec["nodes"] = _nodes(rng, rng.randint(1, 8), inputs, list(blocks))
    if rng.random() < 0.1:
        spec["outputs"] = [rng.choice([*spec["nodes"], "nowhere"])]
    return spec


@dataclasses.dataclass
class GrammarReport:
    cases: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # case, what, spec text
    seconds: float = 0.0
    slowest: float = 0.0  # the slowest single call (one entry point)
    slowest_call: str = ""
    slowest_case: float = 0.0  # the slowest case, all its calls together
    peak_case_mb: float = 0.0  # the most memory one case took above the process before it
    peak_rss_mb: float = 0.0


def run_case(text: str, seconds: float = CASE_SECONDS, *, cpu: bool = False) -> CaseFigures:
    """Every entry point on `text`, each call within `seconds` (wall-clock, or CPU time with `cpu`)."""
    return run_entry_points(text, seconds, cpu=cpu)


def run_grammar_fuzz(
    cases: int, seed: int = 0, case_seconds: float = CASE_SECONDS, *, cpu: bool = False
) -> GrammarReport:
    """`cases` generated specs, deterministic for `seed`; `cpu`: the deadline counts CPU time, not wall time."""
    warm_up()
    rng = random.Random(seed)
    report = GrammarReport()
    start = time.perf_counter()
    for case in range(cases):
        text = json.dumps(generate(rng), indent=1)
        try:
            figures = run_case(text, case_seconds, cpu=cpu)
        except (Deadline, OverMemory) as err:
            report.failures.append((case, str(err), text))
            figures = CaseFigures(outcome="failed")
        except Exception:  # the invariant is broken: record it with its traceback
            report.failures.append((case, traceback.format_exc(limit=-6), text))
            figures = CaseFigures(outcome="failed")
        add_case(report, figures)
    report.seconds = time.perf_counter() - start
    return report
