"""Spec text reaches the generated torch.fx code only as validated identifiers and literals."""

from __future__ import annotations

import io
import re
import tokenize

import pytest
import torch
from hostile import PWNED, located_error, spec_with_nodes

import netspec
from netspec._ops import unregister_op

BREAKOUTS = [
    "a'); import os; #",
    "x\nimport os",
    'x"); __import__("os").system("id"); ("',
    "__class__",
    "a.b",
    "a b",
    "forward",
    "None",
]


@pytest.mark.parametrize("name", BREAKOUTS)
def test_node_name_that_breaks_out_is_refused(name: str) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    located_error(lambda: netspec.loads(spec_with_nodes(f'  "{quoted}": ReLU\n')))


@pytest.mark.parametrize("name", ["é", "block1-0", "a');import(os);#", "x;y", "0x1", "a'b", "lambda_"])
def test_node_name_torch_accepts_builds_and_runs(name: str) -> None:
    """Names that are not identifiers reach generated code only through `getattr` and a literal."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    model = netspec.build(
        netspec.loads(spec_with_nodes(f'  "{quoted}": {{op: Conv2d, out_channels: 4, kernel_size: 1}}\n'))
    )
    assert dict(model.named_children()).keys() == {name}
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 8, 8)
    assert not PWNED.exists()


@pytest.mark.parametrize("name", [*(b for b in BREAKOUTS if b != "forward"), "é", "0", "if", "True", "null"])
def test_input_name_that_breaks_out_is_refused(name: str) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    located_error(
        lambda: netspec.loads(f'netspec: 1\nname: t\ninputs: {{"{quoted}": [N, 3, 8, 8]}}\nnodes:\n  a: ReLU\n')
    )


@pytest.mark.parametrize(
    ("op", "arg"), [("Conv2d", "padding_mode"), ("pad", "mode"), ("Upsample", "mode"), ("GELU", "approximate")]
)
def test_string_argument_that_breaks_out_is_refused(op: str, arg: str) -> None:
    extra = {
        "Conv2d": "out_channels: 8, kernel_size: 3, ",
        "pad": "pad: [1, 1, 1, 1], ",
        "Upsample": "scale_factor: 2, ",
    }.get(op, "")
    text = spec_with_nodes(
        f"  a: {{op: {op}, {extra}{arg}: \"zeros'); __import__('os').system('touch {PWNED}'); ('\"}}\n"
    )
    err = located_error(lambda: netspec.loads(text))
    assert err.errors[0].line == 5


def string_literals(code: str) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return [t.string for t in tokens if t.type == tokenize.STRING]


_SAFE_LITERAL = re.compile(r"""^(['"])[A-Za-z0-9_.,\[\] ()*/+-]*\1$""")


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "unet", "m5"])
def test_generated_code_holds_only_safe_literals(name: str) -> None:
    code = netspec.build(name).code
    literals = string_literals(code)
    assert all(_SAFE_LITERAL.match(s) for s in literals), [s for s in literals if not _SAFE_LITERAL.match(s)]


def test_free_string_of_a_registered_op_appears_only_as_a_repr() -> None:
    """A plugin op may take any string: it reaches the code as one string literal and runs nothing."""

    def tagged(x: torch.Tensor, label: str = "") -> torch.Tensor:
        return x

    payload = f"'); __import__('os').system('touch {PWNED}'); ('\n\"\"\"; import os #"
    netspec.register_op("Tagged", tagged)
    try:
        quoted = payload.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        spec = netspec.loads(spec_with_nodes(f'  a: {{op: Tagged, label: "{quoted}"}}\n'))
        PWNED.unlink(missing_ok=True)
        module = netspec.build(spec)
        assert repr(payload) in string_literals(module.code)  # one literal, escaped as Python escapes it
        module(torch.zeros(1, 3, 8, 8))
        assert not PWNED.exists()
    finally:
        unregister_op("Tagged")
