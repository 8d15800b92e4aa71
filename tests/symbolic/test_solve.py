"""Coupled sizes (graphcheck.symbolic.solve): exact sets, their smallest points and statements,
checked against the conditions evaluated on a grid."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from graphcheck.symbolic.cond import Cond, eq, ge
from graphcheck.symbolic.expr import floordiv, sym
from graphcheck.symbolic.solve import EnumPart, ProjectedPart, solve

A, B = sym("past"), sym("new")
sA, sB = A.as_sym(), B.as_sym()
H, W = sym("H"), sym("W")
sH, sW = H.as_sym(), W.as_sym()
GRID = list(itertools.product(range(1, 70), range(1, 70)))


def _check(conds: list[Cond], syms: tuple, grid=GRID) -> None:  # type: ignore[no-untyped-def]
    sol = solve(conds, syms)
    inside = [p for p in grid if all(c.holds(dict(zip(syms, p))) for c in conds)]
    for p in grid:
        assert sol.contains(dict(zip(syms, p))) == (p in inside), (p, sol.describe())
    if inside:
        assert not sol.is_empty()
        small = sol.smallest()
        assert small is not None and all(c.holds(small) for c in conds), sol.describe()
        point = tuple(small[x] for x in syms)
        # minimal: no other valid size is at most as large on every axis
        below = [p for p in inside if p != point and all(u <= v for u, v in zip(p, point))]
        assert not below, sol.describe()


def test_kv_cache_sum_is_stated_as_is() -> None:
    sol = solve([ge(40 - A - B)], (sA, sB))
    assert isinstance(sol.parts[0], ProjectedPart) and sol.exact
    assert sol.describe() == "new + past <= 40"
    _check([ge(40 - A - B)], (sA, sB))


def test_batch_no_larger_than_the_masks() -> None:
    sol = solve([ge(B - A)], (sA, sB))
    assert sol.exact and sol.describe() == "new >= past"
    assert sol.smallest() == {sA: 1, sB: 1}


def test_contradiction_between_sizes() -> None:
    sol = solve([ge(B - A), ge(A - B - 1)], (sA, sB))
    assert sol.is_empty() and sol.exact


def test_vit_patch_grid_is_stated_by_its_condition() -> None:
    conds = [ge(H, 8), ge(W, 8), eq(floordiv(H, 8) * floordiv(W, 8), 64)]
    sol = solve(conds, (sH, sW))
    assert isinstance(sol.parts[0], EnumPart) and sol.exact
    assert sol.describe() == "floor(H / 8)*floor(W / 8) = 64"  # H >= 8 and W >= 8 follow from it
    _check(conds, (sH, sW), list(itertools.product(range(1, 80), range(500, 530))))


@st.composite
def linear_conds(draw: st.DrawFn) -> list[Cond]:
    out: list[Cond] = []
    for _ in range(draw(st.integers(1, 3))):
        a, b = draw(st.integers(-3, 3)), draw(st.integers(-3, 3))
        c = draw(st.integers(-60, 60))
        kind = draw(st.sampled_from(["ge", "ge", "eq"]))
        e = a * A + b * B + c
        out.append(ge(e) if kind == "ge" else eq(e))
    return out


@settings(max_examples=200, deadline=None)
@given(linear_conds())
def test_linear_conditions_are_solved_exactly(conds) -> None:  # type: ignore[no-untyped-def]
    conds = [c for c in conds if not isinstance(c, type(ge(1)))]  # drop constant truths
    syms = (sA, sB)
    sol = solve(conds, syms)
    if not sol.exact:
        return
    _check(conds, syms, list(itertools.product(range(1, 40), range(1, 40))))


def test_a_size_seen_only_through_its_intervals_is_cut_there() -> None:
    """(f - 1) times 1 from W = 4 on and 2 below, equal to 1: f = 2 (32 <= H <= 47) and W >= 4,
    as the CRNN's onnxruntime twin says once its piecewise Reshape is followed."""
    from graphcheck.symbolic.expr import indicator

    f = floordiv(H, 16)
    cond = eq((f - 1) * (indicator(W, 4, None) + 2 * indicator(W, 1, 3)), 1)
    sol = solve([cond], (sH, sW))
    assert isinstance(sol.parts[0], EnumPart) and sol.exact
    assert sol.describe() == "W >= 4; 32 <= H <= 47"
    _check([cond], (sH, sW), list(itertools.product(range(1, 70), range(1, 12))))


def test_a_period_past_the_limit_is_stated_whole_and_answered_at_once() -> None:
    """L divisible by every prime up to 17: period 510,510, past PERIOD_LIMIT. The set is given as its
    conditions (GC105), every one of them stated (the first ones intersected, not dropped), and
    membership stays exact; the sets of long periods on the way cost the solver's budget, not a spin."""
    from graphcheck.symbolic.expr import mod
    from graphcheck.symbolic.solve import CondPart

    L = sym("L")
    primes = (2, 3, 5, 7, 11, 13, 17)
    sol = solve([eq(mod(L + 1, p), 0) for p in primes], [L.as_sym()])  # type: ignore[list-item]
    (part,) = sol.parts
    assert isinstance(part, CondPart) and not sol.exact and "510510" in part.reason
    text = sol.describe()
    assert "% 30030 == 30029" in text and "% 17" in text, text
    s = L.as_sym()
    assert sol.contains({s: 510509}) is True and sol.contains({s: 30029}) is False
