"""The examples in the README and the guides run, so the documentation cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import netspec

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [ROOT / "README.md", ROOT / "docs" / "getting-started.md"]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == language]


PYTHON_EXAMPLES = [(p.name, i, code) for p in GUIDES for i, code in enumerate(_blocks(p, "python"))]
# Pages whose examples build on each other: each page runs top to bottom in one namespace.
SEQUENTIAL_PAGES = ["custom-ops.md", "zoo.md", "security.md", "import.md", "deploy.md"]
YAML_EXAMPLES = [
    (p.name, i, text) for p in GUIDES for i, text in enumerate(_blocks(p, "yaml")) if text.startswith("netspec:")
]


@pytest.mark.parametrize(("doc", "index", "code"), PYTHON_EXAMPLES, ids=[f"{d}-{i}" for d, i, _ in PYTHON_EXAMPLES])
def test_python_example_runs(doc: str, index: int, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(code, f"{doc}[{index}]", "exec"), {"__name__": "__doc_example__"})


@pytest.mark.parametrize("page", SEQUENTIAL_PAGES)
def test_page_examples_run_in_order(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from netspec._ops import catalog, unregister_op

    monkeypatch.chdir(ROOT)
    before = set(catalog())
    namespace = {"__name__": "__doc_example__"}
    try:
        for index, code in enumerate(_blocks(ROOT / "docs" / page, "python")):
            exec(compile(code, f"{page}[{index}]", "exec"), namespace)
    finally:
        for name in set(catalog()) - before:
            unregister_op(name)


@pytest.mark.parametrize(("doc", "index", "text"), YAML_EXAMPLES, ids=[f"{d}-{i}" for d, i, _ in YAML_EXAMPLES])
def test_yaml_example_loads(doc: str, index: int, text: str) -> None:
    assert netspec.loads(text).name


def test_readme_example_is_the_example_file() -> None:
    readme_spec = next(t for t in _blocks(ROOT / "README.md", "yaml") if t.startswith("netspec:"))
    example = (ROOT / "examples" / "tiny_cnn.yaml").read_text()
    assert readme_spec.strip() in example


def test_op_catalog_page_is_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_ops", ROOT / "tools" / "gen_ops.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "ops.md").read_text()
    assert module.render() == current, "docs/ops.md is out of date: run `python tools/gen_ops.py`"


def test_readme_summary_is_what_the_command_prints() -> None:
    import netspec._summary as summary

    shown = re.search(
        r"`netspec summary examples/tiny_cnn.yaml` prints:\n\n```text\n(.*?)\n```",
        (ROOT / "README.md").read_text(),
        re.DOTALL,
    )
    assert shown, "README lost its summary example"
    assert summary.summarize(str(ROOT / "examples" / "tiny_cnn.yaml")).render().rstrip() == shown.group(1)


def test_cli_page_lists_what_netspec_list_prints(capsys: pytest.CaptureFixture[str]) -> None:
    from netspec._cli import main

    assert main(["list"]) == 0
    shown = re.search(r"\$ netspec list\n(.*?)```", (ROOT / "docs" / "cli.md").read_text(), re.DOTALL)
    assert shown, "docs/cli.md lost its `netspec list` example"
    assert shown.group(1) == capsys.readouterr().out, "update the `netspec list` block in docs/cli.md"


def test_zoo_page_names_every_bundled_spec() -> None:
    zoo = (ROOT / "docs" / "zoo.md").read_text()
    assert [name for name in netspec.list_specs() if f"\n## {name}\n" not in zoo] == []


OPS_EXAMPLES = [text for text in _blocks(ROOT / "docs" / "ops.md", "yaml") if text.startswith("netspec:")]


@pytest.mark.parametrize("text", OPS_EXAMPLES, ids=[f"ops-{i}" for i in range(len(OPS_EXAMPLES))])
def test_op_catalog_example_validates_and_builds(text: str) -> None:
    spec = netspec.loads(text)
    assert spec.warnings == []
    assert netspec.validate(spec) == []
    assert isinstance(netspec.build(spec), torch.nn.Module)


def test_readme_test_command_is_what_ci_runs() -> None:
    """Each step of the README's test command after the install is a line of `.ci/run`, in order."""
    block = next(b for b in _blocks(ROOT / "README.md", "sh") if "pytest" in b)
    steps = [s.strip() for s in block.strip().split("&&")]
    checks = steps[next(i for i, s in enumerate(steps) if s.startswith("pip install -e")) + 1 :]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    runs = [line for line in ci if line and not line.startswith(("#", "python -m pip", "python3 -m venv", ". "))]
    positions = [ci.index(step) for step in checks]
    assert positions == sorted(positions), "the README's checks run in another order than CI's"
    assert [line for line in runs if line in checks] == checks
    assert checks[-1].startswith("python -m pytest")
    pins = re.compile(r"\btorch(?:vision)?==[0-9.]+")
    assert set(pins.findall(block)) == set(pins.findall("\n".join(ci))), "README and CI pin other torch versions"


CLI_OUTPUTS = [
    "netspec summary resnet18 --depth 0",
    "netspec summary unet --depth 1 -p width=16 --input-shape x=1,1,188,188",
    "netspec validate unet --input-shape x=1,1,500,500",
]


@pytest.mark.parametrize("command", CLI_OUTPUTS)
def test_cli_page_outputs_are_what_the_commands_print(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from netspec._cli import main

    shown = re.search(r"\$ " + re.escape(command) + r"\n(.*?)```", (ROOT / "docs" / "cli.md").read_text(), re.DOTALL)
    assert shown, f"docs/cli.md lost its `{command}` example"
    main(shlex.split(command)[1:])
    printed = capsys.readouterr().out
    if "\n...\n" not in shown.group(1):
        assert shown.group(1) == printed, f"update the `{command}` block in docs/cli.md"
        return
    lines = iter(printed.splitlines())  # `...` leaves lines out: the others come in order
    for line in shown.group(1).splitlines():
        assert line == "..." or line in lines, f"`{line}` is not printed by `{command}`"
