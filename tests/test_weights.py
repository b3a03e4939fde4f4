"""Weights without pickle: safetensors and `weights_only` torch files, strict loading reported at spec nodes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import netspec

SPEC = """\
netspec: 1
name: small
params:
  classes: 3
inputs:
  x: [N, 2, 8, 8]
nodes:
  conv: {op: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  bn: BatchNorm2d
  pool: {op: AdaptiveAvgPool2d, output_size: 1}
  flat: Flatten
  fc: {op: Linear, out_features: $classes}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SPEC)
    return path


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.randn(2, 2, 8, 8)
    return torch.equal(a.eval()(x), b.eval()(x))


def test_safetensors_round_trip(spec_file: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = netspec.build(spec_file)
    with torch.no_grad():
        model.bn.running_mean.uniform_()  # buffers travel too
    netspec.save_weights(model, tmp_path / "w.safetensors")
    torch.manual_seed(1)
    loaded = netspec.build(spec_file, weights=tmp_path / "w.safetensors")
    assert _same_outputs(model, loaded)
    assert torch.equal(loaded.bn.running_mean, model.bn.running_mean)


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_torch_state_dict_and_checkpoint(spec_file: Path, tmp_path: Path, suffix: str) -> None:
    model = netspec.build(spec_file)
    torch.save(model.state_dict(), tmp_path / f"w{suffix}")
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, tmp_path / f"ckpt{suffix}")
    assert _same_outputs(model, netspec.build(spec_file, weights=str(tmp_path / f"w{suffix}")))
    assert _same_outputs(model, netspec.build(spec_file, weights=tmp_path / f"ckpt{suffix}"))


def test_mapping_and_half_precision(spec_file: Path) -> None:
    model = netspec.build(spec_file)
    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    loaded = netspec.build(spec_file, weights=half)
    assert loaded.conv.weight.dtype == torch.float32
    assert torch.equal(loaded.conv.weight, model.conv.weight.half().float())


def test_pickled_objects_are_refused_without_running(spec_file: Path, tmp_path: Path) -> None:
    ran = tmp_path / "ran"

    class Payload:
        def __reduce__(self):  # would touch `ran` if unpickled
            return (Path.touch, (ran,))

    torch.save({"conv.weight": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=tmp_path / "evil.pt")
    assert info.value.diagnostics[0].code == "NS195"
    assert "does not unpickle" in str(info.value)
    assert not ran.exists()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("w.safetensors", b"not a safetensors file", "not a readable safetensors file"),
        ("w.pt", b"garbage", "cannot be read as weights"),
        ("w.npz", b"", "not a weight file"),
        ("missing.pt", None, "no weight file"),
    ],
)
def test_unreadable_files(spec_file: Path, tmp_path: Path, name: str, content: bytes | None, words: str) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=tmp_path / name)
    (diag,) = info.value.diagnostics
    assert diag.code == "NS195" and words in diag.message
    assert diag.file == os.fspath(tmp_path / name)


def test_non_tensor_entries(spec_file: Path, tmp_path: Path) -> None:
    torch.save({"conv.weight": torch.zeros(1), "step": 3}, tmp_path / "w.pt")
    with pytest.raises(netspec.SpecError, match="not a tensor under a string key: step"):
        netspec.build(spec_file, weights=tmp_path / "w.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(netspec.SpecError, match="holds a list, not a state dict"):
        netspec.build(spec_file, weights=tmp_path / "list.pt")


def test_strict_report_names_nodes_and_lines(spec_file: Path) -> None:
    state = netspec.build(spec_file, params={"classes": 5}).state_dict()
    state["conv.wieght"] = state.pop("conv.weight")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=state)
    by_code = {d.code: d for d in info.value.diagnostics}
    assert sorted(d.code for d in info.value.diagnostics) == ["NS196", "NS197", "NS197", "NS198", "NS198"]
    missing = by_code["NS196"]
    assert missing.line == 8 and missing.path == "nodes.conv" and missing.hint == "did you mean `conv.wieght`?"
    assert "`conv` (Conv2d)" in missing.message
    shaped = [d for d in info.value.diagnostics if d.code == "NS198"]
    assert {d.line for d in shaped} == {12} and "[5, 4]" in shaped[0].message and "[3, 4]" in shaped[0].message
    stray = next(d for d in info.value.diagnostics if d.code == "NS197" and "extra" in d.message)
    assert stray.path == "nodes"


def test_non_strict_skips_keys_but_checks_shapes(spec_file: Path) -> None:
    model = netspec.build(spec_file)
    state = {"conv.weight": model.conv.weight.detach() + 1, "unknown": torch.zeros(1)}
    loaded = netspec.build(spec_file, weights=state, strict=False)
    assert torch.equal(loaded.conv.weight, model.conv.weight + 1)
    with pytest.raises(netspec.SpecError, match="NS198"):
        netspec.build(spec_file, weights={"conv.weight": torch.zeros(1)}, strict=False)


def test_many_problems_are_summarised(spec_file: Path) -> None:
    state = {f"junk{i}.weight": torch.zeros(1) for i in range(100)}
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=state, strict=True)
    unexpected = [d for d in info.value.diagnostics if d.code == "NS197"]
    assert len(unexpected) == 21 and unexpected[-1].message == "... and 80 more like the above"


