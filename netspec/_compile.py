"""Compile a shape-checked graph into a `torch.fx.GraphModule`.

Modules are created in spec order (so the random stream, and therefore every parameter under a seed,
is the same as a hand-written module that creates its layers in that order), registered at their
qualified names, initialised by the spec's init rules, and called directly by generated code.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Set
from typing import Any

import torch
from torch import fx, nn

from . import _runtime
from ._dims import Sym, format_shape
from ._errors import Diagnostic, SpecError, format_path
from ._graph import Graph, GraphNode, InitPlan, check_init_args, init_steps, live_nodes
from ._guard import condition_rules, index_rules_by_input, size_rules
from ._load import collector_paused
from ._names import class_name
from ._shapes import NodeInfo, ShapeInfo, node_parameters

__all__ = ["INIT_FUNCTIONS", "compile_graph", "forward_graph", "instantiate", "make_modules"]

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


def instantiate(info: NodeInfo) -> nn.Module:
    """The module of a node, made with its completed arguments (lists passed as tuples)."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in info.args.items()}
    module: nn.Module = info.node.op.resolve()(**kwargs)
    return module


def _owner(root: nn.Module, qualified: str) -> tuple[nn.Module, str]:
    """The module that holds `qualified` (containers made on the way), and the leaf name."""
    *parents, leaf = qualified.split(".")
    owner = root
    for part in parents:
        child = owner._modules.get(part)
        if child is None:
            child = nn.Module()
            owner.add_module(part, child)
        owner = child
    return owner, leaf


def _register(root: nn.Module, qualified: str, module: nn.Module) -> None:
    owner, leaf = _owner(root, qualified)
    owner.add_module(leaf, module)


def _make_tensor(info: NodeInfo, sources: Any) -> torch.Tensor:
    """The tensor of a `Parameter` or `Buffer` node, initialised by its `init`."""
    args = info.args
    tensor: torch.Tensor = info.node.op.resolve()(**args)
    if "init" not in args:  # a tensor whose values its op computes (`RelativePositionIndex`)
        return tensor
    init = args["init"]
    name, fn_args = (init, {}) if isinstance(init, str) else next(iter(init.items()))
    kwargs, _ = check_init_args(name, fn_args if isinstance(fn_args, dict) else {"value": fn_args})
    path = info.node.path + ("init",)
    with torch.no_grad():
        try:
            INIT_FUNCTIONS[name](tensor, **kwargs)
        except (ValueError, RuntimeError, OverflowError) as err:
            message = (
                f"init function `{name}` cannot initialise `{info.node.name}` of shape {list(tensor.shape)}: {err}"
            )
            raise SpecError(
                [Diagnostic(message, path=format_path(path), code="NS180").located(sources.span(path))], sources
            ) from None
    if info.node.op.name == "Parameter":
        return nn.Parameter(tensor, requires_grad=args["requires_grad"])
    return tensor


def _register_tensor(root: nn.Module, info: NodeInfo, tensor: torch.Tensor) -> None:
    owner, leaf = _owner(root, info.node.name)
    if isinstance(tensor, nn.Parameter):
        owner.register_parameter(leaf, tensor)
    else:
        owner.register_buffer(leaf, tensor, persistent=info.args["persistent"])


def apply_init(modules: list[tuple[GraphNode, nn.Module]], plans: list[InitPlan], sources: Any = None) -> None:
    """Module-major, like a hand-written `for m in self.modules()` loop; for each parameter the last
    matching rule wins and the rules it overrides draw nothing (see `init_steps`)."""
    with torch.no_grad():
        for node, module in modules:
            for param, name, kwargs, plan in init_steps(node, plans, sources):
                tensor = getattr(module, param, None)
                if isinstance(tensor, torch.Tensor):
                    _initialise(tensor, name, kwargs, plan, node, sources, param)


