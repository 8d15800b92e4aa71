"""The one-symbol solver is exact: its sets agree with direct evaluation everywhere probed."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from graphcheck.symbolic.cond import any_of, eq, ge
from graphcheck.symbolic.expr import ceildiv, const, emax, emin, floordiv, mod, sym
from graphcheck.symbolic.intset import MAXDIM
from graphcheck.symbolic.usolve import cond_set

L = sym("L")
S = L.as_sym()
assert S is not None


def _probe_points(rnd: random.Random) -> list[int]:
    pts = list(range(1, 400))
    pts += [rnd.randint(1, 10**12) for _ in range(60)]
    pts += [MAXDIM, MAXDIM - 1, MAXDIM - 12345, 2**40, 2**40 + 1]
    return pts


@st.composite
def conv_chains(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    """Output sizes of random conv/pool stacks, the expressions the solver sees most."""
    e = L
    for _ in range(draw(st.integers(1, 5))):
        k = draw(st.integers(1, 9))
        s = draw(st.integers(1, 4))
        d = draw(st.integers(1, 3))
        p = draw(st.integers(0, 4))
        mode = draw(st.sampled_from(["floor", "ceil", "same", "ceil_drop"]))
        span = d * (k - 1) + 1
        if mode == "floor":
            e = floordiv(e + p - span, s) + 1
        elif mode == "ceil":
            e = ceildiv(e + p - span, s) + 1
        elif mode == "ceil_drop":
            e = emin(ceildiv(e + 2 * p - span, s) + 1, floordiv(e + p - 1, s) + 1)
        else:
            e = ceildiv(e, s)
    return e


@st.composite
def general(draw: st.DrawFn, depth: int = 3):  # type: ignore[no-untyped-def]
    if depth == 0:
        return draw(st.sampled_from([L, L, const(draw(st.integers(-30, 30)))]))
    kind = draw(st.sampled_from(["add", "sub", "mul", "floor", "ceil", "mod", "min", "max", "leaf", "scale"]))
    a = draw(general(depth - 1))
    if kind == "leaf":
        return a
    if kind == "scale":
        return a * draw(st.integers(-5, 5))
    if kind in ("floor", "ceil", "mod"):
        d = draw(st.integers(1, 8))
        return {"floor": floordiv, "ceil": ceildiv, "mod": mod}[kind](a, d)
    b = draw(general(depth - 1))
    return {"add": a + b, "sub": a - b, "mul": a * b, "min": emin(a, b), "max": emax(a, b)}[kind]


def _check(cond) -> None:  # type: ignore[no-untyped-def]
    s = cond_set(cond, S)
    rnd = random.Random(1)
    for v in _probe_points(rnd):
        assert (v in s) == cond.holds({S: v}), (str(cond), v, s)


@settings(max_examples=300, deadline=None)
@given(conv_chains(), st.integers(-3, 3))
def test_conv_chain_conditions(e, c) -> None:  # type: ignore[no-untyped-def]
    _check(ge(e, 1))
    _check(eq(e, c + 40))


@settings(max_examples=400, deadline=None)
@given(general(), st.sampled_from(["ge", "eq"]))
def test_general_conditions(e, rel) -> None:  # type: ignore[no-untyped-def]
    from graphcheck.errors import TooComplex

    cond = ge(e) if rel == "ge" else eq(e)
    if not cond.symbols():
        return
    try:
        _check(cond)
    except TooComplex:
        pass  # honest refusal is allowed; a wrong answer is not


def test_known_answers() -> None:
    assert cond_set(ge(floordiv(L - 9, 2) + 1, 1), S).describe("L") == "L >= 9"
    assert cond_set(eq(floordiv(L + 1, 2), 1500), S).describe("L") == "L in {2999, 3000}"
    assert cond_set(eq(floordiv(L, 8) * 8, L), S).describe("L") == "L % 8 == 0"
    assert cond_set(any_of([eq(L, 1), eq(L, 7)]), S).describe("L") == "L in {1, 7}"
    assert cond_set(ge(L * L - 50 * L + 600), S).describe("L") == "L <= 20 or L >= 30"


def test_a_condition_past_the_budget_is_not_solved_again() -> None:
    """The solver, the statement and each finding ask for the same one-size set: an answer past the
    solver's limits is remembered as TooComplex, so it costs its budget once, not once per question."""
    import pytest

    from graphcheck.errors import TooComplex
    from graphcheck.symbolic import usolve

    x = sym("L")
    # L % 251 + L % 257 == L % 263: periodic with a period far past the solver's limit
    e = mod(x, 251) + mod(x, 257) - mod(x, 263)
    calls = [0]
    real = usolve._atom_set

    def counting(*a: object) -> object:
        calls[0] += 1
        return real(*a)  # type: ignore[arg-type]

    usolve._SOLVED.clear()
    usolve._atom_set = counting  # type: ignore[assignment]
    try:
        for _ in range(3):
            with pytest.raises(TooComplex):
                usolve.atom_set(e, True, x.as_sym())
    finally:
        usolve._atom_set = real
    assert calls[0] == 1
