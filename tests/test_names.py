"""The name rule (`netspec._names`): names from its complement are refused at load, at their place;
names it accepts build; the attribute table matches the installed torch."""

from __future__ import annotations

import ast
import json
import keyword
import unicodedata
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import fx, nn

import netspec
from netspec import SpecError
from netspec._names import (
    MAX_NAME_CHARS,
    MODULE_ATTRIBUTES,
    RESERVED_WORDS,
    attribute_source,
    class_name,
    identifier_problem,
    is_identifier,
    is_node_name,
    node_name_problem,
)


def test_module_attributes_cover_the_installed_torch() -> None:
    graph_module = fx.GraphModule(nn.Module(), fx.Graph())
    names = set(dir(nn.Module)) | set(vars(nn.Module())) | set(dir(fx.GraphModule)) | set(vars(graph_module))
    missing = sorted(n for n in names if not n.startswith("__") and n not in MODULE_ATTRIBUTES)
    assert not missing, f"add these to netspec._names.MODULE_ATTRIBUTES: {missing}"


def test_every_module_attribute_is_refused_by_torch_or_hides_the_module() -> None:
    for name in sorted(MODULE_ATTRIBUTES):
        root = nn.Module()
        try:
            root.add_module(name, nn.ReLU())
        except KeyError:
            continue
        assert not isinstance(getattr(fx.GraphModule(root, fx.Graph()), name, None), nn.ReLU) or name not in dir(
            fx.GraphModule
        )


# --- the complement of the rule ----------------------------------------------------------------

_BASE = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
# Characters refused anywhere in a node name: separators, controls, format characters, `.`, quotes.
_REFUSED_CHAR = st.one_of(
    st.sampled_from(
        [".", ":", "$", '"', "\\", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u2029"]
    ),
    st.sampled_from(["\x00", "\x1b", "\x7f", "\x9b", "\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\ue000"]),
    st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Co"]),
)


@st.composite
def _with_refused_char(draw: st.DrawFn) -> str:
    base = draw(_BASE)
    at = draw(st.integers(0, len(base)))
    return base[:at] + draw(_REFUSED_CHAR) + base[at:]


_BAD_NAMES = st.one_of(
    _with_refused_char(),
    st.sampled_from(sorted(RESERVED_WORDS)),
    _BASE.map(lambda s: "__" + s),
    st.just(""),
    st.just("a" * (MAX_NAME_CHARS + 1)),
    st.sampled_from(["ﬁ", "x\u00b2", "Ⅸ", "\uff46\uff55\uff4c\uff4c", "e\u0301"]),  # NFKC changes them
)
_BAD_NODE_NAMES = st.one_of(_BAD_NAMES, st.sampled_from(sorted(MODULE_ATTRIBUTES)))
_BAD_IDENTIFIERS = st.one_of(
    _BAD_NAMES,
    _BASE.map(lambda s: s + "-1"),
    _BASE.map(lambda s: "1" + s),
    st.sampled_from(["é", "0", "x\n", "a:b", "x'", "∂", "true", "false", "null"]),
)


def _locations(text: str, name: str) -> set[int]:
    """Lines (1-based) of `text` where the JSON form of `name` is a key or an item."""
    token = json.dumps(name)
    return {i for i, line in enumerate(text.splitlines(), 1) if token in line}


def _spec(where: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"netspec": 1, "name": "t", "inputs": {"x": ["N", 3, 8, 8]}, "nodes": {"a": "ReLU"}}
    if where == "node":
        spec["nodes"] = {name: "ReLU"}
    elif where == "input":
        spec["inputs"] = {name: ["N", 3, 8, 8]}
        spec["nodes"] = {"a": {"op": "ReLU", "in": name}}
    elif where == "param":
        spec["params"] = {name: 3}
    elif where == "dim":
        spec["dims"] = {name: 8}
    elif where == "block":
        spec["blocks"] = {name: {"nodes": {"r": "ReLU"}}}
        spec["nodes"] = {"a": {"block": name}}
    elif where == "block-node":
        spec["blocks"] = {"b": {"nodes": {name: "ReLU"}}}
        spec["nodes"] = {"a": {"block": "b"}}
    elif where == "block-input":
        spec["blocks"] = {"b": {"inputs": [name], "nodes": {"r": {"op": "ReLU", "in": name}}}}
        spec["nodes"] = {"a": {"block": "b"}}
    elif where == "block-param":
        spec["blocks"] = {"b": {"params": {name: "int"}, "nodes": {"r": "ReLU"}}}
        spec["nodes"] = {"a": {"block": "b", name: 1}}
    return spec


def _assert_refused_at(where: str, name: str) -> None:
    text = json.dumps(_spec(where, name), indent=1)
    with pytest.raises(SpecError) as caught:
        netspec.loads(text)
    errors = caught.value.errors
    assert errors, caught.value.diagnostics
    lines = _locations(text, name) if name else {i for i, line in enumerate(text.splitlines(), 1) if '""' in line}
    assert any(e.line in lines and e.column is not None for e in errors), (where, name, str(caught.value))


@pytest.mark.parametrize("where", ["node", "block-node"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_BAD_NODE_NAMES)
def test_node_names_outside_the_rule_are_refused_at_their_place(where: str, name: str) -> None:
    assert not is_node_name(name)
    _assert_refused_at(where, name)


@pytest.mark.parametrize("where", ["input", "param", "dim", "block", "block-input", "block-param"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_BAD_IDENTIFIERS)
def test_identifiers_outside_the_rule_are_refused_at_their_place(where: str, name: str) -> None:
    assert not is_identifier(name)
    _assert_refused_at(where, name)


@pytest.mark.parametrize("word", ["if", "True", "null", "None", "lambda", "import", "false"])
def test_reserved_words_are_refused_with_a_clear_message(word: str) -> None:
    with pytest.raises(SpecError) as caught:
        netspec.loads(json.dumps(_spec("param", word), indent=1))
    assert f"`{word}` is a reserved word" in str(caught.value)
    assert caught.value.errors[0].code == "NS114"


# --- what the rule accepts builds --------------------------------------------------------------

_GOOD_NODE_NAMES = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "S"], exclude_characters='.:$"\\'), min_size=1, max_size=12
).filter(lambda n: is_node_name(n) and n != "x")  # `x` is the input


