"""Import every torchvision classification, segmentation and video model that torch can trace.

For each model of `torchvision.models.list_models()` in the classification, segmentation and video
families (the quantized models are left out: their modules are quantized kernels, not layers): build
it with random weights at the smallest input it accepts, decide whether it is traceable (torch.fx
`symbolic_trace`, whose graph must run and give the eager output bit for bit; else `torch.export`),
import it with `netspec.from_module` (which verifies the spec in-process), write the spec, the
weights (safetensors), an input and the original's eval output, and then, in a fresh process that
has not imported torchvision, build the spec with the weights loaded strictly and compare its output
with the original's bit for bit. Printed per model and in total: traceable, imported, strict load,
outputs equal, spec lines against the lines of the torchvision source file that defines the model.

Each model runs in its own process with a time limit, and every row is appended to a JSON-lines
file at once, so a run can stop (`--budget`) and resume where it stopped:

    nice -n 10 python benchmarks/bench_import.py --results rows.jsonl --budget 200   # resumes
    python benchmarks/bench_import.py --results rows.jsonl --report                  # the table
    python benchmarks/bench_import.py resnet18 vgg11                                 # some models
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

CHILD = r"""
import json, resource, sys
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
    result["error"] = f"fresh process: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
result["torchvision_imported"] = "torchvision" in sys.modules
result["child_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(result))
"""

FAMILIES = ("classification", "segmentation", "video")
# The inputs tried, smallest first: the first the model's forward accepts (checked on the meta
# device, so that nothing is computed) is the one the model is imported at.
IMAGE_SIDES = [32, *range(48, 320, 16), 299]
VIDEO_FRAMES = [2, 4, 8, 16]
VIDEO_SIDES = [32, 48, 64, 96, 112, 128, 160, 224]


def _size_kwargs(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """Models built for one input size (a position embedding, a window grid) are built for `shape`."""
    if name.startswith("vit_"):
        return {"image_size": shape[-1]}
    if name.startswith("maxvit"):
        return {"input_size": tuple(shape[-2:])}
    return {}


def _kwargs(family: str, name: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if family == "segmentation":
        kwargs.update(aux_loss=False, weights_backbone=None)  # the auxiliary head runs only when asked for
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)  # the auxiliary heads run only in training
    return kwargs


def _candidates(family: str) -> Iterator[tuple[int, ...]]:
    if family == "video":
        shapes = [(1, 3, t, s, s) for t in VIDEO_FRAMES for s in VIDEO_SIDES]
        yield from sorted(shapes, key=lambda s: (s[2] * s[3] * s[4], s[3]))
    else:
        yield from ((1, 3, s, s) for s in IMAGE_SIDES)


def _next(shapes: Iterator[tuple[int, ...]]) -> tuple[int, ...]:
    return next(iter(shapes))


def _models(selected: list[str]) -> list[tuple[str, str]]:
    import torchvision.models as tvm

    found = []
    for family, module in (("classification", tvm), ("segmentation", tvm.segmentation), ("video", tvm.video)):
        for name in tvm.list_models(module=module):
            if not selected or name in selected:
                found.append((family, name))
    unknown = set(selected) - {n for _, n in found}
    if unknown:
        raise SystemExit(f"not a torchvision classification, segmentation or video model: {', '.join(sorted(unknown))}")
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


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {' '.join(text.split())[:limit]}"


def _smallest_input(family: str, name: str) -> tuple[int, ...] | None:
    """The smallest input the model accepts, for the models built for one size (on the meta device)."""
    import torchvision.models as tvm

    for shape in _candidates(family):
        try:
            with torch.device("meta"):
                model = tvm.get_model(name, weights=None, **_kwargs(family, name), **_size_kwargs(name, shape))
                with torch.no_grad():
                    model.eval()(torch.empty(shape))
        except Exception:  # noqa: BLE001, S112 - too small for the model: the next size
            continue
        return shape
    return None


def _smallest_run(family: str, model: torch.nn.Module) -> tuple[tuple[int, ...], torch.Tensor, Any] | None:
    """The smallest input the model accepts, with the model's output on it (a too small input fails fast).

    The batch is 1, or 2 where the model cannot train on a batch of 1 at that size (a BatchNorm
    that would see one value per channel, which netspec refuses as torch refuses it in training).
    """
    for shape in _candidates(family):
        torch.manual_seed(1)
        x = torch.randn(shape)
        try:
            with torch.no_grad():
                out = model(x)
        except Exception:  # noqa: BLE001, S112 - too small for the model: the next size
            continue
        if not _trains(model, x):
            shape = (2, *shape[1:])
            torch.manual_seed(1)
            x = torch.randn(shape)
            with torch.no_grad():
                out = model(x)
        return shape, x, out
    return None


def _trains(model: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether a train-mode forward runs on `x` (the BatchNorm statistics are given back afterwards)."""
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        with torch.no_grad():
            model.train()(x)
    except Exception:  # noqa: BLE001 - it cannot train on this input
        return False
    finally:
        model.eval()
        with torch.no_grad():
            for b, v in saved:
                b.copy_(v)
    return True


def _traceable(model: torch.nn.Module, x: torch.Tensor, y: list[torch.Tensor]) -> tuple[str | None, str]:
    """How torch traces the model: "fx" (its graph runs and gives the eager output), else "export"."""
    problem = ""
    try:
        traced = torch.fx.symbolic_trace(model)
        with torch.no_grad():
            again = _flat(traced(x))
        if len(again) == len(y) and all(torch.equal(a, b) for a, b in zip(again, y)):
            return "fx", ""
        problem = "fx: the traced graph computes something else"
    except Exception as err:  # noqa: BLE001 - a benchmark: every failure is a row
        problem = f"fx: {_first_line(err, 150)}"
    try:
        with torch.no_grad():
            torch.export.export(model, (x,), strict=False)
        return "export", problem
    except Exception as err:  # noqa: BLE001
        return None, f"{problem}; export: {_first_line(err, 150)}"


def run_one(family: str, name: str, folder: Path) -> dict[str, Any]:
    import torchvision.models as tvm

    import netspec
    from netspec._import import ModuleImportError

    row: dict[str, Any] = {"model": name, "family": family, "traceable": None, "imported": False}
    cpu = _cpu_clock()
    fixed = bool(_size_kwargs(name, _next(_candidates(family))))
    shape = _smallest_input(family, name) if fixed else None
    if fixed and shape is None:
        row["error"] = "no input of the sizes tried is accepted"
        return row
    torch.manual_seed(0)
    sized = _size_kwargs(name, shape) if shape is not None else {}
    model = tvm.get_model(name, weights=None, **_kwargs(family, name), **sized).eval()
    row["params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 1)
    source = inspect.getsourcefile(type(model)) or ""
    row["source_lines"] = _code_lines(source) if source else 0
    row["source_file"] = Path(source).name
    found = _smallest_run(family, model)
    if found is None or (shape is not None and found[0] != shape):
        row["error"] = "no input of the sizes tried is accepted"
        return _done(row, cpu)
    shape, x, out = found
    row["input"] = list(shape)
    y = _flat(out)
    del out
    how, problem = _traceable(model, x, y)
    row["traceable"] = how
    if problem:
        row["trace_note"] = problem
    if how is None:
        row["error"] = problem
        return _done(row, cpu)
    try:
        text = netspec.from_module(model, inputs={"x": list(shape)}, name=name)
        row["imported"] = True
    except ModuleImportError as err:
        row["error"] = " ".join(err.problems[0].split())[:400]
        return _done(row, cpu)
    except Exception as err:  # noqa: BLE001
        row["error"] = f"crash: {_first_line(err)}"
        return _done(row, cpu)
    row["spec_lines"] = _spec_lines(text)
    (folder / "spec.yaml").write_text(text)
    netspec.save_weights(model, folder / "weights.safetensors")
    torch.save({"x": x, "y": y}, folder / "io.pt")
    del model, y
    gc.collect()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, timeout=900, check=False
    )
    try:
        row.update(json.loads(child.stdout.strip().splitlines()[-1]))
    except (IndexError, json.JSONDecodeError):
        last = child.stderr.strip().splitlines()[-1] if child.stderr.strip() else "no output"
        row["error"] = f"fresh process: {last[:200]}"
    return _done(row, cpu)


def _cpu_clock() -> Callable[[], float]:
    def used() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    start = used()
    return lambda: used() - start


def _done(row: dict[str, Any], cpu: Callable[[], float]) -> dict[str, Any]:
    row["cpu_s"] = round(cpu(), 1)
    row["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return row


def _run_isolated(family: str, name: str, timeout: float) -> dict[str, Any]:
    """One model in its own process, so that a slow or crashing model costs one row."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, __file__, "--one", family, name, folder]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"model": name, "family": family, "traceable": None, "imported": False, "timeout": timeout}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    except (IndexError, json.JSONDecodeError):
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        return {"model": name, "family": family, "traceable": None, "imported": False, "error": f"crash: {last[:200]}"}


def _ok(row: dict[str, Any]) -> bool:
    return bool(row.get("equal") and row.get("strict_load") and not row.get("torchvision_imported"))


def _flags(row: dict[str, Any]) -> str:
    marks = [
        row.get("traceable") or ("?" if row.get("timeout") else "."),
        *("x" if row.get(k) else "." for k in ("imported", "strict_load")),
        "x" if _ok(row) else ".",
    ]
    return " ".join(f"{m:6}" for m in marks)


def _line(row: dict[str, Any]) -> str:
    lines = f"{row.get('spec_lines', '-')}/{row.get('source_lines', '-')}"
    shape = _shape_text(row)
    why = row.get("error") or (f"over the {row['timeout']:.0f} s limit" if row.get("timeout") else "")
    return f"{row['family']:14} {row['model']:28} {shape:>9} {_flags(row)} {lines:>10}  {why[:160]}"


def _shape_text(row: dict[str, Any]) -> str:
    shape = row.get("input", [])
    text = "x".join(str(d) for d in shape[2:]) or "-"
    return f"{shape[0]}x{text}" if shape and shape[0] != 1 else text


def _read(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if path.exists():
        for text in path.read_text().splitlines():
            if text.strip():
                row = json.loads(text)
                rows[row["model"]] = row  # a later row for a model replaces an earlier one
    return rows


def report(rows: list[dict[str, Any]], *, markdown: bool = False, missing: Sequence[str] = ()) -> str:
    """The per-model table and the totals, as text (or as the Markdown of docs/import.md)."""
    out: list[str] = []
    if markdown:
        out.append(
            "| model | input | traced by | imported | strict load | outputs equal | spec / source lines | note |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows:
            why = row.get("error") or (f"over the {row['timeout']:.0f} s limit" if row.get("timeout") else "")
            why = why.replace("|", "\\|").replace("\n", " ")[:140]
            cells = [
                row["model"],
                _shape_text(row),
                row.get("traceable") or "-",
                *("yes" if row.get(k) else "no" for k in ("imported", "strict_load")),
                "yes" if _ok(row) else "no",
                f"{row.get('spec_lines', '-')} / {row.get('source_lines', '-')}",
                why,
            ]
            out.append("| " + " | ".join(str(c) for c in cells) + " |")
        out.append("")
    else:
        out.append(
            f"{'family':14} {'model':28} {'input':>9} {'traced':6} {'import':6} {'strict':6} {'equal':6} {'lines':>10}"
        )
        out += [_line(r) for r in rows]
        out.append("")
    traceable = [r for r in rows if r.get("traceable") or r.get("timeout")]  # a timeout counts against the import
    ok = [r for r in traceable if _ok(r)]
    by_fx = sum(1 for r in rows if r.get("traceable") == "fx")
    by_export = sum(1 for r in rows if r.get("traceable") == "export")
    out.append(
        f"models: {len(rows)}; traceable {len(traceable)} (fx {by_fx}, torch.export only {by_export}, "
        f"{sum(1 for r in rows if r.get('timeout'))} over the time limit, counted as failures); "
        f"not traceable {len(rows) - len(traceable)}"
    )
    for family in FAMILIES:
        mine = [r for r in traceable if r["family"] == family]
        if mine:
            out.append(
                f"  {family}: {len(mine)} traceable, {sum(1 for r in mine if r['imported'])} imported, "
                f"{sum(1 for r in mine if r.get('strict_load'))} strict load, {sum(1 for r in mine if _ok(r))} equal"
            )
    out.append(f"imported: {sum(1 for r in traceable if r['imported'])}/{len(traceable)}")
    out.append(f"strict load in a fresh process: {sum(1 for r in traceable if r.get('strict_load'))}/{len(traceable)}")
    share = 100 * len(ok) / max(len(traceable), 1)
    out.append(f"outputs equal (round-trip exactly): {len(ok)}/{len(traceable)} ({share:.1f}% of the traceable)")
    if ok:
        spec = sum(int(r["spec_lines"]) for r in ok)
        files = {str(r.get("source_file")): int(r["source_lines"]) for r in ok}
        out.append(
            f"spec lines of the {len(ok)} round-tripped: {spec} (median {sorted(int(r['spec_lines']) for r in ok)[len(ok) // 2]}), "
            f"against {sum(files.values())} lines of the {len(files)} torchvision files that define them"
        )
    if missing:
        out.append(f"not run yet: {len(missing)} ({', '.join(missing)})")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("models", nargs="*", help="model names (default: all)")
    parser.add_argument("--results", help="JSON-lines file: rows are appended, models already in it are skipped")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per model (default: 240)")
    parser.add_argument("--budget", type=float, help="start no model after this many seconds (resume later)")
    parser.add_argument("--again", action="store_true", help="run the named models even if they have a row")
    parser.add_argument("--report", action="store_true", help="print the table of --results and stop")
    parser.add_argument("--markdown", action="store_true", help="with --report: the table as Markdown")
    parser.add_argument("--one", nargs=3, metavar=("FAMILY", "NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], Path(args.one[2]))))
        return
    results = Path(args.results) if args.results else None
    done = _read(results) if results else {}
    models = _models(args.models)
    if args.report:
        missing = [n for _, n in models if n not in done]
        print(report([done[n] for _, n in models if n in done], markdown=args.markdown, missing=missing))
        return
    start = time.monotonic()
    rows = []
    for family, name in models:
        if name in done and not (args.again and args.models):
            rows.append(done[name])
            continue
        if args.budget is not None and time.monotonic() - start > args.budget:
            print(f"budget spent: {sum(1 for _, n in models if n not in done)} models left", flush=True)
            break
        row = _run_isolated(family, name, args.timeout)
        done[name] = row
        rows.append(row)
        if results:
            with results.open("a") as file:
                file.write(json.dumps(row) + "\n")
        print(_line(row), flush=True)
    else:
        print()
        print(report(rows))


if __name__ == "__main__":
    main()
