"""Mermaid and DOT drawings: well-formed for every bundled spec, escaped, folded by depth; docs/zoo.md is current."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shutil
import stat
from pathlib import Path

import pytest
from generated_specs import nested_repeat
from hypothesis import given
from hypothesis import strategies as st

import netspec
from netspec import _draw
from netspec._api import prepare
from netspec._shapes import ShapeInfo

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = 'x"] --> evil["<script>#1;\n}'

# Every line of a Mermaid drawing has one of these forms; a label is a quoted string without quotes.
_LABEL = r'"[^"\n]*"'
_ID = r"(?:n\d+|lg\d+)"
MERMAID_LINE = re.compile(
    "|".join(
        [
            r"flowchart TD",
            rf"  *{_ID}(?:\(\[{_LABEL}\]\)|\[{_LABEL}\])",
            rf"  *subgraph (?:g\d+|legend)\[{_LABEL}\]",
            r"  *direction (?:TB|LR)",
            r"  *end",
            rf"  *{_ID}(?:\[{_LABEL}\])? (?:-->|-\.->|==>)\|{_LABEL}\| {_ID}(?:\[{_LABEL}\])?",
            r"  classDef \w+ [\w#:,\- ]+",
            r"  class (?:n\d+,)*n\d+ \w+",
        ]
    )
)
# A DOT string: quotes inside are escaped, as are backslashes.
_DOT_STRING = r'"(?:[^"\\\n]|\\.)*"'
DOT_LINE = re.compile(
    "|".join(
        [
            r"digraph netspec \{",
            r"  (?:graph|node|edge) \[.*\];",
            rf"  *(?:n\d+|lg\d+) \[label={_DOT_STRING}(?:, [a-z]+=(?:{_DOT_STRING}|[\w.]+))*\];",
            rf"  *(?:n\d+|lg\d+) -> (?:n\d+|lg\d+) \[label={_DOT_STRING}(?:, [a-z]+=(?:{_DOT_STRING}|[\w.]+))*\];",
            r"  *lg\d+ \[shape=point\]; lg\d+ \[shape=point\];",
            r"  *subgraph cluster_(?:g\d+|legend) \{",
            rf"  *label={_DOT_STRING}; style={_DOT_STRING}; color={_DOT_STRING};",
            r" *\}",
        ]
    )
)


def _info(source: str, **params: object) -> ShapeInfo:
    return prepare(source, params, None, concrete=True)


def _assert_mermaid_well_formed(text: str) -> None:
    lines = text.splitlines()
    bad = [line for line in lines if not MERMAID_LINE.fullmatch(line)]
    assert not bad, bad[:5]
    opened = sum(1 for line in lines if line.lstrip().startswith("subgraph "))
    assert opened == sum(1 for line in lines if line.strip() == "end")
    assert "<" not in text.replace("<br/>", "") and ">" not in re.sub(r"<br/>|-->|-\.->|==>", "", text)


def _assert_dot_well_formed(text: str) -> None:
    lines = text.splitlines()
    bad = [line for line in lines if not DOT_LINE.fullmatch(line)]
    assert not bad, bad[:5]
    outside_strings = re.sub(_DOT_STRING, '""', text)
    assert outside_strings.count("{") == outside_strings.count("}")


def _labels(text: str) -> list[str]:
    return re.findall(r'\["([^"]*)"\]', text)


# ------------------------------------------------------------------ well-formed for every spec


@pytest.mark.parametrize("depth", [None, 0, 1, 2])
@pytest.mark.parametrize("name", netspec.list_specs())
def test_every_bundled_spec_draws_well_formed(name: str, depth: int | None) -> None:
    info = _info(name)
    _assert_mermaid_well_formed(_draw.render_mermaid(info, depth=depth))
    _assert_dot_well_formed(_draw.render_dot(info, depth=depth))


def test_full_drawing_has_every_input_and_node_with_its_op_and_shape() -> None:
    info = _info("resnet18")
    text = _draw.render_mermaid(info)
    labels = _labels(text)
    assert "x<br/>input<br/>[1, 3, 224, 224]" in labels
    assert "layer2.0.downsample.0<br/>Conv2d<br/>[1, 128, 28, 28]" in labels
    assert len([label for label in labels if label.count("<br/>") == 2]) == len(info.nodes) + len(info.inputs)


def test_blocks_and_repeats_are_nested_clusters() -> None:
    text = _draw.render_mermaid(_info("resnet18"))
    titles = re.findall(r'subgraph g\d+\["([^"]*)"\]', text)
    assert titles[:3] == ["layer1 : stage", "layer1.0 : basic", "layer1.1 : basic"]
    assert "layer2.0.downsample : projection" in titles
    assert len(titles) == 4 + 8 + 3  # stages, block instances, projections
    dot = _draw.render_dot(_info("resnet18"))
    assert dot.count("subgraph cluster_g") == 15
    unet = re.findall(r'subgraph g\d+\["([^"]*)"\]', _draw.render_mermaid(_info("unet")))
    assert unet[:3] == ["enc : 5 x level", "enc.0 : level", "enc.1 : level"]  # a repeat: its count and block


def test_residual_and_concat_edges_are_drawn_distinctly_with_a_legend() -> None:
    resnet = _draw.render_mermaid(_info("resnet18"))
    assert len(re.findall(r" -\.->\|", resnet)) == 16 + 1  # two inputs of each of 8 sums, and the legend
    assert "add (residual)" in resnet and "==>" not in resnet
    unet = _draw.render_mermaid(_info("unet"), depth=1)
    skips = re.findall(r"(n\d+) ==>\|\"([^\"]*)\"\| (n\d+)", unet)
    assert len(skips) == 4  # the legend's edge joins unnamed points
    assert ("n4", "[1, 512, 64, 64]", "n6") in skips  # enc.3 -> dec.0
    assert "concat (skip)" in unet and "-.->" not in unet
    dot = _draw.render_dot(_info("unet"), depth=1)
    assert dot.count("penwidth=2.5") == 5 and "cluster_legend" in dot


def test_edges_carry_the_tensor_shape() -> None:
    text = _draw.render_mermaid(_info("lenet5"))
    assert 'n6 -->|"[1, 16, 5, 5]"| n7' in text  # pool2 -> flatten
    assert 'n7 -->|"[1, 400]"| n8' in text


def test_symbolic_shapes_are_drawn() -> None:
    info = prepare("unet", None, None)
    text = _draw.render_mermaid(info, depth=1)
    assert "[N, 1, H, W]" in text
    _assert_mermaid_well_formed(text)


# ------------------------------------------------------------------ depth


def test_depth_one_folds_block_instances() -> None:
    text = _draw.render_mermaid(_info("resnet18"), depth=1)
    labels = _labels(text)
    assert "layer2.0<br/>basic, 9 ops<br/>[1, 128, 28, 28]" in labels
    assert not any(label.startswith("layer1.0.") for label in labels)
    assert 'n5 -->|"[1, 64, 56, 56]"| n6' in text  # layer1.0 -> layer1.1, one edge
    assert "class n5,n6,n7,n8,n9,n10,n11,n12 folded" in text
    assert "class n15 output" in text


def test_depth_zero_folds_every_top_level_group() -> None:
    labels = _labels(_draw.render_mermaid(_info("resnet50"), depth=0))
    assert "layer3<br/>stage, 62 ops<br/>[1, 1024, 14, 14]" in labels
    assert len(labels) == 1 + 4 + 4 + 3  # input, stem, stages, head


def test_depth_two_keeps_instances_and_folds_projections() -> None:
    labels = _labels(_draw.render_mermaid(_info("resnet18"), depth=2))
    assert "layer2.0.downsample<br/>projection, 2 ops<br/>[1, 128, 28, 28]" in labels
    assert "layer2.0.conv1<br/>Conv2d<br/>[1, 128, 28, 28]" in labels


def test_blocks_named_only_by_their_node_are_labelled() -> None:
    text = _draw.render_mermaid(_info("lab-resnet18"), depth=1)
    assert 'subgraph g0["prep : preparatory"]' in text
    assert "prep.mod<br/>preparatory_layers, 4 ops<br/>[1, 64, 56, 56]" in _labels(text)


@pytest.mark.parametrize("depth", [-1, 1.5, True, "1"])
def test_bad_depth_is_refused(depth: object) -> None:
    with pytest.raises(ValueError, match="`depth`"):
        _draw.render_mermaid(_info("lenet5"), depth=depth)  # type: ignore[arg-type]


def test_repeated_ops_and_several_outputs() -> None:
    spec = netspec.loads(
        "netspec: 1\nname: two-heads\ninputs: {x: [N, 3, 8, 8]}\n"
        "nodes:\n"
        "  convs: {op: Conv2d, repeat: 3, out_channels: 4, kernel_size: 3, padding: 1}\n"
        "  a: {op: Conv2d, in: convs, out_channels: 2, kernel_size: 1}\n"
        "  b: {op: Conv2d, in: convs.0, out_channels: 5, kernel_size: 1}\n"
        "outputs: [a, b]\n"
    )
    text = _draw.render_mermaid(prepare(spec, None, None))
    assert 'subgraph g0["convs : 3 x Conv2d"]' in text
    assert "class n4,n5 output" in text
    folded = _draw.render_mermaid(prepare(spec, None, None), depth=0)
    assert "convs<br/>3 x Conv2d, 3 ops<br/>[N, 4, 8, 8]" in _labels(folded)
    assert folded.count(" -->|") == 3  # x -> convs, convs -> a, convs -> b


# ------------------------------------------------------------------ escaping


def _renamed(info: ShapeInfo, old: str, new: str) -> ShapeInfo:
    """`info` with node or input `old` called `new` (names a spec cannot have)."""
    graph = info.graph
    rename = {old: new}
    nodes = [
        dataclasses.replace(n, name=rename.get(n.name, n.name), inputs=[rename.get(i, i) for i in n.inputs])
        for n in graph.nodes
    ]
    by_name = {n.name: n for n in nodes}
    new_graph = dataclasses.replace(
        graph,
        inputs={rename.get(k, k): v for k, v in graph.inputs.items()},
        nodes=nodes,
        order=[by_name[rename.get(n.name, n.name)] for n in graph.order],
        outputs=[rename.get(o, o) for o in graph.outputs],
    )
    infos = {rename.get(k, k): dataclasses.replace(v, node=by_name[rename.get(k, k)]) for k, v in info.nodes.items()}
    inputs = {rename.get(k, k): v for k, v in info.inputs.items()}
    return dataclasses.replace(info, graph=new_graph, inputs=inputs, nodes=infos)


@pytest.mark.parametrize("old", ["x", "conv1", "fc3"])
def test_hostile_names_cannot_break_out(old: str) -> None:
    info = _renamed(_info("lenet5"), old, HOSTILE)
    mermaid = _draw.render_mermaid(info)
    _assert_mermaid_well_formed(mermaid)
    assert "evil" in mermaid and "<script>" not in mermaid and "#1;" not in mermaid
    dot = _draw.render_dot(info)
    _assert_dot_well_formed(dot)
    assert '\\"] --&gt; evil[\\"&lt;script&gt;#1;\\n}' in dot and "<script>" not in dot


def test_mermaid_text_escapes_everything_but_plain_characters() -> None:
    assert _draw.mermaid_text('a"b') == "a#34;b"
    assert _draw.mermaid_text("<b>&#") == "#60;b#62;#38;#35;"
    assert _draw.mermaid_text("one\ntwo") == "one<br/>two"
    assert _draw.mermaid_text("`x`|{y}") == "#96;x#96;#124;#123;y#125;"
    assert _draw.mermaid_text("[1, 64, (H-4)//2]") == "[1, 64, (H-4)//2]"


def test_dot_text_escapes_quotes_backslashes_and_newlines() -> None:
    assert _draw.dot_text('a"b\\N\nc\x00') == 'a\\"b\\\\N\\nc'


def test_dot_text_writes_html_characters_as_the_entities_graphviz_reads() -> None:
    assert _draw.dot_text("<svg/onload=alert(1)>") == "&lt;svg/onload=alert(1)&gt;"
    assert _draw.dot_text("a&lt;b") == "a&amp;lt;b"


HOSTILE_NAMES = ["<svg/onload=alert(1)>", "<img_src=x_onerror=alert(1)>", "a&lt;b", "q<b>", "a]b", "a{b}|c"]


def _hostile_spec() -> netspec.Spec:
    nodes = "".join(f"  '{name}': ReLU\n" for name in HOSTILE_NAMES)
    return netspec.loads(f"netspec: 1\nname: draw\ninputs:\n  x: [N, 8]\nnodes:\n{nodes}")


def test_dot_and_mermaid_hold_no_html_from_spec_names() -> None:
    """No name reaches DOT or Mermaid text as markup: both can go into a web page as they are."""
    spec = _hostile_spec()
    for text in (netspec.to_dot(spec), netspec.to_mermaid(spec)):
        assert "<svg" not in text and "<img" not in text and "q<b>" not in text
    dot = netspec.to_dot(spec)
    assert 'label="&lt;svg/onload=alert(1)&gt;\\nReLU\\n[N, 8]"' in dot
    assert 'label="q&lt;b&gt;\\nReLU\\n[N, 8]"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_draws_hostile_names_as_written_and_escaped_once() -> None:
    svg = netspec.to_image(_hostile_spec(), "svg").decode()
    assert "<svg/onload" not in svg and "<img" not in svg
    assert "&lt;svg/onload=alert(1)&gt;" in svg
    assert "a&amp;lt;b" in svg  # drawn as `a&lt;b`, the name as written


@given(
    st.text(st.sampled_from(sorted(_draw._MERMAID_SAFE) + ['"', "\\", "\n", "<", ">", "&", "#", "\x00", "\u202e", "é"]))
)
def test_labels_with_nothing_to_escape_are_taken_as_they_are(text: str) -> None:
    """The escapes' fast path for plain labels gives what escaping each character gives."""
    mermaid = "<br/>".join(
        "".join(c if c in _draw._MERMAID_SAFE else f"#{ord(c)};" for c in line) for line in text.split("\n")
    )
    entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    dot = "".join(
        "\\" + c if c in '\\"' else entities.get(c) or ("\\n" if c == "\n" else c if c.isprintable() else "")
        for c in text
    )
    assert _draw.mermaid_text(text) == mermaid
    assert _draw.dot_text(text) == dot


