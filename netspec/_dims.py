"""Symbolic dimensions (`H`, `W//2-2`, `64*H*W`) and the checks shape rules make on them.

A `Sym` is an integer polynomial over named variables and floor-division atoms, kept in a
canonical form so that two expressions for the same size compare equal: `(H-4)//2` is
stored as `H//2-2`, `((H+1)//2+1)//2` as `(H+3)//4`, `(2*H+1)//2` as `H`. Each rewrite is an
identity over all integers, never an approximation.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, TypeGuard

from ._names import is_identifier

__all__ = [
    "MAX_DIVISOR",
    "MAX_PORTS",
    "MAX_PRODUCT_TERMS",
    "Constraint",
    "Dim",
    "Ports",
    "Shape",
    "ShapeCheck",
    "ShapeError",
    "SizeVector",
    "Sym",
    "Values",
    "contiguous_strides",
    "evaluate_dim",
    "format_shape",
    "is_concrete",
    "magnitude",
    "sym",
    "tightest",
    "view_strides",
]


@dataclasses.dataclass(frozen=True)
class _Floor:
    """The atom `numerator // divisor` (divisor >= 2, numerator not reducible any further)."""

    numerator: Sym
    divisor: int

    def __str__(self) -> str:
        return self._text

    def __hash__(self) -> int:
        return self._hashed

    # Computed once: the text is the atom's sort key in every polynomial that holds it.
    @functools.cached_property
    def _text(self) -> str:
        inner = str(self.numerator)
        if self.numerator._atom() is None:
            inner = f"({inner})"
        return f"{inner}//{self.divisor}"

    @functools.cached_property
    def _hashed(self) -> int:
        return hash((self.numerator, self.divisor))

    def __reduce__(self) -> tuple[type[_Floor], tuple[Sym, int]]:
        return (_Floor, (self.numerator, self.divisor))  # the cached hash is not valid in another process


_Atom: TypeAlias = "str | _Floor"
_Monomial: TypeAlias = "tuple[_Atom, ...]"  # sorted atoms; () is the constant term


def _atom_key(atom: _Atom) -> tuple[int, str]:
    return (0, atom) if isinstance(atom, str) else (1, str(atom))


def _monomial_key(monomial: _Monomial) -> tuple[int, tuple[tuple[int, str], ...]]:
    return (-len(monomial), tuple(_atom_key(a) for a in monomial))


class Sym:
    """A symbolic integer: a canonical polynomial over variables and floor-division atoms.

    Arithmetic with `int` and other `Sym`s returns a `Dim`: a plain `int` whenever the
    result no longer depends on any variable.
    """

    __slots__ = ("_bound", "_hash", "_terms", "_text")

    def __init__(self, terms: Mapping[_Monomial, int]) -> None:
        cleaned = {m: c for m, c in terms.items() if c != 0}
        self._terms: tuple[tuple[_Monomial, int], ...] = tuple(
            sorted(cleaned.items(), key=lambda item: _monomial_key(item[0]))
        )
        self._hash = hash(self._terms)
        self._text: str | None = None  # `str(self)`, once asked for
        self._bound: int | None = None  # `magnitude(self)`, once asked for

    def __reduce__(self) -> tuple[type[Sym], tuple[dict[_Monomial, int]]]:
        return (Sym, (dict(self._terms),))  # hashes of names differ between processes: computed again

    # -- construction ------------------------------------------------------------------
    @staticmethod
    def _make(terms: Mapping[_Monomial, int]) -> Dim:
        """A `Sym`, or an `int` when only the constant term is left."""
        nonzero = {m: c for m, c in terms.items() if c != 0}
        if not nonzero:
            return 0
        if set(nonzero) == {()}:
            return nonzero[()]
        return Sym(nonzero)

    def _as_terms(self) -> dict[_Monomial, int]:
        return dict(self._terms)

    def _atom(self) -> _Atom | None:
        """The single atom this is, when it is exactly one atom with coefficient 1."""
        if len(self._terms) == 1:
            monomial, coeff = self._terms[0]
            if coeff == 1 and len(monomial) == 1:
                return monomial[0]
        return None

    # -- arithmetic --------------------------------------------------------------------
    def __add__(self, other: Dim) -> Dim:
        terms = self._as_terms()
        for monomial, coeff in _terms_of(other).items():
            terms[monomial] = terms.get(monomial, 0) + coeff
        return Sym._make(terms)

    __radd__ = __add__

    def __neg__(self) -> Dim:
        return Sym._make({m: -c for m, c in self._terms})

    def __sub__(self, other: Dim) -> Dim:
        return self + (-_checked_dim(other))

    def __rsub__(self, other: Dim) -> Dim:
        return (-self) + other

    def __mul__(self, other: Dim) -> Dim:
        other_terms = _terms_of(other)
        if len(self._terms) * len(other_terms) > MAX_PRODUCT_TERMS:
            # A product of sums multiplies out: many symbolic dimensions that are each a sum (`H + 2`)
            # would make a size of exponentially many terms.
            raise ShapeError(
                f"a size here would be a product of more than {MAX_PRODUCT_TERMS:,} symbolic terms"
                f" ({len(self._terms):,} x {len(other_terms):,})",
                "give some input dimensions fixed sizes (`dims:` or numbers), or use fewer symbolic dimensions",
                code="NS205",
            )
        terms: dict[_Monomial, int] = {}
        for m1, c1 in self._terms:
            for m2, c2 in other_terms.items():
                monomial = tuple(sorted(m1 + m2, key=_atom_key))
                terms[monomial] = terms.get(monomial, 0) + c1 * c2
        return Sym._make(terms)

    __rmul__ = __mul__

    def __floordiv__(self, divisor: int) -> Dim:
        if isinstance(divisor, bool) or not isinstance(divisor, int):
            return NotImplemented
        if divisor < 1:
            raise ValueError(f"a symbolic dimension can only be divided by a positive integer, not {divisor}")
        return _floor_div(self._as_terms(), divisor)

    def __mod__(self, divisor: int) -> Dim:
        if isinstance(divisor, bool) or not isinstance(divisor, int):
            return NotImplemented
        return self - (self // divisor) * divisor

    # -- inspection --------------------------------------------------------------------
    @property
    def variables(self) -> frozenset[str]:
        """The variable names this expression depends on."""
        names: set[str] = set()
        for monomial, _ in self._terms:
            for atom in monomial:
                names |= {atom} if isinstance(atom, str) else atom.numerator.variables
        return frozenset(names)

    def evaluate(self, env: Mapping[str, int], memo: dict[Any, Any] | None = None) -> int:
        """The value for the given variable values (`KeyError` naming a missing variable).

        `memo` (a dict kept for one `env`) holds the values of the floor atoms met so far, so that a
        size vector shared by many conditions evaluates each atom once. No operation multiplies by 1 or
        adds 0: over a vector of sizes each is a pass over every element.
        """
        total: Any = None
        for monomial, coeff in self._terms:
            value: Any = None
            for atom in monomial:
                factor = _evaluate_atom(atom, env, memo)
                value = factor if value is None else value * factor
            if value is None:
                value = coeff
            elif coeff != 1:
                value = value * coeff
            total = value if total is None else total + value
        return 0 if total is None else total

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sym) and self._terms == other._terms

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._format()
        return self._text

    def _format(self) -> str:
        parts: list[str] = []
        for monomial, coeff in self._terms:
            body = "*".join(_format_factor(a, len(monomial) > 1 or abs(coeff) != 1) for a in monomial)
            magnitude = abs(coeff)
            text = (f"{magnitude}*{body}" if magnitude != 1 else body) if monomial else str(magnitude)
            sign = "-" if coeff < 0 else ("+" if parts else "")
            parts.append(sign + text)
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Sym({str(self)!r})"


Dim: TypeAlias = "int | Sym"
Shape: TypeAlias = "tuple[Dim, ...]"


def _checked_dim(value: object) -> Dim:
    if isinstance(value, Sym) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"a dimension must be an int or a Sym, not {type(value).__name__}")


def _terms_of(value: Dim) -> dict[_Monomial, int]:
    value = _checked_dim(value)
    return value._as_terms() if isinstance(value, Sym) else {(): value}


def _format_factor(atom: _Atom, grouped: bool) -> str:
    text = str(atom)
    return f"({text})" if grouped and isinstance(atom, _Floor) else text


def _evaluate_atom(atom: _Atom, env: Mapping[str, int], memo: dict[Any, Any] | None = None) -> int:
    if isinstance(atom, str):
        if atom not in env:
            raise KeyError(f"no value for the dimension `{atom}`")
        value = env[atom]
        return value if hasattr(value, "shape") else int(value)  # a vector of sizes evaluates them all at once
    if memo is None:
        return atom.numerator.evaluate(env) // atom.divisor
    found = memo.get(atom)
    if found is None:
        found = memo[atom] = atom.numerator.evaluate(env, memo) // atom.divisor
    return found


def _floor_div(terms: dict[_Monomial, int], divisor: int) -> Dim:
    """`terms // divisor` in canonical form.

    Whole multiples of `divisor` leave the floor (`(2*H+3)//2 = H+1+(1)//2`); a lone atom
    `q//a` left inside folds into one division (`(q//a + c)//b = (q + a*c)//(a*b)`); a common
    factor of everything left and `divisor` cancels (`(2*H+2)//4 = (H+1)//2`).
    """
    if divisor == 1:
        return Sym._make(terms)
    if divisor > MAX_DIVISOR:
        # Chains of strided layers fold their strides into one divisor (`W//3**9999`); past any size
        # an input can have, the size is 0 and the divisor's digits only cost time.
        raise ShapeError(
            f"a size here is divided by more than {MAX_DIVISOR:,} (2**48): it is 0 for every input size",
            "fewer strided or pooling layers in a row, or smaller strides",
            code="NS205",
        )
    quotient = {m: c // divisor for m, c in terms.items()}
    remainder = {m: c % divisor for m, c in terms.items() if c % divisor}
    whole = Sym._make(quotient)
    variable_part = {m: c for m, c in remainder.items() if m}
    if not variable_part:  # 0 <= constant remainder < divisor
        return whole
    floors = [(m, c) for m, c in variable_part.items() if any(isinstance(a, _Floor) for a in m)]
    if len(floors) == 1 and floors[0][1] == 1 and len(floors[0][0]) == 1:
        (inner,), _ = floors[0]
        assert isinstance(inner, _Floor)  # the monomial was chosen for holding one
        rest = Sym._make({m: c for m, c in remainder.items() if m != (inner,)})
        return whole + (inner.numerator + rest * inner.divisor) // (inner.divisor * divisor)
    common = math.gcd(divisor, *remainder.values())
    numerator = Sym._make({m: c // common for m, c in remainder.items()})
    if divisor // common == 1:
        return whole + numerator
    assert isinstance(numerator, Sym)  # a variable term is left
    return whole + Sym({(_Floor(numerator, divisor // common),): 1})


def magnitude(d: Dim) -> int:
    """A bound on `|d|` with every variable at 1: the sum of its coefficients' magnitudes, a floor
    atom counted as its numerator's bound over its divisor. Grows as fast as the dimension does, so
    a limit on it bounds every size a chain of layers makes. Walks nested floors without recursion."""
    if isinstance(d, int):
        return abs(d)
    stack = [d]
    while stack:  # each `Sym` keeps its bound: shape inference asks for every dimension of every node
        current = stack[-1]
        if current._bound is not None:
            stack.pop()
            continue
        pending = [
            atom.numerator
            for monomial, _ in current._terms
            for atom in monomial
            if isinstance(atom, _Floor) and atom.numerator._bound is None
        ]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        total = 0
        for monomial, coefficient in current._terms:
            term = abs(coefficient)
            for atom in monomial:
                if isinstance(atom, _Floor):
                    term *= max(1, -(-atom.numerator._bound // atom.divisor))  # type: ignore[operator]
            total += term
        current._bound = total
    assert d._bound is not None
    return d._bound


def sym(name: str) -> Sym:
    """The symbolic dimension named `name` (an identifier such as `N`, `H`, `W`)."""
    if not is_identifier(name):
        raise ValueError(f"a symbolic dimension needs an identifier-like name, not {name!r}")
    return Sym({(name,): 1})


def evaluate_dim(d: Dim, env: Mapping[str, int], memo: dict[Any, Any] | None = None) -> int:
    """The value of a dimension, looking symbolic ones up in `env` (`memo`: see `Sym.evaluate`)."""
    if not isinstance(d, Sym):
        return d
    if memo is None:
        return d.evaluate(env)
    found = memo.get(d)
    if found is None:
        found = memo[d] = d.evaluate(env, memo)
    return found


def is_concrete(d: Dim) -> TypeGuard[int]:
    """True for a plain integer dimension."""
    return isinstance(d, int) and not isinstance(d, bool)


def format_shape(shape: Iterable[Dim | str]) -> str:
    """`(N, 64, 56, 56)` -> `"[N, 64, 56, 56]"`."""
    return "[" + ", ".join(map(str, shape)) + "]"


@dataclasses.dataclass(frozen=True)
class Values:
    """What shape inference knows of a tensor's values besides its shape: its dtype (a torch dtype's
    name, `int64`), and the least and greatest value of an integer tensor that netspec computes (an
    index buffer); None where it is not known. Ops whose inputs must be integers, or integers in a
    range (`index_select`), check what is known."""

    dtype: str | None = None
    low: int | None = None
    high: int | None = None
    # The strides of the tensor's layout in memory, where the ops up to it keep it known (an input is
    # contiguous; `transpose`, `permute`, `expand`, `slice` move its strides): what `view` needs.
    strides: tuple[Dim, ...] | None = None
    # The learned tensor (`Parameter`, `Buffer`) a dtype other than the default float32 comes from.
    origin: str | None = None


def contiguous_strides(shape: Sequence[Dim]) -> tuple[Dim, ...]:
    """The strides of a contiguous (row-major) tensor of `shape`.

    Every tensor whose layout is followed asks for these, and a network has few distinct shapes: each
    is computed once (its symbolic products are the costly part), and the same tuple comes back, so that
    comparing a tensor's strides with them is mostly comparing each stride with itself.
    """
    return _contiguous_strides(tuple(shape))


@functools.lru_cache(maxsize=4096)
def _contiguous_strides(shape: tuple[Dim, ...]) -> tuple[Dim, ...]:
    strides: list[Dim] = []
    step: Dim = 1
    for size in reversed(shape):
        strides.append(step)
        step = step * size
    return tuple(reversed(strides))


def view_strides(shape: Shape, strides: tuple[Dim, ...], new: Shape) -> tuple[Dim, ...] | None:
    """The strides of `new` as a view of a tensor of `shape` and `strides`, or None where torch's `view`
    refuses it: each run of new dimensions must cover a run of old ones that is contiguous in memory.

    The rule of torch's `computeStride`, over symbolic sizes: a symbolic size is taken to be more than 1,
    and sizes are compared as expressions.
    """
    if not shape:
        return contiguous_strides(new)
    out: list[Dim] = [0] * len(new)
    view_d = len(new) - 1
    base: Dim = strides[-1]
    tensor_numel: Dim = 1
    view_numel: Dim = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel = tensor_numel * shape[tensor_d]
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and strides[tensor_d - 1] != tensor_numel * base):
            # Sizes only grow as they multiply: "!=" stops where torch's "<" does, or never matches.
            while view_d >= 0 and (view_numel != tensor_numel or new[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel = view_numel * new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                base = strides[tensor_d - 1]
                tensor_numel, view_numel = 1, 1
    return tuple(out) if view_d == -1 else None


@dataclasses.dataclass(frozen=True)
class Ports:
    """What a shape rule returns for an op with several outputs: their shapes and names, in order."""

    shapes: tuple[Shape, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.shapes) != len(self.names):
            raise ValueError("one name per output shape")


MAX_PORTS = 1 << 16  # the most outputs one node may have (`split`, `chunk`): counted before any is made
MAX_DIVISOR = 1 << 48  # the largest divisor of a floor in a symbolic size (the strides of a chain folded)
MAX_PRODUCT_TERMS = 4096  # term pairs one product of symbolic sizes may multiply (its work and its size)


class ShapeError(Exception):
    """A shape rule found inputs that cannot work; `hint` suggests a fix, `arg` names the argument at fault,
    `code` the diagnostic's code when it is not the general `NS200`."""

    def __init__(self, message: str, hint: str | None = None, arg: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.arg = arg
        self.code = code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[ShapeError], tuple[str, str | None, str | None, str | None]]:
        return (type(self), (self.message, self.hint, self.arg, self.code))


