"""ONNX and torch.export programs that keep the spec's symbolic sizes: dynamic batch, spatial sizes over
the valid-size lattice (derived dims), trained weights, one file, and sizes off the lattice refused."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec import _onnx_session
from netspec._api import prepare
from netspec._cli import main
from netspec._export import _first_size_without_ones, export_onnx, export_pt2
from netspec._onnx_session import spec_document

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

# The paper's U-Net with two levels instead of four, so that tracing with symbolic sizes takes
# seconds: its lattice is H = 44 + 4k (with four levels 188 + 16k, the same construction).
UNET = {"width": 2, "depth": 2}


def _dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def unet_onnx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unet")
    torch.manual_seed(0)
    model = netspec.build("unet", params=UNET).eval()
    netspec.save_weights(model, folder / "unet.safetensors")
    export_onnx("unet", folder / "unet.onnx", params=UNET, weights=folder / "unet.safetensors")
    return folder, model


def test_unet_onnx_runs_on_its_lattice_at_several_batch_sizes(unet_onnx):
    folder, model = unet_onnx
    assert sorted(p.name for p in folder.iterdir()) == ["unet.onnx", "unet.safetensors"]  # one file, no .data
    proto = onnx.load(str(folder / "unet.onnx"))
    onnx.checker.check_model(proto)
    assert _dims(proto.graph.input[0]) == ["N", 1, "H", "W"]
    assert _dims(proto.graph.output[0]) == ["N", 2, "4*(H//4)-40", "4*(W//4)-40"]  # netspec's static shape
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert metadata["netspec.dims.H"] == "44 + 4k" and metadata["netspec.dims.N"] == ">= 1"
    session = ort.InferenceSession(str(folder / "unet.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        for height, width in ((44, 44), (48, 60), (64, 52)):
            x = torch.randn(batch, 1, height, width)
            (result,) = session.run(None, {"x": x.numpy()})
            with torch.no_grad():
                expected = model(x)
            assert result.shape == tuple(expected.shape) == (batch, 2, height - 40, width - 40)
            torch.testing.assert_close(torch.from_numpy(result), expected, rtol=1e-4, atol=1e-5)


def test_a_size_off_the_lattice_is_refused_with_the_nearest_that_fit(tmp_path):
    with pytest.raises(netspec.SpecError) as caught:
        export_onnx("unet", tmp_path / "u.onnx", params=UNET, inputs={"x": (1, 1, 46, 44)})
    text = str(caught.value)
    assert "error[NS211]" in text and "`H` = 44 or 48 fit" in text and "44 + 4k" in text
    assert not (tmp_path / "u.onnx").exists()
    code = main(
        ["export", "unet", "--to", "pt2", str(tmp_path / "u.pt2"), "-p", "depth=2", "--input-shape", "x=1,1,46,46"]
    )
    assert code == 1 and not (tmp_path / "u.pt2").exists()


def test_first_sizes_keep_every_feature_map_above_one():
    # torch.export specialises sizes 0 and 1: ResNet's range starts where the last map is 2x2.
    info = prepare("resnet18")
    assert _first_size_without_ones(info, "H", range(1, 100)) == 33


def test_pt2_program_has_the_derived_dims_and_the_weights(tmp_path):
    torch.manual_seed(0)
    model = netspec.build("unet", params={"width": 2, "depth": 1}).eval()
    program = export_pt2("unet", tmp_path / "unet.pt2", params={"width": 2, "depth": 1}, weights=model.state_dict())
    loaded = torch.export.load(tmp_path / "unet.pt2").module()
    ranges = {str(k): (int(v.lower), v.upper) for k, v in program.range_constraints.items()}
    assert any(k.startswith("2*") and k.endswith("+ 18") for k in ranges), ranges  # H = 2*H_k + 18
    for shape in ((1, 1, 18, 18), (2, 1, 22, 26)):
        x = torch.randn(shape)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x))


def test_static_export_fixes_the_sizes(tmp_path):
    export_onnx("lenet5", tmp_path / "l.onnx", dynamic=False)
    proto = onnx.load(str(tmp_path / "l.onnx"))
    assert _dims(proto.graph.input[0]) == [1, 1, 28, 28]
    export_onnx("lenet5", tmp_path / "d.onnx")
    assert _dims(onnx.load(str(tmp_path / "d.onnx")).graph.input[0]) == ["N", 1, 28, 28]


def test_cli_exports_pt2_with_weights(tmp_path):
    torch.manual_seed(0)
    model = netspec.build("lenet5").eval()
    netspec.save_weights(model, tmp_path / "w.safetensors")
    code = main(
        ["export", "lenet5", "--to", "pt2", str(tmp_path / "l.pt2"), "--weights", str(tmp_path / "w.safetensors")]
    )
    assert code == 0
    loaded = torch.export.load(tmp_path / "l.pt2").module()
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_cli_refuses_options_that_do_not_apply(capsys, tmp_path):
    assert main(["export", "lenet5", "--to", "python", str(tmp_path / "l.py"), "--static"]) == 2
    assert "--static" in capsys.readouterr().err
    assert main(["export", "lenet5", "--to", "python", str(tmp_path / "l.py"), "--weights", "w"]) == 2
    assert "--weights" in capsys.readouterr().err


def test_onnx_session_runs_the_lattice_and_refuses_a_size_off_it_with_netspecs_message(unet_onnx, monkeypatch):
    folder, model = unet_onnx
    session = netspec.onnx_session(folder / "unet.onnx")
    assert isinstance(session, netspec.OnnxSession) and session.params["depth"] == 2
    assert session.get_inputs()[0].name == "x"  # the rest is onnxruntime's session
    validated = []
    monkeypatch.setattr(_onnx_session, "validate", lambda *a, **k: validated.append(k["inputs"]) or [])
    for batch in (1, 3):
        for height, width in ((44, 44), (48, 60), (64, 52)):
            x = torch.randn(batch, 1, height, width)
            (result,) = session.run(None, {"x": x.numpy()})
            session.run(None, {"x": x.numpy()})
            with torch.no_grad():
                torch.testing.assert_close(torch.from_numpy(result), model(x), rtol=1e-4, atol=1e-5)
    assert len(validated) == 6  # each shape validated once, then remembered
    monkeypatch.undo()
    off = torch.randn(2, 1, 46, 44).numpy()
    raw = ort.InferenceSession(str(folder / "unet.onnx"), providers=["CPUExecutionProvider"])
    assert raw.run(None, {"x": off})[0].shape == (2, 2, 4, 4)  # onnxruntime alone runs it: two rows dropped
    with pytest.raises(netspec.SpecError) as caught:
        session.run(None, {"x": off})
    text = str(caught.value)
    assert "error[NS211]: `enc.2.pool` at H=46" in text and "`H` = 44 or 48 fit" in text
    assert "unet.yaml:" in text  # the bundled spec it was exported from: the diagnostic points into it
    with pytest.raises(netspec.SpecError, match=r"NS171.*3 where it says 1"):
        session.run(None, {"x": torch.randn(1, 3, 44, 44).numpy()})


def test_onnx_session_checks_a_spec_that_is_not_bundled(tmp_path):
    spec = {
        "netspec": 1,
        "name": "pooled",
        "inputs": {"x": ["N", 2, "H", "W"]},
        "nodes": {
            "conv": {"op": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
            "pool": {"op": "MaxPool2d", "kernel_size": 2},
            "head": {"op": "Conv2d", "out_channels": 1, "kernel_size": 1},
        },
    }
    export_onnx(spec, tmp_path / "p.onnx", inputs={"x": (1, 2, 8, 8)})
    session = netspec.onnx_session((tmp_path / "p.onnx").read_bytes())  # the model's bytes work too
    assert session.spec.name == "pooled"
    (result,) = session.run(None, {"x": torch.randn(2, 2, 12, 6).numpy()})
    assert result.shape == (2, 1, 6, 3)
    with pytest.raises(netspec.SpecError, match=r"(?s)`pool` at W=7.*`W` = 6 or 8 fit"):
        session.run(None, {"x": torch.randn(1, 2, 12, 7).numpy()})


def test_onnx_session_refuses_a_model_without_the_spec(tmp_path, unet_onnx):
    folder, _ = unet_onnx
    proto = onnx.load(str(folder / "unet.onnx"))
    del proto.metadata_props[:]
    with pytest.raises(ValueError, match=r"no netspec spec in its metadata"):
        netspec.onnx_session(proto.SerializeToString())


@pytest.mark.parametrize("name", netspec.list_specs())
def test_the_spec_in_the_metadata_reads_back_equal(name):
    spec = netspec.load(name)
    again = netspec.loads(spec_document(spec))
    assert spec_document(again) == spec_document(spec)
    assert netspec.infer_shapes(again) == netspec.infer_shapes(spec)
