"""`extends` reaches only the spec's own folder tree and the bundled specs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile import HEADER, located_error, spec_with_nodes

import netspec


def child_text(ref: str) -> str:
    return HEADER + f"extends: {ref}\nnodes:\n  b: ReLU\noutputs: b\n"  # b is meant as the new output


@pytest.fixture()
def tree(tmp_path):
    """`outside/secret.yaml` (a valid spec) beside `project/`, where the hostile specs live."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(spec_with_nodes("  a: ReLU\n"))
    (tmp_path / "project" / "sub").mkdir(parents=True)
    (tmp_path / "project" / "base.yaml").write_text(spec_with_nodes("  a: ReLU\n"))
    return tmp_path


def write_child(folder, ref: str):
    path = folder / "child.yaml"
    path.write_text(child_text(ref))
    return path


def test_relative_file_inside_the_tree_is_allowed(tree) -> None:
    (tree / "project" / "sub" / "base.yaml").write_text(spec_with_nodes("  a: ReLU\n"))
    spec = netspec.load(write_child(tree / "project", "sub/base.yaml"))
    assert list(spec.nodes) == ["a", "b"]


def test_dotdot_out_of_the_specs_own_folder_is_refused(tree) -> None:
    err = located_error(lambda: netspec.load(write_child(tree / "project" / "sub", "../base.yaml")))
    assert err.errors[0].code == "NS104"


def test_parent_may_reach_anywhere_in_the_first_files_tree(tree) -> None:
    (tree / "project" / "sub" / "middle.yaml").write_text(child_text("../base.yaml"))
    spec = netspec.load(write_child(tree / "project", "sub/middle.yaml"))
    assert list(spec.nodes) == ["a", "b"]


def test_bundled_spec_is_allowed(tree) -> None:
    path = tree / "project" / "child.yaml"
    path.write_text("extends: lenet5\nparams: {num_classes: 3}\n")
    assert netspec.count_params(netspec.load(path)) < 61_706


@pytest.mark.parametrize(
    "ref",
    [
        "../outside/secret.yaml",
        "sub/../../outside/secret.yaml",
        "{abs}",
        "~/secret.yaml",
        "{abs_dir}/../outside/secret.yaml",
    ],
)
def test_escaping_reference_is_refused(tree, ref: str) -> None:
    ref = ref.replace("{abs}", str(tree / "outside" / "secret.yaml")).replace("{abs_dir}", str(tree / "project"))
    err = located_error(lambda: netspec.load(write_child(tree / "project", ref)))
    assert err.errors[0].code == "NS104" and err.errors[0].line == 4


def test_symlink_out_of_the_tree_is_refused(tree) -> None:
    os.symlink(tree / "outside" / "secret.yaml", tree / "project" / "link.yaml")
    err = located_error(lambda: netspec.load(write_child(tree / "project", "link.yaml")))
    assert err.errors[0].code == "NS104"


def test_symlinked_folder_out_of_the_tree_is_refused(tree) -> None:
    os.symlink(tree / "outside", tree / "project" / "linked")
    err = located_error(lambda: netspec.load(write_child(tree / "project", "linked/secret.yaml")))
    assert err.errors[0].code == "NS104"


def test_symlink_inside_the_tree_is_allowed(tree) -> None:
    os.symlink(tree / "project" / "base.yaml", tree / "project" / "sub" / "alias.yaml")
    spec = netspec.load(write_child(tree / "project", "sub/alias.yaml"))
    assert list(spec.nodes) == ["a", "b"]


def test_parent_chain_stays_in_the_first_files_tree(tree) -> None:
    """A parent may not reach further out than the file that started the chain."""
    (tree / "project" / "sub" / "middle.yaml").write_text(child_text("../../outside/secret.yaml"))
    err = located_error(lambda: netspec.load(write_child(tree / "project" / "sub", "middle.yaml")))
    assert err.errors[0].code == "NS104"


