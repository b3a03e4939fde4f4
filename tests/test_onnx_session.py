"""`onnx_session` over crafted ONNX files: damaged netspec metadata and wrong feeds end in netspec's
errors (a located `SpecError`, or a `TypeError`/`ValueError` naming the input), never a raw error."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
np = pytest.importorskip("numpy")

import netspec  # noqa: E402
from netspec._onnx_session import DOCUMENT_KEY, PARAMS_KEY  # noqa: E402

SPEC = {
    "netspec": 1,
    "name": "tiny",
    "params": {"width": 3},
    "inputs": {"x": ["N", 4]},
    "nodes": {"fc": {"op": "Linear", "out_features": "$width"}},
}


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    netspec.export_onnx(SPEC, path, inputs={"x": (2, 4)})
    return path.read_bytes()


def _with(model_bytes: bytes, key: str, value: str) -> bytes:
    proto = onnx.load_from_string(model_bytes)
    for prop in proto.metadata_props:
        if prop.key == key:
            prop.value = value
    return proto.SerializeToString()


def test_a_good_model_runs(model_bytes: bytes) -> None:
    session = netspec.onnx_session(model_bytes)
    (out,) = session.run(None, {"x": np.zeros((5, 4), dtype=np.float32)})
    assert out.shape == (5, 3) and session.params == {"width": 3}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ("{not json", "NS021"),
        ("[1,2]", "NS022"),
        ('"abc"', "NS022"),
        ("[" * 100_000 + "]" * 100_000, "NS016"),
        ('{"width": "wide"}', None),
        ('{"depth": 2}', None),
    ],
)
def test_damaged_params_metadata_is_a_located_spec_error(model_bytes: bytes, params: str, code: str | None) -> None:
    with pytest.raises(netspec.SpecError) as err:
        netspec.onnx_session(_with(model_bytes, PARAMS_KEY, params))
    found = err.value.diagnostics[0]
    assert found.line is not None and found.code is not None
    if code is not None:
        assert found.code == code and found.file == f"<ONNX metadata {PARAMS_KEY}>"


def test_a_hostile_embedded_spec_is_held_by_the_loader(model_bytes: bytes) -> None:
    with pytest.raises(netspec.SpecError) as err:
        netspec.onnx_session(_with(model_bytes, DOCUMENT_KEY, '{"a": ' * 50_000 + "1" + "}" * 50_000))
    assert err.value.diagnostics[0].line is not None


@pytest.mark.parametrize(
    ("feed", "error", "words"),
    [
        ([np.zeros((2, 4), dtype=np.float32)], TypeError, "must be a mapping of input names to arrays"),
        ({"x": [[0.0] * 4]}, TypeError, "input `x` must be an array"),
        ({"x": np.zeros((2, 4), dtype=np.int64)}, ValueError, "input `x` expects float32 values, got int64"),
        ({"x": np.zeros((2, 4), dtype=np.float64)}, ValueError, "astype(numpy.float32)"),
        ({"y": np.zeros((2, 4), dtype=np.float32)}, ValueError, "the model has no input `y`"),
        ({}, ValueError, "the input feed has no `x`"),
        ({1: np.zeros((2, 4), dtype=np.float32)}, TypeError, "input names are strings"),
    ],
)
def test_feeds_are_checked_with_netspecs_message(model_bytes: bytes, feed: object, error: type, words: str) -> None:
    session = netspec.onnx_session(model_bytes)
    with pytest.raises(error) as caught:
        session.run(None, feed)  # type: ignore[arg-type]
    assert words in str(caught.value)


def test_a_wrong_shape_is_netspecs_diagnostic(model_bytes: bytes) -> None:
    session = netspec.onnx_session(model_bytes)
    with pytest.raises(netspec.SpecError, match="NS171"):
        session.run(None, {"x": np.zeros((2, 5), dtype=np.float32)})


def test_an_array_without_a_concrete_shape_is_a_type_error(model_bytes: bytes) -> None:
    class Symbolic:
        shape = (None, 4)
        dtype = np.dtype("float32")

    session = netspec.onnx_session(model_bytes)
    with pytest.raises(TypeError, match="input `x` has no concrete shape"):
        session.run(None, {"x": Symbolic()})
