"""Import every torchvision classification, segmentation and video model that torch.fx can trace.

For each model: build it (random weights), trace it with torch.fx (the models fx cannot trace are
counted apart), import it with `netspec.from_module` (which verifies the spec in-process), write the
spec, the weights (safetensors), an input and the original's eval output, and then, in a fresh process
that has not imported torchvision, build the spec with the weights loaded strictly and compare its
output with the original's bit for bit. Printed per model and in total: traced, imported, strict load,
outputs equal, spec lines against the lines of the torchvision source file that defines the model.

    python benchmarks/bench_import.py                 # every model (several minutes)
    python benchmarks/bench_import.py resnet18 vgg11  # some
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CHILD = r"""
import json, sys
import torch
import netspec
torch.set_num_threads(1)  # as the importing process: the same kernels, the same bits
folder = sys.argv[1]
result = {"strict_load": False, "equal": False}
try:
    model = netspec.build(folder + "/spec.yaml", weights=folder + "/weights.safetensors")
    result["strict_load"] = True
    data = torch.load(folder + "/io.pt", weights_only=True)
    with torch.no_grad():
        out = model.eval()(data["x"])
    outs = list(out) if isinstance(out, tuple) else [out]
    result["equal"] = len(outs) == len(data["y"]) and all(torch.equal(a, b) for a, b in zip(outs, data["y"]))
