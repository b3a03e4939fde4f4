"""Inference speed: netspec's optimised module against eager torchvision and the usual inference tools.

For each network, batch size and thread count, every variant runs in one interleaved loop (the order
reverses on every repeat, after warm-up runs), so that a slow moment of a shared machine hits all
alike; the script prints medians and the median of per-repeat ratios to torchvision eager (to
netspec eager for the U-Net, which torchvision lacks). Each variant's output is checked against
eager first. Variants:

  eager          torchvision (ResNets) / netspec's built module (U-Net) in eval mode
  netspec        the module `netspec.build` returns, eval mode
  inference      `netspec.optimize` of it
  fx             torch.fx.experimental.optimization.optimize_for_inference
  jit            torch.jit.freeze + torch.jit.optimize_for_inference (TorchScript, deprecated)
  onnxruntime    netspec's ONNX export (static sizes), onnxruntime's CPU provider, same thread count
  compile        torch.compile (inductor), with --compile only: compiling takes minutes on 2 cores;
                 its compile time is printed separately

    python benchmarks/bench_inference.py                  # short: ResNet-18, batch 1, 1 thread
    python benchmarks/bench_inference.py --all            # ResNet-18/50, U-Net; batch 1, 8; 1, 2 threads
    python benchmarks/bench_inference.py --all --compile  # and torch.compile
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

import netspec

NETWORKS = {
    "resnet18": ("resnet18", {}, (3, 224, 224)),
    "resnet50": ("resnet50", {}, (3, 224, 224)),
    "unet": ("unet", {"width": 16}, (1, 188, 188)),
}


def _reference(name: str, model: torch.nn.Module) -> torch.nn.Module | None:
    try:
        import torchvision
    except ImportError:
        return None
    factory = getattr(torchvision.models, name, None)
    if factory is None:
        return None
    reference = factory().eval()
    reference.load_state_dict(model.state_dict())
    return reference


def _randomise_norms(model: torch.nn.Module) -> None:
    """Trained-looking BatchNorm statistics, so that folding does real work."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)


def _variants(
    name: str, batch: int, threads: int, use_compile: bool, folder: Path
) -> tuple[dict[str, Callable[[], torch.Tensor]], torch.Tensor, dict[str, float]]:
    spec, params, shape = NETWORKS[name]
    torch.manual_seed(0)
    model = netspec.build(spec, params=params)
    _randomise_norms(model)
    model.eval()
    x = torch.randn(batch, *shape)
    variants: dict[str, Callable[[], torch.Tensor]] = {}
    setup: dict[str, float] = {}
    reference = _reference(name, model)
    if reference is not None:
        variants["eager"] = lambda: reference(x)
    variants["netspec"] = lambda: model(x)
    start = time.perf_counter()
    fast = netspec.optimize(model, inputs={"x": tuple(x.shape)})  # weights packed for this shape
    setup["inference"] = time.perf_counter() - start
    variants["inference"] = lambda: fast(x)
    from torch.fx.experimental.optimization import optimize_for_inference

    base = reference if reference is not None else model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # it re-traces the module: a netspec U-Net's crops are control flow to fx
            fx_model = optimize_for_inference(copy.deepcopy(base))
            variants["fx"] = lambda: fx_model(x)
        except Exception as err:  # noqa: BLE001 - reported, the other variants still run
            print(f"{name}: fx optimize_for_inference fails: {type(err).__name__}: {str(err)[:100]}")
        with torch.no_grad():
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(copy.deepcopy(base).eval())))
        variants["jit"] = lambda: frozen(x)
    try:
        import onnxruntime

        from netspec._export import export_onnx

        path = folder / f"{name}-{batch}.onnx"
        export_onnx(spec, path, params=params, inputs={"x": tuple(x.shape)}, weights=model.state_dict(), dynamic=False)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed_name = session.get_inputs()[0].name
        variants["onnxruntime"] = lambda: torch.from_numpy(session.run(None, {feed_name: x.numpy()})[0])
    except ImportError:
        pass
    if use_compile:
        compiled = torch.compile(model)
        start = time.perf_counter()
        with torch.no_grad():
            compiled(x)
        setup["compile"] = time.perf_counter() - start
        variants["compile"] = lambda: compiled(x)
    with torch.no_grad():
        expected = model(x)
    return variants, expected, setup


def run_case(name: str, batch: int, threads: int, repeats: int, use_compile: bool, folder: Path) -> None:
    torch.set_num_threads(threads)
    variants, expected, setup = _variants(name, batch, threads, use_compile, folder)
    with torch.inference_mode():
        for label, fn in variants.items():
            error = ((fn() - expected).abs().max() / expected.abs().max()).item()
            if error > 1e-4:
                raise SystemExit(f"{name}: {label} differs from eager by {error:.2e} (relative)")
        for fn in variants.values():  # warm-up
            fn()
            fn()
        times: dict[str, list[float]] = {label: [] for label in variants}
        order = list(variants)
        for i in range(repeats):
            for label in order if i % 2 == 0 else reversed(order):
                start = time.perf_counter()
                variants[label]()
                times[label].append(time.perf_counter() - start)
    base = "eager" if "eager" in times else "netspec"
    cells = []
    for label, values in times.items():
        ratio = statistics.median(a / b for a, b in zip(values, times[base]))
        cells.append(f"{label} {statistics.median(values) * 1e3:.1f} ms ({ratio:.2f})")
    extra = "".join(f", {k} setup {v:.1f} s" for k, v in setup.items())
    print(f"{name} batch {batch} threads {threads}: " + ", ".join(cells) + extra, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="every network, batch 1 and 8, 1 and 2 threads")
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=None)
    parser.add_argument("--batches", nargs="+", type=int, default=None)
    parser.add_argument("--threads", nargs="+", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--compile", action="store_true", help="also torch.compile (slow to compile)")
    args = parser.parse_args()
    networks = args.networks or (sorted(NETWORKS) if args.all else ["resnet18"])
    batches = args.batches or ([1, 8] if args.all else [1])
    threads = args.threads or ([1, 2] if args.all else [1])
    print(f"torch {torch.__version__}; ratios are to eager (median of per-repeat ratios)")
    with tempfile.TemporaryDirectory() as folder:
        for name in networks:
            for batch in batches:
                for count in threads:
                    run_case(name, batch, count, args.repeats, args.compile, Path(folder))


if __name__ == "__main__":
    main()