class SizeVector:
    """Integers (or booleans) operated on element-wise, so that a constraint is evaluated for many sizes at once.

    Supports what `Sym.evaluate` and the constraint checks use: `+ - * // %` with integers and other
    vectors, comparisons (giving vectors of booleans), `&` and `|`.
    """

    __slots__ = ("values",)
    __hash__ = None  # type: ignore[assignment]  # `==` is element-wise

    def __init__(self, values: Iterable[Any]) -> None:
        self.values = values if isinstance(values, list) else list(values)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.values),)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Any:
        return iter(self.values)

    def __repr__(self) -> str:
        return f"SizeVector({self.values!r})"

    # `map` over C-level operators: each element costs no Python bytecode.
    def _map(self, other: Any, fn: Any) -> SizeVector:
        if isinstance(other, SizeVector):
            return SizeVector(list(map(fn, self.values, other.values)))
        return SizeVector(list(map(fn, self.values, itertools.repeat(other, len(self.values)))))

    def _rmap(self, other: Any, fn: Any) -> SizeVector:
        return SizeVector(list(map(fn, itertools.repeat(other, len(self.values)), self.values)))

    def __add__(self, other: Any) -> SizeVector:
        return self._map(other, operator.add)

    def __radd__(self, other: Any) -> SizeVector:
        return self._rmap(other, operator.add)

    def __sub__(self, other: Any) -> SizeVector:
        return self._map(other, operator.sub)

    def __rsub__(self, other: Any) -> SizeVector:
        return self._rmap(other, operator.sub)

    def __mul__(self, other: Any) -> SizeVector:
        return self._map(other, operator.mul)

    def __rmul__(self, other: Any) -> SizeVector:
        return self._rmap(other, operator.mul)

    def __floordiv__(self, other: Any) -> SizeVector:
        return self._map(other, operator.floordiv)

    def __mod__(self, other: Any) -> SizeVector:
        return self._map(other, operator.mod)

    def __neg__(self) -> SizeVector:
        return SizeVector(-v for v in self.values)

    def __eq__(self, other: object) -> SizeVector:  # type: ignore[override]
        return self._map(other, operator.eq)

    def __ne__(self, other: object) -> SizeVector:  # type: ignore[override]
        return self._map(other, operator.ne)

    def __lt__(self, other: Any) -> SizeVector:
        return self._map(other, operator.lt)

    def __le__(self, other: Any) -> SizeVector:
        return self._map(other, operator.le)

    def __gt__(self, other: Any) -> SizeVector:
        return self._map(other, operator.gt)

    def __ge__(self, other: Any) -> SizeVector:
        return self._map(other, operator.ge)

    def __and__(self, other: Any) -> SizeVector:
        return self._map(other, operator.and_)  # booleans: `&` keeps them booleans

    __rand__ = __and__

    def __or__(self, other: Any) -> SizeVector:
        return self._map(other, operator.or_)

    __ror__ = __or__

    def __bool__(self) -> bool:
        raise TypeError("a SizeVector has no single truth value: use any() or all()")


