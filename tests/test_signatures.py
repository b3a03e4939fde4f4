"""The signature snapshot the catalog reads instead of torch, and the tools that run without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netspec import _signatures
from netspec._ops import catalog

ROOT = Path(__file__).resolve().parents[1]


def _live() -> dict[str, _signatures.Signature]:
    from netspec import _ops

    with _signatures.reading_torch() as recorded:
        _ops.builtin_list()
    return dict(recorded)


def test_snapshot_matches_installed_torch():
    problems = _signatures.compare(_live())
    assert not problems, (
        "netspec/_torch_signatures.py is stale for:\n  "
        + "\n  ".join(problems)
        + f"\nrun `{_signatures.GENERATOR}` and commit the result"
    )


def test_module_attributes_match_installed_torch():
    """Read in a fresh process, as the generator does: other tests' imports add attributes to nn.Module."""
    from netspec._torch_signatures import MODULE_ATTRIBUTES

    script = "import json; from netspec import _signatures as s; print(json.dumps(sorted(s._read_module_attributes())))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert set(json.loads(done.stdout)) == MODULE_ATTRIBUTES, f"run `{_signatures.GENERATOR}`"


def test_snapshot_text_is_what_the_generator_writes():
    """Also catches a hand edit: the file is exactly the generator's output for the installed torch."""
    import torch

    from netspec._torch_signatures import MODULE_ATTRIBUTES  # compared with torch's by the test above

    text = _signatures.render_snapshot(_live(), MODULE_ATTRIBUTES, torch.__version__.split("+")[0])
    assert (ROOT / _signatures.SNAPSHOT_FILE).read_text(encoding="utf-8") == text, f"run `{_signatures.GENERATOR}`"


def test_compare_names_each_stale_class():
    live = _live()
    conv = live["torch.nn.Conv2d"]
    changed = _signatures.Signature(
        tuple(a for a in conv.args if a.name != "padding_mode")
        + (_signatures.ArgSpec("new_flag", bool, False, False),),
        conv.doc,
    )
    live["torch.nn.Conv2d"] = changed
    live["torch.nn.Bilinear"] = conv
    del live["torch.nn.ReLU"]
    problems = _signatures.compare(live)
    assert "torch.nn.Conv2d: arguments differ (`new_flag`, `padding_mode`)" in problems
    assert "torch.nn.Bilinear: missing from the snapshot" in problems
    assert "torch.nn.ReLU: in the snapshot, but no op names it any more" in problems


def test_a_class_missing_from_the_snapshot_names_the_generator():
    with pytest.raises(_signatures.StaleSignatures, match=r"torch\.nn\.Bilinear.*gen_signatures\.py"):
        _signatures.signature("torch.nn.Bilinear")


def test_catalog_args_equal_the_classes_own_signatures():
    """Every built-in module op accepts exactly what its class's `__init__` accepts (less what it excludes)."""
    import inspect

    for name, op in catalog().items():
        if op.kind != "module" or not isinstance(op.target, str) or not op.target.startswith("torch."):
            continue
        signature = inspect.signature(op.resolve().__init__).parameters.values()
        if any(p.kind == p.VAR_POSITIONAL for p in signature):
            continue  # `LSTM(*args)`: its arguments are `RNNBase`'s, compared through the snapshot test
        params = {p.name for p in signature if p.kind != p.VAR_KEYWORD} - {"self", "device", "dtype"}
        excluded = params - set(op.args)
        assert set(op.args) <= params, name
        assert excluded <= {"min_value", "max_value", "_weight", "_freeze"}, (name, excluded)


def test_targets_resolve_lazily_to_the_torch_classes():
    from torch import nn

    op = catalog()["Conv2d"]
    assert op.target == "torch.nn.Conv2d"
    assert op.resolve() is nn.Conv2d
    import operator

    assert catalog()["add"].resolve() is operator.add


