"""The work `validate` does, counted: the properties behind its speed (benchmarks/bench_validate.py times it).

A size lattice costs one evaluation of each distinct condition over every size searched; validating a spec
whose sizes are all given and fit reads no lattice at all, and a lattice that is read is computed once.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec import _graph, _shapes
from netspec._api import prepare
from netspec._dims import ShapeCheck, SizeVector, sym

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
BUNDLED = sorted(p.stem for p in SPECS.glob("*.yaml"))


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every evaluation of a symbol's conditions: (symbol, how many sizes at once)."""
    seen: list[tuple[str, int]] = []
    masks = _shapes.SizeLattices._masks

    def counted(self: _shapes.SizeLattices, name: str, sizes: Any) -> tuple[Any, Any]:
        seen.append((name, len(sizes)))
        return masks(self, name, sizes)

    monkeypatch.setattr(_shapes.SizeLattices, "_masks", counted)
    return seen


@pytest.mark.parametrize("name", ["resnet18", "unet", "densenet121", "efficientnet_b0", "vit_b_16"])
def test_validating_sizes_that_fit_searches_no_lattice(name: str, searches: list[tuple[str, int]]) -> None:
    assert netspec.validate(name) == []
    assert all(count == 1 for _, count in searches), searches  # at most a check of one size


def test_a_lattice_a_diagnostic_reads_is_searched_once(searches: list[tuple[str, int]]) -> None:
    warnings = netspec.validate("m5")  # L = 8000 drops rows: the hints name the nearest sizes that fit
    assert [w.code for w in warnings] == ["NS211", "NS211"] and all(w.hint for w in warnings)
    assert [(n, c) for n, c in searches if c > 1] == [("L", 16000)]  # twice the example size


def test_a_size_that_does_not_fit_searches_only_its_own_symbol(searches: list[tuple[str, int]]) -> None:
    warnings = netspec.validate("unet", inputs={"x": (1, 1, 256, 572)})  # H drops rows, W fits
    assert warnings and all("H=256" in w.message for w in warnings)
    assert [n for n, c in searches if c > 1] == ["H"]


def test_each_distinct_condition_is_evaluated_once_per_lattice() -> None:
    info = prepare("unet")
    lattices = _shapes.SizeLattices(info)
    distinct = {c.condition for _, c in info.constraints if "H" in _shapes._constraint_symbols(c)}
    lattices["H"]
    searched = lattices.evaluations
    lattices["H"]
    assert lattices.evaluations == searched == len(lattices._unique["H"]) <= len(distinct)
    assert len(distinct) < sum("H" in str(c.dims) for _, c in info.constraints)


@pytest.mark.parametrize("name", BUNDLED)
def test_one_size_check_agrees_with_the_lattice(name: str) -> None:
    info = prepare(name)
    full = _shapes.valid_sizes(info)
    for symbol, lattice in full.items():
        for size in (*range(1, 40), 223, 224, 225, 572, lattice.limit, lattice.limit + 1):
            lazy = _shapes.SizeLattices(info)  # a new one: the one-size path, not the computed lattice
            assert lazy.fits_exactly(symbol, size) == (size in lattice.exact), (symbol, size)
    assert {k: (v.runs, v.exact, v.limit) for k, v in _shapes.SizeLattices(info).items()} == {
        k: (v.runs, v.exact, v.limit) for k, v in full.items()
    }