ConstraintKind = Literal["positive", "exact", "at_least", "equal", "even"]


def _dropped_rows(size: int, kernel_span: int, stride: int, padding: int) -> int:
    """How many real input rows a floor-mode strided window never reads (0 when none)."""
    span = size + 2 * padding - kernel_span
    if span < 0:
        return 0
    return max(span % stride - padding, 0)


def tightest(constraints: Iterable[Constraint]) -> list[Constraint]:
    """The constraints with equal conditions once, and of the `positive` ones that differ only in their
    constant term (`H - 2 >= 1`, `H - 4 >= 1`, ... after a chain of unpadded convolutions) only the one
    with the smallest constant, which implies the others: a lattice search then evaluates one condition,
    not one per layer. Order is kept (the first of each kind where it stands)."""
    kept: dict[Any, Constraint] = {}
    for c in constraints:
        dim = c.dims[0] if c.dims else None
        if c.kind == "positive" and isinstance(dim, Sym):
            key: Any = ("positive", tuple(t for t in dim._terms if t[0] != ()), c.severity)
            best = kept.get(key)
            if best is None or _constant(dim) < _constant(best.dims[0]):
                kept[key] = c if best is None else dataclasses.replace(best, dims=c.dims, what=c.what, hint=c.hint)
        else:
            kept.setdefault(c.condition, c)
    return list(kept.values())


