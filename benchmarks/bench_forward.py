"""Forward time of built modules against the hand-written references, with the same weights.

    python benchmarks/bench_forward.py [--repeats 30] [--threads 2]

ResNet-18 at 1x3x64x64 and the paper's U-Net at width 16 (a quarter of the paper's 64) on a
1x1x188x188 tile, batch 1, eval mode, no autograd. Runs alternate netspec and reference; the
figure is the median of the per-repeat ratios (target <= 1.02). Also times the input guard alone:
rank and channels only, with two conditions over `H` and `W` (tests/specs/guard/token_groups.yaml,
beside that model's forward), and with the index range of an embedding (tests/specs/guard/segments.yaml,
one `torch.aminmax` over 8x128 indices, beside that model's forward).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from _common import interleaved, reference_models, report

import netspec

TARGET = 1.02


def _pair(name: str, reference: torch.nn.Module, params: dict) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    built = netspec.build(name, params=params).eval()
    reference.load_state_dict(built.state_dict())  # the same weights, checked by strict loading
    return built, reference.eval()


def _guard_cost(x: torch.Tensor, repeats: int) -> float:
    from netspec._runtime import check_input

    start = time.perf_counter()
    for _ in range(repeats):
        check_input(x, "x", 4, 3, "[N, 3, H, W]")
    return (time.perf_counter() - start) / repeats


GUARD_SPECS = Path(__file__).resolve().parent.parent / "tests" / "specs" / "guard"


def _timed(call: Any, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def _guard_of(name: str, inputs: tuple[torch.Tensor, ...], repeats: int) -> tuple[float, float]:
    """The guard calls of a built fixture (with the arguments its code passes) and its whole forward, per call."""
    from netspec._runtime import check_input

    model = netspec.build(netspec.load(GUARD_SPECS / name)).eval()
    calls = [n for n in model.graph.nodes if n.target is check_input]
    arguments = [[a if not hasattr(a, "op") else None for a in n.args[1:]] for n in calls]

    def guard() -> None:
        for x, args in zip(inputs, arguments):
            check_input(x, *args)

    return _timed(guard, repeats), _timed(lambda: model(*inputs), max(repeats // 10, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    refs = reference_models()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} interleaved repeats")
    cases = [
        ("resnet18 1x3x64x64", "resnet18", refs.resnet18(), {}, (1, 3, 64, 64)),
        ("unet width=16 1x1x188x188", "unet", refs.UNet(width=16), {"width": 16}, (1, 1, 188, 188)),
    ]
    ratios = []
    with torch.inference_mode():
        for label, name, reference, params, shape in cases:
            built, reference = _pair(name, reference, params)
            x = torch.randn(shape)
            assert torch.allclose(built(x), reference(x), atol=1e-5), label
            times_a, times_b = interleaved(
                lambda b=built, x=x: b(x), lambda r=reference, x=x: r(x), repeats=args.repeats, warmup=3
            )
            ratios.append(report(label, times_a, times_b, TARGET))
        guard = _guard_cost(torch.randn(1, 3, 64, 64), 10000)
        conditions, small_forward = _guard_of("token_groups.yaml", (torch.randn(1, 3, 64, 64),), 10000)
        ids = (torch.randint(0, 1000, (8, 128)), torch.randint(0, 2, (8, 128)))
        indices, lookup_forward = _guard_of("segments.yaml", ids, 10000)
    print(f"input guard alone: {guard * 1e6:.2f} us per call")
    print(
        f"input guard with two conditions over H and W: {conditions * 1e6:.2f} us per call"
        f" ({conditions / small_forward:.2%} of that model's {small_forward * 1e6:.0f} us forward)"
    )
    print(
        f"input guard with the index range of two embeddings (8x128 each): {indices * 1e6:.2f} us per call"
        f" ({indices / lookup_forward:.2%} of that model's {lookup_forward * 1e6:.0f} us forward)"
    )
    print(f"worst ratio {max(ratios):.3f}; median of cases {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
