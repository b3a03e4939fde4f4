"""Symbolic dimensions: arithmetic, canonical forms, printing, evaluation; the checks shape rules make."""

from __future__ import annotations

import itertools
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netspec._dims import (
    Constraint,
    ShapeCheck,
    ShapeError,
    Sym,
    evaluate_dim,
    format_shape,
    is_concrete,
    sym,
)

H, W, N = sym("H"), sym("W"), sym("N")


# --- arithmetic and canonical forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (H, "H"),
        (H - 4, "H-4"),
        (2 * H + 1, "2*H+1"),
        (H * 3, "3*H"),
        ((H - 4) // 2, "H//2-2"),  # whole multiples leave the floor
        ((H - 1) // 2 + 1, "(H+1)//2"),  # a stride-2 conv with padding 3 and kernel 7
        (((H + 1) // 2 + 1) // 2, "(H+3)//4"),  # nested floors fold into one
        (((H - 4) // 2 - 4) // 2, "H//4-3"),  # two U-Net levels
        ((2 * H + 2) // 4, "(H+1)//2"),  # a common factor cancels
        ((H * 4) // 2, "2*H"),
        (2 * (H // 2), "2*(H//2)"),
        (64 * H * W, "64*H*W"),
        (W * (H // 2), "W*(H//2)"),
        (5 - H, "-H+5"),
        ((H + W) // 3, "(H+W)//3"),
        ((2 * H) // 3, "(2*H)//3"),
    ],
)
def test_canonical_text(expr, text):
    assert str(expr) == text
    assert repr(expr) == f"Sym({text!r})"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ((H + 2) + 3, H + 5),
        ((H * 2) * 3, H * 6),
        ((H * 6) // 3, H * 2),
        ((H * 6 + 9) // 3, H * 2 + 3),
        ((2 * H + 1) // 2, H),
        (H // 1, H),
        (H * 1, H),
        (H + 0, H),
        ((H - 4) // 2, H // 2 - 2),
        (((H + 1) // 2 + 1) // 2, (H + 3) // 4),
        (H + W, W + H),
        (H * W, W * H),
        (2 * (H // 2) + 3, H // 2 * 2 + 3),
    ],
)
def test_structural_equality(left, right):
    assert left == right
    assert hash(left) == hash(right)


def test_results_without_variables_are_plain_ints():
    assert H - H == 0 and type(H - H) is int
    assert (H + 3) - H == 3
    assert (H * 0) == 0
    assert is_concrete(2 * H - H - H + 7) and 2 * H - H - H + 7 == 7


def test_sym_never_equals_an_int_and_differs_from_other_syms():
    assert H != 4 and H != W and H + 1 != H
    assert len({H, sym("H"), W, H + 1}) == 3


def test_evaluate_and_variables():
    expr = ((H - 4) // 2) * W + 3
    assert expr.evaluate({"H": 11, "W": 5}) == ((11 - 4) // 2) * 5 + 3
    assert expr.variables == frozenset({"H", "W"})
    assert ((H + W) // 2).variables == frozenset({"H", "W"})
    assert evaluate_dim(7, {}) == 7
    assert evaluate_dim(H + 1, {"H": 2}) == 3
    with pytest.raises(KeyError, match="`W`"):
        (H + W).evaluate({"H": 1})


def test_mod_and_negation():
    assert (H % 2).evaluate({"H": 7}) == 1
    assert (-H).evaluate({"H": 7}) == -7
    assert (10 - H).evaluate({"H": 3}) == 7


def test_invalid_operations():
    with pytest.raises(ValueError, match="positive integer"):
        H // 0
    with pytest.raises(TypeError):
        H // 1.5
    with pytest.raises(TypeError):
        H + 1.5
    with pytest.raises(TypeError):
        H + True
    with pytest.raises(TypeError):
        H < 3  # noqa: B015
    with pytest.raises(ValueError):
        sym("os.path")


def test_pickle_round_trip():
    expr = ((H + 1) // 2) * W - 3
    assert pickle.loads(pickle.dumps(expr)) == expr
    error = pickle.loads(pickle.dumps(ShapeError("bad", "fix it")))
    assert (error.message, error.hint) == ("bad", "fix it")


def test_format_shape_and_is_concrete():
    assert format_shape((N, 64, 56, 56)) == "[N, 64, 56, 56]"
    assert format_shape((N, 3, H // 2 - 2, W)) == "[N, 3, H//2-2, W]"
    assert format_shape(()) == "[]"
    assert is_concrete(3) and not is_concrete(H) and not is_concrete(True)


_small = st.integers(min_value=-20, max_value=20)
_divisors = st.integers(min_value=1, max_value=7)


@settings(max_examples=200, deadline=None)
@given(a=_small, b=_small, c=_small, d1=_divisors, d2=_divisors, h=st.integers(-50, 200), w=st.integers(-50, 200))
def test_canonical_forms_keep_values(a, b, c, d1, d2, h, w):
    """Every rewrite is an identity over the integers: the canonical form evaluates like Python does."""
    env = {"H": h, "W": w}
    expr = ((a * H + b * W + c) // d1 + b) // d2 * a - c
    expected = ((a * h + b * w + c) // d1 + b) // d2 * a - c
    assert evaluate_dim(expr, env) == expected
    product = ((H + a) // d1) * (W - b) + c
    assert evaluate_dim(product, env) == ((h + a) // d1) * (w - b) + c


# --- ShapeCheck -----------------------------------------------------------------------------------


def test_positive_concrete_raises_with_the_value():
    check = ShapeCheck()
    check.positive(5, "`Conv2d` output height")
    with pytest.raises(ShapeError, match=r"`Conv2d` output height would be -3; it must be at least 1") as info:
        check.positive(-3, "`Conv2d` output height", hint="use a larger input")
    assert info.value.hint == "use a larger input"


def test_positive_symbolic_becomes_a_constraint():
    check = ShapeCheck()
    check.positive(H // 2 - 2, "`MaxPool2d` output height")
    (constraint,) = check.constraints
    assert (constraint.kind, constraint.severity, constraint.dims) == ("positive", "error", (H // 2 - 2,))
    assert "H//2-2" in constraint.text
    assert constraint.holds({"H": 6}) and not constraint.holds({"H": 5})
    assert constraint.describe({"H": 6}) is None
    assert constraint.describe({"H": 3}) == "`MaxPool2d` output height would be -1; it must be at least 1"


def test_equal():
    check = ShapeCheck()
    check.equal(3, 3, "channels")
    check.equal(H, H, "heights")
    assert not check.constraints
    with pytest.raises(ShapeError, match="channels must be equal, got 3 and 4"):
        check.equal(3, 4, "channels")
    with pytest.raises(ShapeError, match="differ by 4"):
        check.equal(H, H - 4, "heights")  # never equal, whatever H is
    with pytest.raises(ShapeError, match="written with different symbols") as tied:
        check.equal(H, W, "sizes")  # the lattices and the input guard hold conditions on one symbol each
    assert tied.value.code == "NS207"
    with pytest.raises(ShapeError, match="different symbols"):
        check.equal(H * W, 49, "tokens")
    check.equal(H // 2, 28, "sizes")
    check.equal(N * H, N * 28, "rows")  # `N` on both sides ties nothing
    assert [c.kind for c in check.constraints] == ["equal", "equal"]
    assert check.constraints[0].holds({"H": 57}) and not check.constraints[0].holds({"H": 58})


def test_at_least():
    check = ShapeCheck()
    check.at_least(64, 56, "skip")
    check.at_least(H + 4, H, "skip")
    assert not check.constraints
    with pytest.raises(ShapeError, match="skip: 56 is smaller than 64"):
        check.at_least(56, 64, "skip")
    with pytest.raises(ShapeError, match="H-4 is smaller than H"):
        check.at_least(H - 4, H, "skip")
    check.at_least(H // 8 - 16, 2 * (H // 16) - 24, "skip")
    (constraint,) = check.constraints
    assert constraint.kind == "at_least" and constraint.holds({"H": 572})


def test_even_is_a_warning():
    check = ShapeCheck()
    check.even(8, "crop")
    check.even(7, "crop")
    assert len(check.warnings) == 1 and "odd" in check.warnings[0]
    check.even(H - 4, "crop")
    (constraint,) = check.constraints
    assert constraint.severity == "warning"
    assert constraint.holds({"H": 10}) and not constraint.holds({"H": 11})


# --- exact_window ---------------------------------------------------------------------------------


def test_unet_pool_at_an_odd_size_drops_a_row():
    check = ShapeCheck()
    check.exact_window(568, 2, 2, 0, "`MaxPool2d` height")
    assert not check.warnings
    check.exact_window(567, 2, 2, 0, "`MaxPool2d` height")
    (warning,) = check.warnings
    assert "567" in warning and "last 1 input row unread" in warning


def test_resnet_strided_3x3_with_padding_1_never_drops():
    check = ShapeCheck()
    for size in range(1, 600):
        check.exact_window(size, 3, 2, 1, "`Conv2d` height")
        check.exact_window(size, 7, 2, 3, "stem")
    assert not check.warnings


def test_one_by_one_strided_conv_is_not_checked():
    check = ShapeCheck()
    check.exact_window(57, 1, 2, 0, "`Conv2d` height")  # skips rows by design
    check.exact_window(H, 1, 2, 0, "`Conv2d` height")
    check.exact_window(57, 3, 1, 0, "stride 1")
    assert not check.warnings and not check.constraints


def test_exact_window_symbolic_constraint():
    check = ShapeCheck()
    check.exact_window(H - 4, 2, 2, 0, "`MaxPool2d` height")
    (constraint,) = check.constraints
    assert (constraint.kind, constraint.severity, constraint.params) == ("exact", "warning", (2, 2, 0))
    assert constraint.holds({"H": 572}) and not constraint.holds({"H": 571})
    assert "571" not in constraint.text and "H-4" in constraint.text
    assert "567" in constraint.describe({"H": 571})


def _unread_rows(size: int, span: int, stride: int, padding: int) -> int:
    """Trailing real input rows that no floor-mode window covers, by listing the windows."""
    count = (size + 2 * padding - span) // stride + 1
    if count < 1:
        return 0
    last_read = (count - 1) * stride + span - 1 - padding  # in input coordinates
    return max(size - 1 - last_read, 0)


def test_exact_window_agrees_with_listing_the_windows():
    for size, span, stride, padding in itertools.product(range(1, 30), range(1, 6), range(2, 5), range(3)):
        if padding > span // 2 or span < stride:
            continue
        check = ShapeCheck()
        check.exact_window(size, span, stride, padding, "w")
        assert bool(check.warnings) == (_unread_rows(size, span, stride, padding) > 0), (size, span, stride, padding)


def test_constraint_is_a_frozen_value():
    constraint = Constraint("positive", (H,), (), "H must be positive", "error")
    assert constraint == Constraint("positive", (H,), (), "H must be positive", "error")
    with pytest.raises(AttributeError):
        constraint.kind = "equal"  # type: ignore[misc]
    assert isinstance(H, Sym)
