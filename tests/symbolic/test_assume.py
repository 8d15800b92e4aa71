"""What is known of the sizes, and what follows from it (graphcheck.symbolic.assume).

Every decision is checked against the conditions evaluated at sizes: True means the condition
holds at every size the assumptions allow, False at none, and both are checked over a range of
sizes (one-size conditions exhaustively over a long prefix, two-size ones on a grid).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from graphcheck.symbolic.assume import NOTHING, Assumptions, bounds, lower
from graphcheck.symbolic.cond import FALSE, TRUE, Cond, all_of, any_of, eq, ge
from graphcheck.symbolic.expr import emax, emin, floordiv, sym
from tests.symbolic.test_expr import exprs

L = sym("L")
H = sym("H")
s_L = L.as_sym()
s_H = H.as_sym()


def _known(*conds: Cond) -> Assumptions:
    a = NOTHING
    for c in conds:
        a = a.narrowed(c)
    return a


def test_narrowing_keeps_one_size_conditions_only() -> None:
    a = _known(ge(L, 9), ge(400 - L), ge(H + L, 3))
    assert a.known(s_L).min() == 9 and a.known(s_L).max() == 400
    assert s_H not in a.sets  # a two-size condition does not narrow
    assert a.narrowed(ge(L, 5)) is a  # nothing new: the same object
    assert a == _known(ge(400 - L), ge(L, 9))


def test_decisions_under_what_is_known() -> None:
    a = _known(ge(L, 400))
    # wav2vec2's conv lengths: sizes computed before the convs' conditions were met
    trunc = emax(floordiv(L - 240, 160), emin(0, floordiv(L, 80) - floordiv(L + 80, 160) - 1))
    assert a.always(ge(trunc - floordiv(L - 240, 160)))
    assert a.never(eq(floordiv(L, 5) - 1, -1))  # a Reshape entry that is never -1 at valid sizes
    assert NOTHING.decide(eq(floordiv(L, 5) - 1, -1)) is None  # without them it may be
    assert a.decide(ge(L, 500)) is None
    b = _known(ge(96 - L))
    assert b.always(ge(96 - emin(96, L))) and b.always(eq(emin(96, L) - L))
    # two sizes: interval bounds over the box of what is known
    c = _known(ge(H, 8), ge(L, 8))
    assert c.always(ge(floordiv(H, 8) * floordiv(L, 8), 1))
    assert c.never(eq(floordiv(H, 8) * floordiv(L, 8)))


def test_simplify_drops_what_is_decided() -> None:
    c = _known(ge(H, 8), ge(L, 8))
    n = floordiv(H, 8) * floordiv(L, 8)
    # ViT's position table: n + 1 must be 65 or 1; n >= 1 is known, so only n = 64 remains
    assert c.simplify(any_of([eq(n + 1, 65), eq(n + 1, 1)])) == eq(n, 64)
    assert c.simplify(all_of([ge(H, 4), ge(H, 16)])) == ge(H, 16)
    assert c.simplify(ge(H, 2)) == TRUE
    assert c.simplify(ge(7 - H)) == FALSE


def test_interval_bounds_use_the_box() -> None:
    box = _known(ge(L, 10), ge(50 - L)).box
    assert bounds(floordiv(L, 5) - 1, box) == (1, 9)
    assert bounds(L * H, box) == (10, None)
    assert lower(L - floordiv(L, 2)) == 1  # correlation kept by taking the floor out
    assert lower(-emin(96, L), _known(ge(96 - L)).box) == -96


_SIZES = range(1, 260)


@st.composite
def knowns(draw: st.DrawFn) -> Assumptions:
    conds = []
    for _ in range(draw(st.integers(0, 2))):
        k = draw(st.integers(1, 60))
        conds.append(draw(st.sampled_from([ge(L, k), ge(k + 100 - L), eq(floordiv(L, 4) * 4 - L)])))
    return _known(*conds)


@settings(max_examples=300, deadline=None)
@given(knowns(), exprs(3), st.sampled_from(["ge", "eq"]))
def test_one_size_decisions_are_sound(a, e, kind) -> None:  # type: ignore[no-untyped-def]
    e = e.subs({s_H: 3})  # one size
    cond = ge(e) if kind == "ge" else eq(e)
    verdict = a.decide(cond)
    if verdict is None or not cond.symbols():
        return
    allowed = [v for v in _SIZES if v in a.known(s_L)]
    truths = {cond.holds({s_L: v}) for v in allowed}
    assert truths <= {verdict}, (str(cond), a, verdict)


@settings(max_examples=300, deadline=None)
@given(knowns(), exprs(3), st.sampled_from(["ge", "eq"]))
def test_two_size_decisions_are_sound(a, e, kind) -> None:  # type: ignore[no-untyped-def]
    a = a.narrowed(ge(H, 3))
    cond = ge(e) if kind == "ge" else eq(e)
    verdict = a.decide(cond)
    if verdict is None:
        return
    grid = [(lv, hv) for lv, hv in itertools.product(range(1, 120, 3), range(1, 60, 2)) if lv in a.known(s_L)]
    truths = {cond.holds({s_L: lv, s_H: hv}) for lv, hv in grid if hv >= 3}
    assert truths <= {verdict}, (str(cond), a, verdict)
    assert a.simplify(cond) == (TRUE if verdict else FALSE)


def test_a_floor_of_several_sizes_keeps_the_bound_a_condition_gives_it() -> None:
    """``floor(h*w / 8) >= 1`` bounds that floor; what follows in terms of it is decided by it
    (a Keras CRNN's reshape: 32*min(1, n) - 31 <= n once n >= 1)."""
    n = floordiv(floordiv(H, 4) * floordiv(L, 4), 8)
    k = NOTHING.narrowed(ge(n, 1))
    assert k.atoms and k.always(ge(n - 32 * emin(1, n) + 31))
    assert NOTHING.decide(ge(n - 32 * emin(1, n) + 31)) is None
    assert k.narrowed(ge(n, 1)) is k


def test_conditions_read_as_an_engineer_would() -> None:
    """Normal forms that make equal conditions equal: a size factor of a positive count, a min/max
    pinned to one argument, a multiple written as a residue."""
    n = floordiv(H, 8)
    b = sym("B")
    assert ge(b * n, 1) == ge(n, 1)
    assert eq(emin(1, n), 1) == ge(n, 1)
    assert str(eq(floordiv(H, 4) * floordiv(L, 4), 8 * floordiv(floordiv(H, 4) * floordiv(L, 4), 8))) == (
        "floor(H / 4)*floor(L / 4) % 8 == 0"
    )
