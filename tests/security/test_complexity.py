"""Doubling a generated spec at most a little more than doubles the work each phase counts."""

from __future__ import annotations

import random

from hostile import HEADER

import netspec
from netspec._errors import did_you_mean, hint_budget
from netspec._graph import expand
from netspec._shapes import _period


def _ratio(small: int, large: int) -> float:
    return large / max(small, 1)


def _work(text: str) -> int:
    return expand(netspec.loads(text)).work


def test_resolving_a_chain_of_disabled_nodes_is_linear() -> None:
    def spec(n: int) -> str:
        body = "".join(f"  d{i}: {{op: ReLU, when: false}}\n  r{i}: {{op: ReLU, in: d{i}}}\n" for i in range(n))
        return HEADER + "nodes:\n  a: ReLU\n" + body

    assert _ratio(_work(spec(500)), _work(spec(1000))) <= 2.2


def test_resolving_repeated_block_instances_is_linear() -> None:
    def spec(n: int) -> str:
        block = "blocks:\n  b:\n    nodes:\n      off: {op: ReLU, when: false}\n      on: ReLU\n"
        return HEADER + block + f"nodes:\n  a: ReLU\n  rep: {{block: b, repeat: {n}}}\n  z: ReLU\n"

    assert _ratio(_work(spec(500)), _work(spec(1000))) <= 2.2


def test_did_you_mean_hints_share_a_bounded_budget() -> None:
    def spent(n: int) -> int:
        choices = [f"node{i}" for i in range(n)]
        with hint_budget(10**9) as left:
            for i in range(n):
                did_you_mean(f"nope{i}", choices, listing=12)
        return 10**9 - left[0]

    # Each hint reads its choices once and compares at most MAX_HINT_CANDIDATES of them: n hints
    # over n choices grow as n * min(n, cap); with the default budget the total stays bounded.
    assert _ratio(spent(200), spent(400)) <= 4.5
    with hint_budget() as left:
        for i in range(600):
            did_you_mean(f"nope{i}", [f"node{j}" for j in range(100)])
        assert left[0] <= 0  # spent: later hints give up at once


def test_the_period_search_is_linear_and_exact() -> None:
    rng = random.Random(3)
    for _ in range(300):
        limit = rng.randint(2, 60)
        sizes = sorted(rng.sample(range(1, limit + 1), rng.randint(0, limit)))
        expected = None
        if len(sizes) >= 2:
            present, first = set(sizes), sizes[0]
            expected = next(
                (
                    p
                    for p in range(1, (limit - first) // 2 + 1)
                    if all((n in present) == (n + p in present) for n in range(first, limit - p + 1))
                ),
                None,
            )
        assert _period(sizes, limit) == expected
    assert _period(list(range(5, 1 << 16, 16)), 1 << 16) == 16  # 65,536 sizes, one pass
