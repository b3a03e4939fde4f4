"""Input sizes: the sizes a network runs at and fits exactly, and the checks that name the layer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec

UNET_LINES = (Path(__file__).resolve().parents[1] / "specs" / "unet.yaml").read_text().splitlines()


def _lines_starting(prefix: str) -> list[int]:
    return [i for i, line in enumerate(UNET_LINES, 1) if line.startswith(prefix)]


@pytest.fixture(scope="module")
def unet_sizes() -> dict[str, netspec.SizeLattice]:
    return netspec.valid_sizes("unet")


def test_unet_fits_exactly_at_188_plus_16k(unet_sizes):
    assert set(unet_sizes) == {"H", "W"}
    lattice = unet_sizes["H"]
    assert lattice.exact == tuple(range(188, lattice.limit + 1, 16))
    assert lattice.period == 16
    assert 572 in lattice and 572 in lattice.exact
    assert 188 + 16 * 1000 in lattice  # past the search limit, by the period
    assert 256 in lattice.runs and 256 not in lattice
    assert 172 not in lattice.runs and lattice.runs[0] == 188
    assert lattice.nearest(256) == [252, 268] and lattice.nearest(100) == [188]


def test_the_description_says_what_fits_and_what_only_runs(unet_sizes):
    assert unet_sizes["H"].describe() == (
        "`H` = 188 + 16k (k >= 0): 188, 204, 220, ... (other sizes >= 188 run, but drop rows or crop off-center)"
    )
    assert repr(unet_sizes["W"]).startswith("SizeLattice('W': `W` = 188 + 16k")
    assert netspec.valid_sizes("unet-same")["H"].describe().startswith("`H` = 16 + 16k (k >= 0)")
    assert netspec.valid_sizes("resnet18")["H"].describe() == "any `H` >= 1"


def test_validate_at_256_warns_naming_the_pooling_and_the_nearest_sizes():
    warnings = netspec.validate("unet", inputs={"x": (1, 1, 256, 256)})
    pool = warnings[0]
    assert pool.severity == "warning" and pool.code == "NS211"
    assert pool.message == (
        "`enc.3.pool` at H=256: `MaxPool2d` height: an input of size 57 with a window of 2, stride 2 and "
        "padding 0 leaves the last 1 input row unread"
    )
    assert pool.hint.startswith("`H` = 252 or 268 fit")
    assert (pool.file, [pool.line]) == ("<bundled>/unet.yaml", _lines_starting("      pool:"))
    assert {w.path for w in warnings} == {"blocks.level.nodes.pool", "blocks.up.nodes.cat"}


def test_validate_at_an_exact_size_is_clean():
    assert netspec.validate("unet", inputs={"x": (1, 1, 252, 268)}) == []
    assert netspec.validate("unet") == []  # the spec's own dims, 572


def test_validate_at_172_names_the_first_layer_that_fails():
    with pytest.raises(netspec.SpecError) as info:
        netspec.validate("unet", inputs={"x": (1, 1, 172, 188)})
    (error,) = info.value.diagnostics  # one per size that fails, not every layer after it
    assert error.message == "`dec.1.conv2` at H=172: `Conv2d` output height would be 0; it must be at least 1"
    assert error.hint.startswith("`H` = 188 fits")
    assert error.line == _lines_starting("      conv2:")[-1]  # in the `level` block, inlined in `up`


def test_the_unet_runs_at_256_but_not_at_172():
    model = netspec.build("unet", params={"width": 2})
    assert model(torch.zeros(1, 1, 256, 256)).shape == (1, 2, 68, 68)
    with pytest.raises(
        ValueError, match=r"dimension 2 .`H`. is 172, which `.*` cannot take; the network runs at `H` >= 188"
    ):
        model(torch.zeros(1, 1, 172, 172))  # the input guard: torch alone would fail in a layer


def _unet_with_dims(dims: str) -> netspec.Spec:
    text = netspec.load("unet").source.texts["<bundled>/unet.yaml"]
    return netspec.loads(text.replace("dims: {H: 572, W: 572}", f"dims: {dims}"))


def test_build_refuses_dims_at_which_the_spec_cannot_run():
    with pytest.raises(netspec.SpecError) as info:
        netspec.build(_unet_with_dims("{H: 100, W: 572}"), params={"width": 2})
    (error,) = info.value.diagnostics
    assert error.code == "NS201" and error.message.startswith("`enc.4.conv1` at H=100: `Conv2d` output height")


def test_build_does_not_warn_for_dims_that_run_without_fitting_exactly():
    # Dims that drop a row are common (classifiers at odd sizes); `validate` reports them, `build` does not.
    model = netspec.build(_unet_with_dims("{H: 256, W: 256}"), params={"width": 2})
    assert isinstance(model, torch.fx.GraphModule)
    (first, *_) = netspec.validate(_unet_with_dims("{H: 256, W: 256}"))
    assert first.message.startswith("`enc.3.pool` at H=256")


def test_sizes_of_other_bundled_specs():
    assert netspec.valid_sizes("unet3d")["D"].exact[:3] == (8, 16, 24)
    m5 = netspec.valid_sizes("m5")["L"]
    assert m5.limit >= 16000 and m5.runs  # searched past the spec's 8000 samples