def _constant(dim: Dim) -> int:
    return dict(dim._terms).get((), 0) if isinstance(dim, Sym) else int(dim)


def _holds(kind: ConstraintKind, values: tuple[int, ...], params: tuple[int, ...]) -> bool:
    if kind == "positive":
        return values[0] >= 1
    if kind == "equal":
        return values[0] == values[1]
    if kind == "at_least":
        return values[0] >= values[1]
    if kind == "even":
        return values[0] % 2 == 0
    kernel_span, stride, padding = params
    span = values[0] + 2 * padding - kernel_span if padding else values[0] - kernel_span
    return (span < 0) | (span % stride <= padding)  # `_dropped_rows(...) == 0`, written to work on tensors too


def _violation(kind: ConstraintKind, values: tuple[int, ...], params: tuple[int, ...], what: str) -> str:
    """The message for concrete `values` that break a check of `kind`."""
    if kind == "positive":
        return f"{what} would be {values[0]}; it must be at least 1"
    if kind == "equal":
        return f"{what} must be equal, got {values[0]} and {values[1]}"
    if kind == "at_least":
        return f"{what}: {values[0]} is smaller than {values[1]}"
    if kind == "even":
        return (
            f"{what}: the sizes differ by {values[0]}, an odd number, so the centered crop is off-center by one pixel"
        )
    size, (span, stride, padding) = values[0], params
    dropped = _dropped_rows(size, span, stride, padding)
    one, many = _UNITS.get(what.rsplit(" ", 1)[-1], ("element", "elements"))
    return (
        f"{what}: an input of size {size} with a window of {span}, stride {stride} and padding {padding} "
        f"leaves the last {dropped} input {one if dropped == 1 else many} unread"
    )