def test_floor_atoms_shared_by_conditions_are_evaluated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    divisions: Counter[int] = Counter()
    floordiv = SizeVector.__floordiv__

    def counted(self: SizeVector, other: Any) -> SizeVector:
        divisions[other] += 1
        return floordiv(self, other)

    monkeypatch.setattr(SizeVector, "__floordiv__", counted)
    info = prepare("m5")  # `L//16-4` and `(L+64)//256-3` each appear in two or three of its 13 conditions
    _shapes.SizeLattices(info)["L"]
    assert divisions == {16: 1, 64: 1, 256: 1, 1024: 1, 4096: 1}  # one division per distinct floor


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121", "regnet_y_400mf", "deeplabv3_resnet50"])
def test_each_node_shape_is_computed_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shapes that expressions read during expansion (`channels()`) are not computed again by shape inference."""
    rules_run = 0

    class CountedCheck(ShapeCheck):
        def __init__(self) -> None:
            nonlocal rules_run
            rules_run += 1
            super().__init__()

    monkeypatch.setattr(_graph, "ShapeCheck", CountedCheck)
    monkeypatch.setattr(_shapes, "ShapeCheck", CountedCheck)
    info = prepare(netspec.load(str(SPECS / f"{name}.yaml")))
    assert len(info.graph.read_shapes) > len(info.graph.nodes) // 2  # most shapes were read during expansion
    assert rules_run == len(info.graph.nodes) == len(info.nodes)


def test_shapes_read_at_other_input_sizes_are_computed_again() -> None:
    symbolic = prepare("resnet18")
    concrete = prepare("resnet18", inputs={"x": (2, 3, 64, 64)})
    assert symbolic.graph is concrete.graph and symbolic.graph.read_shapes
    assert concrete.shape("fc") == (2, 1000) and symbolic.shape("fc")[1] == 1000
    assert concrete.constraints == [] and symbolic.constraints


_terms = st.tuples(st.integers(-9, 9), st.integers(-9, 9), st.integers(2, 7), st.integers(2, 5))


@settings(max_examples=60, deadline=None)
@given(terms=st.lists(_terms, min_size=1, max_size=4), size=st.integers(1, 300))
def test_memoised_evaluation_over_vectors_equals_evaluation_of_each_size(
    terms: list[tuple[int, int, int, int]], size: int
) -> None:
    h, w = sym("H"), sym("W")
    dims = [(a * h + b) // d + c * ((h + w) // d) for a, b, d, c in terms]
    vector = SizeVector(range(1, size + 1))
    memo: dict[Any, Any] = {}
    for dim in dims:
        values = dim.evaluate({"H": vector, "W": 5}, memo) if not isinstance(dim, int) else dim
        expected = [dim.evaluate({"H": n, "W": 5}) if not isinstance(dim, int) else dim for n in range(1, size + 1)]
        assert (list(values) if isinstance(values, SizeVector) else [values] * size) == expected


_VALIDATE_IMPORTS = """
import contextlib, io, json, sys
from netspec._cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["validate", "specs"])
import netspec
loaded = sorted(m for m in sys.modules if m.startswith("netspec."))
tools = [netspec.to_mermaid.__module__, netspec.summarize.__module__, netspec.json_schema.__module__]
print(json.dumps({"code": code, "loaded": loaded, "tools": tools, "dir": "summarize" in dir(netspec)}))
"""


def test_validating_does_not_import_the_tools_beside_it() -> None:
    """`netspec validate` loads no drawing, summary, schema, export or import code; the names still work."""
    done = subprocess.run(
        [sys.executable, "-c", _VALIDATE_IMPORTS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    unneeded = {"netspec._draw", "netspec._summary", "netspec._schema", "netspec._export", "netspec._import"}
    assert unneeded.isdisjoint(report["loaded"]), sorted(unneeded & set(report["loaded"]))
    assert report["tools"] == ["netspec._draw", "netspec._summary", "netspec._schema"] and report["dir"]


def test_symbolic_sizes_format_once_and_unpickle_with_this_process_hashes() -> None:
    h = sym("H")
    size = ((h + 1) // 2 + 5) // 3 * h
    assert str(size) is str(size)  # the text (the sort key of every polynomial holding it) is kept
    script = "import pickle, sys\nfrom netspec._dims import sym\nH = sym('H')\n"
    script += "sys.stdout.buffer.write(pickle.dumps({((H + 1) // 2 + 5) // 3 * H: 1, (H + 3) // 4: 2}))"
    for seed in ("1", "2"):  # string hashes differ between processes
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, check=True, env={"PYTHONHASHSEED": seed, "PATH": ""}
        )
        loaded = pickle.loads(done.stdout)
        assert loaded[size] == 1 and loaded[(h + 3) // 4] == 2
        assert {str(k) for k in loaded} == {str(size), "(H+3)//4"}


def test_each_distinct_op_and_arguments_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    check_args = _graph.check_args

    def counted(op: Any, args: Any) -> Any:
        checked.append(op.name)
        return check_args(op, args)

    monkeypatch.setattr(_graph, "check_args", counted)
    graph = _graph.expand(_spec("resnet50"))  # 16 bottlenecks: few distinct layers
    distinct = {(n.op.name, repr(sorted(n.args.items()))) for n in graph.nodes}
    assert len(checked) == len(distinct) < len(graph.nodes) // 3


def _spec(name: str) -> Any:
    from netspec._source import read_source
    from netspec._spec import spec_from_document

    return spec_from_document(*read_source(str(SPECS / f"{name}.yaml")))


def test_remembered_checks_tell_equal_looking_values_apart() -> None:
    text = "netspec: 1\nname: t\ninputs: {x: [N, 3, 32, 32]}\nnodes:\n"
    values = ["1", "1.0", "true", "1", "-0.0", "0.0", "[1, 1]", "[1, 1.0]"]
    text += "".join(
        f"  c{i}: {{op: Conv2d, in: [x], out_channels: 4, kernel_size: {v}}}\n" for i, v in enumerate(values)
    )
    text += "outputs: [" + ", ".join(f"c{i}" for i in range(len(values))) + "]\n"
    with pytest.raises(netspec.SpecError) as caught:
        netspec.loads(text)
    flagged = {d.path.split(".")[1]: d.message for d in caught.value.diagnostics if d.is_error}
    assert set(flagged) == {"c1", "c2", "c4", "c5", "c7"}  # floats and a bool, each reported at its node
    assert "-0.0" in flagged["c4"] and "-0.0" not in flagged["c5"] and "true" in flagged["c2"].lower()


def test_inferred_arguments_are_value_checked_once_per_distinct_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    from netspec import _args

    checked: list[str] = []
    check_inferred = _args._check_inferred

    def counted(op: Any, given: Any, complete: Any, inferred: Any) -> None:
        checked.append(op.name)
        check_inferred(op, given, complete, inferred)

    monkeypatch.setattr(_args, "_check_inferred", counted)
    monkeypatch.setattr(_args, "_INFERRED_OK", {})
    info = prepare(_spec("resnet50"))
    layers = {(n.node.op.name, repr(sorted(n.args.items()))) for n in info.nodes.values() if n.node.op.infer}
    assert 0 < len(checked) <= len(layers) < len(info.nodes) // 3
    checked.clear()
    prepare(_spec("resnet50"))  # the same layers again: known to pass
    assert checked == []


def test_an_inferred_value_that_fails_is_reported_every_time() -> None:
    text = (
        "netspec: 1\nname: t\ninputs: {x: [N, 10, 64]}\nnodes:\n"
        "  a: {op: MultiheadAttention, in: [x, x, x], num_heads: 3, batch_first: true}\n"
    )
    for _ in range(2):
        with pytest.raises(netspec.SpecError, match="num_heads"):
            netspec.loads(text)


def _bound(d: Any) -> int:
    """`magnitude` by its definition, recursively (the test's sizes nest a few levels only)."""
    from netspec._dims import _Floor

    if isinstance(d, int):
        return abs(d)
    total = 0
    for monomial, coefficient in d._terms:
        term = abs(coefficient)
        for atom in monomial:
            if isinstance(atom, _Floor):
                term *= max(1, -(-_bound(atom.numerator) // atom.divisor))
        total += term
    return total


@settings(max_examples=60, deadline=None)
@given(terms=st.lists(_terms, min_size=1, max_size=4))
def test_a_size_keeps_its_magnitude(terms: list[tuple[int, int, int, int]]) -> None:
    from netspec._dims import magnitude

    h, w = sym("H"), sym("W")
    dim: Any = h
    for a, b, d, c in terms:
        dim = (a * dim + b) // d + c * ((dim + w) // d) * w
    assert magnitude(dim) == _bound(dim) == magnitude(dim)
    if not isinstance(dim, int):
        assert dim._bound == _bound(dim)  # kept: asked again, it is read, not computed


def _chain(depth: int) -> netspec.Spec:
    """A network of `depth` same-shape blocks over symbolic sizes: few distinct shapes, many nodes."""
    text = f"""
netspec: 1
name: chain
inputs:
  x: [N, 8, H, W]
nodes:
  stem: {{op: Conv2d, out_channels: 16, kernel_size: 3, padding: 1}}
  block:
    repeat: {depth}
    op: Conv2d
    out_channels: 16
    kernel_size: 3
    padding: 1
  act: ReLU
  pooled: {{op: MaxPool2d, kernel_size: 2}}
  turned: {{op: transpose, dim0: 2, dim1: 3}}
  seen: {{op: view, shape: [-1]}}
"""
    return netspec.loads(text)


def test_layout_tracking_multiplies_sizes_per_distinct_shape_not_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """Following the layout in memory costs a symbolic product per stride of each distinct shape, computed
    once, not one per node: a chain 50 times as deep makes no more products of sizes."""
    from netspec._dims import Sym, _contiguous_strides

    products = 0
    multiply = Sym.__mul__

    def counted(self: Sym, other: Any) -> Any:
        nonlocal products
        products += 1
        return multiply(self, other)

    monkeypatch.setattr(Sym, "__mul__", counted)
    monkeypatch.setattr(Sym, "__rmul__", counted)
    counts = []
    for depth in (2, 100):
        spec = _chain(depth)
        _contiguous_strides.cache_clear()
        products = 0
        with pytest.raises(netspec.SpecError) as refused:  # the layout is still followed to the end
            netspec.validate(spec)
        assert [d.code for d in refused.value.diagnostics] == ["NS200"]
        assert "not laid out in memory in that order" in refused.value.diagnostics[0].message
        counts.append(products)
    assert counts[0] == counts[1], counts