# ------------------------------------------------------------------ images


def _fake_dot(tmp_path: Path, body: str) -> str:
    script = tmp_path / "dot"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_render_image_pipes_dot_through_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_dot(tmp_path, 'echo "$@"; cat')
    monkeypatch.setattr(_draw.shutil, "which", lambda name: fake if name == "dot" else None)
    info = _info("lenet5")
    image = _draw.render_image(info, "svg")
    assert image == b"-Tsvg\n" + _draw.render_dot(info).encode()


def test_render_image_without_graphviz_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_draw.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="install Graphviz"):
        _draw.render_image(_info("lenet5"), "png")


def test_render_image_reports_graphviz_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_dot(tmp_path, 'cat > /dev/null; echo "syntax error in line 3" >&2; exit 3')
    monkeypatch.setattr(_draw.shutil, "which", lambda name: fake)
    with pytest.raises(RuntimeError, match=r"exit status 3\): syntax error in line 3"):
        _draw.render_image(_info("lenet5"), "pdf")


def test_render_image_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_dot(tmp_path, "exec sleep 30")
    monkeypatch.setattr(_draw.shutil, "which", lambda name: fake)
    monkeypatch.setattr(_draw, "DOT_TIMEOUT_S", 0.2)
    with pytest.raises(RuntimeError, match="did not finish"):
        _draw.render_image(_info("lenet5"), "svg")


