"""Parameter counts of attention and recurrent layers in closed form, equal to torch's modules.

`count_params` and `summary` count without torch (the pre-commit hook has none): the rules for
`MultiheadAttention`, `LSTM` and `GRU` are formulas, checked here against the modules torch builds
for many argument combinations, and no bundled spec's summary imports torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


def _torch_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _count(shape: list[Any], node: dict[str, Any], port: str) -> int:
    spec = {"name": "t", "inputs": {"x": shape}, "nodes": {"op": node, "out": {"op": "Identity", "in": f"op:{port}"}}}
    return netspec.count_params(netspec.load(spec))


@settings(max_examples=60, deadline=None)
@given(
    heads=st.integers(1, 4),
    per_head=st.integers(1, 4),
    bias=st.booleans(),
    add_bias_kv=st.booleans(),
    add_zero_attn=st.booleans(),
    kdim=st.none() | st.integers(1, 9),
    vdim=st.none() | st.integers(1, 9),
    batch_first=st.booleans(),
)
def test_attention_counts_equal_torch(
    heads: int,
    per_head: int,
    bias: bool,
    add_bias_kv: bool,
    add_zero_attn: bool,
    kdim: int | None,
    vdim: int | None,
    batch_first: bool,
) -> None:
    embed = heads * per_head
    args: dict[str, Any] = {
        "num_heads": heads,
        "bias": bias,
        "add_bias_kv": add_bias_kv,
        "add_zero_attn": add_zero_attn,
        "kdim": kdim,
        "vdim": vdim,
        "batch_first": batch_first,
    }
    query = ["N", 5, embed] if batch_first else [5, "N", embed]
    key = [*query[:-1], kdim or embed]
    value = [*query[:-1], vdim or embed]
    spec = {
        "name": "t",
        "inputs": {"q": query, "k": key, "v": value},
        "nodes": {
            "op": {"op": "MultiheadAttention", "in": ["q", "k", "v"], **args},
            "out": {"op": "Identity", "in": "op:output"},
        },
    }
    expected = _torch_count(torch.nn.MultiheadAttention(embed, **args))
    assert netspec.count_params(netspec.load(spec)) == expected


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["LSTM", "GRU"]),
    input_size=st.integers(1, 7),
    hidden=st.integers(2, 7),
    layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    bias=st.booleans(),
    proj=st.integers(0, 6),
    batch_first=st.booleans(),
)
def test_recurrent_counts_equal_torch(
    kind: str, input_size: int, hidden: int, layers: int, bidirectional: bool, bias: bool, proj: int, batch_first: bool
) -> None:
    args: dict[str, Any] = {
        "hidden_size": hidden,
        "num_layers": layers,
        "bidirectional": bidirectional,
        "bias": bias,
        "batch_first": batch_first,
    }
    if kind == "LSTM":
        args["proj_size"] = proj % hidden
    module = getattr(torch.nn, kind)(input_size, **args)
    assert _count(["N", 4, input_size] if batch_first else [4, "N", input_size], {"op": kind, **args}, "output") == (
        _torch_count(module)
    )


def test_recurrent_counts_stay_cheap_for_many_layers() -> None:
    """Closed form: a count over 10**6 layers is arithmetic, not a loop over layers."""
    from netspec._ops import catalog

    op = catalog()["LSTM"]
    args = {n: s.default for n, s in op.args.items()} | {"input_size": 3, "hidden_size": 4, "num_layers": 10**6}
    small = op.param_count({**args, "num_layers": 1}) if op.param_count else 0
    per_layer = 4 * 4 * (4 + 4) + 2 * 4 * 4
    assert op.param_count is not None and op.param_count(args) == small + (10**6 - 1) * per_layer


_SUMMARY_NO_TORCH = """
import json, sys
import netspec
counts, errors = {}, {}
for name in netspec.list_specs():
    try:
        counts[name] = netspec.summarize(name).totals.params
        assert netspec.count_params(name) == counts[name]
    except netspec.SpecError as err:  # reported with a location; what matters here is torch
        errors[name] = str(err)
torch_modules = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps({"counts": counts, "errors": errors, "torch": torch_modules[:5]}))
"""


def test_summary_of_every_bundled_spec_imports_no_torch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SUMMARY_NO_TORCH], cwd=ROOT, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch"] == []
    assert report["counts"]["vit_b_16"] == 86_567_656  # torchvision's vit_b_16
    # deeplabv3_resnet50's ASPP pooling branch meets BatchNorm's one-value-per-channel refusal at batch 1
    assert set(report["errors"]) <= {"deeplabv3_resnet50"}, report["errors"]
    assert len(report["counts"]) + len(report["errors"]) == len(netspec.list_specs())
