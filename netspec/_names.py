"""The one rule for names a spec gives: what may name a node, and what may name anything else.

Two kinds of name reach generated code:

- **Node names** become `torch.nn` module names (`model.layer1`, `getattr(model, "block1-0")`). They
  may hold any character that `nn.Module.add_module` accepts, except those that would break or
  deceive: not empty, no `.` (the separator of qualified names), no `:` (it picks a port), no `$` (it starts an expression),
  no whitespace, control, format
  (bidirectional overrides, zero-width characters), surrogate, private-use or unassigned character,
  no `"` or `\\` (fx writes a name that is not an identifier inside a double-quoted `getattr`), only
  NFKC-stable text (Python reads identifiers through NFKC, so `ﬁ` would become `fi`), no leading
  `__`, not a Python keyword (`self.None` is not Python), and not an attribute of `nn.Module` or
  `fx.GraphModule` (`forward`, `training`, `graph`, `_modules`: torch refuses them, or the attribute
  would hide the module; a node that is no module, a function op such as `interpolate`, may take
  such a name).
- **Identifiers** name inputs, parameters, blocks, dimensions and anything else that becomes a
  Python name or an expression name: an ASCII identifier matched in full (so `"x\\n"` is refused),
  not a Python keyword (`None`, `True`, `if`, `lambda`), not a word of the expression language or
  of YAML (`true`, `false`, `null`), no leading `__`.

Every check of a spec name uses these functions; code generators (`_compile` through fx,
`_export`) rely on them and quote every name they write as a string literal or through `getattr`.
This module imports nothing from torch: the attribute table is checked against the installed torch
by `tests/test_names.py`.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

__all__ = [
    "IDENTIFIER_RULE",
    "MAX_NAME_CHARS",
    "MODULE_ATTRIBUTES",
    "NODE_NAME_RULE",
    "RESERVED_WORDS",
    "attribute_source",
    "canonical_port",
    "class_name",
    "identifier_problem",
    "identifier_schema",
    "is_identifier",
    "is_node_name",
    "node_name_problem",
    "node_name_schema",
    "port_number_problem",
    "rename_hint",
    "shown_name",
    "suggested_name",
]

MAX_NAME_CHARS = 256  # characters of one name (a qualified name joins several)

IDENTIFIER_RULE = "use ASCII letters, digits and `_`, not starting with a digit, not a reserved word"
NODE_NAME_RULE = (
    "use letters, digits and punctuation such as `_` or `-`: no `.`, `:`, `$`, spaces, quotes, backslashes or"
    " control characters, not a reserved word or an `nn.Module` attribute"
)

# Python's keywords and the literal words of YAML and of the expression language: a name spelt like
# one of these would read as the literal (`${true}`) or break generated Python (`class None`).
RESERVED_WORDS = frozenset({*keyword.kwlist, "true", "false", "null"})
# Identifiers become arguments of the generated `forward(self, ...)` too.
_RESERVED_IDENTIFIERS = RESERVED_WORDS | {"self"}

# Attributes of `nn.Module` and `fx.GraphModule` (class and instance) that do not start with `__`, as
# of torch 2.14. A module registered under one of these names is refused by torch or hidden by the
# attribute; `tests/test_names.py` checks that the installed torch adds none.
MODULE_ATTRIBUTES = frozenset(
    """
