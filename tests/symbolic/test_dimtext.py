"""The grammar of written dims: its evaluator, and every expression graphcheck prints reads back
as the same integer function."""

from __future__ import annotations

import random

import pytest

from graphcheck.symbolic.dimtext import DimSyntaxError, evaluate, names, parse
from graphcheck.symbolic.expr import Expr, ceildiv, const, emax, emin, floordiv, mod, sym


@pytest.mark.parametrize(
    "text, sizes, value",
    [
        ("7", {}, 7),
        ("L", {"L": 5}, 5),
        ("L - 6", {"L": 20}, 14),
        ("floor((L - 6) / 2) + 1", {"L": 20}, 8),
        ("floor((L - 7) / 2)", {"L": 4}, -2),  # rounds down, not toward zero
        ("ceil((L - 7) / 2)", {"L": 4}, -1),
        ("ceil(L / 4)", {"L": 9}, 3),
        ("L % 4", {"L": 9}, 1),
        ("(L - 10) % 4", {"L": 7}, 1),  # never negative for a positive divisor
        ("2*L + 3*L % 4", {"L": 3}, 6 + 1),  # % binds like *, left to right: (3*L) % 4
        ("min(L, 64) + max(N, 1, 2)", {"L": 80, "N": 1}, 66),
        ("-L + 5", {"L": 2}, 3),
        ("-floor(L / 2)^2", {"L": 7}, -9),
        ("L^2*N", {"L": 3, "N": 2}, 18),
        ("B*floor((H + 12) / 16)*floor((W + 12) / 16)", {"B": 2, "H": 64, "W": 40}, 2 * 4 * 3),
        ("unk__68 - 6", {"unk__68": 9}, 3),
        ("past_sequence_length + 1", {"past_sequence_length + 1": 4}, 4),  # an input's own name, as is
    ],
)
def test_evaluate(text: str, sizes: dict[str, int], value: int) -> None:
    assert evaluate(text, sizes) == value


@pytest.mark.parametrize(
    "text",
    ["", "L +", "floor(L)", "floor(L / 2", "sqrt(L)", "min(L)", "L / 2", "L ** 2", "L^N", "2L", "L $ 2", "(L"],
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(DimSyntaxError):
        parse(text)


def test_names_and_missing_sizes() -> None:
    assert names("floor((H - 3) / 2)*W + data_nonzero_1") == {"H", "W", "data_nonzero_1"}
    assert names("a + b", {"a + b": 1}) == {"a + b"}
    with pytest.raises(KeyError):
        evaluate("L + N", {"L": 1})
    with pytest.raises(ZeroDivisionError):
        evaluate("floor(L / (L - 1))", {"L": 1})


def test_deep_or_huge_text_is_refused_not_crashing() -> None:
    with pytest.raises(DimSyntaxError):
        parse("(" * 300 + "L" + ")" * 300)
    with pytest.raises(DimSyntaxError):
        parse("L + " * 20000 + "1")


def _random_expr(rnd: random.Random, depth: int) -> Expr:
    syms = [sym("L"), sym("N"), sym("H")]
    if depth == 0 or rnd.random() < 0.25:
        return rnd.choice(syms) if rnd.random() < 0.7 else const(rnd.randint(-9, 9))
    a, b = _random_expr(rnd, depth - 1), _random_expr(rnd, depth - 1)
    k = rnd.randint(2, 7)
    op = rnd.randrange(8)
    if op == 0:
        return a + b
    if op == 1:
        return a - b
    if op == 2:
        return a * rnd.choice([b, const(rnd.randint(-3, 5))])
    if op == 3:
        return floordiv(a, k)
    if op == 4:
        return ceildiv(a, k)
    if op == 5:
        return mod(a, k)
    if op == 6:
        return emin(a, b)
    return emax(a, b, const(rnd.randint(-4, 4)))


def test_printed_expressions_read_back_exactly() -> None:
    """``str(e)`` of graphcheck's expressions (floor, ceil, mod, min/max, powers, factored and merged
    forms) is a dim of the grammar equal to ``e`` at every size tried."""
    rnd = random.Random(21)
    checked = 0
    for _ in range(400):
        e = _random_expr(rnd, 3)
        text = str(e)
        d = parse(text)
        syms = sorted(e.symbols(), key=lambda s: s.name)
        for _ in range(6):
            env = {s: rnd.randint(1, 300) for s in syms}
            assert d.evaluate({s.name: v for s, v in env.items()}) == e.evaluate(env), (text, env)
            checked += 1
    assert checked == 2400