_NO_TORCH_SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys, traceback

    class _Witness:  # records where torch is first imported from, to say which import to make lazy
        stack = None

        def find_spec(self, name, path=None, target=None):
            if name == "torch" and _Witness.stack is None:
                _Witness.stack = "".join(traceback.format_stack(limit=12)[:-1])
            return None

    sys.meta_path.insert(0, _Witness())
    from netspec._cli import main

    results = {}
    for argv in ARGVS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        results[" ".join(argv)] = [code, len(out.getvalue())]
    import netspec
    netspec.validate("specs/unet.yaml")
    netspec.summarize("specs/resnet18.yaml")
    netspec.json_schema()
    torch_modules = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    print(json.dumps({"results": results, "torch": torch_modules[:10], "stack": _Witness.stack}))
    """
)


def test_validate_summary_graph_schema_import_no_torch():
    argvs = [
        ["validate", "specs/resnet18.yaml", "specs/unet.yaml", "tests/cli_fixtures/invalid_stride.yaml"],
        ["validate", "specs"],
        ["summary", "specs/resnet18.yaml"],
        ["summary", "--format", "json", "specs/m5.yaml"],
        ["graph", "specs/unet.yaml"],
        ["graph", "--format", "dot", "specs/resnet50.yaml"],
        ["schema"],
    ]
    script = f"ARGVS = {argvs!r}\n" + _NO_TORCH_SCRIPT
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch"] == [], "torch was imported here (import it inside the function that needs it):\n" + str(
        report["stack"]
    )
    codes = {argv: code for argv, (code, _) in report["results"].items()}
    assert codes.pop(" ".join(argvs[0])) == 1  # the invalid fixture is reported, without torch
    assert set(codes.values()) == {0}, codes
    assert all(length > 0 for _, length in report["results"].values())


def test_a_plugin_registered_by_path_validates_without_torch(tmp_path: Path):
    """A real entry point (a dist-info on the path) whose ops are registered by dotted path."""
    package = tmp_path / "shrinkplug"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            import netspec

            def register():
                netspec.register_op(
                    "PluginShrink",
                    "torch.nn.Softshrink",
                    args={"lambd": (float, 0.5)},
                    shape=lambda inputs, args, check: inputs[0],
                    param_count=lambda args: 0,
                )
            """
        )
    )
    info = tmp_path / "shrinkplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shrinkplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[netspec.ops]\nshrinkplug = shrinkplug:register\n")
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "netspec: 1\nname: shrink\ninputs: {x: [N, 3, H, W]}\ndims: {H: 8, W: 8}\n"
        "nodes:\n  conv: {op: Conv2d, out_channels: 4, kernel_size: 3}\n  shrink: {op: PluginShrink, lambd: 0.25}\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.read_text().replace("lambd: 0.25", "lambda: 0.25"))
    script = textwrap.dedent(
        f"""
        import json, sys
        import netspec
        netspec.validate({str(spec)!r})
        try:
            netspec.validate({str(bad)!r})
        except netspec.SpecError as err:
            message = str(err)
        enum = netspec.json_schema()["$defs"]["NodeDef"]["properties"]["op"]["anyOf"][0]["enum"]
        torch_modules = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print(json.dumps({{"message": message, "torch": torch_modules[:5], "in_schema": "PluginShrink" in enum}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch"] == []
    assert "`PluginShrink` has no argument `lambda`" in report["message"]
    assert "did you mean `lambd`" in report["message"]
    assert report["in_schema"]  # `netspec schema` includes the plugin's ops


def test_without_torch_installed_the_tools_work_and_build_says_what_to_install():
    """As in the base install (`pip install netspec`): torch cannot be imported at all."""
    script = textwrap.dedent(
        """
        import importlib.abc, json, sys

        class _NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, _NoTorch())
        import importlib.util
        importlib.util.find_spec = lambda name, *a: None if name == "torch" else _find(name, *a)
        """
    )
    script = script.replace("_find(name, *a)", "__import__('importlib.machinery').machinery.PathFinder.find_spec(name)")
    script += textwrap.dedent(
        """
        import netspec
        from netspec._cli import main
        report = {"validate": netspec.validate("specs/unet.yaml") == []}
        report["summary"] = netspec.summarize("resnet18").totals.params
        report["cli"] = [main(["validate", "specs"]), main(["graph", "lenet5"]), main(["schema"])]
        report["export"] = main(["export", "lenet5", "--to", "python", "out.py"])
        try:
            netspec.build("lenet5")
        except ModuleNotFoundError as err:
            report["build"] = str(err)
        print(json.dumps(report))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["validate"] and report["summary"] == 11_689_512
    assert report["cli"] == [0, 0, 0]
    assert report["export"] == 2
    assert "pip install 'netspec[torch]'" in report["build"]


def test_base_dependencies_leave_torch_to_an_extra():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.split(">")[0].split("=")[0].strip().lower() == "torch" for dep in project["dependencies"])
    assert any(dep.startswith("torch") for dep in project["optional-dependencies"]["torch"])
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "entry: netspec validate --specs-only" in hooks and "additional_dependencies" not in hooks


def test_a_changed_docstring_is_named() -> None:
    live = _live()
    conv = live["torch.nn.Conv2d"]
    live["torch.nn.Conv2d"] = _signatures.Signature(conv.args, conv.doc + " More.")
    assert _signatures.compare(live) == ["torch.nn.Conv2d: the docstring differs"]


def test_signature_arg_specs_are_by_name_in_order() -> None:
    conv = _signatures.signature("torch.nn.Conv2d")
    specs = conv.arg_specs()
    assert list(specs) == [a.name for a in conv.args]
    assert specs["in_channels"].required and not specs["stride"].required and specs["stride"].default == 1


def test_module_attributes_come_from_the_snapshot_or_from_torch() -> None:
    from netspec._torch_signatures import MODULE_ATTRIBUTES

    assert _signatures.module_attributes() is MODULE_ATTRIBUTES
    with _signatures.reading_torch():
        live = _signatures.module_attributes()
    assert {"forward", "training", "_modules", "register_buffer"} <= live


@pytest.mark.parametrize(
    ("value", "source"),
    [((1,), "(1,)"), ((1, 2), "(1, 2)"), ([0.5, None], "[0.5, None]"), (('a"b', True), "('a\"b', True)")],
)
def test_defaults_are_written_as_python_source(value: object, source: str) -> None:
    text = _signatures._value_source(value)
    assert text == source and eval(text) == value


def test_values_and_annotations_the_snapshot_cannot_write_are_named() -> None:
    with pytest.raises(TypeError, match=r"cannot write the default \{1\}"):
        _signatures._value_source({1})
    with pytest.raises(TypeError, match=r"cannot write the annotation <class 'pathlib.Path'>"):
        _signatures._type_source(Path)