# What a strided window leaves unread along each axis (the last word of the check's `what`).
_UNITS = {
    "height": ("row", "rows"),
    "width": ("column", "columns"),
    "depth": ("slice", "slices"),
    "length": ("frame", "frames"),
}


@dataclasses.dataclass(frozen=True)
class Constraint:
    """A condition on symbolic dimensions, checked later for concrete input sizes.

    kinds: `positive` (dims[0] >= 1), `equal` (dims[0] == dims[1]), `at_least`
    (dims[0] >= dims[1]), `even` (dims[0] is even), `exact` (a strided window over a
    size of dims[0] with params (kernel_span, stride, padding) reads every input row).
    """

    kind: ConstraintKind
    dims: tuple[Dim, ...]
    params: tuple[int, ...]
    message: str
    severity: Literal["error", "warning"]
    what: str = ""
    hint: str | None = None

    @property
    def text(self) -> str:
        """The condition in words, with its symbolic sizes."""
        return self.message or _symbolic_message(self.kind, self.dims, self.params, self.what)

    def holds(self, env: Mapping[str, int], memo: dict[Any, Any] | None = None) -> bool:
        """Whether the condition holds for the given variable values.

        Values may be vectors of sizes (a `SizeVector` or a numpy array: every size to try at once); the
        result is then a vector of booleans. `memo`, kept for one `env`, shares evaluated sizes between
        conditions (`Sym.evaluate`).
        """
        return _holds(self.kind, tuple(evaluate_dim(d, env, memo) for d in self.dims), self.params)

    @property
    def condition(self) -> tuple[Any, ...]:
        """What the constraint requires, without its wording: equal conditions are checked once."""
        return (self.kind, self.dims, self.params, self.severity)

    def describe(self, env: Mapping[str, int]) -> str | None:
        """The message a check on the concrete sizes of `env` gives, or None when the condition holds."""
        values = tuple(evaluate_dim(d, env) for d in self.dims)
        return None if _holds(self.kind, values, self.params) else _violation(self.kind, values, self.params, self.what)


