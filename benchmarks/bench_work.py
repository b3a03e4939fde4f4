"""What one unit of the work budget costs in each phase: CPU microseconds per unit, phase by phase.

Each case is a spec made so that one phase dominates, run through the entry point that reaches that
phase; a case may name a base call (the same spec through an entry point that stops before the
phase) whose CPU time and units are subtracted (`us/unit`); `all` is the whole call's CPU time over
all the units it spent, base included. The cases run interleaved, `--repeats` times; the
figure is the median. CPU time (`time.process_time`), so a loaded machine skews it less than wall
time does. The budget is meant to cost about the same CPU per unit everywhere (docs/security.md):
`netspec.Limits().max_work` units spent in any one phase should take about 2 s or less.

    python benchmarks/bench_work.py [--repeats 3] [--only lattice]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netspec
from netspec import _work
from netspec._shapes import NUMPY_SEARCH_FROM

_UNBOUNDED = netspec.Limits(max_work=10**15, max_graph_nodes=10_000)


@dataclass
class Case:
    label: str
    phase: str
    run: Callable[[], Any]
    base: Callable[[], Any] | None = None


def _spent(run: Callable[[], Any]) -> tuple[float, int, int]:
    """CPU seconds, units in all and units of each phase, of one call as a request of its own."""
    with _work.request(10**15) as budget:
        start = time.process_time()
        try:
            run()
        except netspec.SpecError:
            pass  # a hostile case may end refused; its work was still charged
        seconds = time.process_time() - start
    return seconds, budget.total, budget.spent  # type: ignore[return-value]


def _loads(text: str) -> Callable[[], Any]:
    return lambda: netspec.loads(text, limits=_UNBOUNDED)


def _on(text: str, call: Callable[[netspec.Spec], Any]) -> Callable[[], Any]:
    spec = netspec.loads(text, limits=_UNBOUNDED)
    return lambda: call(spec)


def _json(doc: dict[str, Any]) -> str:
    return json.dumps({"netspec": 1, "name": "w", **doc})


def _repeat(op: dict[str, Any], count: int, shape: list[Any]) -> str:
    return _json({"inputs": {"x": shape}, "nodes": {"b": {**op, "repeat": count}}})


def cases(folder: Path) -> list[Case]:
    head = "name: w\ninputs: {x: [N, 4]}\nnodes:\n  a: ReLU\n"
    convs = _repeat({"op": "Conv2d", "out_channels": 4, "kernel_size": 1}, 9000, ["N", 4, 2, 2])
    relus = _repeat({"op": "ReLU"}, 9000, ["N", 4])
    many_args = _repeat(
        {"op": "Conv2d", "out_channels": 4, "kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1, "bias": True},
        9000,
        ["N", 4, 2, 2],
    )
    lattice = _json(
        {
            "inputs": {"x": ["N", 4, "L"]},
            "dims": {"L": 1_000_000},
            "nodes": {f"c{i}": {"op": "Conv1d", "out_channels": 4, "kernel_size": 3, "stride": 2} for i in range(12)},
        }
    )
    one_condition = _json(
        {
            "inputs": {"x": ["N", 4, "L"]},
            "dims": {"L": 1_000_000},
            "nodes": {"c": {"op": "Conv1d", "out_channels": 4, "kernel_size": 3, "stride": 2}},
        }
    )
    small_search = _json(  # distinct conditions (strides), searched over the default 2,048 sizes: lists, not numpy
        {
            "inputs": {"x": ["N", 4, "L"]},
            "dims": {"L": 1000},
            "nodes": {
                f"c{i}": {"op": "Conv1d", "out_channels": 4, "kernel_size": 1 + i % 5, "stride": 1 + i % 7}
                for i in range(40)
            },
        }
    )
    guarded = _json(
        {
            "inputs": {"x": ["N", 4, "L"]},
            "dims": {"L": 300_000},
            "nodes": {"c": {"op": "Conv1d", "out_channels": 4, "kernel_size": 3, "stride": 2}},
        }
    )
    sum_expr = "${" + "+".join(["1"] * 200) + "}"
    expressions = _repeat({"op": "Linear", "out_features": sum_expr}, 5000, ["N", 4])
    strings = "name: w\ninputs: {x: [N, 4]}\nnodes:\n  \"${'a' * 200}${i}\": {op: ReLU, repeat: 3000}\n"
    names = "".join(f"  n{i}: ReLU\n" for i in range(2000))
    hints = (
        "name: w\ninputs: {x: [N, 4]}\nnodes:\n"
        + names
        + "".join(f"  u{i}: {{op: ReLU, inputs: [missing_{i}x]}}\n" for i in range(3000))
    )
    glob = (
        "name: w\ninputs: {x: [N, 4]}\nnodes:\n  \"${'a' * 200}${i}\": {op: ReLU, repeat: 3000}\n"
        "init:\n  - {nodes: [\"${'*' + 'a' * 250 + 'b'}\"], weight: ones}\n"
    )
    literal_rules = (
        "name: w\ninputs: {x: [N, 4]}\nnodes:\n"
        + "".join(f"  fc{i}: {{op: Linear, out_features: 4}}\n" for i in range(300))
        + "init:\n"
        + "".join("  - {nodes: ['fc*x'], weight: zeros}\n" for _ in range(300))
    )
    parent = folder / "parent.yaml"
    parent.write_text("name: p\ninputs: {x: [N, 4]}\nnodes:\n" + "".join(f"  p{k}: ReLU\n" for k in range(30000)))
    child = folder / "child.yaml"
    child.write_text("extends: parent.yaml\nname: c\nremove: [" + ", ".join(f"p{k}" for k in range(29999)) + "]\n")
    block = "blocks:\n  b:\n    nodes:\n" + "".join(f"      r{i}: ReLU\n" for i in range(4))
    nested = (
        "name: w\ninputs: {x: [N, 4]}\n"
        + block
        + "  c:\n    nodes:\n      i: {block: b}\n"
        + "nodes:\n  rep: {block: c, repeat: 1800}\n"
    )
    values = head + "dims:\n" + "".join(f"  d{i}: {i + 1}\n" for i in range(45000))
    flow = "name: w\ninputs: {x: [N, 4]}\nnodes: {" + ", ".join(f"n{i}: ReLU" for i in range(9000)) + "}\n"
    return [
        Case("parse: 4.8 MB of comments", "parse", _loads(head + ("# " + "x" * 77 + "\n") * 60000)),
        Case("parse: 45,000 dims (values)", "parse", _loads(values)),
        Case("parse: 9,000 nodes in flow style", "parse", _loads(flow), _loads(relus)),
        Case("parse: a 1 MB string", "parse", _loads(head + "doc: '" + "a" * 1_000_000 + "'\n")),
        Case("extends: remove 29,999 of 30,000", "extends", lambda: netspec.load(child, limits=_UNBOUNDED)),
        Case("expansion: 9,000 Conv2d", "expansion", _loads(convs)),
        Case("expansion: 9,000 Conv2d, 7 arguments", "expansion", _loads(many_args)),
        Case("expansion: 9,000 ReLU", "expansion", _loads(relus)),
        Case("expressions: 200-term sums x 5,000", "expressions", _loads(expressions)),
        Case("expressions: 200-char names x 3,000", "expressions", _loads(strings)),
        Case("references and hints: 3,000 unknown", "references and hints", _loads(hints)),
        Case("init rules: `*aaa...b` x 3,000 names", "init rules", _loads(glob)),
        Case("init rules: 300 rules x 300 nodes", "init rules", _loads(literal_rules)),
        Case("shape inference: 9,000 Conv2d", "shape inference", _on(convs, netspec.infer_shapes)),
        Case("shape inference: 9,000 ReLU", "shape inference", _on(relus, netspec.infer_shapes)),
        Case("the size lattice: 12 strided, L 10^6", "the size lattice", _on(lattice, netspec.validate)),
        Case("the size lattice: 1 condition, L 10^6", "the size lattice", _on(one_condition, netspec.validate)),
        Case("the size lattice: 40 conditions, lists", "the size lattice", _on(small_search, netspec.validate)),
        Case(
            "the input guard: L 300,000", "the input guard", _on(guarded, netspec.build), _on(guarded, netspec.validate)
        ),
        Case(
            "summary: 1,800 nested blocks", "summary", _on(nested, netspec.summarize), _on(nested, netspec.infer_shapes)
        ),
        Case(
            "drawing: mermaid, 9,000 Conv2d",
            "drawing",
            _on(convs, netspec.to_mermaid),
            _on(convs, netspec.infer_shapes),
        ),
        Case("drawing: dot, 9,000 Conv2d", "drawing", _on(convs, netspec.to_dot), _on(convs, netspec.infer_shapes)),
        Case(
            "export: python, 9,000 Conv2d",
            "export",
            _on(convs, netspec.export_python),
            _on(convs, netspec.infer_shapes),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="run the cases whose label contains this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        chosen = [c for c in cases(Path(tmp)) if args.only in c.label]
        figures: dict[str, list[tuple[float, int, float]]] = {c.label: [] for c in chosen}
        for repeat in range(args.repeats):
            for case in chosen if repeat % 2 == 0 else reversed(chosen):
                seconds, total, spent = _spent(case.run)
                whole = seconds / total * 1e6 if total else float("nan")
                units = spent[case.phase]
                if case.base is not None:
                    base_seconds, _, base_spent = _spent(case.base)
                    seconds -= base_seconds
                    units -= base_spent[case.phase]
                figures[case.label].append((seconds, units, whole))
    print(f"numpy searches from {NUMPY_SEARCH_FROM:,} sizes; default max_work {netspec.Limits().max_work:,} units")
    print(f"{'case':<44}{'phase':<22}{'CPU ms':>9}{'units':>13}{'us/unit':>9}{'all':>7}{'s at max_work':>15}")
    for case in chosen:
        seconds = statistics.median(f[0] for f in figures[case.label])
        units = statistics.median(f[1] for f in figures[case.label])
        per = seconds / units * 1e6 if units > 0 else float("nan")
        whole = statistics.median(f[2] for f in figures[case.label])
        # With a base, the phase's own figure; without, the whole call's (other phases' units included).
        at_limit = (per if case.base is not None else whole) * netspec.Limits().max_work / 1e6
        print(
            f"{case.label:<44}{case.phase:<22}{seconds * 1e3:>9.1f}{units:>13,.0f}{per:>9.3f}{whole:>7.3f}{at_limit:>15.1f}"
        )
    print(f"(CPU time on {os.cpu_count()} cores; take figures under load as upper bounds)")


if __name__ == "__main__":
    sys.exit(main())