T_destination _apply _backward_hooks _backward_pre_hooks _boxed_call _buffers _call_impl _code
_compiled_call_impl _create_node_hooks _deepcopy_hooks _deepcopy_init _erase_node_hooks _forward_hooks
_forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
_get_backward_hooks _get_backward_pre_hooks _get_name _graph _is_full_backward_hook _lineno_map
_load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
_maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set _parameters
_prologue_start _recompile_submodules _register_create_node_hook _register_deepcopy_hook
_register_erase_node_hook _register_load_state_dict_pre_hook _register_replace_node_hook
_register_state_dict_hook _replace_hooks _replicate_for_data_parallel _save_to_state_dict
_set_replace_hook _slow_forward _state_dict_hooks _state_dict_pre_hooks _tracer_cls _tracer_extras
_unregister_create_node_hook _unregister_deepcopy_hook _unregister_erase_node_hook
_unregister_replace_node_hook _version _wrapped_call_impl add_module add_submodule apply bfloat16 buffers
call_super_init children code compile cpu cuda delete_all_unused_submodules delete_submodule double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule graph
half ipu load_state_dict meta modules mtia named_buffers named_children named_modules named_parameters
parameters print_readable recompile register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule
shape_env share_memory state_dict to to_empty to_folder train training type xpu zero_grad
""".split()
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Unicode categories never allowed in a node name: other (control, format, surrogate, private use,
# unassigned) and separators (spaces, line and paragraph separators).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# `$` starts an expression wherever a name is written as a reference (`in: [a$b]`); `:` picks a port
# of a node with several outputs (`lstm:0`).
_REFUSED_CHARACTERS = {".": "`.`", ":": "`:`", "$": "`$`", '"': "a double quote", "\\": "a backslash"}


def identifier_schema() -> dict[str, object]:
    """A JSON Schema for identifiers (editors; the loader applies the full rule)."""
    return {
        "pattern": r"^(?!__)[A-Za-z_][A-Za-z0-9_]*$",
        "maxLength": MAX_NAME_CHARS,
        "not": {"enum": sorted(_RESERVED_IDENTIFIERS)},
    }


def node_name_schema() -> dict[str, object]:
    """A JSON Schema for node names (editors; the loader applies the full rule)."""
    return {
        "pattern": r'^(?!__)[^.:$\s"\\\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+$',
        "maxLength": MAX_NAME_CHARS,
        "not": {"enum": sorted(RESERVED_WORDS)},  # attributes are refused for modules only
    }


def shown_name(name: str) -> str:
    """The name as a message may quote it: control and odd characters escaped, long names cut."""
    text = name if len(name) <= 60 else name[:57] + "..."
    return text if text.isprintable() else "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    return ascii(char)[1:-1] if char != "`" else char


def _common_problem(name: object, what: str, reserved: frozenset[str] = RESERVED_WORDS) -> str | None:
    if not isinstance(name, str):
        return f"{what} must be a string, got {type(name).__name__}"
    if not name:
        return f"{what} is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"{what} `{shown_name(name)}` has {len(name):,} characters; the limit is {MAX_NAME_CHARS}"
    if name.startswith("__"):
        return f"{what} `{shown_name(name)}` starts with `__`, which is reserved"
    if name in reserved:
        return f"{what} `{name}` is a reserved word"
    return None


def identifier_problem(name: object, what: str = "name") -> str | None:
    """Why `name` cannot name an input, parameter, block or dimension, or None if it can."""
    problem = _common_problem(name, what, _RESERVED_IDENTIFIERS)
    if problem is not None:
        return problem
    assert isinstance(name, str)
    if not _IDENTIFIER.fullmatch(name):
        return f"{what} `{shown_name(name)}` is not a valid name: {IDENTIFIER_RULE}"
    return None


def is_identifier(name: object) -> bool:
    """Whether `name` can name an input, a parameter, a block or a dimension."""
    return identifier_problem(name) is None


def node_name_problem(name: object, what: str = "node name", *, module: bool = True) -> str | None:
    """Why `name` cannot name a node, or None if it can. A qualified name is checked part by part
    by its caller; this checks one part. `module=False` for a node that is no module (a function
    op): it may take an `nn.Module` attribute's name (`double`), which no module is registered under."""
    problem = _common_problem(name, what)
    if problem is not None:
        return problem
    assert isinstance(name, str)
    for char in name:
        refused = _REFUSED_CHARACTERS.get(char)
        if refused is None and (char.isspace() or unicodedata.category(char) in _REFUSED_CATEGORIES):
            refused = f"the character `{_escaped(char)}`"
            if char == " ":
                refused = "a space"
        if refused is not None:
            return f"{what} `{shown_name(name)}` contains {refused}: {NODE_NAME_RULE}"
    if unicodedata.normalize("NFKC", name) != name:
        return (
            f"{what} `{shown_name(name)}` changes under Unicode normalization (NFKC):"
            f" write `{unicodedata.normalize('NFKC', name)}`"
        )
    if module and name in MODULE_ATTRIBUTES:
        return f"{what} `{name}` is an attribute of `nn.Module`: a module cannot be registered under it"
    return None


