"""Every catalog op argument has a type, and arguments taken from the input shapes are checked too.

An argument typed `Any` ("any value" in docs/ops.md) accepts `num_heads: "2"` or `bias: no` at
validation and fails later in torch; a value check that needs an inferred argument (`embed_dim`
for `num_heads`, `num_channels` for `num_groups`) must run once the input gives that argument.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest

import netspec
from netspec import SpecError, _signatures
from netspec._args import FREE_ARGS
from netspec._ops import catalog


def _open(annotation: Any) -> bool:
    """Whether `annotation` leaves some part of a value untyped (`Any` anywhere inside it)."""
    return annotation is Any or any(_open(member) for member in typing.get_args(annotation))


def test_every_catalog_argument_is_typed_unless_marked_free() -> None:
    untyped = [
        f"{name}.{arg}"
        for name, op in catalog().items()
        for arg, spec in op.args.items()
        if _open(spec.annotation) and (name, arg) not in FREE_ARGS
    ]
    assert untyped == [], "arguments with no type (type them, or mark them in FREE_ARGS): " + ", ".join(untyped)
    assert all(_open(catalog()[op].args[arg].annotation) for op, arg in FREE_ARGS)  # no stale marks


def test_the_snapshot_reader_refuses_an_argument_without_a_type(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.delitem(_signatures.DECLARED_TYPES, "torch.nn.MultiheadAttention")
    with _signatures.reading_torch(), pytest.raises(TypeError, match="`embed_dim` without a type"):
        _signatures.signature("torch.nn.MultiheadAttention")


def _attention(extra: str, shape: str = "[N, 16, 8]", heads: str = "2") -> str:
    return (
        f"netspec: 1\nname: t\ninputs:\n  x: {shape}\nnodes:\n"
        f"  attn: {{op: MultiheadAttention, in: x, num_heads: {heads}{extra}}}\n"
        '  out: {op: Identity, in: "attn:output"}\n'
    )


def _diagnostics(text: str) -> list[Any]:
    with pytest.raises(SpecError) as err:
        netspec.validate(netspec.loads(text))
    return [d for d in err.value.diagnostics if d.severity == "error"]


@pytest.mark.parametrize(
    ("extra", "heads", "code", "message", "hint"),
    [
        ("", '"2"', "NS146", '`num_heads` of `MultiheadAttention` must be an integer, got `"2"`', "without quotes"),
        (
            ", batch_first: no",
            "2",
            "NS146",
            "`batch_first` of `MultiheadAttention` must be true or false",
            "write false",
        ),
        (", bias: no", "2", "NS146", "`bias` of `MultiheadAttention` must be true or false", "write false"),
        (", add_bias_kv: yes", "2", "NS146", "`add_bias_kv`", "write true"),
        (", dropout: high", "2", "NS146", "`dropout` of `MultiheadAttention` must be a number", None),
        (", kdim: 0", "2", None, "`kdim` of `MultiheadAttention` must be at least 1", None),
        (", vdim: -1", "2", None, "`vdim` of `MultiheadAttention` must be at least 1", None),
    ],
)
def test_attention_arguments_are_typed(
    extra: str, heads: str, code: str | None, message: str, hint: str | None
) -> None:
    (found,) = _diagnostics(_attention(extra, heads=heads))
    assert message in found.message
    assert found.line == 6 and found.path.startswith("nodes.attn.")
    if code:
        assert found.code == code
    if hint:
        assert hint in (found.hint or "")


def test_heads_not_dividing_an_inferred_embed_dim_are_refused_at_num_heads() -> None:
    text = _attention(", batch_first: true", heads="3")
    (found,) = _diagnostics(text)
    assert found.code == "NS200"
    assert "`embed_dim` (=8) of `MultiheadAttention` must be divisible by `num_heads` (=3)" in found.message
    assert "`embed_dim` = 8, taken from the input" in found.message
    assert (found.line, found.column, found.path) == (6, text.splitlines()[5].index("3") + 1, "nodes.attn.num_heads")
    assert "change `num_heads`" in found.hint
    with pytest.raises(SpecError):
        netspec.summarize(netspec.loads(text))
    with pytest.raises(SpecError):
        netspec.count_params(netspec.loads(text))


def test_an_inferred_argument_that_passes_is_not_reported() -> None:
    assert netspec.validate(netspec.loads(_attention(", batch_first: true", heads="4"))) == []


def test_groups_not_dividing_inferred_channels_are_refused_at_num_groups() -> None:
    text = "netspec: 1\nname: t\ninputs:\n  x: [N, 16, 8, 8]\nnodes:\n  gn: {op: GroupNorm, in: x, num_groups: 3}\n"
    (found,) = _diagnostics(text)
    assert "`num_channels` (=16) of `GroupNorm` must be divisible by `num_groups` (=3)" in found.message
    assert found.line == 6


def test_a_given_kdim_that_is_not_the_keys_is_reported_at_kdim() -> None:
    text = (
        "netspec: 1\nname: t\ninputs:\n  q: [N, 5, 8]\n  k: [N, 7, 6]\nnodes:\n"
        "  a: {op: MultiheadAttention, in: [q, k], num_heads: 2, kdim: 4, batch_first: true}\n"
        '  o: {op: Identity, in: "a:output"}\n'
    )
    (found,) = _diagnostics(text)
    assert "`kdim` is 4 but the key has 6 features (its last dimension)" in found.message
    assert (found.line, found.column, found.path) == (7, text.splitlines()[6].index("4") + 1, "nodes.a.kdim")
