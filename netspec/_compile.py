"""Compile a shape-checked graph into a `torch.fx.GraphModule`.

Modules are created in spec order (so the random stream, and therefore every parameter under a seed,
is the same as a hand-written module that creates its layers in that order), registered at their
qualified names, initialised by the spec's init rules, and called directly by generated code.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from . import _runtime
from ._dims import Sym, format_shape
from ._errors import Diagnostic, SpecError, format_path
from ._graph import Graph, GraphNode, InitPlan
from ._shapes import NodeInfo, ShapeInfo

__all__ = ["INIT_FUNCTIONS", "compile_graph"]

# Init rule names -> the `torch.nn.init` function; the arguments a spec may pass are checked by `_graph`.
INIT_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "kaiming_normal": nn.init.kaiming_normal_,
    "kaiming_uniform": nn.init.kaiming_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "xavier_uniform": nn.init.xavier_uniform_,
    "normal": nn.init.normal_,
    "uniform": nn.init.uniform_,
    "trunc_normal": nn.init.trunc_normal_,
    "constant": nn.init.constant_,
    "zeros": nn.init.zeros_,
    "ones": nn.init.ones_,
    "orthogonal": nn.init.orthogonal_,
}


def _instantiate(info: NodeInfo) -> nn.Module:
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in info.args.items()}
    return info.node.op.target(**kwargs)


def _register(root: nn.Module, qualified: str, module: nn.Module) -> None:
    *parents, leaf = qualified.split(".")
    owner = root
    for part in parents:
        child = owner._modules.get(part)
        if child is None:
            child = nn.Module()
            owner.add_module(part, child)
        owner = child
    owner.add_module(leaf, module)


def apply_init(modules: list[tuple[GraphNode, nn.Module]], plans: list[InitPlan], sources: Any = None) -> None:
    """Module-major, like a hand-written `for m in self.modules()` loop: later rules override earlier ones."""
    prepared = []
    for plan in plans:
        steps = []
        for param in ("weight", "bias"):
            choice = getattr(plan, param)
            if choice is None:
                continue
            name, kwargs = choice  # checked when the graph was expanded
            if name != "default":
                steps.append((param, name, kwargs))
        prepared.append((plan, steps))
    with torch.no_grad():
        for node, module in modules:
            for plan, steps in prepared:
                if not plan.matches(node):
                    continue
                for param, name, kwargs in steps:
                    tensor = getattr(module, param, None)
                    if isinstance(tensor, torch.Tensor):
                        _initialise(tensor, name, kwargs, plan, node, sources, param)


def _initialise(
    tensor: torch.Tensor, name: str, kwargs: dict[str, Any], plan: InitPlan, node: GraphNode, sources: Any, param: str
) -> None:
    try:
        INIT_FUNCTIONS[name](tensor, **kwargs)
    except (ValueError, RuntimeError) as err:  # e.g. a fan-based init of a 1-D tensor
        path = plan.path + (param,)
        message = f"init function `{name}` cannot initialise `{node.name}.{param}` of shape {list(tensor.shape)}: {err}"
        raise SpecError(
            [
                Diagnostic(
                    message, path=format_path(path), hint="narrow the rule's `ops` or `nodes`", code="NS180"
                ).located(sources.span(path))
            ],
            sources,
        ) from None


def _expected_shape(shape: tuple[Any, ...]) -> str:
    return format_shape(tuple(d if isinstance(d, (int, Sym)) else str(d) for d in shape))


def _emit(graph: fx.Graph, info: NodeInfo, values: list[fx.Node]) -> fx.Node:
    node, op = info.node, info.node.op
    if op.kind == "module":
        return graph.call_module(node.name, tuple(values))
    if op.target in (operator.add, operator.mul):
        result = values[0]
        for value in values[1:]:
            result = graph.call_function(op.target, (result, value))
        return result
    inputs = (values,) if op.inputs_as_list else tuple(values)
    return graph.call_function(op.target, inputs, dict(info.args))


class _StackTraces:
    """Python-style one-frame stack traces pointing at spec lines, which `print_readable` summarises."""

    def __init__(self, graph_def: Graph) -> None:
        self.sources = graph_def.sources
        self.lines: dict[str | None, list[str]] = {}

    def __call__(self, path: tuple[Any, ...], name: str) -> str | None:
        span = self.sources.span(path)
        if span is None:
            return None
        if span.file not in self.lines:
            self.lines[span.file] = self.sources.texts.get(span.file, "").splitlines()
        lines = self.lines[span.file]
        code = lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""
        return f'  File "{span.file}", line {span.line}, in {name}\n    {code}\n'


def compile_graph(info: ShapeInfo, *, guard: bool = True) -> fx.GraphModule:
    """Instantiate, initialise and wire the modules of a shape-checked graph."""
    graph_def = info.graph
    used = _live_nodes(graph_def)
    root = nn.Module()
    modules: list[tuple[GraphNode, nn.Module]] = []
    for node in graph_def.nodes:  # spec order: the order of the random stream and of the state_dict
        if node.name in used and node.op.kind == "module":
            module = _instantiate(info.nodes[node.name])
            _register(root, node.name, module)
            modules.append((node, module))
    apply_init(modules, graph_def.init, graph_def.sources)

    graph = fx.Graph()
    stack_trace = _StackTraces(graph_def)
    values: dict[str, fx.Node] = {}
    for name in info.inputs:
        placeholder = graph.placeholder(name)
        declared = graph_def.inputs[name]
        if guard:
            channels = declared[1] if len(declared) > 1 and isinstance(declared[1], int) else 0
            placeholder = graph.call_function(
                _runtime.check_input, (placeholder, name, len(declared), channels, _expected_shape(declared))
            )
            placeholder.stack_trace = stack_trace(("inputs", name), name)
        values[name] = placeholder
    for node in graph_def.order:
        if node.name not in used:
            continue
        value = _emit(graph, info.nodes[node.name], [values[i] for i in node.inputs])
        value.stack_trace = stack_trace(node.path, node.name)
        values[node.name] = value
    _mark_runtime_calls(graph)
    outputs = [values[name] for name in graph_def.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    graph.lint()
    module = fx.GraphModule(root, graph, class_name=_class_name(graph_def.spec.name))
    # GraphModule copies submodules in execution order; keep the spec's order for the state_dict.
    module._modules.clear()
    for name, child in root._modules.items():
        module._modules[name] = child
    module.meta["netspec"] = {
        "spec": graph_def.spec.name,
        "params": dict(graph_def.params),
        "inputs": {k: _expected_shape(v) for k, v in graph_def.inputs.items()},
    }
    return module


def _mark_runtime_calls(graph: fx.Graph) -> None:
    """Mark calls of `_runtime` functions as fx-wrapped (leaves), as `torch.fx.wrap` would.

    The generated code then declares them with `wrap(...)`, so re-tracing it (which is how a pickled
    GraphModule is loaded) keeps them as calls instead of tracing into their Python control flow.
    """
    for node in graph.nodes:
        if node.op == "call_function" and getattr(node.target, "__module__", None) == _runtime.__name__:
            node.meta["is_wrapped"] = True


def _class_name(name: str) -> str:
    cleaned = "".join(part.capitalize() for part in "".join(c if c.isalnum() else " " for c in name).split())
    return cleaned if cleaned.isidentifier() else "NetspecModule"


def _live_nodes(graph_def: Graph) -> set[str]:
    """Nodes that some output depends on; others are reported as unused and left out."""
    by_name = {n.name: n for n in graph_def.nodes}
    live: set[str] = set()
    stack = [o for o in graph_def.outputs if o in by_name]
    while stack:
        name = stack.pop()
        if name in live:
            continue
        live.add(name)
        stack.extend(i for i in by_name[name].inputs if i in by_name)
    return live