def _symbolic_message(kind: ConstraintKind, dims: tuple[Dim, ...], params: tuple[int, ...], what: str) -> str:
    shown = [str(d) for d in dims]
    if kind == "positive":
        return f"{what} ({shown[0]}) must be at least 1"
    if kind == "equal":
        return f"{what} must be equal: {shown[0]} and {shown[1]}"
    if kind == "at_least":
        return f"{what}: {shown[0]} must be at least {shown[1]}"
    if kind == "even":
        return f"{what}: the size difference {shown[0]} must be even for a centered crop"
    span, stride, padding = params
    return (
        f"{what}: a window of {span} with stride {stride} and padding {padding} reads every row "
        f"of an input of size {shown[0]} only for some sizes"
    )


def _one_symbol(a: Dim, b: Dim, what: str) -> None:
    """Refuse an equality that ties two different symbols (`K == J`, `H * W == 49`).

    The size lattices and the runtime input guard hold conditions on one symbol each: a condition
    between two symbols would pass validation at the example sizes and the guard at any others, then
    fail in torch. The sizes an op needs equal are written with one symbol instead.
    """
    left = a.variables if isinstance(a, Sym) else frozenset()
    right = b.variables if isinstance(b, Sym) else frozenset()
    tied = sorted(left - right) + sorted(right - left)  # a symbol on both sides (`N` of `N*K == N*J`) is not tied
    if len(tied) < 2:
        return
    names = " and ".join(f"`{t}`" for t in tied)
    raise ShapeError(
        f"{what} must be equal, but `{a}` and `{b}` are written with different symbols ({names})",
        f"write one symbol for sizes that must be equal (`{tied[0]}` for {names}): each symbol's sizes are "
        "checked on their own, a condition between two symbols is not",
        code="NS207",
    )