def _initialise(
    tensor: torch.Tensor, name: str, kwargs: dict[str, Any], plan: InitPlan, node: GraphNode, sources: Any, param: str
) -> None:
    try:
        INIT_FUNCTIONS[name](tensor, **kwargs)
    except (ValueError, RuntimeError, OverflowError) as err:  # e.g. a fan-based init of a 1-D tensor
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


def _emit(graph: fx.Graph, info: NodeInfo, values: list[fx.Node], ports: frozenset[int], sizes: _Sizes) -> fx.Node:
    node, op = info.node, info.node.op
    if op.kind == "tensor":
        return graph.get_attr(node.name)
    if op.spread_inputs is not None:
        values = op.spread_inputs(values)
    kwargs = op.call_kwargs(info.args, ports) if op.call_kwargs is not None else None
    if op.kind == "module":
        return graph.call_module(node.name, tuple(values), kwargs or {})
    target = op.resolve()
    if target in (operator.add, operator.mul):
        result = values[0]
        for value in values[1:]:
            result = graph.call_function(target, (result, value))
        return result
    args = dict(info.args) if kwargs is None else kwargs
    for name in op.symbolic:  # sizes named by a symbol (`N`) are read from the inputs at run time
        args[name] = [sizes(item) if isinstance(item, str) else item for item in node.args[name]]
    inputs = (values,) if op.inputs_as_list else tuple(values)
    return graph.call_function(target, inputs, args)


_Sizes = Any  # (symbol) -> fx.Node of its size at run time


def _port_value(graph: fx.Graph, info: NodeInfo, value: fx.Node, port: int) -> fx.Node:
    items = info.node.op.port_items(port) if info.node.op.port_items is not None else (port,)
    for item in items:
        value = graph.call_function(operator.getitem, (value, item))
    return value


# Characters of a spec line a stack trace quotes: every node's trace holds its own copy.
_MAX_TRACE_CODE = 160


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
        line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        if len(line) > _MAX_TRACE_CODE:  # a spec written on one line (JSON): the node's part of it only
            start = max(span.column - 1, 0)
            code = line[start : start + _MAX_TRACE_CODE].strip() + " ..."
        else:
            code = line.strip()
        return f'  File "{span.file}", line {span.line}, in {name}\n    {code}\n'


def compile_graph(info: ShapeInfo, *, guard: bool = True) -> fx.GraphModule:
    """Instantiate, initialise and wire the modules of a shape-checked graph."""
    with collector_paused():  # thousands of modules and fx nodes, all kept: scanning them is wasted
        return _compile(info, guard)


def _compile(info: ShapeInfo, guard: bool) -> fx.GraphModule:
    graph_def = info.graph
    root = make_modules(info)
    computed = live_nodes(graph_def, kept=False)
    graph = forward_graph(info, guard=guard, computed=computed)
    graph.lint()
    # An empty graph first: GraphModule copies every target of the graph it is given, one attribute at
    # a time, which is most of the cost of a large network; the modules are moved over at once.
    module = fx.GraphModule(nn.Module(), fx.Graph(), class_name=class_name(graph_def.spec.name))
    module.training = root.training
    _adopt(module, root, graph)
    module.graph = graph  # generates `forward`, once
    module.meta["netspec"] = {
        "spec": graph_def.spec.name,
        "params": dict(graph_def.params),
        "inputs": {k: _expected_shape(v) for k, v in graph_def.inputs.items()},
        "dims": dict(graph_def.spec.dims),  # the spec's example sizes: what `optimize` packs weights for
        "instances": instance_record(graph_def, computed),  # what `fully_shard_blocks` groups by
    }
    return module


def _adopt(module: nn.Module, root: nn.Module, graph: fx.Graph) -> None:
    """Give `module` the children and tensors of `root`: the children in spec order (the state_dict's
    order), the top-level tensors in the order the graph reads them, as `GraphModule(root, graph)` does."""
    module._modules.update(root._modules)  # the same objects: nothing is copied, no hook runs twice
    for node in graph.nodes:
        target = node.target
        if node.op != "get_attr" or not isinstance(target, str) or "." in target:
            continue
        if target in root._parameters and target not in module._parameters:
            module.register_parameter(target, root._parameters[target])
        elif target in root._buffers and target not in module._buffers:
            persistent = target not in root._non_persistent_buffers_set
            module.register_buffer(target, root._buffers[target], persistent=persistent)


