"""`extends` reaches only the spec's own folder tree and the bundled specs."""

from __future__ import annotations

import os

import pytest
from hostile import HEADER, located_error, spec_with_nodes

import netspec


def child_text(ref: str) -> str:
    return HEADER + f"extends: {ref}\nnodes:\n  b: ReLU\n"


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