def test_save_weights_unties_shared_storage(tmp_path: Path) -> None:
    shared = torch.nn.Linear(2, 2)
    model = torch.nn.ModuleDict({"a": shared, "b": torch.nn.Linear(2, 2)})
    model["b"].weight = shared.weight  # tied
    netspec.save_weights(model, tmp_path / "tied.safetensors")
    from safetensors.torch import load_file

    loaded = load_file(tmp_path / "tied.safetensors")
    assert set(loaded) == {"a.weight", "a.bias", "b.weight", "b.bias"}
    assert torch.equal(loaded["b.weight"], shared.weight)


def test_a_key_of_no_node_is_reported_at_the_nodes_key(spec_file: Path) -> None:
    state = netspec.build(spec_file).state_dict()
    state["bogus"] = torch.zeros(1)
    state["head.weight"] = torch.zeros(1)
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=state)
    found = {d.message.split("`")[1]: d for d in info.value.diagnostics}
    for key in ("bogus", "head.weight"):
        assert found[key].code == "NS197" and (found[key].line, found[key].column) == (7, 1)  # `nodes:`
        assert found[key].end_column == len("nodes") + 1
    assert "no node of the spec is named `head`" in found["head.weight"].message


def test_a_checkpoint_without_a_known_key_lists_them_and_names_the_one_with_tensors(
    spec_file: Path, tmp_path: Path
) -> None:
    state = netspec.build(spec_file).state_dict()
    torch.save({"optimizer": {}, "net": state, "epoch": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=tmp_path / "ckpt.pt")
    (diag,) = info.value.diagnostics
    assert diag.code == "NS195"
    assert "read from `state_dict`, `model_state_dict`, `model`" in diag.message
    assert "(it has `optimizer`, `net`, `epoch`)" in diag.message
    assert (
        diag.hint
        == f'`net` holds {len(state)} tensors: save it alone (`torch.save(checkpoint["net"], path)`) or under `state_dict`'
    )
    torch.save({"optimizer": {}, "epoch": 3}, tmp_path / "empty.pt")
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(spec_file, weights=tmp_path / "empty.pt")
    assert "save `model.state_dict()`" in (info.value.diagnostics[0].hint or "")


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        (torch.int64, "is int64, the model's is float32: integer values"),
        (torch.bool, "is bool, the model's is float32: bool values"),
        (torch.complex64, "is complex64, the model's is float32: complex values"),
    ],
)
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_weight_of_another_kind_of_dtype_is_refused_at_its_node(
    spec_file: Path, tmp_path: Path, dtype: torch.dtype, words: str, suffix: str
) -> None:
    state = netspec.build(spec_file).state_dict()
    state["fc.weight"] = torch.ones_like(state["fc.weight"], dtype=dtype)
    path = tmp_path / f"w{suffix}"
    if suffix == ".pt":
        torch.save(state, path)
    else:
        netspec.save_weights(state, path)
    for weights in (path, state):
        with pytest.raises(netspec.SpecError) as err:
            netspec.build(spec_file, weights=weights, strict=False)  # dtypes are checked even so
        (found,) = err.value.diagnostics
        assert found.code == "NS198" and words in found.message and found.path == "nodes.fc"
        assert found.line == 12  # the `fc:` line of SPEC


def test_floating_point_precisions_and_integer_widths_convert(spec_file: Path) -> None:
    model = netspec.build(spec_file)
    state = {k: v.double() if v.is_floating_point() else v.int() for k, v in model.state_dict().items()}
    loaded = netspec.build(spec_file, weights=state)
    assert loaded.bn.num_batches_tracked.dtype == torch.int64 and loaded.fc.weight.dtype == torch.float32
    assert torch.equal(loaded.fc.weight, model.fc.weight)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda t: t.to_sparse(), "has the sparse_coo layout"),
        (lambda t: torch.quantize_per_tensor(t, 0.1, 0, torch.qint8), "is a quantized tensor (qint8)"),
        (lambda t: t.to("meta"), "is a meta tensor"),
    ],
)
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_sparse_quantized_and_meta_tensors_are_refused(
    spec_file: Path, tmp_path: Path, make: object, words: str
) -> None:
    state = netspec.build(spec_file).state_dict()
    state["fc.weight"] = make(state["fc.weight"])  # type: ignore[operator]
    sources: list[object] = [state]
    if not state["fc.weight"].is_meta:
        torch.save(state, tmp_path / "w.pt")
        sources.append(tmp_path / "w.pt")
    for weights in sources:
        with pytest.raises(netspec.SpecError) as err:
            netspec.build(spec_file, weights=weights)  # type: ignore[arg-type]
        (found,) = err.value.diagnostics
        assert found.code == "NS198" and words in found.message and found.path == "nodes.fc"


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ([torch.zeros(1)], "`weights` must be a weight file's path or a mapping of names to tensors"),
        ({"fc.weight": [[0.0]]}, "`weights['fc.weight']` is a list, not a tensor"),
        ({1: torch.zeros(1)}, "`weights` keys are the model's parameter names (strings), got 1"),
    ],
)
def test_a_weights_argument_of_the_wrong_type_is_a_type_error(spec_file: Path, weights: object, words: str) -> None:
    with pytest.raises(TypeError) as err:
        netspec.build(spec_file, weights=weights)  # type: ignore[arg-type]
    assert words in str(err.value)
