"""Project configuration: `[tool.netspec]` or netspec.toml sets the root `extends` may reach, the files
`netspec validate` checks, and strictness; folders skip YAML files that are not specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec
from netspec._cli import main
from netspec._config import find_config, glob_pattern

BASE = """netspec: 1
name: base
inputs: {x: [N, 3, 8, 8]}
nodes:
  conv: {op: Conv2d, out_channels: 4, kernel_size: 3}
  fc: {op: Linear, in: conv, out_features: 2}
"""
CHILD = "netspec: 1\nextends: ../base/net.yaml\nname: child\n"
WARNS = (
    "netspec: 1\nname: warns\nparams: {unused: 3}\ninputs: {x: [N, 4]}\nnodes:\n  fc: {op: Linear, out_features: 2}\n"
)


def _project(tmp_path: Path, config: str | None, *, file: str = "pyproject.toml") -> Path:
    root = tmp_path / "project"
    (root / "base").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "base" / "net.yaml").write_text(BASE)
    (root / "models" / "child.yaml").write_text(CHILD)
    if config is not None:
        (root / file).write_text(config)
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_extends_reaches_the_project_root(tmp_path: Path) -> None:
    root = _project(tmp_path, "[project]\nname = 'x'\n\n[tool.netspec]\n")
    assert netspec.load(root / "models" / "child.yaml").name == "child"


def test_netspec_toml_sets_the_root_too(tmp_path: Path) -> None:
    root = _project(tmp_path, "strict = false\n", file="netspec.toml")
    assert netspec.load(root / "models" / "child.yaml").name == "child"


def test_without_a_project_extends_stays_in_the_folder(tmp_path: Path) -> None:
    root = _project(tmp_path, "[project]\nname = 'x'\n")  # a pyproject.toml without [tool.netspec]
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(root / "models" / "child.yaml")
    assert caught.value.errors[0].code == "NS104"
    assert "outside this spec's folder" in caught.value.errors[0].message


def test_extends_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.netspec]\nroot = 'models'\n")
    (root / "models" / "sub").mkdir()
    (root / "models" / "sub" / "child.yaml").write_text(CHILD.replace("../base", "../../base"))
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(root / "models" / "sub" / "child.yaml")
    (error,) = caught.value.errors
    assert error.code == "NS104" and "outside the project root" in error.message
    (tmp_path / "outside.yaml").write_text(BASE)
    (root / "models" / "sub" / "escape.yaml").write_text("netspec: 1\nextends: ../../../outside.yaml\nname: e\n")
    with pytest.raises(netspec.SpecError, match="outside the project root"):
        netspec.load(root / "models" / "sub" / "escape.yaml")
    (root / "models" / "sub" / "inside.yaml").write_text("netspec: 1\nextends: ../child.yaml\nname: i\n")
    (root / "models" / "child.yaml").write_text(BASE)
    assert netspec.load(root / "models" / "sub" / "inside.yaml").name == "i"  # up to the root is fine


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ("[tool.netspec]\nroot = '..'\n", "outside the folder"),
        ("[tool.netspec]\nstrict = 'yes'\n", "`strict` must be a boolean"),
        ("[tool.netspec]\nexclud = ['a']\n", "unknown setting `exclud`"),
        ("[tool.netspec]\ninclude = 'specs/*'\n", "`include` must be a list of globs"),
        ("[tool.netspec\n", "not valid TOML"),
        ("[tool.netspec]\nroot = 'missing'\n", "is not a folder"),
    ],
)
def test_a_broken_configuration_is_reported_at_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, words: str
) -> None:
    root = _project(tmp_path, config)
    with pytest.raises(netspec.SpecError, match=words) as caught:
        netspec.load(root / "models" / "child.yaml")
    assert caught.value.errors[0].code == "NS030"
    assert caught.value.errors[0].file.endswith("pyproject.toml")
    code, out = _run(capsys, "validate", str(root))
    assert code == 1 and "NS030" in out and words.split("`")[0] in out


def test_misspelt_setting_gets_a_suggestion(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.netspec]\nexclued = []\n")
    with pytest.raises(netspec.SpecError) as caught:
        find_config(root)
    assert "did you mean `exclude`" in (caught.value.errors[0].hint or "")


def test_validate_a_folder_skips_yaml_that_is_not_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "[tool.netspec]\n")
    (root / ".pre-commit-config.yaml").write_text("repos:\n  - repo: local\n    hooks: []\n")
    (root / "compose.yml").write_text("services:\n  web: {image: nginx}\n")
    (root / "schema.json").write_text(json.dumps({"properties": {"nodes": {}}}))
    (root / "flow.json").write_text(json.dumps({"name": "f", "inputs": {"x": ["N", 4]}, "nodes": ["ReLU"]}))
    (root / "empty.yaml").write_text("")
    code, out = _run(capsys, "validate", str(root))
    assert code == 0, out
    assert out.strip().endswith("0 errors, 0 warnings in 3 files (skipped 4: 4 not specs)")
    code, out = _run(capsys, "validate", "--format", "json", str(root))
    report = json.loads(out)
    assert report["counts"]["files"] == 3
    assert sorted(Path(p).name for p in report["skipped"]["not_specs"]) == [
        ".pre-commit-config.yaml",
        "compose.yml",
        "empty.yaml",
        "schema.json",
    ]


def test_globs_and_include_skip_files_that_are_not_specs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, '[tool.netspec]\ninclude = ["**/*.yaml"]\n')
    (root / "models" / "compose.yaml").write_text("services: {web: {image: nginx}}\n")
    monkeypatch.chdir(root)
    for argv in (("validate", "**/*.yaml"), ("validate",)):
        code, out = _run(capsys, *argv)
        assert (code, out) == (0, "0 errors, 0 warnings in 2 files (skipped 1: 1 not a spec)\n")
    code, out = _run(capsys, "validate", "--format", "github", "models/*.yaml")
    assert code == 0 and "compose.yaml" not in out
    assert _run(capsys, "validate", "models/compose.yaml")[0] == 1  # named: checked


def test_named_files_are_checked_unless_specs_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "workflow.yaml"
    other.write_text("on: push\njobs: {}\n")
    code, _ = _run(capsys, "validate", str(other))
    assert code == 1  # named explicitly: checked, and it is not a valid spec
    code, out = _run(capsys, "validate", "--specs-only", str(other))
    assert code == 0 and "in 0 files (skipped 1: 1 not a spec)" in out


def test_include_exclude_and_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(
        tmp_path, "[tool.netspec]\ninclude = ['models/**', 'base/*.yaml']\nexclude = ['models/drafts']\nstrict = true\n"
    )
    (root / "models" / "drafts").mkdir()
    (root / "models" / "drafts" / "wip.yaml").write_text("netspec: 1\nname: wip\nnodes: {}\n")
    (root / "models" / "warns.yaml").write_text(WARNS)
    (root / "notes").mkdir()
    (root / "notes" / "old.yaml").write_text("netspec: 1\nname: old\n")
    code, out = _run(capsys, "validate", str(root))
    assert "warns.yaml" in out and "error[NS160]" in out  # strict: the warning is an error
    assert "wip.yaml" not in out and "old.yaml" not in out
    assert out.strip().endswith("(skipped 2: 2 excluded by the project configuration)")
    assert code == 1
    code, out = _run(capsys, "validate", str(root / "models" / "drafts" / "wip.yaml"))
    assert code == 0 and "skipped 1" in out  # the project's excludes hold for named files too


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("specs/*.yaml", ["specs/a.yaml"], ["specs/x/a.yaml", "a.yaml"]),
        ("specs/**/*.yaml", ["specs/a.yaml", "specs/x/y/a.yaml"], ["other/a.yaml"]),
        ("**/drafts", ["drafts/a.yaml", "x/drafts/b.json"], ["drafts.yaml"]),
        ("net?.yaml", ["net1.yaml"], ["net12.yaml"]),
        ("[ab].yaml", ["a.yaml"], ["c.yaml"]),
        ("[!ab].yaml", ["c.yaml"], ["a.yaml"]),
    ],
)
def test_glob_patterns(glob: str, matches: list[str], misses: list[str]) -> None:
    pattern = glob_pattern(glob)
    assert all(pattern.match(m) for m in matches)
    assert not any(pattern.match(m) for m in misses)


def test_validate_dot_in_this_repository_checks_specs_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root / "specs")
    code, out = _run(capsys, "validate", ".")
    assert code == 0
    assert f"in {len(list(Path('.').glob('*.yaml')))} files" in out


@pytest.mark.parametrize(
    ("config", "position", "words"),
    [
        ("[project]\nname = 'x'\n\n[tool.netspec]\ninclude = ['a'\nstrict = true\n", (6, 1), "is not valid TOML"),
        ("[tool.netspec]\nstrict = tru\n", (2, 10), "is not valid TOML: invalid value"),
        ("[tool.netspec]\nroot = '.'\n  strikt = true\n", (3, 3), "unknown setting `strikt`"),
        ("[tool.other]\nx = 1\n[tool.netspec]\nstrict = 'yes'\n", (4, 1), "`strict` must be a boolean"),
        ("[tool.netspec]\nexclude = ['/abs']\n", (2, 1), "must be relative to the root"),
        ("[tool.netspec]\nroot = '..'\n", (2, 1), "is outside the folder"),
        ("[tool.netspec]\nstrict = true\n  include = ['[z-a]']\n", (3, 3), "has the reversed range `z-a`"),
        ("[tool.netspec]\nexclude = ['a' , '" + "*" * 1100 + "']\n", (2, 1), "is longer than 1024 characters"),
    ],
)
def test_configuration_errors_have_a_line_and_column(
    tmp_path: Path, config: str, position: tuple[int, int], words: str
) -> None:
    root = _project(tmp_path, config)
    with pytest.raises(netspec.SpecError) as err:
        netspec.load(root / "models" / "child.yaml")
    (found,) = err.value.diagnostics
    assert found.code == "NS030" and words in found.message
    assert (found.line, found.column) == position
    assert "(at line" not in found.message
    assert f"{position[0]} |" in str(err.value)  # the excerpt of the configuration file


def test_a_netspec_toml_setting_is_located_at_the_top_level(tmp_path: Path) -> None:
    root = _project(tmp_path, "# settings\ninclude = ['models/*.yaml']\nstrikt = true\n", file="netspec.toml")
    with pytest.raises(netspec.SpecError) as err:
        netspec.load(root / "models" / "child.yaml")
    assert (err.value.diagnostics[0].line, err.value.diagnostics[0].column) == (3, 1)


def test_validate_without_a_path_checks_the_configured_include(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, "[tool.netspec]\ninclude = ['models/*.yaml']\n")
    (root / "models" / "bad.yaml").write_text("netspec: 1\nname: bad\nnodes: {}\n")
    (root / "base" / "bad.yaml").write_text("netspec: 1\nname: bad\nnodes: {}\n")  # not included
    monkeypatch.chdir(root / "base")  # from a folder inside the project
    code, out = _run(capsys, "validate")
    assert code == 1 and "in 2 files" in out
    assert "models/bad.yaml" in out and "base/bad.yaml" not in out
    (root / "models" / "bad.yaml").unlink()
    monkeypatch.chdir(root)
    assert _run(capsys, "validate")[0] == 0


def test_validate_without_a_path_or_include_checks_the_whole_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, '[tool.netspec]\nroot = "."\n')
    (root / "compose.yaml").write_text("services: {web: {image: nginx}}\n")
    monkeypatch.chdir(root / "models")  # the project is found from the working folder up
    code, out = _run(capsys, "validate")
    assert (code, out) == (0, "0 errors, 0 warnings in 2 files (skipped 1: 1 not a spec)\n")
    monkeypatch.chdir(tmp_path)
    code, out = _run(capsys, "validate")
    assert code == 2 and "give a PATH" in out
    broken = _project(tmp_path / "broken", "[tool.netspec]\ninclude = [1]\n")
    monkeypatch.chdir(broken)
    code, out = _run(capsys, "validate")
    assert code == 1 and "NS030" in out and "pyproject.toml:2:1" in out


@pytest.mark.parametrize(
    ("config", "position", "words"),
    [
        ("[tool.netspec]\ninclude = [", (2, 12), "invalid value"),  # tomllib: "(at end of document)"
        ("[tool]\nnetspec.strikt = true\n", (None, None), "unknown setting `strikt`"),  # a dotted key
        ("[tool.netspec]\n[tool.other]\nstrikt = 1\n", None, None),  # not netspec's
        ("[tool]\nnetspec = 3\n", (None, None), "must be a table"),
    ],
)
def test_configuration_errors_that_cannot_be_placed_say_so(
    tmp_path: Path, config: str, position: tuple[int | None, int | None] | None, words: str | None
) -> None:
    root = _project(tmp_path, config)
    if words is None:
        assert netspec.load(root / "models" / "child.yaml").name == "child"
        return
    with pytest.raises(netspec.SpecError) as err:
        netspec.load(root / "models" / "child.yaml")
    (found,) = err.value.diagnostics
    assert words in found.message and (found.line, found.column) == position


def test_the_configuration_sets_the_limits_each_spec_is_checked_under(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, "[tool.netspec]\nmax_graph_nodes = 1\nmax_params = 100000\n")
    assert find_config(root).limits == (("max_graph_nodes", 1), ("max_params", 100_000))
    code, out = _run(capsys, "validate", str(root / "base" / "net.yaml"))
    assert code == 1 and "net.yaml:6:7: error[NS134]" in out and "more than 1 nodes" in out
    code, out = _run(capsys, "validate", "--max-graph-nodes", "2", str(root / "base" / "net.yaml"))
    assert code == 0, out  # the command line wins over the configuration
    code, out = _run(capsys, "summary", "--max-graph-nodes", "2", "--max-params", "10", str(root / "base" / "net.yaml"))
    assert code == 1 and "net.yaml:5:9: error[NS190]" in out  # a summary refuses what `build` refuses
    code, out = _run(capsys, "summary", "--max-graph-nodes", "2", str(root / "base" / "net.yaml"))
    assert code == 0, out  # under the configured 100,000
    out_file = tmp_path / "net.py"
    code, out = _run(capsys, "export", str(root / "base" / "net.yaml"), "--to", "python", str(out_file))
    assert code == 1 and "error[NS134]" in out  # the configuration applies to every command
    code, out = _run(
        capsys, "export", str(root / "base" / "net.yaml"), "--to", "python", str(out_file), "--max-graph-nodes", "5"
    )
    assert code == 0 and out_file.exists()  # 440 parameters: under the configured budget


@pytest.mark.parametrize("value", ["0", "-5", "true", "'10'", "1.5"])
def test_a_limit_in_the_configuration_must_be_a_positive_integer(tmp_path: Path, value: str) -> None:
    root = _project(tmp_path, f"[tool.netspec]\nstrict = true\nmax_work = {value}\n")
    with pytest.raises(netspec.SpecError) as err:
        find_config(root)
    (found,) = err.value.diagnostics
    assert found.code == "NS030" and "`max_work` must be a positive integer" in found.message
    assert (found.line, found.column) == (3, 1)


def test_a_misspelt_limit_gets_a_suggestion(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.netspec]\nmax_graph_node = 10\n")
    with pytest.raises(netspec.SpecError) as err:
        find_config(root)
    assert "max_graph_nodes" in (err.value.diagnostics[0].hint or "")


def test_every_wrong_setting_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = '[tool.netspec]\nmax_params = "big"\nmax_work = 0\nstrictt = true\ninclude = ["[z-a]", "/abs"]\n'
    root = _project(tmp_path, config)
    with pytest.raises(netspec.SpecError) as err:
        find_config(root)
    found = [(d.code, d.line, d.column) for d in err.value.diagnostics]
    assert found == [("NS030", 2, 1), ("NS030", 3, 1), ("NS030", 4, 1), ("NS030", 5, 1), ("NS030", 5, 1)]
    assert "did you mean `strict`" in (err.value.diagnostics[2].hint or "")
    code, out = _run(capsys, "validate", str(root / "models" / "child.yaml"))
    assert code == 1 and out.count("error[NS030]") == 5


def test_a_limit_hint_names_the_setting_that_set_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "[tool.netspec]\nmax_graph_nodes = 1\nmax_params = 10\n")
    spec = str(root / "base" / "net.yaml")
    code, out = _run(capsys, "validate", spec)
    assert code == 1 and "here the limit is `max_graph_nodes = 1` under `[tool.netspec]`" in out
    code, out = _run(capsys, "summary", spec, "--max-graph-nodes", "50")
    assert code == 1 and "here the limit is `max_params = 10` under `[tool.netspec]`" in out
    code, out = _run(capsys, "validate", spec, "--max-graph-nodes", "1")
    assert code == 1 and "[tool.netspec]" not in out  # the flag set it
