"""The expression language of spec values: `$name`, `${expr}` and `"text ${expr} text"` templates.

A whitelisted language with its own tokenizer, Pratt parser and tree walker; nothing here reaches
Python's own evaluation machinery. Every size is bounded (source length, nesting, integers, lists,
strings), and every failure is an `ExprError` whose offset and length point into the original text.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import functools
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeGuard, TypeVar

from . import _names
from ._errors import did_you_mean

__all__ = [
    "EVALUATION_BUDGET",
    "INPUT_SHAPES",
    "Expr",
    "ExprBudgetError",
    "ExprError",
    "Template",
    "Value",
    "compile_value",
    "evaluation_budget",
    "is_identifier",
    "parse_expr",
]

Value = int | float | bool | str | list[Any]  # lists hold values too, nested lists included

_MAX_SOURCE = 1000  # characters in one expression
_MAX_DEPTH = 50  # nesting of parentheses, brackets and operators
_MAX_INT = 2**63 - 1  # largest integer result, either sign
_MAX_ITEMS = 10_000  # items of a list result (nested items included) or characters of a string result
# Work units (tree nodes visited, list items and characters built or compared) that one evaluation may
# spend when no shared budget is active. Each limit above bounds one value; this bounds the time.
EVALUATION_BUDGET = 200_000

_NUMERIC_FUNCTIONS = ("round", "ceil", "floor", "int", "float")
_SHAPE_FUNCTIONS = ("channels", "dim")  # read the static shape of the node's inputs
_FUNCTIONS = ("min", "max", "sum", "abs", "len", *_NUMERIC_FUNCTIONS, *_SHAPE_FUNCTIONS)
_CALLABLE = "the functions " + ", ".join(_FUNCTIONS[:-1]) + f" and {_FUNCTIONS[-1]}"
# The key under which an evaluation finds the input shapes of the node it belongs to: a function of the
# input's position returning its shape (ints, and any other object for a symbolic size). No name can
# spell it, so it never collides with a parameter.
INPUT_SHAPES = "$inputs"
_LITERALS = {"true": True, "True": True, "false": False, "False": False}
_KEYWORDS = frozenset({"if", "else", "and", "or", "not", *_LITERALS})
# Words of Python (and YAML's `null`) that this language refuses, so they never read as names.
_FORBIDDEN = frozenset({
    "None", "null", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "except", "finally", "for", "from", "global", "import", "in", "is", "lambda", "nonlocal", "pass",
    "raise", "return", "try", "while", "with", "yield",
})  # fmt: skip
_WORD_HINTS = {
    "is": "compare with `==` or `!=`",
    "None": "expressions have no null value",
    "null": "expressions have no null value",
    "elif": "chain conditionals: `a if c else b if d else e`",
}
_LANGUAGE_HINT = (
    "expressions support arithmetic, comparisons, `a if c else b`, `and`/`or`/`not`, "
    "`x[i]`, `x[a:b]` and calls of min, max, sum, abs, len, round, ceil, floor, int, float, channels, dim"
)
_CHARACTER_HINTS = {
    "=": "compare with `==`",
    "!": "negate with `not`",
    "&": "combine conditions with `and`",
    "|": "combine conditions with `or`",
    "^": "raise to a power with `**`",
    "{": "dicts and sets are not supported",
    "$": "inside an expression, write names without `$`",
}
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}

_TOKEN = re.compile(
    r"(?P<space>[ \t\r\n]+)"
    r"|(?P<number>0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"""|(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"|(?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()\[\],.:])",
    re.DOTALL,
)
_WORD_END = re.compile(r"[^0-9A-Za-z_.]|$")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")

