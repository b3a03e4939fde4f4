"""One shape for the public API: the source, then `params=` and `inputs=` mappings, then options.
The old forms (parameters as keywords, `input_shapes=`) still work for one release, with a warning."""

from __future__ import annotations

import inspect

import pytest
import torch

import netspec
from netspec import _draw
from netspec._api import prepare

TAKES_INPUTS = [
    netspec.build,
    netspec.validate,
    netspec.infer_shapes,
    netspec.count_params,
    netspec.summarize,
    netspec.export_python,
    netspec.export_torchscript,
    netspec.export_onnx,
    netspec.to_mermaid,
    netspec.to_dot,
    netspec.to_image,
]
COLLIDING = {
    "netspec": 1,
    "name": "c",
    "params": {"device": 3, "dtype": 4, "max_params": 5, "inputs": 6},
    "inputs": {"x": ["N", "$device"]},
    "nodes": {"fc": {"op": "Linear", "out_features": "${dtype + max_params + inputs}"}},
}


@pytest.mark.parametrize("function", TAKES_INPUTS, ids=lambda f: f.__name__)
def test_every_function_takes_params_and_inputs_as_keyword_mappings(function):
    signature = inspect.signature(function).parameters
    first = next(iter(signature.values())).kind
    if function is netspec.build:  # `source=` by keyword too: Hydra's `_target_: netspec.build` passes it so
        assert first is inspect.Parameter.POSITIONAL_OR_KEYWORD
    else:
        assert first is inspect.Parameter.POSITIONAL_ONLY
    for name in ("params", "inputs"):
        assert signature[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert signature[name].default is None


def test_valid_sizes_takes_params():
    assert inspect.signature(netspec.valid_sizes).parameters["params"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("name", netspec.__all__)
def test_every_public_name_is_documented(name):
    value = getattr(netspec, name)
    if callable(value):
        doc = inspect.getdoc(value) or ""
        assert len(doc) > 40, name
        if inspect.isfunction(value) and name not in ("register_op", "list_specs", "json_schema", "load", "loads"):
            assert "netspec." in doc and "::" in doc, f"{name}: its docstring has no example"


def test_parameters_named_like_options_do_not_collide():
    model = netspec.build(COLLIDING, params={"device": 2, "dtype": 1}, inputs={"x": (5, 2)})
    assert model(torch.randn(5, 2)).shape == (5, 1 + 5 + 6)
    assert netspec.count_params(COLLIDING, params={"dtype": 1, "device": 2}) == 2 * 12 + 12
    assert netspec.infer_shapes(COLLIDING, params={"device": 7}, inputs={"x": (1, 7)})["fc"] == (1, 15)


def test_infer_shapes_takes_params_without_mistaking_them_for_inputs():
    assert netspec.infer_shapes("resnet18", params={"num_classes": 10})["fc"][1] == 10


def test_keyword_parameters_are_deprecated_but_still_work():
    with pytest.warns(DeprecationWarning, match=r"params=\{'num_classes': \.\.\.\}"):
        old = netspec.count_params("resnet18", num_classes=10)
    assert old == netspec.count_params("resnet18", params={"num_classes": 10})
    with pytest.warns(DeprecationWarning, match="netspec.build") as caught:
        model = netspec.build("lenet5", num_classes=3)
    assert caught[0].filename == __file__  # the warning points at the caller
    assert model.fc3.out_features == 3
    with pytest.raises(TypeError, match="both"), pytest.warns(DeprecationWarning):
        netspec.build("lenet5", params={"num_classes": 3}, num_classes=4)


def test_input_shapes_is_the_deprecated_name_of_inputs():
    shape = {"x": (2, 1, 28, 28)}
    with pytest.warns(DeprecationWarning, match="inputs=") as caught:
        netspec.validate("lenet5", input_shapes=shape)
    assert caught[0].filename == __file__  # the warning points at the caller
    with pytest.warns(DeprecationWarning, match="inputs="):
        table = netspec.summarize("lenet5", input_shapes=shape)
    assert table.inputs["x"] == (2, 1, 28, 28)
    with pytest.warns(DeprecationWarning, match="inputs="):
        netspec.build("lenet5", input_shapes=shape)
    with pytest.warns(DeprecationWarning, match=r"inputs=\{'x': \.\.\.\}") as caught:
        assert netspec.infer_shapes("lenet5", x=(2, 1, 28, 28))["x"] == (2, 1, 28, 28)
    assert caught[0].filename == __file__
    with pytest.raises(TypeError), pytest.warns(DeprecationWarning):
        netspec.validate("lenet5", inputs=shape, input_shapes=shape)


def test_public_drawing_and_export_are_the_tools_the_command_line_uses():
    info = prepare("lenet5", {"num_classes": 3}, {"x": (1, 1, 28, 28)})
    assert netspec.to_mermaid("lenet5", params={"num_classes": 3}, inputs={"x": (1, 1, 28, 28)}) == (
        _draw.render_mermaid(info)
    )
    assert netspec.to_dot("lenet5", params={"num_classes": 3}, inputs={"x": (1, 1, 28, 28)}, depth=0) == (
        _draw.render_dot(info, depth=0)
    )
    with pytest.raises(ValueError, match="unknown image format"):
        netspec.to_image("lenet5", "bmp")
    code = netspec.export_python("lenet5", params={"num_classes": 3})
    assert "out_features=3" in code