@settings(max_examples=25, deadline=None)
@given(names=st.lists(_GOOD_NODE_NAMES, min_size=1, max_size=3, unique=True))
def test_node_names_the_rule_accepts_build_and_run(names: list[str]) -> None:
    nodes = {name: {"op": "Conv2d", "out_channels": 2, "kernel_size": 1} for name in names}
    spec = {"netspec": 1, "name": "t", "inputs": {"x": ["N", 3, 4, 4]}, "nodes": nodes}
    model = netspec.build(netspec.loads(json.dumps(spec)))
    assert list(dict(model.named_children())) == names
    assert model(torch.zeros(1, 3, 4, 4)).shape == (1, 2, 4, 4)


@pytest.mark.parametrize("name", ["block1-0", "0", "é", "a'b", "x;y"])
def test_attribute_source_reads_the_module(name: str) -> None:
    root = nn.Module()
    root.add_module(name, nn.Module())
    root.get_submodule(name).add_module("inner", nn.ReLU())
    tree = ast.parse(attribute_source("self", f"{name}.inner"), mode="eval").body

    def read(node: ast.expr) -> Any:  # the two forms the source may take, walked without evaluating it
        if isinstance(node, ast.Name):
            assert node.id == "self"
            return root
        if isinstance(node, ast.Attribute):
            return getattr(read(node.value), node.attr)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
        owner, attr = node.args
        assert isinstance(attr, ast.Constant)
        return getattr(read(owner), attr.value)

    assert read(tree) is root.get_submodule(f"{name}.inner")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("my-net", "MyNet"), ("None", "NetworkNone"), ("3d", "Network3d"), ("", "Network"), ("é", "Network")],
)
def test_class_name_is_an_identifier(name: str, expected: str) -> None:
    assert class_name(name) == expected
    assert class_name(name).isidentifier() and not keyword.iskeyword(class_name(name))