# Binding power of infix operators, low to high. Prefix `not` sits between `and` and comparisons,
# prefix `-`/`+` between `*` and `**`, so `not a == b` is `not (a == b)` and `-2 ** 2` is `-(2 ** 2)`.
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_LEVELS = {
    "if": 1, "or": 2, "and": 3, **dict.fromkeys(_COMPARISONS, 5),
    "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "**": 9,
}  # fmt: skip
_NOT_LEVEL, _UNARY_LEVEL = 4, 8
_ARITHMETIC: dict[str, Callable[[int | float, int | float], int | float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul,
    "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
}  # fmt: skip


class ExprError(Exception):
    """A malformed expression or a failed evaluation; `offset`/`length` locate it in the original text."""

    def __init__(self, message: str, offset: int = 0, length: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = length
        self.hint = hint

    def __reduce__(self) -> tuple[type[ExprError], tuple[str, int, int, str | None]]:
        # keep every field through pickling
        return (type(self), (self.message, self.offset, self.length, self.hint))


_Range = tuple[int, int]  # (offset, length) in the original text


class ExprBudgetError(ExprError):
    """The work budget of the evaluations ran out (see `evaluation_budget`)."""


_NESTING_HINT = "split it: give an inner part a name of its own (a parameter, or a node's output), a fixed bound of the implementation"


def _fail(message: str, span: _Range, hint: str | None = None) -> ExprError:
    return ExprError(message, span[0], span[1], hint)


class _Budget:
    """Work units left to the evaluations that share this budget."""

    __slots__ = ("left", "total")

    def __init__(self, units: int) -> None:
        self.left = self.total = units

    def spent(self) -> int:
        """The units used so far."""
        return self.total - max(self.left, 0)


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("netspec_expr_budget", default=None)


@contextlib.contextmanager
def evaluation_budget(units: int) -> Iterator[_Budget]:
    """Let every evaluation inside the `with` block share one budget of `units` work units.

    Without it each evaluation gets `EVALUATION_BUDGET` units of its own. A spec's expansion evaluates
    expressions once per node instance, so it shares one budget to bound the total time.
    When the units run out, evaluation raises `ExprBudgetError`.
    """
    budget = _Budget(units)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _spend(units: int, span: _Range) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.left -= units
    if budget.left < 0:
        raise ExprBudgetError(
            f"the expressions take too much work to evaluate (more than {budget.total:,} steps)",
            span[0],
            span[1],
            "simplify the expressions, or lower the `repeat` counts that evaluate them again and again",
        )


_T = TypeVar("_T")


def _metered(run: Callable[[], _T]) -> _T:
    """Run an evaluation under the active budget, or under a fresh one of `EVALUATION_BUDGET` units."""
    if _BUDGET.get() is not None:
        return run()
    token = _BUDGET.set(_Budget(EVALUATION_BUDGET))
    try:
        return run()
    finally:
        _BUDGET.reset(token)


# ---------------------------------------------------------------------------------------------------
# Syntax tree


@dataclasses.dataclass(frozen=True)
class Node:
    """A syntax tree node: where it is in the original text, and how deep the tree under it goes."""

    offset: int
    length: int
    depth: int = dataclasses.field(default=1, kw_only=True, compare=False, repr=False)

    @property
    def span(self) -> _Range:
        return self.offset, self.length


@dataclasses.dataclass(frozen=True)
class Const(Node):
    value: int | float | bool | str


@dataclasses.dataclass(frozen=True)
class Name(Node):
    name: str


@dataclasses.dataclass(frozen=True)
class ListLiteral(Node):
    items: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Unary(Node):
    op: str  # "-", "+" or "not"
    operand: Node


@dataclasses.dataclass(frozen=True)
class Power(Node):
    base: Node
    exponent: Node


@dataclasses.dataclass(frozen=True)
class Chain(Node):
    """`a op b op c ...` with operators of one level: arithmetic, comparisons (chained), `and`, `or`."""

    ops: tuple[str, ...]
    operands: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Conditional(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclasses.dataclass(frozen=True)
class Subscript(Node):
    target: Node
    index: Node


@dataclasses.dataclass(frozen=True)
class Slice(Node):
    """`target[start:end]`, either bound left out."""

    target: Node
    start: Node | None
    end: Node | None


@dataclasses.dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


def _nodes_in(values: Iterable[object]) -> Iterator[Node]:
    for value in values:
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from (item for item in value if isinstance(item, Node))


def _free_names(roots: Iterable[Node]) -> frozenset[str]:
    names: set[str] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if isinstance(node, Name):
            names.add(node.name)
        pending.extend(_nodes_in(getattr(node, field.name) for field in dataclasses.fields(node)))
    return frozenset(names)


def _between(first: Node, last: Node) -> _Range:
    return first.offset, last.offset + last.length - first.offset


# ---------------------------------------------------------------------------------------------------
# Tokens and parsing


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op", "end" or "error"
    text: str
    offset: int
    value: int | float | str | ExprError | None = None

    @property
    def span(self) -> _Range:
        return self.offset, len(self.text)


def _tokenize(text: str, start: int, *, embedded: bool) -> tuple[list[_Token], int]:
    """Tokens of the expression at `text[start:]`, closed by an `end` token, and the offset past it.

    An embedded expression (after `${`) ends at its `}`. A malformed token becomes an `error` token
    that the parser raises on reaching it, so errors come in source order.
    """
    if not embedded and len(text) - start > _MAX_SOURCE:
        raise _too_long((start, len(text) - start))
    tokens: list[_Token] = []
    position = start
    try:
        while not (embedded and text[position : position + 1] == "}") and position < len(text):
            if position - start > _MAX_SOURCE:
                raise _too_long((start, position - start))
            match = _TOKEN.match(text, position)
            if match is None:
                raise _bad_character(text, position)
            kind, word = match.lastgroup or "", match.group()
            if kind == "number":
                tokens.append(_Token(kind, word, position, _number(text, position, match.end())))
            elif kind == "string":
                tokens.append(_Token(kind, word, position, _unquote(word, position)))
            elif kind != "space":
                tokens.append(_Token(kind, word, position))
            position = match.end()
        if embedded and position == len(text):
            raise ExprError("unterminated `${`: expected `}`", start - 2, 2, "close the expression with `}`")
    except ExprError as error:
        return [*tokens, _Token("error", "", error.offset, error)], len(text)
    tokens.append(_Token("end", text[position : position + 1] if embedded else "", position))
    return tokens, position + 1 if embedded else position


def _too_long(span: _Range) -> ExprError:
    return _fail(f"expression is too long (more than {_MAX_SOURCE} characters)", span, "split it into parameters")


def _bad_character(text: str, position: int) -> ExprError:
    character = text[position]
    if character in "'\"":
        return ExprError("unterminated string", position, len(text) - position, f"close the string with {character}")
    return ExprError(f"unexpected character `{character}`", position, 1, _CHARACTER_HINTS.get(character))


def _number(text: str, start: int, end: int) -> int | float:
    word = text[start:end]
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        word_end = _WORD_END.search(text, end)
        assert word_end is not None  # the pattern matches at the end of the text
        bad = text[start : word_end.start()]
        raise ExprError(f"invalid number `{bad}`", start, len(bad))
    if word[:2] in ("0x", "0X"):
        value: int | float = int(word, 16)
    elif any(mark in word for mark in ".eE"):
        value = float(word)
    elif len(word) > 1 and word[0] == "0":
        raise ExprError(f"leading zeros are not allowed in `{word}`", start, len(word), f"write `{int(word)}`")
    else:
        value = int(word)
    return _check_number(value, (start, len(word)))


def _unquote(word: str, offset: int) -> str:
    def unescape(match: re.Match[str]) -> str:
        if match.group(1) not in _STRING_ESCAPES:
            span = (offset + 1 + match.start(), 2)
            raise _fail(f"unknown escape `{match.group()}` in a string", span, "write `\\\\` for a backslash")
        return _STRING_ESCAPES[match.group(1)]

    return _ESCAPE.sub(unescape, word[1:-1])


_N = TypeVar("_N", bound=Node)


class _Parser:
    """Pratt parser over the tokens of one expression; recursion is bounded by `_MAX_DEPTH`."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.nesting = 0

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek().kind != "end":
            raise self.unexpected("an operator or the end of the expression")
        return node

    def peek(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind == "error" and isinstance(token.value, ExprError):
            raise token.value
        return token

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "name") and token.text in texts

    def expect(self, text: str) -> _Token:
        if not self.at(text):
            raise self.unexpected(f"`{text}`")
        return self.advance()

    def unexpected(self, expected: str, hint: str | None = None) -> ExprError:
        token = self.peek()
        if token.kind == "name" and token.text in _FORBIDDEN:
            hint = _WORD_HINTS.get(token.text, _LANGUAGE_HINT)
            return _fail(f"`{token.text}` is not allowed in expressions", token.span, hint)
        found = f"`{token.text}`" if token.text else "the end of the expression"
        return _fail(f"expected {expected}, found {found}", token.span, hint)

    def make(self, cls: type[_N], start: int, *fields: object) -> _N:
        """A node spanning `start` to the last token read, refused when the tree grows too deep."""
        depth = 1 + max((child.depth for child in _nodes_in(fields)), default=0)
        end = self.tokens[self.index - 1]
        node = cls(start, end.offset + len(end.text) - start, *fields, depth=depth)
        if depth > _MAX_DEPTH:
            raise _fail(f"expression is nested too deeply (more than {_MAX_DEPTH} levels)", node.span, _NESTING_HINT)
        return node

    def binding(self) -> int | None:
        token = self.peek()
        return _LEVELS.get(token.text) if token.kind in ("op", "name") else None

    def expression(self, min_level: int) -> Node:
        self.nesting += 1
        if self.nesting > _MAX_DEPTH:
            token = self.peek()
            raise _fail(f"expression is nested too deeply (more than {_MAX_DEPTH} levels)", token.span, _NESTING_HINT)
        node = self.prefix(min_level)
        while (level := self.binding()) is not None and level >= min_level:
            node = self.infix(node, level)
        self.nesting -= 1
        return node

    def prefix(self, min_level: int) -> Node:
        token = self.peek()
        if self.at("not"):
            if min_level > _NOT_LEVEL:
                raise self.unexpected("an expression", "put `not ...` in parentheses")
            self.advance()
            return self.make(Unary, token.offset, "not", self.expression(_NOT_LEVEL))
        if self.at("-", "+"):
            self.advance()
            return self.make(Unary, token.offset, token.text, self.expression(_UNARY_LEVEL))
        return self.postfix()

    def infix(self, left: Node, level: int) -> Node:
        if self.at("if"):
            self.advance()
            condition = self.expression(_LEVELS["or"])
            self.expect("else")
            otherwise = self.expression(_LEVELS["if"])
            return self.make(Conditional, left.offset, condition, left, otherwise)
        if self.at("**"):  # right-associative; the exponent may carry a sign: `2 ** -1`
            self.advance()
            return self.make(Power, left.offset, left, self.expression(_UNARY_LEVEL))
        ops, operands = [], [left]
        while self.binding() == level:
            ops.append(self.advance().text)
            operands.append(self.expression(level + 1))
        return self.make(Chain, left.offset, tuple(ops), tuple(operands))

    def postfix(self) -> Node:
        node = self.atom()
        while True:
            if self.at("["):
                self.advance()
                index = None if self.at(":") else self.expression(0)
                if self.at(":"):
                    self.advance()
                    end = None if self.at("]") else self.expression(0)
                    self.expect("]")
                    node = self.make(Slice, node.offset, node, index, end)
                    continue
                self.expect("]")
                node = self.make(Subscript, node.offset, node, index)
            elif self.at("."):
                dot = self.advance()
                after = self.peek()
                length = after.offset + len(after.text) - dot.offset if after.kind == "name" else 1
                raise ExprError("attribute access is not allowed", dot.offset, length, _LANGUAGE_HINT)
            elif self.at("("):
                raise _fail(f"only {_CALLABLE} may be called", node.span)
            else:
                return node

    def atom(self) -> Node:
        token = self.peek()
        if token.kind in ("number", "string"):
            self.advance()
            assert isinstance(token.value, int | float | str)  # numbers and strings carry their value
            return Const(token.offset, len(token.text), token.value)
        if token.kind == "name":
            return self.name()
        if self.at("(", "["):
            self.advance()
            if token.text == "[":
                return self.make(ListLiteral, token.offset, self.sequence("]"))
            inner = self.expression(0)
            self.expect(")")
            end = self.tokens[self.index - 1]
            return dataclasses.replace(inner, offset=token.offset, length=end.offset + 1 - token.offset)
        raise self.unexpected("an expression")

    def name(self) -> Node:
        token = self.peek()
        if token.text in _LITERALS:
            self.advance()
            return Const(token.offset, len(token.text), _LITERALS[token.text])
        if token.text in _KEYWORDS or token.text in _FORBIDDEN:
            raise self.unexpected("an expression")
        self.advance()
        if self.at("("):
            return self.call(token)
        if token.text.startswith("__"):
            raise _fail(f"names starting with `__` are not allowed: `{token.text}`", token.span)
        return Name(token.offset, len(token.text), token.text)

    def call(self, function: _Token) -> Node:
        if function.text not in _FUNCTIONS:
            hint = did_you_mean(function.text, _FUNCTIONS)
            raise _fail(f"only {_CALLABLE} may be called", function.span, hint)
        self.advance()
        node = self.make(Call, function.offset, function.text, self.sequence(")"))
        count = len(node.args)
        lowest, highest = _ARITY.get(function.text, (1, None))
        if count < lowest or (highest is not None and count > highest):
            wanted = (
                f"at least {lowest} argument{'s' if lowest > 1 else ''}"
                if highest is None
                else f"exactly {lowest} argument{'s' if lowest > 1 else ''}"
                if lowest == highest
                else f"{lowest} to {highest} arguments"
            )
            raise _fail(f"`{function.text}` takes {wanted}, got {count}", node.span)
        return node

    def sequence(self, closing: str) -> tuple[Node, ...]:
        """Comma-separated expressions up to `closing` (already past the opening bracket)."""
        items = []
        while not self.at(closing):
            items.append(self.expression(0))
            if not self.at(closing) and not self.at(","):
                raise self.unexpected(f"`,` or `{closing}`")
            if self.at(","):
                self.advance()
        self.advance()
        return tuple(items)


# ---------------------------------------------------------------------------------------------------
# Evaluation


def _type_name(value: object) -> str:
    return type(value).__name__


def _show(value: object) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    return "number" if _is_number(value) else _type_name(value)


def _check_number(value: int | float, span: _Range) -> int | float:
    if isinstance(value, int) and abs(value) > _MAX_INT:
        raise _fail("value too large: integers must lie within ±(2**63 - 1)", span)
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(f"value too large: the result `{value}` is not a finite number", span)
    return value


def _size(value: object) -> int:
    """Items and characters in `value`, nested lists included; stops counting past the limit."""
    total, pending = 0, [value]
    while pending and total <= _MAX_ITEMS:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list):
            total += len(item)
            pending.extend(element for element in item if isinstance(element, str | list))
    return total


def _check_size(size: int, span: _Range) -> None:
    """Refuse a value over the size limit; charge its size (the work of building it) to the budget."""
    if size > _MAX_ITEMS:
        raise _fail(f"value too large: lists and strings may hold at most {_MAX_ITEMS} items or characters", span)
    _spend(size, span)


def _require_bool(value: Value, node: Node, what: str) -> bool:
    if not isinstance(value, bool):
        hint = "compare explicitly, e.g. `x != 0`"
        raise _fail(f"{what} must be `bool`, got `{_type_name(value)}` (={_show(value)})", node.span, hint)
    return value


def _evaluate(node: Node, env: Mapping[str, Value]) -> Value:
    _spend(1, node.span)
    match node:
        case Const(value=value):
            return value
        case Name(name=name):
            if name not in env:
                known = [k for k in env if k != INPUT_SHAPES]
                raise _fail(f"unknown name `{name}`", node.span, did_you_mean(name, known, listing=8))
            return env[name]
        case ListLiteral(items=items):
            values = [_evaluate(item, env) for item in items]
            _check_size(_size(values), node.span)
            return values
        case Unary(op="not", operand=operand):
            return not _require_bool(_evaluate(operand, env), operand, "the operand of `not`")
        case Unary(op=op, operand=operand):
            number = _evaluate(operand, env)
            if not _is_number(number):
                message = f"unsupported operand type for unary `{op}`: `{_type_name(number)}`"
                raise _fail(message, node.span, _bool_hint(number))
            return _check_number(-number if op == "-" else number, node.span)
        case Power(base=base, exponent=exponent):
            return _power(_evaluate(base, env), _evaluate(exponent, env), node.span)
        case Chain(ops=ops) if ops[0] in _COMPARISONS:
            return _compare_chain(node, env)
        case Chain(ops=("and" | "or", *_)):
            return _logic_chain(node, env)
        case Chain():
            return _arithmetic_chain(node, env)
        case Conditional(condition=condition, then=then, otherwise=otherwise):
            chosen = _require_bool(_evaluate(condition, env), condition, "the condition of `if`")
            return _evaluate(then if chosen else otherwise, env)
        case Subscript(target=target, index=index):
            return _subscript(_evaluate(target, env), _evaluate(index, env), node)
        case Slice(target=target, start=start, end=end):
            bounds = [None if bound is None else _evaluate(bound, env) for bound in (start, end)]
            return _slice(_evaluate(target, env), bounds, node)
        case Call(function=function, args=args) if function in _SHAPE_FUNCTIONS:
            return _shape_of(function, [_evaluate(arg, env) for arg in args], node, env)
        case Call(function=function, args=args):
            return _call(function, [_evaluate(arg, env) for arg in args], node)
    raise TypeError(f"not an expression node: {node!r}")


def _bool_hint(*values: object) -> str | None:
    if any(isinstance(value, bool) for value in values):
        return "`true` and `false` are not numbers; choose a number with `a if condition else b`"
    return None


def _arithmetic_chain(node: Chain, env: Mapping[str, Value]) -> Value:
    first = node.operands[0]
    value = _evaluate(first, env)
    for op, operand in zip(node.ops, node.operands[1:]):
        value = _arithmetic(op, value, _evaluate(operand, env), _between(first, operand), operand)
    return value


def _arithmetic(op: str, left: Value, right: Value, span: _Range, right_node: Node) -> Value:
    if _is_number(left) and _is_number(right):
        if op in ("/", "//", "%") and right == 0:
            raise _fail("division by zero", right_node.span)
        try:
            return _check_number(_ARITHMETIC[op](left, right), span)
        except OverflowError:
            raise _fail("value too large: the result does not fit in a float", span) from None
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        _check_size(_size(left) + _size(right), span)
        return left + right
    if op == "+" and isinstance(left, list) and isinstance(right, list):
        _check_size(_size(left) + _size(right), span)
        return left + right
    if op == "*" and isinstance(left, str | list) and _is_int(right):
        return _repeat(left, right, span)
    if op == "*" and _is_int(left) and isinstance(right, str | list):
        return _repeat(right, left, span)
    hint = _bool_hint(left, right)
    if op == "+" and str in (type(left), type(right)):
        hint = 'join text and numbers with a template, e.g. `"layer${i}"`'
    message = f"unsupported operand types for `{op}`: `{_type_name(left)}` and `{_type_name(right)}`"
    raise _fail(message, span, hint)


def _repeat(sequence: str | list[Any], count: int, span: _Range) -> str | list[Any]:
    if count > 0:
        _check_size(_size(sequence) * count, span)  # before anything is built
    return sequence * count


def _power(base: Value, exponent: Value, span: _Range) -> Value:
    if not (_is_number(base) and _is_number(exponent)):
        message = f"unsupported operand types for `**`: `{_type_name(base)}` and `{_type_name(exponent)}`"
        raise _fail(message, span, _bool_hint(base, exponent))
    if _is_int(base) and _is_int(exponent) and exponent >= 0:
        if abs(base) > 1 and exponent > 63:
            raise _fail("value too large: integers must lie within ±(2**63 - 1)", span)
        return _check_number(base**exponent, span)
    if base == 0 and exponent < 0:
        raise _fail("zero cannot be raised to a negative power", span)
    if base < 0 and not float(exponent).is_integer():
        raise _fail("a negative number raised to a fractional power is not a real number", span)
    try:
        return _check_number(base**exponent, span)
    except OverflowError:
        raise _fail("value too large: the result does not fit in a float", span) from None


def _logic_chain(node: Chain, env: Mapping[str, Value]) -> bool:
    op = node.ops[0]
    for operand in node.operands:
        value = _require_bool(_evaluate(operand, env), operand, f"each operand of `{op}`")
        if value == (op == "or"):  # `or` stops at the first true, `and` at the first false
            return value
    return op == "and"


def _compare_chain(node: Chain, env: Mapping[str, Value]) -> bool:
    left = _evaluate(node.operands[0], env)
    for op, left_node, right_node in zip(node.ops, node.operands, node.operands[1:]):
        right = _evaluate(right_node, env)
        if not _compare(op, left, right, _between(left_node, right_node)):
            return False
        left = right
    return True


def _compare(op: str, left: Value, right: Value, span: _Range) -> bool:
    kind = _kind(left)
    if kind != _kind(right):
        message = f"cannot compare `{_type_name(left)}` with `{_type_name(right)}` using `{op}`"
        raise _fail(message, span, _bool_hint(left, right))
    if op in ("==", "!="):
        if isinstance(left, list):
            _spend(_size(left), span)  # an item-by-item comparison
        return _equal(left, right) == (op == "==")
    if kind not in ("number", "str"):
        raise _fail(f"`{op}` needs numbers or strings, got `{kind}`", span)
    return _COMPARISONS[op](left, right)


def _equal(left: Value, right: Value) -> bool:
    """Equality that never mixes kinds: `[true] == [1]` is false."""
    if isinstance(left, list) and isinstance(right, list):
        pairs = zip(left, right)
        return len(left) == len(right) and all(_kind(a) == _kind(b) and _equal(a, b) for a, b in pairs)
    return left == right


def _subscript(target: Value, index: Value, node: Subscript) -> Value:
    if not isinstance(target, str | list):
        hint = "only lists and strings can be indexed"
        raise _fail(f"cannot index a value of type `{_type_name(target)}`", node.target.span, hint)
    if not _is_int(index):
        raise _fail(f"indexes must be `int`, got `{_type_name(index)}` (={_show(index)})", node.index.span)
    size = len(target)
    if not -size <= index < size:
        hint = f"valid indexes are {-size} to {size - 1}" if size else f"the {_type_name(target)} is empty"
        raise _fail(f"index {index} is out of range for a {_type_name(target)} of length {size}", node.index.span, hint)
    return target[index]


def _slice(target: Value, bounds: list[Value | None], node: Slice) -> Value:
    if not isinstance(target, str | list):
        hint = "only lists and strings can be sliced"
        raise _fail(f"cannot slice a value of type `{_type_name(target)}`", node.target.span, hint)
    ints: list[int | None] = []
    for bound, part in zip(bounds, (node.start, node.end)):
        if bound is not None and not _is_int(bound):
            raise _fail(f"slice bounds must be `int`, got `{_type_name(bound)}` (={_show(bound)})", (part or node).span)
        ints.append(bound if isinstance(bound, int) else None)
    _spend(len(target), node.span)
    return target[ints[0] : ints[1]]  # Python's meaning: bounds clipped, never an error


_ARITY: dict[str, tuple[int, int | None]] = {
    "sum": (1, 1), "abs": (1, 1), "len": (1, 1), "round": (1, 2), "ceil": (1, 1), "floor": (1, 1), "int": (1, 1), "float": (1, 1),
    "channels": (0, 1), "dim": (1, 2),
}  # fmt: skip


def _numeric(function: str, args: list[Value], node: Call) -> Value:
    first = args[0]
    if not isinstance(first, int | float) or isinstance(first, bool):
        hint = _bool_hint(first) or ("strings are not converted to numbers" if isinstance(first, str) else None)
        raise _fail(f"`{function}` needs a number, got `{_type_name(first)}`", node.args[0].span, hint)
    if function == "float":
        return _check_number(float(first), node.span)
    if isinstance(first, float) and not math.isfinite(first):
        raise _fail(f"`{function}` of `{first}`", node.span)
    if function == "round" and len(args) == 2:
        digits = args[1]
        if not _is_int(digits) or not -30 <= digits <= 30:
            raise _fail("the digits of `round` must be an `int` from -30 to 30", node.args[1].span)
        return _check_number(round(first, digits), node.span)
    # Python's own meaning: `round` to the nearest, ties to even (as torchvision's width rounding does);
    # `int` toward zero.
    if function == "round":
        return _check_number(round(first), node.span)
    if function == "ceil":
        return _check_number(math.ceil(first), node.span)
    if function == "floor":
        return _check_number(math.floor(first), node.span)
    return _check_number(int(first), node.span)


def _shape_of(function: str, args: list[Value], node: Call, env: Mapping[str, Value]) -> Value:
    shapes = env.get(INPUT_SHAPES)
    if shapes is None:
        hint = "`channels()` and `dim(d)` read the input of a node: use them in a node's arguments"
        raise _fail(f"`{function}` reads a node's input shape; there is none here", node.span, hint)
    dim_arg = args[0] if function == "dim" else 1
    position = args[1 if function == "dim" else 0] if len(args) > (1 if function == "dim" else 0) else 0
    if not _is_int(dim_arg):
        raise _fail(f"the dimension of `{function}` must be an `int`, got `{_type_name(dim_arg)}`", node.span)
    if not _is_int(position) and not isinstance(position, str):
        message = (
            f"`{function}` reads an input by position (`int`) or a node by name (`str`), got `{_type_name(position)}`"
        )
        raise _fail(message, node.span)
    shape = shapes(position) if callable(shapes) else None
    if shape is None:
        raise _fail(f"`{function}`: the node has no input {position}", node.span)
    position = f"`{position}`" if isinstance(position, str) else position
    if isinstance(shape, str):  # the reason the shape is not known
        raise _fail(f"`{function}`: {shape}", node.span)
    if not -len(shape) <= dim_arg < len(shape):
        raise _fail(f"`{function}`: input {position} has {len(shape)} dimensions, no dimension {dim_arg}", node.span)
    size: Value = shape[dim_arg]
    if not _is_int(size):
        hint = "only fixed sizes can be read; symbolic ones (`N`, `H`, ...) are known when the model runs"
        raise _fail(f"`{function}`: dimension {dim_arg} of input {position} is symbolic (`{size}`)", node.span, hint)
    return size


def _call(function: str, args: list[Value], node: Call) -> Value:
    if function in _NUMERIC_FUNCTIONS:
        return _numeric(function, args, node)
    first = args[0]
    if function == "len":
        if not isinstance(first, str | list):
            raise _fail(f"`len` needs a list or a string, got `{_type_name(first)}`", node.args[0].span)
        return len(first)
    if function == "sum":
        if not isinstance(first, list) or not all(_is_number(item) for item in first):
            shown = _type_name(first) if not isinstance(first, list) else "a list holding other values"
            raise _fail(f"`sum` needs a list of numbers, got `{shown}`", node.args[0].span, _bool_hint(first))
        _spend(len(first), node.span)
        return _check_number(sum(first), node.span)
    if function == "abs":
        if not _is_number(first):
            raise _fail(f"`abs` needs a number, got `{_type_name(first)}`", node.args[0].span, _bool_hint(first))
        return _check_number(abs(first), node.span)
    items = args
    _spend(_size(args), node.span)
    if len(args) == 1:
        if not isinstance(first, list):
            message = f"`{function}` of one argument needs a list, got `{_type_name(first)}`"
            raise _fail(message, node.args[0].span, f"write `{function}(a, b)` to choose among several values")
        if not first:
            raise _fail(f"`{function}` of an empty list", node.span)
        items = first
    if {_kind(item) for item in items} not in ({"number"}, {"str"}):
        shown = ", ".join(f"`{name}`" for name in sorted({_type_name(item) for item in items}))
        raise _fail(f"`{function}` needs numbers or strings of one kind, got {shown}", node.span)
    return min(items) if function == "min" else max(items)


# ---------------------------------------------------------------------------------------------------
# Public face


@dataclasses.dataclass(frozen=True)
class Expr:
    """A parsed expression; equal, and hashed, by its source text."""

    source: str
    tree: Node = dataclasses.field(compare=False, repr=False)

    def names(self) -> frozenset[str]:
        """The free variable names the expression reads."""
        return _free_names([self.tree])

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        """The value of the expression with its names bound by `env`."""
        return _metered(lambda: _evaluate(self.tree, env))


@dataclasses.dataclass(frozen=True)
class Template:
    """Text with `${...}` parts inside; renders to a string."""

    source: str
    parts: tuple[str | Node, ...] = dataclasses.field(compare=False, repr=False)

    def names(self) -> frozenset[str]:
        """The free variable names of all parts."""
        return _free_names(part for part in self.parts if isinstance(part, Node))

    def render(self, env: Mapping[str, Value]) -> str:
        """The text with each part replaced by its value, which must be an `int` or a `str`."""

        def render() -> str:
            text = "".join(part if isinstance(part, str) else _render_part(part, env) for part in self.parts)
            _check_size(len(text), (0, len(self.source)))
            return text

        return _metered(render)


def _render_part(node: Node, env: Mapping[str, Value]) -> str:
    value = _evaluate(node, env)
    if isinstance(value, str) or _is_int(value):
        return str(value)
    hint = "make the whole value an expression `${...}` to keep other types"
    raise _fail(f"a template part must be `int` or `str`, got `{_type_name(value)}` (={_show(value)})", node.span, hint)


def parse_expr(source: str) -> Expr:
    """Parse a bare expression such as `width * 2`."""
    tokens, _ = _tokenize(source, 0, embedded=False)
    return Expr(source, _Parser(tokens).parse())


def _compile_value(text: str) -> Expr | Template | str:
    if "$" not in text:
        return text
    if len(text) > _MAX_ITEMS:
        raise ExprError(f"a value with `$` may be at most {_MAX_ITEMS} characters long", 0, len(text))
    if _REFERENCE.fullmatch(text):
        tokens, _ = _tokenize(text, 1, embedded=False)
        return Expr(text, _Parser(tokens).parse())
    parts = _split_template(text)
    if len(parts) == 1 and isinstance(parts[0], Node):
        return Expr(text, parts[0])
    texts = [part for part in parts if isinstance(part, str)]
    if len(texts) == len(parts):
        return "".join(texts)
    return Template(text, tuple(parts))


def _compile_or_error(text: str) -> Expr | Template | str | ExprError:
    try:
        return _compile_value(text)
    except ExprError as err:  # a malformed text repeated (in a repeat's instances) fails once, then from the cache
        return err


# Specs repeat their expressions (a repeat evaluates its node's once per instance): each text is parsed
# once. Texts with `$` are at most `_MAX_ITEMS` characters, so the caches hold a few MB at most.
_compile_short = functools.lru_cache(maxsize=4096)(_compile_or_error)
_compile_long = functools.lru_cache(maxsize=256)(_compile_or_error)


def compile_value(text: str) -> Expr | Template | str:
    """Compile a spec string: `$name` or `${expr}` -> `Expr`, text with `${...}` inside -> `Template`.

    `$$` stands for a literal `$`; text without `$` comes back unchanged (the same object).
    Texts are compiled once and cached (errors too): specs repeat their expressions, and results are immutable.
    """
    if "$" not in text:
        return text
    compiled = _compile_short(text) if len(text) <= 256 else _compile_long(text)
    if isinstance(compiled, ExprError):
        raise copy.copy(compiled)  # a fresh exception: the cached one gathers no tracebacks
    return compiled


def _split_template(text: str) -> list[str | Node]:
    parts: list[str | Node] = []
    literal: list[str] = []
    position = 0
    while (dollar := text.find("$", position)) != -1:
        literal.append(text[position:dollar])
        follower = text[dollar + 1 : dollar + 2]
        if follower == "$":
            literal.append("$")
            position = dollar + 2
        elif follower == "{":
            tokens, position = _tokenize(text, dollar + 2, embedded=True)
            parts.extend(["".join(literal)] if any(literal) else [])
            literal = []
            parts.append(_Parser(tokens).parse())
        else:
            raise _lone_dollar(text, dollar)
    literal.append(text[position:])
    parts.extend(["".join(literal)] if any(literal) else [])
    return parts


def _lone_dollar(text: str, dollar: int) -> ExprError:
    name = _IDENTIFIER.match(text, dollar + 1)
    if name:
        hint = f"write `${{{name.group()}}}` to insert the value of `{name.group()}`, or `$$` for a literal `$`"
        return ExprError(f"`${name.group()}` is a reference only as a whole value", dollar, name.end() - dollar, hint)
    return ExprError("`$` must be followed by `{`, a name or another `$`", dollar, 1, "write `$$` for a literal `$`")


def is_identifier(name: str) -> bool:
    """Whether `name` can name a parameter (the rule of `_names`, which refuses every word of this
    language and of Python)."""
    return _names.is_identifier(name)