@pytest.mark.parametrize(
    "ref", ["/etc/passwd", "../x.yaml", "lenet5.yaml/../../x.yaml", "C:\\\\x.yaml", "\\\\\\\\server\\\\x.yaml"]
)
def test_text_specs_extend_bundled_specs_only(ref: str) -> None:
    err = located_error(lambda: netspec.loads(child_text(f'"{ref}"')))
    assert err.errors[0].code == "NS104"


@pytest.mark.parametrize("name", ["../specs/lenet5", "/etc/passwd", "lenet5\x00.yaml"])
def test_bundled_names_are_not_paths(name: str) -> None:
    with pytest.raises(netspec.SpecError):
        netspec.load(name)


# --- second review: the system's refusals are located SpecErrors, the chain shares the node limit ---


@pytest.mark.parametrize(
    ("ref", "reason"),
    [("a" * 300 + ".yaml", "too long"), ("x\\0.yaml", "NUL"), ("loop1.yaml", "loop of symbolic links")],
)
def test_extends_paths_the_system_refuses_are_located(tmp_path, ref: str, reason: str) -> None:
    (tmp_path / "loop1.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop1.yaml")
    child = tmp_path / "child.yaml"
    child.write_text(f'netspec: 1\nextends: "{ref}"\nname: t\n')
    err = located_error(lambda: netspec.load(child))
    first = err.errors[0]
    assert (first.code, first.line, first.column) == ("NS104", 2, 10)
    assert reason in first.message
    assert str(Path(netspec.__file__).parent) not in str(err)


@pytest.mark.parametrize("source", ["a" * 300 + ".yaml", "x\x00y.yaml"])
def test_sources_the_system_refuses_are_spec_errors(source: str) -> None:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(source)
    assert caught.value.diagnostics[0].code == "NS101"


def test_the_node_limit_covers_an_extends_chain(tmp_path) -> None:
    for k in range(4):
        ext = f"extends: c{k - 1}.yaml\n" if k else ""
        body = "".join(f"  n{k}_{i}: {{op: ReLU}}\n" for i in range(1000))
        out = f"outputs: n{k}_999\n"  # an extending spec says what its appended nodes are for
        (tmp_path / f"c{k}.yaml").write_text(f"netspec: 1\n{ext}name: t\ninputs: {{x: [N, 4]}}\nnodes:\n{body}{out}")
    limits = netspec.Limits(max_nodes=9000)  # each file holds about 4,000
    assert len(netspec.load(tmp_path / "c1.yaml", limits=limits).nodes) == 2000
    err = located_error(lambda: netspec.load(tmp_path / "c3.yaml", limits=limits))
    first = err.errors[0]
    assert (first.code, Path(first.file).name, first.line, first.column) == ("NS017", "c3.yaml", 2, 10)


def test_a_glob_does_not_follow_symlinks_that_loop_or_leave_the_tree(tmp_path, capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("netspec: 1\nname: secret\ninputs: {x: [N, 4]}\nnodes:\n  a: ReLU\n")
    tree = tmp_path / "specs"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "net.yaml").write_text("netspec: 1\nname: net\ninputs: {x: [N, 4]}\nnodes:\n  a: ReLU\n")
    for name in ("a", "b"):
        (tree / name).symlink_to(".")
    (tree / "sub" / "up").symlink_to("..")
    (tree / "away").symlink_to(outside)
    (tree / "leak.yaml").symlink_to(outside / "secret.yaml")
    from netspec._cli import _expand_one

    links: list[str] = []
    found = sorted(t.source.name for t, _ in _expand_one(f"{tree}/**/*.yaml", links))
    assert found == ["net.yaml"]
    assert [Path(link).name for link in links] == ["leak.yaml"]  # matched by the glob: counted
    links.clear()
    assert sorted(t.source.name for t, _ in _expand_one(str(tree), links)) == ["net.yaml"]
    assert sorted(Path(link).name for link in links) == ["a", "away", "b", "leak.yaml", "up"]


