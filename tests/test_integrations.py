"""The Hydra and Lightning recipes of docs/integrations.md, run where those packages are installed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch

import netspec

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "integrations.md").read_text()
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = [body for lang, body in FENCE.findall(PAGE) if lang == "python"]


def test_build_takes_the_source_by_keyword() -> None:
    model = netspec.build(source="lenet5", params={"num_classes": 4})
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 4)


def test_hydra_instantiates_build() -> None:
    pytest.importorskip("hydra")
    exec(compile(BLOCKS[0], "integrations.md[hydra]", "exec"), {})


def test_hydra_config_file_with_nested_values(tmp_path: Path) -> None:
    pytest.importorskip("hydra")
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    config = OmegaConf.create(
        "_target_: netspec.build\nsource: lenet5\nparams: {num_classes: 3}\ninputs: {x: [2, 1, 28, 28]}\n"
    )
    model = instantiate(config)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 3)
    with pytest.raises(InstantiationException, match="num_clases"):
        instantiate(OmegaConf.create({"_target_": "netspec.build", "source": "lenet5", "params": {"num_clases": 3}}))


def _lightning_module() -> Any:
    pytest.importorskip("lightning")
    namespace: dict[str, Any] = {"__name__": "integrations_doc"}
    exec(compile(BLOCKS[1], "integrations.md[lightning]", "exec"), namespace)
    return namespace["SpecClassifier"]


# Lightning's own deprecation and advice warnings (workers, seeds, pytree), not netspec's.
_LIGHTNING_WARNINGS = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@_LIGHTNING_WARNINGS[0]
@_LIGHTNING_WARNINGS[1]
@_LIGHTNING_WARNINGS[2]
def test_lightning_module_trains_and_reloads(tmp_path: Path) -> None:
    classifier = _lightning_module()  # skips without lightning
    import lightning as L

    data = torch.utils.data.TensorDataset(torch.randn(16, 1, 28, 28), torch.randint(0, 3, (16,)))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    module = classifier("lenet5", {"num_classes": 3}, lr=0.01)
    before = [p.detach().clone() for p in module.parameters()]
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, loader)
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
    checkpoint = tmp_path / "net.ckpt"
    trainer.save_checkpoint(checkpoint)
    again = classifier.load_from_checkpoint(checkpoint)
    assert again.hparams.params == {"num_classes": 3}
    x = torch.randn(2, 1, 28, 28)
    module.eval()
    again.eval()
    assert torch.equal(module(x), again(x))


@_LIGHTNING_WARNINGS[0]
@_LIGHTNING_WARNINGS[1]
@_LIGHTNING_WARNINGS[2]
def test_lightning_cli_configures_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jsonargparse")
    classifier = _lightning_module()
    monkeypatch.setattr("sys.argv", ["train.py"])
    monkeypatch.chdir(tmp_path)
    from lightning.pytorch import cli as lightning_cli

    if not getattr(lightning_cli, "_JSONARGPARSE_SIGNATURES_AVAILABLE", True):
        pytest.skip("LightningCLI needs jsonargparse[signatures]")
    LightningCLI = lightning_cli.LightningCLI

    cli = LightningCLI(
        classifier,
        run=False,
        args=["--model.spec", "lenet5", "--model.params", "{num_classes: 5}", "--trainer.logger", "false"],
        save_config_kwargs={"overwrite": True},
    )
    assert cli.model.model(torch.randn(1, 1, 28, 28)).shape == (1, 5)