except Exception as err:
    result["error"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
result["torchvision_imported"] = "torchvision" in sys.modules
print(json.dumps(result))
"""

# Input sizes: small where the model allows it (fixed-size models get their own).
DEFAULT_IMAGE = (1, 3, 32, 32)
SIZES = {
    "alexnet": (1, 3, 64, 64),
    "squeezenet1_0": (1, 3, 64, 64),
    "squeezenet1_1": (1, 3, 64, 64),
    "inception_v3": (1, 3, 96, 96),
    "vit_b_16": (1, 3, 224, 224),
    "vit_b_32": (1, 3, 224, 224),
    "vit_l_16": (1, 3, 224, 224),
    "vit_l_32": (1, 3, 224, 224),
    "vit_h_14": (1, 3, 224, 224),
    "maxvit_t": (1, 3, 224, 224),
}
VIDEO = (1, 3, 2, 32, 32)
VIDEO_SIZES = {"s3d": (1, 3, 8, 64, 64), "mvit_v1_b": (1, 3, 16, 224, 224), "mvit_v2_s": (1, 3, 16, 224, 224)}


def _models(selected: list[str]) -> list[tuple[str, str]]:
    import torchvision.models as tvm

    found = []
    for family, module in (  # the small families first
        ("video", tvm.video),
        ("segmentation", tvm.segmentation),
        ("classification", tvm),
    ):
        for name in tvm.list_models(module=module):
            if not selected or name in selected:
                found.append((family, name))
    return found


def _code_lines(path: str) -> int:
    lines = Path(path).read_text().splitlines()
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def _spec_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def _flat(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return []


def run_one(family: str, name: str, folder: Path) -> dict[str, object]:
    import torchvision.models as tvm

    import netspec
    from netspec._import import ModuleImportError

    row: dict[str, object] = {"model": name, "family": family, "traced": False, "imported": False}
    torch.manual_seed(0)
    kwargs: dict[str, object] = {"aux_loss": False, "weights_backbone": None} if family == "segmentation" else {}
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False  # the auxiliary heads run only in training: their weights have no node
    model = tvm.get_model(name, weights=None, **kwargs).eval()
    source = inspect.getsourcefile(type(model)) or ""
    row["source_lines"] = _code_lines(source) if source else 0
    shape = VIDEO_SIZES.get(name, VIDEO) if family == "video" else SIZES.get(name, DEFAULT_IMAGE)
    start = time.perf_counter()
    try:
        torch.fx.symbolic_trace(model)
        row["traced"] = True
    except Exception as err:  # noqa: BLE001 - a benchmark: every failure is a row
        row["error"] = f"fx: {type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''}"
        return row
    try:
        text = netspec.from_module(model, inputs={"x": shape}, name=name)
        row["imported"] = True
    except ModuleImportError as err:
        row["error"] = err.problems[0][:300]
        return row
    except Exception as err:  # noqa: BLE001
        row["error"] = f"crash: {type(err).__name__}: {str(err)[:200]}"
        return row
    row["import_s"] = round(time.perf_counter() - start, 2)
    row["spec_lines"] = _spec_lines(text)
    (folder / "spec.yaml").write_text(text)
    netspec.save_weights(model, folder / "weights.safetensors")
    torch.manual_seed(1)
    x = torch.randn(shape)
    with torch.no_grad():
        y = _flat(model(x))
    torch.save({"x": x, "y": y}, folder / "io.pt")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, timeout=600, check=False
    )
    try:
        row.update(json.loads(child.stdout.strip().splitlines()[-1]))
    except (IndexError, json.JSONDecodeError):
        row["error"] = f"child: {child.stderr.strip().splitlines()[-1] if child.stderr.strip() else 'no output'}"
    return row


def _parameter_count(family: str, name: str) -> int:
    import torchvision.models as tvm

    for weights in tvm.get_model_weights(name):  # the published count, without building anything
        return int(weights.meta["num_params"])
    kwargs: dict[str, object] = {"weights_backbone": None} if family == "segmentation" else {}
    with torch.device("meta"):
        model = tvm.get_model(name, weights=None, **kwargs)
    return sum(p.numel() for p in model.parameters())


def _run_isolated(family: str, name: str, folder: Path, timeout: float) -> dict[str, object]:
    """One model in its own process, so that a slow or crashing model costs one row."""
    command = [sys.executable, __file__, "--one", family, name, str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"model": name, "family": family, "traced": None, "imported": False, "error": f"over {timeout:.0f} s"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    except (IndexError, json.JSONDecodeError):
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        return {"model": name, "family": family, "traced": None, "imported": False, "error": f"crash: {last[:150]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model names (default: all)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per model (default: 300)")
    parser.add_argument(
        "--max-params", type=float, default=100e6, help="skip larger models (default: 1e8; they need several GB each)"
    )
    parser.add_argument("--one", nargs=3, metavar=("FAMILY", "NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], Path(args.one[2]))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family, name in _models(args.models):
            folder = Path(tmp) / name
            folder.mkdir()
            size = _parameter_count(family, name)
            if size > args.max_params:
                row = {
                    "model": name,
                    "family": family,
                    "skipped": True,
                    "error": f"skipped: {size / 1e6:.0f} M parameters",
                }
            else:
                row = _run_isolated(family, name, folder, args.timeout)
            rows.append(row)
            flags = "".join("x" if row.get(k) else "." for k in ("traced", "imported", "strict_load", "equal"))
            lines = f"{row.get('spec_lines', '-')}/{row.get('source_lines', '-')}"
            print(f"{family:14} {name:32} {flags}  lines {lines:>9}  {row.get('error', '')[:150]}", flush=True)
    skipped = [r for r in rows if r.get("skipped")]
    rows = [r for r in rows if not r.get("skipped")]
    traced = [r for r in rows if r["traced"] or r["traced"] is None]  # a timeout counts against the import
    ok = [r for r in traced if r.get("equal") and r.get("strict_load") and not r.get("torchvision_imported")]
    print()
    timeouts = sum(1 for r in rows if r["traced"] is None)
    print(
        f"models: {len(rows)}; fx traces {len(traced) - timeouts}, {timeouts} over the time limit (counted as failures)"
    )
    if skipped:
        print(f"skipped for their size: {', '.join(str(r['model']) for r in skipped)}")
    print(f"imported: {sum(1 for r in traced if r['imported'])}/{len(traced)}")
    print(f"strict load in a fresh process: {sum(1 for r in traced if r.get('strict_load'))}/{len(traced)}")
    print(f"outputs equal: {len(ok)}/{len(traced)} ({100 * len(ok) / max(len(traced), 1):.0f}% of the traceable)")
    if ok:
        spec = sum(int(r["spec_lines"]) for r in ok)  # type: ignore[call-overload]
        src = sum(int(r["source_lines"]) for r in ok)  # type: ignore[call-overload]
        print(f"spec lines {spec} against {src} torchvision source lines (the files defining the models)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