def test_errors_in_an_inherited_bundled_spec_never_show_the_install_path(tmp_path, monkeypatch, capsys) -> None:
    """An error inside the bundled part of a spec that extends one names `<bundled>/NAME` everywhere."""
    from netspec._cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("extends: resnet18\nparams: {num_classes: 3}\n")
    with pytest.raises(netspec.SpecError) as info:
        netspec.load("mine.yaml", limits=netspec.Limits(max_work=1000))
    diagnostic = info.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.file) == ("NS134", "<bundled>/resnet18.yaml")
    assert (diagnostic.line, diagnostic.column) == (21, 38)
    install = str(Path(netspec.__file__).parent.parent)
    outputs = [str(info.value)]
    for fmt in ("text", "json", "github"):
        assert main(["validate", "mine.yaml", "--max-work", "1000", "--format", fmt]) == 1
        outputs.append(capsys.readouterr().out)
    assert "<bundled>/resnet18.yaml:21:38" in outputs[1]
    assert json.loads(outputs[2])["files"][0]["diagnostics"][0]["file"] == "<bundled>/resnet18.yaml"
    for text in outputs:
        assert install not in text and "site-packages" not in text and "specs/resnet18" not in text


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_a_link_in_the_folder_to_a_file_outside_says_it_is_a_link(tree) -> None:
    (tree / "project" / "link_out.yaml").symlink_to(tree / "outside" / "secret.yaml")
    err = located_error(lambda: netspec.load(write_child(tree / "project", "link_out.yaml")))
    diagnostic = err.errors[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("NS104", HEADER.count("\n") + 1, 10)
    assert diagnostic.message == "cannot extend `link_out.yaml`: it is a link to a file outside this spec's folder"
    assert diagnostic.hint and "copy it into this spec's folder" in diagnostic.hint
    err = located_error(lambda: netspec.load(write_child(tree / "project", "../outside/secret.yaml")))
    assert err.errors[0].message == "cannot extend `../outside/secret.yaml`: it is outside this spec's folder"


def test_text_extending_a_file_is_told_to_load_the_file() -> None:
    err = located_error(lambda: netspec.loads(child_text("link_out.yaml")))
    diagnostic = err.errors[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("NS104", HEADER.count("\n") + 1, 10)
    assert diagnostic.hint and "`netspec.load(path)`" in diagnostic.hint and "pyproject" not in diagnostic.hint


def _chain(folder: Path, length: int) -> Path:
    """`c{length-1}.yaml` extends `c{length-2}.yaml` ... extends `c0.yaml`: a chain of `length` specs."""
    (folder / "c0.yaml").write_text(spec_with_nodes("  a: ReLU\n"))
    for k in range(1, length):
        (folder / f"c{k}.yaml").write_text(f"netspec: 1\nextends: c{k - 1}.yaml\nname: c{k}\n")
    return folder / f"c{length - 1}.yaml"


def test_an_extends_chain_holds_at_most_eight_specs(tmp_path) -> None:
    from netspec._extends import MAX_EXTENDS_DEPTH

    assert MAX_EXTENDS_DEPTH == 8  # as docs/errors.md says
    assert list(netspec.load(_chain(tmp_path, 8)).nodes) == ["a"]
    (tmp_path / "c8.yaml").write_text("netspec: 1\nextends: c7.yaml\nname: c8\n")
    err = located_error(lambda: netspec.load(tmp_path / "c8.yaml"))
    diagnostic = err.errors[0]
    # at the `extends` of the eighth spec, the one that would add a ninth
    assert (diagnostic.code, Path(diagnostic.file or "").name, diagnostic.line, diagnostic.column) == (
        "NS105",
        "c1.yaml",
        2,
        10,
    )
    assert diagnostic.message == (
        "`extends` chain deeper than 8 specs: c8.yaml -> c7.yaml -> ... -> c1.yaml -> `c0.yaml` would be spec 9"
    )
    assert diagnostic.hint and "at most 8 specs" in diagnostic.hint
