"""How long loading and validating take: each bundled spec, and generated specs of growing size.

Run `python benchmarks/bench_load.py [--repeats N] [--bundled-only] [--write-zoo]`. For the bundled
specs it prints the median time of `netspec.load` followed by `netspec.validate` (text parsed,
models validated, graph expanded, shapes inferred); `--write-zoo` also writes those figures to
docs/zoo-timings.json, which `tools/gen_zoo.py` shows in docs/zoo.md. For generated specs of 10 to 10,000 nodes it prints the same, split into load and
validate, with the time per node: a constant per-node time means linear growth.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import netspec

ZOO_TIMINGS = Path(__file__).resolve().parents[1] / "docs" / "zoo-timings.json"

SIZES = (10, 100, 1_000, 10_000)


def chain(nodes: int) -> dict[str, Any]:
    """Linear/ReLU pairs, every node written out."""
    body: dict[str, Any] = {}
    for k in range(nodes // 2):
        body[f"fc{k}"] = {"op": "Linear", "out_features": 16}
        body[f"relu{k}"] = "ReLU"
    return {"netspec": 1, "name": "chain", "inputs": {"x": ["N", 16]}, "nodes": body}


def chain_repeat(nodes: int) -> dict[str, Any]:
    """The same graph from one block repeated."""
    block = {"nodes": {"fc": {"op": "Linear", "out_features": 16}, "relu": "ReLU"}}
    return {
        "netspec": 1,
        "name": "chain-repeat",
        "inputs": {"x": ["N", 16]},
        "blocks": {"layer": block},
        "nodes": {"stack": {"block": "layer", "repeat": nodes // 2}},
    }


def _conv_block(channels: int) -> dict[str, Any]:
    return {
        "params": {"planes": "int"},
        "nodes": {
            "conv": {"op": "Conv2d", "out_channels": "$planes", "kernel_size": 3, "padding": 1, "bias": False},
            "bn": "BatchNorm2d",
            "add": {"op": "add", "in": ["bn", "x"]},
            "relu": "ReLU",
        },
    }


def conv_blocks(nodes: int) -> dict[str, Any]:
    """Residual conv blocks (4 nodes each), one node per block instance written out."""
    body = {f"b{k}": {"block": "res", "planes": 8} for k in range(nodes // 4)}
    return {
        "netspec": 1,
        "name": "conv-blocks",
        "inputs": {"x": ["N", 8, "H", "W"]},
        "dims": {"H": 16, "W": 16},
        "blocks": {"res": _conv_block(8)},
        "nodes": body,
    }


def conv_blocks_repeat(nodes: int) -> dict[str, Any]:
    """The same residual conv blocks from one repeated node."""
    return {
        "netspec": 1,
        "name": "conv-blocks-repeat",
        "inputs": {"x": ["N", 8, "H", "W"]},
        "dims": {"H": 16, "W": 16},
        "blocks": {"res": _conv_block(8)},
        "nodes": {"stack": {"block": "res", "repeat": nodes // 4, "planes": 8}},
    }


def median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_bundled(repeats: int) -> dict[str, float]:
    print(f"bundled specs: load + validate, median of {repeats}")
    print(f"  {'spec':<20}{'ms':>9}")
    figures = {}
    for name in netspec.list_specs():
        figures[name] = median_ms(lambda name=name: netspec.validate(netspec.load(name)), repeats)
        print(f"  {name:<20}{figures[name]:>9.1f}")
    return figures


def bench_generated(repeats: int) -> None:
    print(f"\ngenerated specs (YAML text): median of {repeats}; us/node = (load + validate) / nodes")
    print(f"  {'generator':<20}{'nodes':>7}{'load ms':>10}{'validate ms':>13}{'us/node':>10}")
    for generator in (chain, chain_repeat, conv_blocks, conv_blocks_repeat):
        for size in SIZES:
            text = yaml.safe_dump(generator(size), sort_keys=False)
            runs = max(1, repeats if size < 10_000 else repeats // 3)
            load = median_ms(lambda text=text: netspec.loads(text), runs)
            spec = netspec.loads(text)
            check = median_ms(lambda spec=spec: netspec.validate(spec), runs)
            print(
                f"  {generator.__name__:<20}{size:>7}{load:>10.1f}{check:>13.1f}{(load + check) * 1000 / size:>10.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bundled-only", action="store_true", help="skip the generated specs")
    parser.add_argument("--write-zoo", action="store_true", help=f"write the bundled figures to {ZOO_TIMINGS.name}")
    args = parser.parse_args()
    figures = bench_bundled(args.repeats)
    if args.write_zoo:
        rounded = {name: round(ms, 1) for name, ms in figures.items()}
        ZOO_TIMINGS.write_text(json.dumps(rounded, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {ZOO_TIMINGS}")
    if not args.bundled_only:
        bench_generated(args.repeats)


if __name__ == "__main__":
    main()
