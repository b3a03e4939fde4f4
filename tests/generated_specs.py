"""Specs generated as data, shared by the tests that read their structure (summary, drawing)."""

from __future__ import annotations

from typing import Any


def nested_repeat(count: int, layout: str) -> dict[str, Any]:
    """`count` instances of a block that nests another block, repeated in `layout`, then a head."""
    repeat = {"count": count, "layout": layout} | ({"combine": "add"} if layout == "parallel" else {})
    return {
        "netspec": 1,
        "name": "repeated",
        "inputs": {"x": ["N", 8]},
        "blocks": {
            "inner": {"nodes": {"fc": {"op": "Linear", "out_features": 8}, "act": "ReLU"}},
            "unit": {"nodes": {"pre": {"block": "inner"}, "skip": {"op": "add", "in": ["pre", "x"]}}},
        },
        "nodes": {"body": {"block": "unit", "repeat": repeat}, "head": {"op": "Linear", "out_features": 2}},
    }