def test_render_image_refuses_unknown_formats() -> None:
    with pytest.raises(ValueError, match="did you mean `svg`"):
        _draw.render_image(_info("lenet5"), "svgz")
    with pytest.raises(ValueError, match="unknown image format"):
        _draw.render_image(_info("lenet5"), "-o/tmp/x")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_renders_every_bundled_spec() -> None:
    for name in netspec.list_specs():
        assert b"<svg" in _draw.render_image(_info(name), "svg", depth=1)


# ------------------------------------------------------------------ docs/zoo.md


def test_zoo_page_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_zoo", ROOT / "tools" / "gen_zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    assert module.render() == current, "docs/zoo.md is out of date: run `python tools/gen_zoo.py`"


def test_a_folded_parallel_repeat_and_the_node_joining_it_are_two_boxes() -> None:
    """They share the name `body`: the folded instance and the `add` are drawn apart and connected."""
    text = netspec.to_mermaid(nested_repeat(2, "parallel"), depth=0)
    boxes = dict(re.findall(r'^  (n\d+)\["([^"]*)"\]', text, re.M))
    assert sorted(boxes.values()) == [
        "body<br/>2 x unit, 6 ops<br/>[N, 8]",
        "body<br/>add<br/>[N, 8]",
        "head<br/>Linear<br/>[N, 2]",
    ]
    ids = {label.split("<br/>")[1]: box for box, label in boxes.items()}
    edges = set(re.findall(r"^  (n\d+) \S+\|[^|]*\| (n\d+)$", text, re.M))
    assert edges == {("n0", ids["2 x unit, 6 ops"]), (ids["2 x unit, 6 ops"], ids["add"]), (ids["add"], ids["Linear"])}


@pytest.mark.parametrize("layout", ["sequence", "flat"])
def test_clusters_are_the_instance_tree(layout: str) -> None:
    text = netspec.to_mermaid(nested_repeat(2, layout))
    titles = re.findall(r'subgraph g\d+\["([^"]*)"\]', text)
    if layout == "flat":  # the instances' modules are numbered into the repeat: no cluster of their own
        assert titles == ["body : 2 x unit", "body.0 : inner", "body.2 : inner"]
    else:
        assert titles == [
            "body : 2 x unit",
            "body.0 : unit",
            "body.0.pre : inner",
            "body.1 : unit",
            "body.1.pre : inner",
        ]