def suggested_name(name: object, *, identifier: bool = False) -> str | None:
    """A valid name close to a refused `name` (`conv 1` -> `conv_1`, `forward` -> `forward_`), for a
    hint; None when there is no obvious one. `identifier` for input, parameter and block names."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        return None
    text = unicodedata.normalize("NFKC", name)
    if identifier:
        text = re.sub(r"[^A-Za-z0-9_]", "_", text)
        text = f"_{text}" if text[:1].isdigit() else text
    else:
        text = "".join(
            "_" if c in _REFUSED_CHARACTERS or c.isspace() or unicodedata.category(c) in _REFUSED_CATEGORIES else c
            for c in text
        )
    text = text.lstrip("_") if text.startswith("__") else text
    if text in _RESERVED_IDENTIFIERS or text in MODULE_ATTRIBUTES:
        text += "_"
    problem = identifier_problem(text) if identifier else node_name_problem(text)
    return text if text and text != name and problem is None else None


def rename_hint(name: object, *, node: bool) -> str | None:
    """The hint of a refused name: a valid one close to it, when there is an obvious one."""
    better = suggested_name(name, identifier=not node)
    return None if better is None else f"rename it, e.g. `{better}` (and the references to it)"


def port_number_problem(port: str) -> str | None:
    """Why `port` (after the `:` of `node:port`) is not a port number as netspec writes one, if it is
    written with digits: ASCII digits without leading zeros (`1`, not `01` or an Arabic-Indic one)."""
    if not port or not all(unicodedata.decimal(c, None) is not None or c.isdigit() for c in port):
        return None  # not a number: a port's name, checked against the op's
    if port.isascii() and (port == "0" or not port.startswith("0")):
        return None
    return "a port number is written in ASCII digits without leading zeros"


def canonical_port(port: str) -> str:
    """A port written with decimal digits of any script (`01`, Arabic-Indic digits) as netspec writes it (`1`)."""
    try:
        return str(int("".join(str(unicodedata.decimal(c)) for c in port)))
    except (TypeError, ValueError):
        return port


def is_node_name(name: object, *, module: bool = True) -> bool:
    """Whether `name` can name a node (a module, unless `module` is false)."""
    return node_name_problem(name, module=module) is None


def attribute_source(base: str, qualified: str) -> str:
    """Python source that reads module `qualified` (a dotted node name) from `base`: `self.conv1`
    for identifiers, `getattr(self, 'block1-0')` (a `repr` literal) for the rest."""
    source = base
    for part in qualified.split("."):
        if part.isidentifier() and part.isascii() and not keyword.iskeyword(part):
            source = f"{source}.{part}"
        else:
            source = f"getattr({source}, {part!r})"
    return source


def class_name(name: str, fallback: str = "Network") -> str:
    """A Python class name for a model named `name` (`my-net` -> `MyNet`): ASCII words capitalised
    and joined; `fallback` in front when the result is empty, reserved or starts with a digit."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in name).split()
    cleaned = "".join(w[:1].upper() + w[1:] for w in words)[:MAX_NAME_CHARS]
    if not cleaned or not is_identifier(cleaned) or cleaned in _SHADOWED:
        return fallback + cleaned if cleaned.isalnum() and cleaned.isascii() else fallback
    return cleaned


# Names a generated module's class must not take: they would hide what its file imports or uses.
_SHADOWED = frozenset({
    "Any", "EXAMPLE_INPUT_SHAPES", "F", "Module", "SPEC_NAME", "SPEC_PARAMS", "Tensor", "annotations", "fx",
    "math", "nn", "operator", "torch",
})  # fmt: skip