def make_modules(info: ShapeInfo) -> nn.Module:
    """A plain module holding every module and tensor the graph uses at its qualified name, made in
    spec order (the order of the random stream and of the state_dict) and initialised by the init rules."""
    graph_def = info.graph
    used = live_nodes(graph_def)
    root = nn.Module()
    modules: list[tuple[GraphNode, nn.Module]] = []
    for node in graph_def.nodes:
        if node.name in used and node.op.kind == "module":
            module = instantiate(info.nodes[node.name])
            _register(root, node.name, module)
            modules.append((node, module))
        elif node.name in used and node.op.kind == "tensor":
            _register_tensor(root, info.nodes[node.name], _make_tensor(info.nodes[node.name], graph_def.sources))
    apply_init(modules, graph_def.init, graph_def.sources)
    return root


def forward_graph(
    info: ShapeInfo, *, guard: bool = True, traces: bool = True, computed: Set[str] | None = None
) -> fx.Graph:
    """The fx graph of `forward`: it needs no module (`export_python` generates code from it alone).
    `traces` gives each node the stack trace of its spec line and its static shape in `meta`;
    `computed` is `live_nodes(graph, kept=False)` where the caller has it."""
    graph_def = info.graph
    graph = fx.Graph()
    graph._graph_namespace.create_name("self", None)  # a node named `self` must not shadow the module
    stack_trace = _StackTraces(graph_def)
    values: dict[str, fx.Node] = {}
    conditions = condition_rules(info) if guard else {}
    indices = index_rules_by_input(info) if guard else {}
    kinds = _input_kinds(info) if guard else {}
    for name in info.inputs:
        placeholder = graph.placeholder(name)
        declared = graph_def.inputs[name]
        if guard:
            channels = declared[1] if len(declared) > 1 and isinstance(declared[1], int) else 0
            sizes = [d if isinstance(d, int) else 0 for d in declared]
            program, rules, known = conditions.get(name, ([], [], []))
            placeholder = graph.call_function(
                _runtime.check_input,
                (
                    placeholder,
                    name,
                    len(declared),
                    channels,
                    _expected_shape(declared),
                    sizes,
                    kinds[name],
                    [(*rule[:5], list(rule[5]), rule[6]) for rule in size_rules(info, name)] or None,
                    program or None,
                    rules or None,
                    [graph.call_method("size", (values[source], axis)) for source, axis in known] or None,
                    indices.get(name) or None,
                ),
            )
            if traces:
                placeholder.stack_trace = stack_trace(("inputs", name), name)
        if traces:
            placeholder.meta["netspec_shape"] = info.inputs[name]
        values[name] = placeholder
    ports_used = _ports_used(graph_def)
    size_nodes: dict[str, fx.Node] = {}

    def size_of(symbol: str) -> fx.Node:
        if symbol not in size_nodes:
            source, axis = next(
                (name, declared.index(symbol)) for name, declared in graph_def.inputs.items() if symbol in declared
            )
            size_nodes[symbol] = graph.call_method("size", (values[source], axis))
        return size_nodes[symbol]

    if computed is None:
        computed = live_nodes(graph_def, kept=False)
    for node in graph_def.order:
        if node.name not in computed:
            continue
        node_info = info.nodes[node.name]
        ports = ports_used.get(node.name, frozenset())
        value = _emit(graph, node_info, [values[i] for i in node.inputs], ports, size_of)
        if traces:
            value.stack_trace = stack_trace(node.path, node.name)
            value.meta["netspec_shape"] = node_info.output  # what graph passes (`optimize`) may rely on
        values[node.name] = value
        for port in sorted(ports):
            values[f"{node.name}:{port}"] = _port_value(graph, node_info, value, port)
    _mark_runtime_calls(graph)
    outputs = [values[name] for name in graph_def.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    return graph


def instance_record(graph_def: Graph, called: set[str]) -> dict[str, list[Any]]:
    """The block-instance tree as a built module keeps it, in `meta["netspec"]["instances"]`.

    Plain lists, dicts and strings (copied by `copy.deepcopy`, picklable):

    - `"instances"`: every block instance and repeat of the tree, the spec first, each as
      `{"name", "kind", "block", "parent"}` (`kind` is `spec`, `block` or `repeat`; `parent` the
      enclosing instance's name, `""` for a top-level one, None for the spec), in the order their
      first module runs (instances with no module last, in spec order). An inline instance has no
      entry: its nodes belong to the enclosing instance. A block instance of a flat repeat is named
      `features[i]`, as in `Graph.instances`.
    - `"modules"`: `[module, instance]` for every module the forward calls, in execution order, with
      the innermost instance that holds it directly.
    """
    order: dict[str, None] = {"": None}
    modules: list[list[str]] = []
    for node in graph_def.order:
        if node.name not in called or node.op.kind != "module":
            continue
        owner = graph_def.instance_of(node.name)
        owner_name = owner.name if owner is not None else ""
        chain: list[str] = []
        name: str | None = owner_name
        while name is not None and name not in order:  # the instances above it not yet listed
            chain.append(name)
            parent = graph_def.instance_of(name)
            name = parent.name if parent is not None else None
        order.update(dict.fromkeys(reversed(chain)))
        modules.append([node.name, owner_name])
    order.update(dict.fromkeys(graph_def.instances))
    instances = []
    for name in order:
        instance = graph_def.instances[name]
        parent = graph_def.instance_of(name) if name else None
        instances.append(
            {
                "name": name,
                "kind": instance.kind,
                "block": instance.block,
                "parent": None if not name else (parent.name if parent is not None else ""),
            }
        )
    return {"instances": instances, "modules": modules}


def _input_kinds(info: ShapeInfo) -> dict[str, int]:
    """What each input must hold, as `check_input` reads it: 0 integer indices (it feeds an
    embedding), 1 floating point (it feeds a layer with parameters), -1 either (only ops that take
    both read it). One pass over the nodes, whatever the number of inputs."""
    kinds: dict[str, set[int]] = {name: set() for name in info.inputs}
    for node_info in info.nodes.values():
        node = node_info.node
        if node.op.kind != "module":
            continue
        read = [name for name in dict.fromkeys(node.inputs) if name in kinds]
        if not read:
            continue
        kind = 0 if node.op.name.startswith("Embedding") else 1 if node_parameters(node_info) > 0 else None
        if kind is not None:
            for name in read:
                kinds[name].add(kind)
    return {name: found.pop() if len(found) == 1 else -1 for name, found in kinds.items()}


def _mark_runtime_calls(graph: fx.Graph) -> None:
    """Mark calls of `_runtime` functions as fx-wrapped (leaves), as `torch.fx.wrap` would.

    The generated code then declares them with `wrap(...)`, so re-tracing it (which is how a pickled
    GraphModule is loaded) keeps them as calls instead of tracing into their Python control flow.
    """
    for node in graph.nodes:
        if node.op == "call_function" and getattr(node.target, "__module__", None) == _runtime.__name__:
            node.meta["is_wrapped"] = True


def _ports_used(graph_def: Graph) -> dict[str, frozenset[int]]:
    """For each node with several outputs, the ports that nodes or the model's outputs read."""
    used: dict[str, set[int]] = {}
    for ref in [i for n in graph_def.nodes for i in n.inputs] + list(graph_def.outputs):
        base, _, port = ref.partition(":")
        if port:
            used.setdefault(base, set()).add(int(port))
    return {name: frozenset(ports) for name, ports in used.items()}
