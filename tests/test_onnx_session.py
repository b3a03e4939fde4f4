"""`netspec.onnx_session`'s checks, without exporting: a stand-in for onnxruntime's session."""

from __future__ import annotations

import copy
import sys

import pytest

import netspec
from netspec import _onnx_session


class _Array:
    def __init__(self, *shape: int) -> None:
        self.shape = shape


class _Session:
    def __init__(self) -> None:
        self.calls = 0

    def run(self, output_names, input_feed, run_options=None):
        self.calls += 1
        return [tuple(input_feed["x"].shape)]

    def get_inputs(self):
        return ["x"]


def _session() -> netspec.OnnxSession:
    return netspec.OnnxSession(_Session(), netspec.load("unet"), {"width": 2, "depth": 2})


def test_accepted_shapes_are_remembered_up_to_a_bound(monkeypatch):
    session = _session()
    monkeypatch.setattr(_onnx_session, "_ACCEPTED_SHAPES", 2)
    for height in (44, 48, 52):
        assert session.run(None, {"x": _Array(1, 1, height, 44)}) == [(1, 1, height, 44)]
    assert list(session._accepted) == [(("x", (1, 1, 48, 44)),), (("x", (1, 1, 52, 44)),)]  # the oldest left
    assert session.session.calls == 3 and session.get_inputs() == ["x"]
    with pytest.raises(netspec.SpecError, match=r"`enc.2.pool` at W=46"):
        session.check({"x": _Array(1, 1, 44, 46)})
    assert session.session.calls == 3  # refused before running


def test_a_copy_is_a_session_too():
    session = _session()
    other = copy.copy(session)
    assert other.session is session.session and other.spec is session.spec


def test_without_onnxruntime_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModuleNotFoundError, match=r"needs onnxruntime: install netspec\[onnx\]"):
        netspec.onnx_session("model.onnx")


def test_a_changed_bundled_spec_is_read_from_the_metadata():
    spec = netspec.load("lenet5")
    metadata = {
        _onnx_session.SPEC_KEY: "lenet5",
        _onnx_session.DOCUMENT_KEY: _onnx_session.spec_document(spec).replace("LeNet", "LeNet (edited)", 1),
    }
    assert _onnx_session._spec_of(metadata) is not spec  # not the bundled file: its own JSON
    metadata[_onnx_session.DOCUMENT_KEY] = _onnx_session.spec_document(spec)
    assert _onnx_session._spec_of(metadata) is netspec._api._bundled("lenet5")
