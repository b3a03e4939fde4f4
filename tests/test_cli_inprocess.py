"""The command line run in this process (the subprocess tests in test_cli.py check the real entry point):
the paths that are hard to reach from outside, and coverage of the command's own code."""

from __future__ import annotations

import io
import json
import os
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


class _FailingOutput(io.StringIO):
    """A standard output whose reader went away (`BrokenPipeError`) or whose device is full, from the
    first write on or once `room` characters are written."""

    def __init__(self, error: OSError, room: int = 0) -> None:
        super().__init__()
        self.error, self.room = error, room

    def write(self, text: str) -> int:
        if self.tell() + len(text) > self.room:
            raise self.error
        return super().write(text)


@pytest.mark.parametrize("room", [0, 200], ids=["at-once", "midway"])
def test_a_broken_pipe_keeps_the_verdict_of_validate(room, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    for args, verdict in (
        (["validate", str(FIXTURES / "invalid_stride.yaml"), str(FIXTURES / "valid_small.yaml")], 1),
        (["validate", "--format", "json", str(FIXTURES / "invalid_stride.yaml")], 1),
        (["validate", "lenet5", "resnet18"], 0),
        (["list"], 0),
        (["schema"], 0),
    ):
        monkeypatch.setattr(sys, "stdout", _FailingOutput(BrokenPipeError(32, "Broken pipe"), room))
        assert main(args) == verdict, args
        assert sys.stderr.getvalue() == ""  # no traceback, no message


def test_a_full_output_is_one_line_and_status_2(monkeypatch):
    for args in (
        ["validate", str(FIXTURES / "invalid_stride.yaml")],
        ["validate", "--format", "github", "lenet5"],
        ["summary", "lenet5"],
        ["graph", "lenet5"],
        ["schema"],
        ["list"],
    ):
        stderr = io.StringIO()
        monkeypatch.setattr(sys, "stderr", stderr)
        monkeypatch.setattr(sys, "stdout", _FailingOutput(OSError(28, "No space left on device"), 20))
        assert main(args) == 2, args
        assert stderr.getvalue() == "netspec: error: cannot write the output: No space left on device\n"


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


@pytest.fixture
def alarm():
    """Fail a test that would wait forever (opening a named pipe blocks until a writer comes) after 20 s."""
    signal = pytest.importorskip("signal")
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("needs SIGALRM")

    def expired(signum, frame):
        raise TimeoutError("the command waited on a file that is not a regular file")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _tree_with_a_pipe_and_a_socket(tmp_path: Path) -> Path:
    import socket

    if not hasattr(os, "mkfifo") or not hasattr(socket, "AF_UNIX"):
        pytest.skip("needs named pipes and Unix sockets")
    tree = tmp_path / "specs"
    (tree / "sub").mkdir(parents=True)
    (tree / "ok.yaml").write_text("name: t\ninputs: {x: [N, 4]}\nnodes:\n  l: {op: Linear, out_features: 2}\n")
    os.mkfifo(tree / "evil.yaml")
    (tree / "sub" / "link.yml").symlink_to(tree / "evil.yaml")
    server = socket.socket(socket.AF_UNIX)
    here = os.getcwd()
    os.chdir(tree)  # a socket's path must be short
    try:
        server.bind("sock.json")
    finally:
        os.chdir(here)
        server.close()
    return tree


def test_a_walk_skips_named_pipes_and_sockets(tmp_path, capsys, monkeypatch, alarm):
    tree = _tree_with_a_pipe_and_a_socket(tmp_path)
    monkeypatch.chdir(tree)
    code, out, _ = _run(capsys, "validate", ".")
    assert code == 0 and out.strip() == "0 errors, 0 warnings in 1 file (skipped 3: 3 not regular files)"
    code, out, _ = _run(capsys, "validate", "**/*.y*ml")  # a glob too
    assert code == 0 and "(skipped 2: 2 not regular files)" in out
    code, out, _ = _run(capsys, "validate", "--format", "json", ".")
    assert json.loads(out)["skipped"]["not_regular"] == ["evil.yaml", "sock.json", os.path.join("sub", "link.yml")]


SPEC_4 = "name: t\ninputs: {x: [N, 4]}\nnodes:\n  l: {op: Linear, out_features: 2}\n"


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_walk_counts_the_symbolic_links_it_does_not_follow(tmp_path, capsys, monkeypatch):
    """A link to a folder and a link to a file out of the tree are skipped and counted, never dropped."""
    (tmp_path / "outside.yaml").write_text(SPEC_4)
    tree = tmp_path / "specs"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "lenet.yaml").write_text(SPEC_4)
    (tree / "inside.yaml").symlink_to(tree / "sub" / "lenet.yaml")  # stays in the tree: followed
    (tree / "out.yaml").symlink_to(tmp_path / "outside.yaml")
    (tree / "linkdir").symlink_to(tree / "sub")
    (tree / "notes.txt").symlink_to(tmp_path / "outside.yaml")  # not a spec name: nothing to check
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "validate", "specs")
    assert code == 0
    assert out.strip() == "0 errors, 0 warnings in 2 files (skipped 2: 2 symbolic links not followed)"
    code, out, _ = _run(capsys, "validate", "--format", "json", "specs")
    report = json.loads(out)
    assert sorted(report["skipped"]["links"]) == [os.path.join("specs", "linkdir"), os.path.join("specs", "out.yaml")]
    assert report["counts"]["files"] == 2
    code, out, _ = _run(capsys, "validate", "specs/*.yaml")  # a glob counts the links it matches
    assert code == 0 and out.strip().endswith("in 1 file (skipped 1: 1 symbolic link not followed)")
    code, out, _ = _run(capsys, "validate", "specs/out.yaml", "specs/linkdir")  # named: followed
    assert code == 0 and "in 2 files" in out and "skipped" not in out


def test_a_named_pipe_named_or_extended_is_refused_at_once(tmp_path, capsys, monkeypatch, alarm):
    tree = _tree_with_a_pipe_and_a_socket(tmp_path)
    monkeypatch.chdir(tree)
    code, _, err = _run(capsys, "validate", "evil.yaml")
    assert code == 2 and "`evil.yaml` is not a regular file (a named pipe)" in err
    (tree / "child.yaml").write_text("extends: evil.yaml\nname: c\n")
    code, out, _ = _run(capsys, "validate", "--format", "json", "child.yaml")
    (diagnostic,) = json.loads(out)["files"][0]["diagnostics"]
    assert (diagnostic["code"], diagnostic["line"], diagnostic["column"]) == ("NS104", 1, 10)
    assert diagnostic["message"] == "cannot extend `evil.yaml`: it is not a regular file (a named pipe)"
    with pytest.raises(netspec.SpecError) as info:  # a file that turns into a pipe after it was found
        netspec._load.read_file(tree / "evil.yaml")
    assert "not a regular file (a named pipe)" in info.value.diagnostics[0].message
    assert _cli._looks_like_spec(tree / "evil.yaml")  # at once, not waiting: checking it says why it is refused
    with pytest.raises(netspec.SpecError) as info:
        netspec.load(tree / "evil.yaml")
    (problem,) = info.value.diagnostics
    assert problem.code == "NS101" and problem.message == f"`{tree / 'evil.yaml'}` is not a regular file (a named pipe)"
