"""Exporters: a standalone PyTorch source file, a TorchScript archive, an ONNX model.

The Python exporter writes code that imports only torch. Spec text reaches that code only as
identifiers the spec loader validated, numbers, and strings quoted by `repr`: names are checked
again here before use, and everything else is rendered from Python values, never pasted as text.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import json
import keyword
import math
import os
import re
import tokenize
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any, TypeGuard

import torch
from torch import fx, nn

from . import _modules, _runtime, _windows
from ._api import Inputs, Params, Source, _spec, build, check_memory_budget, prepare, validate
from ._compile import INIT_FUNCTIONS, forward_graph, instantiate
from ._dims import Sym
from ._errors import SpecError
from ._graph import Graph, GraphNode, Instance, check_init_args, init_steps, live_nodes
from ._guard import index_rules_by_input
from ._load import collector_paused
from ._models import Spec
from ._names import MAX_NAME_CHARS, class_name, is_node_name
from ._onnx_session import DOCUMENT_KEY, PARAMS_KEY, SPEC_KEY, spec_document
from ._shapes import DEFAULT_BATCH, ShapeInfo, SizeLattice, valid_sizes
from ._version import __version__
from ._work import EXPORT_UNITS_PER_ITEM, charge, within_budget

__all__ = ["ExportError", "MissingDependencyError", "export_onnx", "export_pt2", "export_python", "export_torchscript"]


class ExportError(Exception):
    """A valid spec that cannot be written in the requested format (e.g. an op outside `torch.nn`)."""


class MissingDependencyError(ExportError):
    """An optional package the format needs is not installed."""


# --- Python source ------------------------------------------------------------------------------

# Names fx puts in every generated function's globals; any other global must be a runtime helper.
_FX_BUILTIN_GLOBALS = frozenset({"inf", "nan", "NoneType", "torch", "device", "fx_pytree", "pytree"})
_FX_WRAP_LINE = re.compile(r'^torch\.fx\._symbolic_trace\.wrap\("[A-Za-z0-9_]+"\)$')
# What the copied runtime helpers may use from their module besides each other.
_RUNTIME_IMPORTS = {"torch": torch, "F": torch.nn.functional, "Tensor": torch.Tensor, "annotations": None}
_HEADER_IMPORTS = (
    "from __future__ import annotations",
    "",
    "import torch",
    "import torch.nn.functional as F",
    "from torch import Tensor, nn",
)
# netspec's own layers (`_modules`), whose classes are copied into a file that uses them.
_OWN_MODULES = {name: getattr(_modules, name) for name in _modules.__all__}
_RESERVED = frozenset(
    {"torch", "F", "Tensor", "nn", "annotations", "SPEC_NAME", "SPEC_PARAMS", "EXAMPLE_INPUT_SHAPES", "_add_module"}
    | {"_add_tensor", "_tensor", "Literal", *_OWN_MODULES}
)


@within_budget
def export_python(
    source: Source,
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    max_params: int | None = None,
) -> str:
    """The source of a standalone module equivalent to `netspec.build(source, params=params)`::

        code = netspec.export_python("resnet18", params={"num_classes": 10})
        Path("resnet18.py").write_text(code)  # then: from resnet18 import Resnet18; Resnet18()

    Like `build`, refuses a model whose parameters and buffers pass `max_params` elements (default:
    the spec's `limits.max_params`; the file would allocate them), before anything is instantiated.

    The file imports only torch. Its class creates the same modules at the same qualified names in
    the same order (so state_dicts load with `strict=True`, and under one seed the parameters are
    equal), applies the spec's init rules in `_init_weights`, and runs the compiled graph's code.
    `inputs` sets the example input shapes it records (default: the spec's `dims`).
    """
    with collector_paused():  # many small objects, all kept until the text is written
        return _python_source(source, params, inputs, max_params)


def _python_source(source: Source, params: Params | None, inputs: Inputs | None, max_params: int | None) -> str:
    info = prepare(source, params, inputs)
    check_memory_budget(info, max_params)
    graph = info.graph
    charge(
        "export",
        EXPORT_UNITS_PER_ITEM * sum(1 + len(node.inputs) for node in graph.nodes),
        where=lambda: (graph.sources, graph.sources.span(("nodes",)), "nodes"),
    )
    example = _example_shapes(info, params, inputs)
    fx_graph = forward_graph(info, traces=False)  # the code is all we need: no module is made
    code = fx_graph.python_code(root_module="self", verbose=False)
    class_name = _class_name(graph.spec.name)
    computed = [n.op.resolve() for n in graph.nodes if n.op.kind == "tensor" and "init" not in n.op.args]
    helpers, renames, makers = _runtime_helpers(fx_graph, code, computed)
    forward = _forward_source(code, renames)
    live = live_nodes(graph)  # what is made
    classes = _own_module_sources(info, live)
    imports = _HEADER_IMPORTS[:2] + (("from typing import Literal", "") if classes else ()) + _HEADER_IMPORTS[2:]
    parts = [
        _header(graph),
        "\n".join(imports),
        _constants(graph, example),
        *helpers,
        *classes,
        _ADD_MODULE_SOURCE,
        _class_source(class_name, info, forward, makers, live),
    ]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def _example_shapes(info: ShapeInfo, params: Params | None, inputs: Inputs | None) -> Mapping[str, Sequence[Any]]:
    """The input shapes at the spec's example sizes (`dims`, else 1; the sizes `inputs` gives first).

    The sizes at which every layer's conditions hold are the sizes at which shapes infer (that is
    what `valid_sizes` searches): those are evaluated, not inferred again. Sizes that break one are
    inferred, for the layer's own error.
    """
    env = {**dict.fromkeys(info.symbols, DEFAULT_BATCH), **info.graph.spec.dims}
    memo: dict[Any, Any] = {}
    if all(c.severity != "error" or c.holds(env, memo) for _, c in info.constraints):
        return {
            name: tuple(d if isinstance(d, int) else env[str(d)] for d in shape) for name, shape in info.inputs.items()
        }
    return prepare(info.graph, params, inputs, concrete=True).inputs  # the expanded graph: not expanded again


def _class_name(name: str) -> str:
    cleaned = class_name(name)
    return "Network" + cleaned if cleaned in _RESERVED else cleaned


def _literal(value: Any, *, tuples: bool = True) -> str:
    """Python source for a plain value, produced by `repr`; lists become tuples (as `build` passes
    module arguments) unless `tuples` is false."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, (list, tuple)):
        items = [_literal(v, tuples=tuples) for v in value]
        if not tuples:
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise ExportError(f"cannot write the value {value!r:.60} ({type(value).__name__}) as Python source")


def _identifier(name: str, what: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        raise ExportError(f"{what} `{name!r:.60}` is not a Python identifier")
    return name


def _qualified(name: str) -> str:
    if not all(_is_index(part) or is_node_name(part) for part in name.split(".")):
        raise ExportError(f"node name {name!r:.60} is not a dotted name")
    return name


def _is_index(part: str) -> bool:
    """A repeat's index (`0` in `layer1.0`): ASCII digits, which `is_node_name` accepts; checked
    apart because a large repeat has thousands of them."""
    return part.isdigit() and part.isascii() and len(part) <= MAX_NAME_CHARS


def _header(graph: Graph) -> str:
    lines = [
        f"# A PyTorch module generated by netspec {__version__} from the spec {graph.spec.name!r}.",
        "# It needs torch only. Parameters it was generated with:",
    ]
    lines += [
        f"#   {_identifier(k, 'parameter name')} = {_literal(v, tuples=False)}" for k, v in graph.params.items()
    ] or ["#   (none)"]
    return "\n".join(lines)


def _constants(graph: Graph, example: Mapping[str, Sequence[Any]]) -> str:
    params = (
        "{"
        + ", ".join(
            f"{_identifier(k, 'parameter name')!r}: {_literal(v, tuples=False)}" for k, v in graph.params.items()
        )
        + "}"
    )
    shapes = (
        "{"
        + ", ".join(f"{_identifier(k, 'input name')!r}: {_literal([int(d) for d in s])}" for k, s in example.items())
        + "}"
    )
    return "\n".join(
        [
            f"SPEC_NAME = {graph.spec.name!r}",
            f"SPEC_PARAMS = {params}",
            "# Input shapes at the spec's example sizes (`dims`).",
            f"EXAMPLE_INPUT_SHAPES = {shapes}",
        ]
    )


_ADD_MODULE_SOURCE = '''
def _add_module(root: nn.Module, qualified: str, module: nn.Module) -> None:
    """Register `module` at a dotted name, creating plain containers for the missing parents."""
    *parents, leaf = qualified.split(".")
    owner = root
    for part in parents:
        if part not in owner._modules:
            owner.add_module(part, nn.Module())
        owner = owner._modules[part]
    owner.add_module(leaf, module)


def _add_tensor(root: nn.Module, qualified: str, tensor: torch.Tensor, persistent: bool = True) -> torch.Tensor:
    """Register a parameter (or a buffer) at a dotted name, creating plain containers for the missing parents."""
    *parents, leaf = qualified.split(".")
    owner = root
    for part in parents:
        if part not in owner._modules:
            owner.add_module(part, nn.Module())
        owner = owner._modules[part]
    if isinstance(tensor, nn.Parameter):
        owner.register_parameter(leaf, tensor)
    else:
        owner.register_buffer(leaf, tensor, persistent=persistent)
    return tensor
'''


def _class_source(class_name: str, info: ShapeInfo, forward: str, makers: Mapping[str, str], live: Set[str]) -> str:
    graph = info.graph
    nodes = [n for n in graph.nodes if n.name in live and n.op.kind == "module"]
    made = [n for n in graph.nodes if n.name in live and n.op.kind in ("module", "tensor")]
    lines = [
        f"class {class_name}(nn.Module):",
        '    """The network of the spec `SPEC_NAME` with `SPEC_PARAMS`, as `netspec.build` compiles it."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
    ]
    announced: set[str] = set()
    calls: dict[str, str] = {}
    for node in made:  # spec order: the order of the random stream
        lines += ["        # " + title for title in _instance_titles(graph, node.name, announced)]
        if node.op.kind == "tensor":
            lines += ["        " + line for line in _tensor_lines(node, info.nodes[node.name].args, makers)]
        else:
            calls[node.name] = _module_call(node, info.nodes[node.name].args)
            lines.append("        " + _construction(node, calls[node.name]))
    init = _init_lines(nodes, info, calls)
    if init:
        lines += [
            "        self._init_weights()",
            "",
            "    def _init_weights(self) -> None:",
            '        """The spec\'s init rules, applied module by module in registration order."""',
        ]
        lines += ["        with torch.no_grad():"] + ["            " + line for line in init]
    lines += [""] + ["    " + line if line else "" for line in forward.splitlines()]
    return "\n".join(lines)


def _instance_titles(graph: Graph, name: str, announced: set[str]) -> list[str]:
    """Comments for the block instances and repeats (from the graph's instance tree) whose first
    module is node `name`, outermost first: `layer1: 2 x basic`, `layer1.0: basic`."""
    titles = []
    instance = graph.instance_of(name)
    while instance is not None and instance.name and instance.name not in announced:
        announced.add(instance.name)
        if instance.container:
            titles.append(f"{_qualified(instance.name)}: {_instance_kind(graph, instance)}")
        instance = graph.instance_of(instance.name)
    return titles[::-1]


def _instance_kind(graph: Graph, instance: Instance) -> str:
    """`basic` for an instance of block `basic`, `2 x basic` for a repeat of it (`2 x 3 x basic` nested)."""
    counts = []
    while instance.kind == "repeat" and instance.members:
        counts.append(f"{len(instance.members)} x ")
        first = instance.members[0]
        if first not in graph.instances:
            return "".join(counts) + _identifier(graph.node(first).op.name, "op name")
        instance = graph.instances[first]
    what = _identifier(instance.block, "block name") if instance.block else "0 instances"
    return "".join(counts) + what


def _own_module_sources(info: ShapeInfo, live: Set[str]) -> list[str]:
    """The sources of netspec's own layer classes that the network uses, in a stable order."""
    used = {n.op.resolve().__name__ for n in info.graph.nodes if n.name in live and _is_own_module(n.op.resolve())}
    if not used:
        return []
    return [inspect.getsource(_OWN_MODULES[name]) for name in sorted(used)]


def _is_own_module(target: Any) -> bool:
    return _OWN_MODULES.get(getattr(target, "__name__", "")) is target


@functools.lru_cache(maxsize=256)
def _module_class(target: Any) -> str | None:
    """How a standalone file names a module class (`nn.Conv2d`; `StochasticDepth`, netspec's own,
    copied into it), or None for a class it cannot create."""
    class_name = getattr(target, "__name__", "")
    own = _is_own_module(target)
    if getattr(nn, class_name, None) is not target and not own:
        return None
    return f"{'' if own else 'nn.'}{_identifier(class_name, 'module class')}"


def _module_call(node: GraphNode, args: Mapping[str, Any]) -> str:
    """The expression that makes a node's module: `nn.Conv2d(in_channels=3, ...)`."""
    module_class = _module_class(node.op.resolve())
    if module_class is None:
        raise ExportError(
            f"node `{node.name}` uses `{node.op.name}`, which is not a `torch.nn` module: a standalone file cannot create it"
        )
    kwargs = ", ".join(f"{_identifier(k, 'argument name')}={_literal(v)}" for k, v in args.items())
    return f"{module_class}({kwargs})"


def _construction(node: GraphNode, call: str) -> str:
    name = _qualified(node.name)
    if "." not in name and name.isidentifier() and not keyword.iskeyword(name):
        return f"self.{name} = {call}"
    return f"_add_module(self, {name!r}, {call})"


def _tensor_lines(node: GraphNode, args: Mapping[str, Any], makers: Mapping[str, str]) -> list[str]:
    """A `Parameter` or `Buffer` node: its tensor made, initialised and registered, as `build` does;
    a tensor whose values its op computes (`RelativePositionIndex`) made by the copied function."""
    name = repr(_qualified(node.name))
    if "init" not in args:
        maker = makers.get(getattr(node.op.resolve(), "__name__", ""))
        if maker is None:
            raise ExportError(f"node `{node.name}` uses `{node.op.name}`, whose values a standalone file cannot make")
        call = ", ".join(f"{_identifier(k, 'argument name')}={_literal(v, tuples=False)}" for k, v in args.items())
        return [
            f"_add_tensor(self, {name}, {maker}({call}), persistent={_literal(bool(args.get('persistent', True)))})"
        ]
    dtype = _identifier(str(args["dtype"]), "dtype")
    tensor = f"torch.empty({_literal(list(args['shape']))}, dtype=torch.{dtype})"
    init = args["init"]
    fn_name, fn_args = (init, {}) if isinstance(init, str) else next(iter(init.items()))
    kwargs, _ = check_init_args(fn_name, fn_args if isinstance(fn_args, dict) else {"value": fn_args})
    fn = INIT_FUNCTIONS[fn_name].__name__
    extra = "".join(f", {_identifier(k, 'init argument')}={_literal(v)}" for k, v in kwargs.items())
    if node.op.name == "Parameter":
        made = f"nn.Parameter({tensor}, requires_grad={_literal(bool(args['requires_grad']))})"
        register = f"_tensor = _add_tensor(self, {name}, {made})"
    else:
        register = f"_tensor = _add_tensor(self, {name}, {tensor}, persistent={_literal(bool(args['persistent']))})"
    return [register, "with torch.no_grad():", f"    nn.init.{_identifier(fn, 'init function')}(_tensor{extra})"]


def _init_lines(nodes: list[GraphNode], info: ShapeInfo, calls: Mapping[str, str]) -> list[str]:
    """The spec's init rules resolved statically, in the order `build` applies them (`calls`: the
    expression that makes each node's module)."""
    lines = []
    tensors = _TensorAttributes(info)
    for node in nodes:
        owner = (
            f"self.{node.name}"
            if "." not in node.name and node.name.isidentifier()
            else f"self.get_submodule({node.name!r})"
        )
        for param, choice, kwargs, _ in init_steps(node, info.graph.init, info.graph.sources):
            fn_name = INIT_FUNCTIONS[choice].__name__
            if param in tensors(node, calls[node.name]):
                extra = "".join(f", {_identifier(k, 'init argument')}={_literal(v)}" for k, v in kwargs.items())
                lines.append(f"nn.init.{_identifier(fn_name, 'init function')}({owner}.{param}{extra})")
    return lines


class _TensorAttributes:
    """The names of a node's module's tensor attributes (`weight`, and `bias` unless `bias=False`),
    from one instance made on the meta device per expression that makes it (`nn.Conv2d(...)`):
    modules made alike have the same."""

    def __init__(self, info: ShapeInfo) -> None:
        self.info = info
        self.found: dict[str, frozenset[str]] = {}

    def __call__(self, node: GraphNode, key: str) -> frozenset[str]:
        if key not in self.found:
            with torch.device("meta"):  # allocates nothing
                module = instantiate(self.info.nodes[node.name])
            names = {name for name, value in vars(module).items() if isinstance(value, torch.Tensor)}
            names |= {name for name, value in module._parameters.items() if value is not None}
            names |= {name for name, value in module._buffers.items() if value is not None}
            self.found[key] = frozenset(names)
        return self.found[key]


def _forward_source(code: fx.graph.PythonCode, renames: Mapping[str, str]) -> str:
    """The fx code of `forward` (generated without stack traces: spec text stays out), runtime
    helpers renamed."""
    unknown = set(code.globals) - _FX_BUILTIN_GLOBALS - set(renames)
    if unknown:
        raise ExportError(f"the compiled code calls {sorted(unknown)}, which a torch-only file cannot provide")
    prologue, found, body = code.src.partition("def forward(")
    if not found or any(line.strip() and not _FX_WRAP_LINE.match(line.strip()) for line in prologue.splitlines()):
        raise ExportError("unexpected code from torch.fx: cannot export it")
    return _rename_lines("def forward(" + body, renames).rstrip() + "\n"


def _rename_lines(source: str, renames: Mapping[str, str]) -> str:
    """`_rename_tokens` for fx code, tokenizing only the lines that mention a name to rename (fx
    writes one statement a line), so that the cost is that of the lines the renames touch."""
    lines = source.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if any(old in line for old in renames):
            lines[index] = _rename_tokens(line, renames, calls_only=False)
    return "".join(lines)


# --- runtime helpers, copied into the file --------------------------------------------------------


_HELPER_MODULES = (_runtime, _windows)  # the modules whose functions compiled code calls


def _runtime_functions() -> dict[str, Any]:
    return {
        name: obj
        for module in _HELPER_MODULES
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__
    }


def _is_runtime_function(obj: object, functions: Mapping[str, Any]) -> TypeGuard[types.FunctionType]:
    """True for one of `functions` (the runtime's own, not another of the same name)."""
    return inspect.isfunction(obj) and functions.get(obj.__name__) is obj


def _runtime_helpers(
    graph: fx.Graph, code: fx.graph.PythonCode, also: Iterable[Any] = ()
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Sources of the runtime functions the graph calls (and those they call), fx-name -> new name,
    and the new names of the functions `also` lists that are runtime functions (those that make a
    tensor node's values, as `RelativePositionIndex`'s)."""
    functions = _runtime_functions()
    called = {name: obj.__name__ for name, obj in code.globals.items() if _is_runtime_function(obj, functions)}
    extra = {fn.__name__ for fn in also if _is_runtime_function(fn, functions)}
    needed = _closure(set(called.values()) | extra, functions)
    new_names = _helper_names(needed, {node.name for node in graph.nodes} | _RESERVED)
    order = sorted(needed, key=lambda name: _helper_position(functions[name]))
    renames = tuple(sorted(new_names.items()))
    sources = [_helper_source(functions[name], renames) for name in order]
    return sources, {fx_name: new_names[name] for fx_name, name in called.items()}, {n: new_names[n] for n in extra}


# A helper's source, where it is and what it calls never change in a process: read and tokenized once.
@functools.lru_cache(maxsize=256)
def _helper_position(fn: types.FunctionType) -> tuple[str, int]:
    return inspect.getsourcefile(fn) or "", inspect.getsourcelines(fn)[1]


@functools.lru_cache(maxsize=256)
def _helper_source(fn: types.FunctionType, renames: tuple[tuple[str, str], ...]) -> str:
    return _rename_tokens(inspect.getsource(fn), dict(renames), calls_only=True)


@functools.lru_cache(maxsize=256)
def _helper_calls(fn: types.FunctionType) -> frozenset[str]:
    return frozenset(_called_names(inspect.getsource(fn)))


def _helper_names(names: Iterable[str], taken: set[str]) -> dict[str, str]:
    """`check_input` -> `_check_input`; a private `_pad` beside `pad` -> `_pad_impl`; never a taken name."""
    chosen: dict[str, str] = {}
    for name in sorted(names, key=lambda n: (n.startswith("_"), n)):  # public names choose first
        new = "_" + name.lstrip("_")
        if new in taken:
            new += "_impl"
        while new in taken:
            new += "_"
        taken.add(new)
        chosen[name] = new
    return chosen


def _closure(names: set[str], functions: Mapping[str, Any]) -> set[str]:
    pending, found = list(names), set()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        fn = functions[name]
        _check_runtime_globals(fn, functions)
        pending.extend(n for n in _helper_calls(fn) if n in functions)
    return found


def _check_runtime_globals(fn: Any, functions: Mapping[str, Any]) -> None:
    """A copied helper may use only torch, `F`, `Tensor`, builtins and other helpers."""
    for name in fn.__code__.co_names:
        defined = any(name in vars(module) for module in _HELPER_MODULES)
        if defined and name not in functions and name not in _RUNTIME_IMPORTS:
            raise ExportError(f"the runtime helper `{fn.__name__}` uses `{name}`, which the exporter does not copy")


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NL, tokenize.COMMENT)
    ]


def _called_names(source: str) -> set[str]:
    tokens = _tokens(source)
    return {t.string for prev, t, nxt in _triples(tokens) if _is_call(prev, t, nxt)}


def _triples(
    tokens: list[tokenize.TokenInfo],
) -> Iterable[tuple[tokenize.TokenInfo | None, tokenize.TokenInfo, tokenize.TokenInfo | None]]:
    for i, token in enumerate(tokens):
        yield (tokens[i - 1] if i else None), token, (tokens[i + 1] if i + 1 < len(tokens) else None)


def _is_call(prev: tokenize.TokenInfo | None, token: tokenize.TokenInfo, nxt: tokenize.TokenInfo | None) -> bool:
    """A bare name followed by `(` (a call or a `def`), not an attribute such as `F.pad(`."""
    return (
        token.type == tokenize.NAME
        and nxt is not None
        and nxt.string == "("
        and not (prev is not None and prev.string == ".")
    )


def _rename_tokens(source: str, renames: Mapping[str, str], *, calls_only: bool) -> str:
    """Rename NAME tokens (only called or defined ones with `calls_only`), leaving all other text as it is."""
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    for prev, token, nxt in _triples(_tokens(source)):
        if token.type != tokenize.NAME or token.string not in renames:
            continue
        if calls_only and not _is_call(prev, token, nxt):
            continue
        if not calls_only and prev is not None and prev.string == ".":
            continue
        (row, col), (_, end) = token.start, token.end
        edits.append((row, col, end, renames[token.string]))
    for row, col, end, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[end:]
    return "".join(lines)


Weights = str | os.PathLike[str] | Mapping[str, torch.Tensor] | None

# --- TorchScript and ONNX ---------------------------------------------------------------------------


@within_budget
def export_torchscript(
    source: Source,
    out: str | os.PathLike[str] | io.BytesIO,
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    weights: Weights = None,
) -> torch.jit.ScriptModule:
    """Build the model, script it with `torch.jit.script` and save it to `out`; returns the script module::

        netspec.export_torchscript("resnet18", "resnet18.pt", params={"num_classes": 10})
        torch.jit.load("resnet18.pt")

    Legacy: TorchScript is deprecated in torch (2.13 on); `export_pt2` (torch.export) is its successor.
    """
    module = build(source, params=params, inputs=inputs, weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates TorchScript
        warnings.simplefilter("ignore", FutureWarning)  # and torch 2.14 says so with a FutureWarning
        warnings.filterwarnings("ignore", message="The TorchScript type system", category=UserWarning)
        scripted = torch.jit.script(module)
        scripted.save(out)  # type: ignore[no-untyped-call]  # torch.jit.ScriptModule.save is unannotated
    return scripted


# Past this many bytes of parameters ONNX needs its weights in a separate file (protobuf's 2 GB limit).
_ONNX_SINGLE_FILE_LIMIT = 2**31 - 2**26


@dataclasses.dataclass(frozen=True)
class _Traced:
    """What an export traces: the module in eval mode, example inputs, and the dynamic dims."""

    module: fx.GraphModule
    example: tuple[torch.Tensor, ...]
    dynamic_shapes: tuple[dict[int, Any], ...] | None
    dims: dict[str, str]  # symbol -> how it varies ("188 + 16k", ">= 1"), for documentation and metadata
    input_names: list[str]
    output_names: list[str]
    declared: dict[str, tuple[Any, ...]]  # the inputs' shapes as the spec declares them (`N`, 3, `H`, `W`)
    output_shapes: list[tuple[Any, ...]]  # the outputs' static shapes (`N`, 2, `H-40`, `W-40`)
    spec: Spec


def _refuse_off_lattice(spec: Spec, params: Mapping[str, Any], input_shapes: Mapping[str, Sequence[int]]) -> None:
    """Sizes at which a layer drops rows or crops off-center run, but an export is traced at them: refuse
    them with the diagnostics `validate` gives (nearest sizes that fit), as errors."""
    found = validate(spec, params=params, inputs=input_shapes)
    off = [dataclasses.replace(d, severity="error") for d in found if d.code == "NS211"]
    if off:
        raise SpecError(off, prepare(spec, params).graph.sources)


def _dim_spec(
    info: ShapeInfo, symbol: str, lattice: SizeLattice | None, batch: bool
) -> tuple[Any, int, str, int] | None:
    """torch.export's description of one symbolic input dim, an example size for tracing, its wording
    and the step between valid sizes.

    Batch dims are free from 1; a dim whose exact sizes are `first + period*k` becomes a derived dim
    `period*k + first`; other constrained dims are free from the first size at which they fit. Every
    range starts where all the network's intermediate sizes are at least 2, since torch.export
    specialises sizes 0 and 1.
    """
    Dim = torch.export.Dim
    if batch:
        return Dim(symbol, min=1), 2, ">= 1", 1
    period = lattice.period if lattice is not None else 1
    sizes = lattice.exact if lattice is not None else tuple(range(1, 4097))
    if not sizes or not period:
        return None
    start = _first_size_without_ones(info, symbol, sizes)
    if start is None:
        return None
    if period == 1:
        return Dim(symbol, min=start), start + 3, f">= {start}", 1
    if any((size - start) % period for size in sizes if size >= start):
        return None  # several residues (`H mod 8 in {0, 3}`): not one derived dim
    k = Dim(f"{symbol}_k", min=0)
    return period * k + start, start + 2 * period, f"{start} + {period}k", period


def _first_size_without_ones(info: ShapeInfo, symbol: str, sizes: Sequence[int]) -> int | None:
    """The smallest of `sizes` at which every spatial size of every node that depends on `symbol` is >= 2."""
    example = dict.fromkeys(info.symbols, 8)
    example.update(info.graph.spec.dims)
    depending = [
        dim
        for node in info.nodes.values()
        if isinstance(node.output, tuple)
        for dim in node.output[2:]
        if isinstance(dim, Sym) and symbol in dim.variables
    ]
    for size in sizes[:4096]:
        env = {**example, symbol: size}
        if size >= 2 and all(_evaluates_to_two(dim, env) for dim in depending):
            return size
    return None


def _evaluates_to_two(dim: Sym, env: Mapping[str, int]) -> bool:
    try:
        return int(dim.evaluate(env)) >= 2
    except (KeyError, ValueError, ZeroDivisionError):
        return True  # another symbol unknown here: not this dim's concern


def _traced(
    source: Source,
    params: Mapping[str, Any] | None,
    input_shapes: Mapping[str, Sequence[int]] | None,
    weights: Weights,
    dynamic: bool,
) -> _Traced:
    spec = _spec(source)
    params = dict(params or {})
    if input_shapes:
        _refuse_off_lattice(spec, params, input_shapes)
    info = prepare(spec, params)
    concrete = prepare(spec, params, input_shapes, concrete=True)
    module = build(spec, params=params, inputs=input_shapes, weights=weights).eval()
    lattices = valid_sizes(info)
    sizes: dict[str, int] = {}
    steps: dict[str, int] = {}
    specs: dict[str, Any] = {}
    dims: dict[str, str] = {}
    shapes: list[dict[int, Any]] = []
    for declared in info.graph.inputs.values():
        per_input: dict[int, Any] = {}
        for index, dim in enumerate(declared):
            if not isinstance(dim, str) or not dynamic:
                continue
            if dim not in specs:
                found = _dim_spec(info, dim, lattices.get(dim), batch=index == 0)
                if found is None:
                    raise ExportError(
                        f"input dimension `{dim}` cannot be exported as dynamic: its valid sizes "
                        f"({lattices[dim].describe() if dim in lattices else 'none'}) are not one range or one "
                        "arithmetic sequence; export with fixed sizes (`dynamic=False`, `--static`)"
                    )
                specs[dim], sizes[dim], dims[dim], steps[dim] = found
            per_input[index] = specs[dim]
        shapes.append(per_input)
    # Distinct example sizes per symbol, so that torch.export never takes two of them for one.
    used: set[int] = set()
    for symbol, size in list(sizes.items()):
        while size in used:
            size += steps[symbol]
        sizes[symbol] = size
        used.add(size)
    tensors = []
    indices = index_rules_by_input(info)
    for name, shape in info.graph.inputs.items():
        example = [
            sizes[d] if isinstance(d, str) and d in sizes else int(c)  # type: ignore[arg-type]
            for d, c in zip(shape, concrete.inputs[name])
        ]
        lookups = indices.get(name)  # indices of embeddings: integers every one of them can look up
        tensors.append(
            torch.randint(0, min(count for _, count, _ in lookups), example) if lookups else torch.randn(example)
        )
    outputs = [o.replace(".", "_") for o in info.graph.outputs]
    declared_shapes = {k: tuple(v) for k, v in info.graph.inputs.items()}
    return _Traced(
        module,
        tuple(tensors),
        tuple(shapes) if dynamic else None,
        dims,
        list(info.graph.inputs),
        outputs,
        declared_shapes,
        [tuple(shape) for shape in info.outputs],
        spec,
    )


def _exported_program(traced: _Traced) -> torch.export.ExportedProgram:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.export(traced.module, traced.example, dynamic_shapes=traced.dynamic_shapes)
    except Exception as err:  # torch.export raises many kinds; the user needs one message
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        hint = "; export with fixed sizes (`dynamic=False`, `--static`)" if traced.dynamic_shapes else ""
        raise ExportError(f"torch.export cannot trace the network: {first[:300]}{hint}") from err


@within_budget
def export_pt2(
    source: Source,
    out: str | os.PathLike[str] | io.BytesIO | None = None,
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    weights: Weights = None,
    dynamic: bool = True,
) -> torch.export.ExportedProgram:
    """The network as a `torch.export.ExportedProgram` (eval mode), saved to `out` (`.pt2`) if given::

        program = netspec.export_pt2("unet", "unet.pt2", params={"width": 16})
        torch.export.load("unet.pt2").module()(torch.randn(2, 1, 204, 220))

    With `dynamic` (the default) the batch and every symbolic input dim stay symbolic over the sizes
    the spec allows: the U-Net's `H` becomes the derived dim `16*H_k + 188`, ResNet's `H` a dim from
    the first size at which no feature map is 1x1. `inputs` gives the tracing sizes (refused
    off the lattice, with the nearest sizes that fit); `weights` loads trained weights as `build` does.
    """
    traced = _traced(source, params, inputs, weights, dynamic)
    program = _exported_program(traced)
    if out is not None:
        torch.export.save(program, out)
    return program


@within_budget
def export_onnx(
    source: Source,
    out: str | os.PathLike[str],
    /,
    *,
    params: Params | None = None,
    inputs: Inputs | None = None,
    weights: Weights = None,
    dynamic: bool = True,
) -> None:
    """Export to ONNX in eval mode, through `torch.export`, as one file for models under 2 GB::

        netspec.export_onnx("resnet18", "resnet18.onnx", weights="resnet18.safetensors")

    With `dynamic` (the default) the symbolic input dims become dynamic axes (named as in the spec,
    `N`, `H`; their valid sizes are in the model's metadata, `netspec.dims.H = 188 + 16k`), as in
    `export_pt2`; without it the model has the fixed sizes of `inputs` or the spec's `dims`.
    Needs the `onnx` and `onnxscript` packages (`pip install netspec[onnx]`), else raises
    `MissingDependencyError`.
    """
    _require_onnx()
    import onnx

    traced = _traced(source, params, inputs, weights, dynamic)
    program = _exported_program(traced)
    size = sum(t.numel() * t.element_size() for t in traced.module.state_dict().values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter reports its progress as warnings
        onnx_program = torch.onnx.export(
            program,
            traced.example,
            input_names=traced.input_names,
            output_names=traced.output_names,
            dynamo=True,
            verbose=False,
            external_data=size > _ONNX_SINGLE_FILE_LIMIT,
        )
    assert onnx_program is not None
    model = onnx_program.model_proto
    _rename_axes(model, traced, _symbol_names(program, traced))
    for symbol, wording in traced.dims.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"netspec.dims.{symbol}", wording
    meta = traced.module.meta.get("netspec", {})
    for key, value in (
        (SPEC_KEY, str(meta.get("spec", ""))),
        (DOCUMENT_KEY, spec_document(traced.spec)),  # what `onnx_session` checks inputs against
        (PARAMS_KEY, json.dumps(meta.get("params", {}))),
        ("netspec.version", __version__),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    if size > _ONNX_SINGLE_FILE_LIMIT:
        onnx.save_model(model, os.fspath(out), save_as_external_data=True, location=os.path.basename(out) + ".data")
    else:
        onnx.save_model(model, os.fspath(out))


_TORCH_SYMBOL = re.compile(r"\bs\d+\b")


def _symbol_names(program: torch.export.ExportedProgram, traced: _Traced) -> dict[str, str]:
    """torch's size symbols (`s23`) -> the spec's (`N`, `H`, or `H_k` for `16*H_k + 188`)."""
    names: dict[str, str] = {}
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"][-len(traced.example) :]
    for node, per_input, input_name in zip(placeholders, traced.dynamic_shapes or (), traced.input_names):
        declared = traced.declared.get(input_name)
        value = node.meta.get("val")
        if value is None:
            continue
        for index in per_input:
            size = value.shape[index]
            expr = getattr(getattr(size, "node", None), "expr", None)
            if expr is None or declared is None:
                continue
            symbol = declared[index]
            free = sorted(str(f) for f in expr.free_symbols)
            if len(free) == 1:
                names[free[0]] = symbol if str(expr) == free[0] else f"{symbol}_k"
    return names


def _rename_axes(model: Any, traced: _Traced, names: Mapping[str, str]) -> None:
    """Name the dynamic axes as the spec does: inputs `[N, 1, H, W]`, outputs by netspec's static shapes
    (`[N, 2, H-40, W-40]`), intermediate values in torch's expressions over the spec's symbols."""
    for value, shape in zip(model.graph.input, traced.declared.values()):
        for dim, declared in zip(value.type.tensor_type.shape.dim, shape):
            if dim.dim_param and isinstance(declared, str):
                dim.dim_param = declared
    for value, shape in zip(model.graph.output, traced.output_shapes):
        for dim, static in zip(value.type.tensor_type.shape.dim, shape):
            if dim.dim_param and isinstance(static, Sym):
                dim.dim_param = str(static)
    for value in model.graph.value_info:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = _TORCH_SYMBOL.sub(lambda m: names.get(m.group(0), m.group(0)), dim.dim_param)


def _require_onnx() -> None:
    missing = []
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            missing.append(package)
    if missing:
        raise MissingDependencyError(
            f"exporting to ONNX needs {' and '.join(f'`{m}`' for m in missing)}: install netspec[onnx]"
        )
