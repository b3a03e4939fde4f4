"""The `netspec` command: each subcommand, output format and exit status.

The main cases run the real command in a subprocess (`python -m netspec`); variations of options
call `main()` in-process, which is the same code without the interpreter start-up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import netspec
from netspec._cli import github_annotation, main

FIXTURES = Path(__file__).parent / "cli_fixtures"
GITHUB_LINE = re.compile(
    r"^::(error|warning) file=[^,:]+(,line=\d+,col=\d+,endLine=\d+,endColumn=\d+)?,title=NS\d{3}::[^\r\n]*$"
)


def netspec_command(*args: str, cwd: Path = FIXTURES) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netspec", *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_usage_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("netspec: error: "), err
    for fragment in fragments:
        assert fragment in err


# --- validate -----------------------------------------------------------------------------------


def test_validate_valid_files_and_bundled_names():
    run = netspec_command("validate", "valid_small.yaml", "lenet5")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "0 errors, 0 warnings in 2 files\n"
    assert run.stderr == ""


def test_validate_invalid_file_points_at_the_place():
    run = netspec_command("validate", "invalid_stride.yaml", "valid_small.yaml")
    assert run.returncode == 1
    assert run.stdout.startswith("invalid_stride.yaml:8:55: error[NS144]: `Conv2d` has no argument `strides`\n")
    assert "help: did you mean `stride`?" in run.stdout
    assert run.stdout.endswith("1 error, 0 warnings in 2 files\n")


def test_validate_json_report():
    run = netspec_command("validate", "--format", "json", ".")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    files = {f["file"]: f for f in report["files"]}
    assert set(files) == {p.name for p in FIXTURES.glob("*.yaml")}
    assert files["valid_small.yaml"] == {"file": "valid_small.yaml", "valid": True, "diagnostics": []}
    (stride,) = files["invalid_stride.yaml"]["diagnostics"]
    assert (stride["line"], stride["column"], stride["code"], stride["severity"]) == (8, 55, "NS144", "error")
    assert files["warning_unused.yaml"]["valid"] is True
    assert report["counts"] == {"files": len(files), "invalid_files": 2, "errors": 3, "warnings": 1}


def test_validate_github_annotations_cannot_be_injected():
    run = netspec_command(
        "validate", "--format", "github", "injection.yaml", "invalid_stride.yaml", "warning_unused.yaml"
    )
    assert run.returncode == 1
    lines = run.stdout.split("\n")
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == 4, run.stdout  # two errors of injection.yaml, one of invalid_stride.yaml, one warning
    assert all(GITHUB_LINE.match(line) for line in commands), run.stdout
    assert "\r" not in run.stdout
    assert commands[2] == (
        "::error file=invalid_stride.yaml,line=8,col=55,endLine=8,endColumn=62,title=NS144::"
        "`Conv2d` has no argument `strides` (at `nodes.conv.strides`)%0Ahelp: did you mean `stride`?"
    )
    assert commands[3].startswith("::warning file=warning_unused.yaml,line=5,col=3,")
    assert lines[-2] == "netspec: 3 errors, 1 warning in 3 files"


def test_validate_strict_makes_warnings_errors(capsys):
    code, out, _ = run_main(capsys, "validate", str(FIXTURES / "warning_unused.yaml"))
    assert code == 0 and "warning[NS160]" in out
    run = netspec_command("validate", "--strict", "warning_unused.yaml")
    assert run.returncode == 1
    assert "error[NS160]: parameter `unused` is never used" in run.stdout


def test_validate_missing_file_is_a_usage_error():
    run = netspec_command("validate", "missing.yaml")
    assert_one_line_usage_error(run.returncode, run.stdout, run.stderr, "`missing.yaml`")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["validate", "--format", "xml", "lenet5"], "invalid choice: 'xml'"),
        (["validate", "-p", "num_classes", "lenet5"], "expected NAME=VALUE"),
        (["validate", "-p", "num_classes=[1,", "lenet5"], "bad value for parameter `num_classes`"),
        (["validate", "-p", "1x=2", "lenet5"], "expected NAME=VALUE"),
        (["validate", "--input-shape", "x=1,0,28", "lenet5"], "NAME=DIMS"),
        (["validate", "lenet"], "did you mean `lenet5`?"),
        (["validate", "no/such/dir/*.yaml"], "no file matches"),
        (["summary", "lenet5", "--depth", "-1"], "expected a depth"),
        (["export", "lenet5", "--to", "keras", "out.py"], "invalid choice: 'keras'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: COMMAND"),
    ],
)
def test_usage_errors_are_one_line(capsys, args, fragment):
    assert_one_line_usage_error(*run_main(capsys, *args), fragment)


def test_params_are_read_as_yaml_values(capsys):
    code, out, _ = run_main(
        capsys, "validate", "-p", "layers=[3, 4, 6, 3]", "-p", "block=bottleneck", "-p", "expansion=4", "resnet18"
    )
    assert code == 0, out
    code, out, _ = run_main(capsys, "validate", "-p", "num_classes=ten", "lenet5")
    assert code == 1
    assert "parameter `num_classes` is int, got 'ten'" in out


def test_input_shapes_are_checked(capsys):
    code, out, _ = run_main(capsys, "validate", "--input-shape", "x=1,3,64,64", "resnet18")
    assert code == 0, out
    code, out, _ = run_main(capsys, "validate", "--input-shape", "x=1,1,28,28", "resnet18")
    assert code == 1
    assert "NS171" in out


def test_folders_globs_and_quiet(capsys, tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "small.yml").write_text((FIXTURES / "valid_small.yaml").read_text())
    (tmp_path / "a" / "warns.json").write_text(
        json.dumps(
            {
                "name": "w",
                "params": {"unused": 1},
                "inputs": {"x": ["N", 2]},
                "nodes": {"fc": {"op": "Linear", "out_features": 1}},
            }
        )
    )
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "broken.yaml").write_text("nodes: [")
    (tmp_path / "notes.txt").write_text("not a spec")
    code, out, _ = run_main(capsys, "validate", "--format", "json", str(tmp_path))
    assert code == 0
    assert sorted(Path(f["file"]).name for f in json.loads(out)["files"]) == ["small.yml", "warns.json"]
    code, out, _ = run_main(capsys, "validate", str(tmp_path / "**" / "*.yml"))
    assert (code, out) == (0, "0 errors, 0 warnings in 1 file\n")
    code, out, _ = run_main(capsys, "validate", "--quiet", str(tmp_path / "a"))
    assert (code, out) == (0, "")
    code, out, _ = run_main(capsys, "validate", "--quiet", "--strict", str(tmp_path / "a"))
    assert code == 1 and "error[NS160]" in out and "in 2 files" not in out


def test_broken_yaml_is_a_diagnostic_not_a_traceback(capsys, tmp_path):
    (tmp_path / "broken.yaml").write_text("name: x\nnodes: [\n")
    code, out, err = run_main(capsys, "validate", str(tmp_path / "broken.yaml"))
    assert code == 1 and err == ""
    assert re.match(r".*broken\.yaml:\d+:\d+: error\[NS\d{3}\]", out)


def test_github_annotation_escapes_properties_and_data():
    diag = netspec.Diagnostic(
        "bad\n::error::x 100%", path="nodes.a", file="dir,x:y.yaml", line=3, column=4, hint="h\r\nx", code="NS144"
    )
    line = github_annotation(diag)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("::error file=dir%2Cx%3Ay.yaml,line=3,col=4,title=NS144::")
    assert "100%25" in line and "bad\\n::error::x" in line


# --- summary, graph, schema, list ---------------------------------------------------------------


def test_summary_prints_the_table():
    run = netspec_command("summary", "resnet18", "--depth", "1")
    assert run.returncode == 0, run.stderr
    assert "Total parameters:      11,689,512" in run.stdout
    assert "Total MACs:            1,814,073,344 (1.81 G)" in run.stdout
    assert re.search(r"\n  layer1\.0 +basic \(folded\) +\[1, 64, 56, 56\] +73,984 +231,211,008\n", run.stdout)


def test_summary_json_and_errors(capsys):
    code, out, _ = run_main(capsys, "summary", str(FIXTURES / "valid_small.yaml"), "-p", "width=2", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["params"] == {"width": 2, "num_classes": 10}
    assert data["totals"]["params"] == (3 * 2 * 9 + 2) + (2 * 4 * 9 + 4) + (4 * 10 + 10)
    code, out, err = run_main(capsys, "summary", str(FIXTURES / "invalid_stride.yaml"))
    assert code == 1 and out == ""
    assert "invalid_stride.yaml:8:55: error[NS144]" in err


def test_graph_mermaid():
    pytest.importorskip("netspec._draw")
    run = netspec_command("graph", "lenet5", "--format", "mermaid")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("flowchart")
    assert "conv1" in run.stdout


def test_graph_dot_to_file(capsys, tmp_path):
    pytest.importorskip("netspec._draw")
    code, out, err = run_main(capsys, "graph", "lenet5", "--format", "dot", "-o", str(tmp_path / "g.dot"))
    assert (code, out, err) == (0, "", "")
    assert "digraph" in (tmp_path / "g.dot").read_text()


def test_schema(capsys, tmp_path):
    run = netspec_command("schema")
    assert run.returncode == 0
    assert json.loads(run.stdout) == netspec.json_schema()
    code, _, _ = run_main(capsys, "schema", "-o", str(tmp_path / "schema.json"))
    assert code == 0
    assert json.loads((tmp_path / "schema.json").read_text()) == netspec.json_schema()


def test_list():
    run = netspec_command("list")
    assert run.returncode == 0
    names = [line.split()[0] for line in run.stdout.splitlines()]
    assert names == netspec.list_specs()
    assert re.search(r"^resnet18 +ResNet-18 image classifier", run.stdout, re.MULTILINE)


# --- export -------------------------------------------------------------------------------------


def test_export_python_writes_a_torch_only_file(tmp_path):
    out = tmp_path / "lenet.py"
    run = netspec_command("export", "lenet5", "--to", "python", str(out), "-p", "num_classes=3")
    assert run.returncode == 0, run.stderr
    source = out.read_text()
    assert "num_classes = 3" in source and "import netspec" not in source
    assert "self.fc3 = nn.Linear(in_features=84, out_features=3, bias=True)" in source


def test_export_torchscript(capsys, tmp_path):
    out = tmp_path / "unet.pt"
    torch.manual_seed(0)
    code, _, err = run_main(capsys, "export", "unet", "--to", "torchscript", str(out), "-p", "width=2")
    assert code == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 deprecates TorchScript this way
        loaded = torch.jit.load(str(out)).eval()
    torch.manual_seed(0)
    model = netspec.build("unet", params={"width": 2}).eval()
    x = torch.randn(1, 1, 188, 188)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))


def test_export_onnx_without_the_extra_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if `netspec[onnx]` were not installed
    assert_one_line_usage_error(
        *run_main(capsys, "export", "lenet5", "--to", "onnx", str(tmp_path / "m.onnx")), "install netspec[onnx]"
    )


def test_export_onnx_writes_a_checked_model(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    out = tmp_path / "lenet5.onnx"
    done = subprocess.run(
        [sys.executable, "-m", "netspec", "export", "lenet5", "--to", "onnx", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    onnx.checker.check_model(onnx.load(str(out)))


def test_export_of_an_invalid_spec_reports_it(capsys, tmp_path):
    code, out, err = run_main(
        capsys, "export", str(FIXTURES / "invalid_stride.yaml"), "--to", "python", str(tmp_path / "x.py")
    )
    assert code == 1 and out == ""
    assert "error[NS144]" in err
    assert not os.path.exists(tmp_path / "x.py")


def test_limit_flags_bound_every_command_that_reads_a_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_main(capsys, "validate", "lenet5", "--max-graph-nodes", "5")
    assert code == 1 and "lenet5.yaml:20:10: error[NS134]" in out and "--max-graph-nodes" in out
    code, out, _ = run_main(capsys, "validate", "lenet5", "--max-work", "10", "--format", "json")
    (error,) = json.loads(out)["files"][0]["diagnostics"]
    assert (error["code"], error["line"], error["column"]) == ("NS134", 1, 1) and "parse grew" in error["message"]
    assert run_main(capsys, "validate", "lenet5", "--max-graph-nodes", "10_000", "--max-work", "1,000,000")[0] == 0
    code, _, err = run_main(capsys, "summary", "lenet5", "--max-graph-nodes", "3")
    assert code == 1 and "error[NS134]" in err
    code, _, err = run_main(capsys, "graph", "lenet5", "--max-work", "200")
    assert code == 1 and "error[NS134]" in err and "grew past the budget" in err  # reading and drawing: one request
    code, _, err = run_main(capsys, "export", "lenet5", "--to", "python", str(tmp_path / "m.py"), "--max-params", "100")
    assert code == 1 and "lenet5.yaml:22:8: error[NS190]" in err and "over the budget of 100" in err
    assert not (tmp_path / "m.py").exists()


def test_max_params_bounds_validate_summary_and_graph(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "validate", "lenet5", "--max-params", "100")
    assert code == 1 and "lenet5.yaml:22:8: error[NS190]" in out and "over the budget of 100" in out
    for command in ("summary", "graph"):
        code, out, err = run_main(capsys, command, "lenet5", "--max-params", "100")
        assert code == 1 and out == "" and "lenet5.yaml:22:8: error[NS190]" in err
    assert run_main(capsys, "validate", "lenet5", "--max-params", "100000")[0] == 0


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", ""])
def test_a_limit_flag_takes_a_positive_integer(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = run_main(capsys, "validate", "lenet5", "--max-work", value)
    assert code == 2 and "--max-work: expected a positive integer" in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_standard_output_is_exit_2_without_a_traceback() -> None:
    with open("/dev/full", "w") as full:
        for args in (("validate", "invalid_stride.yaml"), ("list",)):
            done = subprocess.run(
                [sys.executable, "-m", "netspec", *args],
                check=False,
                cwd=FIXTURES,
                stdout=full,
                stderr=subprocess.PIPE,
                timeout=120,
            )
            assert done.returncode == 2
            assert done.stderr.decode() == "netspec: error: cannot write the output: No space left on device\n"


def test_a_closed_pipe_keeps_the_verdict() -> None:
    for args, verdict in ((("validate", "invalid_stride.yaml"), 1), (("list",), 0)):
        process = subprocess.Popen(
            [sys.executable, "-m", "netspec", *args], cwd=FIXTURES, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None
        process.stdout.close()  # the reader is gone before anything is written
        assert process.stderr is not None
        with process.stderr:
            assert process.wait(timeout=120) == verdict
            assert process.stderr.read() == b""
