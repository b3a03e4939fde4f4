"""Forward time of the bundled ViT-B/16, ConvNeXt-Tiny and Swin-T against torchvision's, with the same
weights, and the time to validate each spec.

    python benchmarks/bench_transformers.py [--repeats 10] [--threads 2] [--size 224]

Batch 1, eval mode, no autograd, at `--size` (224 by default; ViT needs its image size, so it
always runs at 224). Runs alternate netspec and torchvision; the figure is the median of the
per-repeat ratios (target <= 1.02). Validation (load, expand, shape-check, valid sizes) is timed
as `netspec.validate` on the bundled name, best of a few runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision
from _common import interleaved, report

import netspec

TARGET = 1.02


def _pair(name: str, reference: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    built = netspec.build(name).eval()
    built.load_state_dict(reference.state_dict(), strict=True)  # the same weights
    return built, reference.eval()


def _validate_time(name: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        netspec.validate(netspec.load(name))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=224, help="input size of ConvNeXt-Tiny")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} interleaved repeats")
    cases = [
        ("vit_b_16 1x3x224x224", "vit_b_16", torchvision.models.vit_b_16(), (1, 3, 224, 224)),
        (
            f"convnext_tiny 1x3x{args.size}x{args.size}",
            "convnext_tiny",
            torchvision.models.convnext_tiny(),
            (1, 3, args.size, args.size),
        ),
        (f"swin_t 1x3x{args.size}x{args.size}", "swin_t", torchvision.models.swin_t(), (1, 3, args.size, args.size)),
    ]
    ratios = []
    with torch.inference_mode():
        for label, name, reference, shape in cases:
            built, reference = _pair(name, reference)
            x = torch.randn(shape)
            assert torch.equal(built(x), reference(x)), label
            times_a, times_b = interleaved(
                lambda m=built, x=x: m(x), lambda m=reference, x=x: m(x), repeats=args.repeats, warmup=2
            )
            ratios.append(report(label, times_a, times_b, TARGET))
    for name in ("vit_b_16", "convnext_tiny", "swin_t"):
        print(f"validate {name}: {_validate_time(name) * 1e3:.1f} ms (best of 5)")
    print(f"worst ratio {max(ratios):.3f}; median of cases {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