def test_messages_escape_what_they_quote() -> None:
    problem = node_name_problem("x\n\u202e")
    assert problem is not None and problem.isprintable()
    problem = identifier_problem("x\x1b[2J")
    assert problem is not None and problem.isprintable()


def test_normalization_stable_names_are_accepted() -> None:
    assert all(unicodedata.normalize("NFKC", n) == n for n in ["é", "ß", "Ж"])
    assert is_node_name("é") and is_node_name("ß")


@pytest.mark.parametrize("name", ["double", "float", "to"])
def test_function_nodes_may_take_module_attribute_names(name: str) -> None:
    """No module is registered for a function op, so `nn.Module`'s attribute names are free for it."""
    nodes = {name: {"op": "pad", "pad": [1, 1, 1, 1]}, "conv": {"op": "Conv2d", "out_channels": 2, "kernel_size": 3}}
    spec = {"netspec": 1, "name": "t", "inputs": {"x": ["N", 3, 4, 4]}, "nodes": nodes}
    assert netspec.build(netspec.loads(json.dumps(spec)))(torch.zeros(1, 3, 4, 4)).shape == (1, 2, 4, 4)
    nodes[name] = {"op": "Conv2d", "out_channels": 3, "kernel_size": 1}
    with pytest.raises(SpecError, match=r"attribute of `nn\.Module`"):
        netspec.loads(json.dumps(spec))
    spec["blocks"], nodes[name] = {"b": {"nodes": {"r": "ReLU"}}}, {"block": "b"}
    with pytest.raises(SpecError, match=r"attribute of `nn\.Module`"):
        netspec.loads(json.dumps(spec))


def test_every_bad_node_name_is_reported_at_its_own_key() -> None:
    text = (
        "netspec: 1\nname: t\ninputs:\n  self: [N, 8]\nparams:\n  if: 3\nnodes:\n"
        '  forward: {op: Linear, out_features: 8}\n  "a.b": ReLU\n  "__x": ReLU\n  "conv 1": ReLU\n'
        "  fine: ReLU\n  double: {op: add, in: [fine, fine]}\n"
    )
    with pytest.raises(netspec.SpecError) as err:
        netspec.loads(text)
    found = [(d.code, d.line, d.column, d.path, d.hint) for d in err.value.diagnostics]
    rename = "rename it, e.g. `{}` (and the references to it)".format
    assert found == [
        ("NS114", 4, 3, "inputs.self", rename("self_")),
        ("NS114", 6, 3, "params.if", rename("if_")),
        ("NS114", 8, 3, "nodes.forward", rename("forward_")),
        ("NS114", 9, 3, "nodes.a.b", rename("a_b")),
        ("NS114", 10, 3, "nodes.__x", rename("x")),
        ("NS114", 11, 3, "nodes.conv 1", rename("conv_1")),
    ]  # `double` names a function op: no module is registered under it


def test_a_module_attribute_name_alone_has_a_rename_hint() -> None:
    text = "netspec: 1\nname: t\ninputs: {x: [N, 8]}\nnodes:\n  training: ReLU\n"
    with pytest.raises(netspec.SpecError) as err:
        netspec.validate(netspec.loads(text))
    (found,) = err.value.diagnostics
    assert (found.code, found.line, found.hint) == (
        "NS114",
        5,
        "rename it, e.g. `training_` (and the references to it)",
    )


@pytest.mark.parametrize(
    ("name", "identifier", "expected"),
    [
        ("conv 1", False, "conv_1"),
        ("a:b$c", False, "a_b_c"),
        ("__init__", False, "init__"),
        ("lambda", True, "lambda_"),
        ("1st", True, "_1st"),
        ("x-y", True, "x_y"),
        ("ok", False, None),
        ("", False, None),
        ("_" * 3, False, None),
    ],
)
def test_suggested_names_are_valid(name: str, identifier: bool, expected: str | None) -> None:
    from netspec._names import suggested_name

    assert suggested_name(name, identifier=identifier) == expected
