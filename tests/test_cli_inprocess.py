"""The command line run in this process (the subprocess tests in test_cli.py check the real entry point):
the paths that are hard to reach from outside, and coverage of the command's own code."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import pytest

import netspec
from netspec import _cli
from netspec._cli import main

FIXTURES = Path(__file__).resolve().parent / "cli_fixtures"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == netspec.list_specs()


def test_a_bundled_spec_that_fails_to_load_is_listed_as_invalid(capsys, monkeypatch):
    def broken(source):
        raise netspec.SpecError([netspec.Diagnostic("broken", code="NS101")])

    monkeypatch.setattr(_cli, "_read_spec", broken)
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "(invalid: run `netspec validate resnet18`)" in out


def test_internal_errors_are_one_report_per_file(capsys, monkeypatch):
    import netspec._api

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(netspec._api, "validate", crash)
    code, out, _ = _run(capsys, "validate", "resnet18")
    assert code == 1
    assert "NS000" in out and "internal error while checking: RuntimeError: boom" in out


@pytest.mark.parametrize(
    ("error", "status"), [(BrokenPipeError(), 0), (KeyboardInterrupt(), 130)], ids=["broken-pipe", "interrupt"]
)
def test_a_closed_pipe_and_ctrl_c(error, status, monkeypatch):
    def run(args):
        raise error

    monkeypatch.setattr(_cli, "_run_list", run)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # main closes it on a broken pipe
    assert main(["list"]) == status


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("torchvision.models", "expected PACKAGE.MODULE:FACTORY"),
        ("no_such_module_here:make", "cannot find `no_such_module_here:make`"),
        ("netspec_test_factories:missing", "cannot find `netspec_test_factories:missing`"),
        ("netspec_test_factories:fails", "`netspec_test_factories:fails` failed: ValueError: no"),
    ],
)
def test_import_reports_a_bad_factory_on_one_line(factory, message, capsys, monkeypatch):
    module = types.ModuleType("netspec_test_factories")
    module.fails = lambda **kwargs: (_ for _ in ()).throw(ValueError("no"))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "netspec_test_factories", module)
    code, _, err = _run(capsys, "import", factory, "--input-shape", "x=1,3,8,8")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_import_writes_a_spec_and_its_weights(capsys, monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    module = types.ModuleType("netspec_test_factories")
    module.make = lambda width=4: torch.nn.Sequential(torch.nn.Conv2d(3, width, 3), torch.nn.ReLU())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "netspec_test_factories", module)
    out_spec, weights = tmp_path / "net.yaml", tmp_path / "net.safetensors"
    args = ["import", "netspec_test_factories:make", "-p", "width=5", "--input-shape", "x=1,3,8,8"]
    code, _, err = _run(capsys, *args, "-o", str(out_spec), "--weights", str(weights))
    assert code == 0, err
    model = netspec.build(out_spec, weights=weights)
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 5, 6, 6)


def test_python_dash_m_netspec(capsys, monkeypatch):
    import runpy

    monkeypatch.setattr(sys, "argv", ["netspec", "list"])
    with pytest.raises(SystemExit) as caught:
        runpy.run_module("netspec", run_name="__main__")
    assert caught.value.code == 0
    assert "resnet18" in capsys.readouterr().out