class ShapeCheck:
    """What shape rules call to check sizes.

    Concrete violations raise `ShapeError` at once (errors) or are appended to `warnings`;
    checks on symbolic sizes become `Constraint`s (both severities) for later evaluation.
    """

    def __init__(self) -> None:
        self.constraints: list[Constraint] = []
        self.warnings: list[str] = []

    def positive(self, dim: Dim, what: str, *, hint: str | None = None) -> None:
        """`dim >= 1`, e.g. an output height: "`Conv2d` output height would be -3; ..."."""
        self._check("positive", (dim,), (), what, "error", hint)

    def equal(self, a: Dim, b: Dim, what: str, *, hint: str | None = None) -> None:
        """`a == b`; symbolic sizes that provably differ (by a constant) fail at once."""
        if isinstance(a, Sym) or isinstance(b, Sym):
            if a == b:
                return
            diff = a - b
            if is_concrete(diff):
                raise ShapeError(_symbolic_message("equal", (a, b), (), what) + f" (they differ by {diff})", hint)
            _one_symbol(a, b, what)
        self._check("equal", (a, b), (), what, "error", hint)

    def at_least(self, a: Dim, b: Dim, what: str, *, hint: str | None = None) -> None:
        """`a >= b`, e.g. a skip connection at least as large as the crop target."""
        diff = a - b
        if not is_concrete(diff):
            self._check("at_least", (a, b), (), what, "error", hint)
        elif diff < 0:
            raise ShapeError(f"{what}: {a} is smaller than {b}", hint)

    def exact_window(self, size: Dim, kernel_span: int, stride: int, padding: int, what: str) -> None:
        """Warn when a floor-mode strided window (conv, pool) leaves trailing input rows unread.

        Rows are dropped when `(size + 2*padding - kernel_span) % stride > padding`. Windows
        narrower than their stride (a 1x1 stride-2 conv) skip rows by design and are not checked.
        """
        if stride <= 1 or kernel_span < stride:
            return
        self._check("exact", (size,), (kernel_span, stride, padding), what, "warning", None)

    def even(self, diff: Dim, what: str) -> None:
        """Warn when a centered crop removes an odd number of rows (misaligned by one pixel)."""
        self._check("even", (diff,), (), what, "warning", None)

    def _check(
        self,
        kind: ConstraintKind,
        dims: tuple[Dim, ...],
        params: tuple[int, ...],
        what: str,
        severity: Literal["error", "warning"],
        hint: str | None,
    ) -> None:
        if all(is_concrete(d) for d in dims):
            values: tuple[int, ...] = dims  # type: ignore[assignment]
            if _holds(kind, values, params):
                return
            message = _violation(kind, values, params, what)
            if severity == "error":
                raise ShapeError(message, hint)
            self.warnings.append(message)
            return
        # The wording is built only when a diagnostic needs it (`Constraint.text`): most constraints hold.
        self.constraints.append(Constraint(kind, dims, params, "", severity, what, hint))
