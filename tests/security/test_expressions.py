"""The expression language admits arithmetic and comparisons on numbers and params, with bounded results."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from work import calls, growth

from netspec._expr import EVALUATION_BUDGET, ExprBudgetError, ExprError, compile_value, evaluation_budget

ESCAPES = [
    "${x.__class__}", "${x.__class__.__mro__}", "${().__class__}", "${''.join}", "${__import__('os')}",
    "${__builtins__}", "${open('/etc/passwd')}", "${eval('1')}", "${exec('1')}", "${getattr(x, 'y')}",
    "${globals()}", "${lambda: 1}", "${[c for c in x]}", "${{1: 2}}", "${x := 1}", "${import os}",
    "${x; 1}", "${`x`}", "${f'{x}'}", "${b'x'}", "${x[::-1]}", "${min.__self__}", "${(1).real}",
    "${print(1)}", "${type(x)}", "${'%s' % x}", "$__class__", "${None}",
]  # fmt: skip


@pytest.mark.parametrize("text", ESCAPES)
def test_escape_attempt_is_refused(text: str) -> None:
    with pytest.raises(ExprError) as caught:
        compiled = compile_value(text)
        compiled.evaluate({"x": 3})  # type: ignore[union-attr]
    assert 0 <= caught.value.offset <= len(text)


BOMBS = [
    "${10 ** 10 ** 10}", "${2 ** 64}", "${9223372036854775807 + 1}", "${-9223372036854775807 - 2}",
    "${[0] * 10 ** 9}", "${'x' * 10 ** 9}", "${[[0] * 1000] * 1000}", "${[0] * 9999 + [0] * 9999}",
    "${1e308 * 10}", "${2.0 ** 10000}", "${1.5 ** 100000}", "${(-8) ** 0.5}", "${1 / 0}", "${1 // 0}", "${0 ** -1}",
    "${" + "(" * 100 + "1" + ")" * 100 + "}", "${" + "-" * 100 + "1}", "${" + " + ".join(["1"] * 600) + "}",
    "${" + "9" * 999 + "}", "${0x" + "f" * 900 + "}", "${1e999}",
]  # fmt: skip


@pytest.mark.parametrize("text", BOMBS)
def test_unbounded_result_is_refused_quickly(text: str) -> None:
    def run() -> None:
        compiled = compile_value(text)
        compiled.evaluate({})  # type: ignore[union-attr]

    work, error = calls(run)
    assert isinstance(error, ExprError), error
    assert work < 50_000  # refused by the size it would have, before it is made


COSTLY = [
    (" and ", "[0] * 9999 == [0] * 9999", 30),
    (" and ", "[[0] * 99] * 99 == [[0] * 99] * 99", 22),
    (" + ", "len([0] * 9999 + [1])", 40),
    (" + ", "max([0] * 9999)", 50),
]


def _evaluation(joiner: str, part: str, count: int, budget: int) -> Callable[[], object]:
    compiled = compile_value("${" + joiner.join([part] * count) + "}")

    def run() -> object:
        with evaluation_budget(budget):
            return compiled.evaluate({})  # type: ignore[union-attr]

    return run


@pytest.mark.parametrize(("joiner", "part", "count"), COSTLY, ids=["list-equality", "nested-equality", "concat", "max"])
def test_one_evaluation_is_bounded_by_its_budget(joiner: str, part: str, count: int) -> None:
    with pytest.raises(ExprBudgetError):
        compiled = compile_value("${" + joiner.join([part] * count) + "}")
        compiled.evaluate({})  # type: ignore[union-attr]
    # The budget stops it: the work follows the budget, about linearly (a quadratic cost would give 16).
    for budget in (EVALUATION_BUDGET // 4, EVALUATION_BUDGET):
        assert isinstance(calls(_evaluation(joiner, part, count, budget))[1], ExprBudgetError)
    assert growth(lambda units: _evaluation(joiner, part, count, units), EVALUATION_BUDGET // 4, EVALUATION_BUDGET) < 8


def test_evaluations_share_a_budget() -> None:
    compiled = compile_value("${len([0] * 5000)}")
    with evaluation_budget(EVALUATION_BUDGET // 10), pytest.raises(ExprBudgetError):
        for _ in range(100):
            compiled.evaluate({})  # type: ignore[union-attr]
    assert compiled.evaluate({}) == 5000  # type: ignore[union-attr]  # outside, a fresh budget per evaluation


@pytest.mark.parametrize(
    ("text", "value"),
    [("${w * 2 + 1}", 129), ("${w > 32 and w <= 64}", True), ("${[w, w // 2][1]}", 32), ("${max(w, 3) % 5}", 4),
     ("${2 ** 62}", 2**62), ("${'a' * 3}", "aaa"), ("${w if w != 0 else 1}", 64)],
)  # fmt: skip
def test_arithmetic_and_comparisons_still_work(text: str, value: object) -> None:
    assert compile_value(text).evaluate({"w": 64}) == value  # type: ignore[union-attr]
