"""Exact integer sets: algebra against Python sets on a window, statements."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graphcheck.symbolic.intset import MAXDIM, IntSet

WINDOW = 400


@st.composite
def intsets(draw: st.DrawFn) -> IntSet:
    kind = draw(st.sampled_from(["interval", "residues", "points", "tail"]))
    if kind == "interval":
        lo = draw(st.integers(1, 300))
        hi = draw(st.integers(lo, 600))
        return IntSet.interval(lo, hi)
    if kind == "residues":
        p = draw(st.integers(1, 12))
        rs = draw(st.sets(st.integers(0, p - 1), min_size=1))
        lo = draw(st.integers(1, 100))
        return IntSet.residues(p, rs, lo)
    if kind == "points":
        return IntSet.points(draw(st.sets(st.integers(1, 500), max_size=8)))
    return IntSet.interval(draw(st.integers(1, 300)))


def members(s: IntSet) -> set[int]:
    return {v for v in range(1, WINDOW) if v in s}


@settings(max_examples=300, deadline=None)
@given(intsets(), intsets())
def test_algebra_matches_python_sets(a: IntSet, b: IntSet) -> None:
    A, B = members(a), members(b)
    assert members(a & b) == A & B
    assert members(a | b) == A | B
    assert members(a - b) == A - B
    assert members(a.complement()) == set(range(1, WINDOW)) - A
    # the far end behaves too
    for v in (MAXDIM, MAXDIM - 1, MAXDIM - 7):
        assert (v in (a | b)) == (v in a or v in b)


@settings(max_examples=200, deadline=None)
@given(intsets())
def test_reduced_period_is_the_same_set(a: IntSet) -> None:
    r = a.reduced()
    assert r == a
    assert members(r) == members(a)
    assert r.period <= a.period


def test_statements() -> None:
    assert IntSet.interval(9).describe("L") == "L >= 9"
    assert IntSet.residues(32, [0]).describe("H") == "H % 32 == 0"
    assert (IntSet.residues(6, [0, 2, 4])).describe("x") == "x % 2 == 0"
    assert IntSet.points([2999, 3000]).describe("T") == "T in {2999, 3000}"
    assert (IntSet.interval(1, 6) | IntSet.interval(9)).describe("L") == "L <= 6 or L >= 9"
    assert (IntSet.residues(2, [0]) | IntSet.points([3])).describe("L") == "L = 3 or L % 2 == 0"
    assert IntSet.empty().describe("L") == "no valid size"
    assert IntSet.full().describe("L") == "L >= 1"


def test_statement_round_trip_membership() -> None:
    s = IntSet.residues(4, [1, 3], 5) | IntSet.points([2])
    text = s.describe("L")
    assert "L" in text
    assert 2 in s and 5 in s and 7 in s and 6 not in s and 3 not in s
