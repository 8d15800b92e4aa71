"""graphcheck.symbolic.floats against numpy's IEEE arithmetic: the rounding of the formats, and the
theorem on the floor/ceil/round of a rounded product (``snap``) at every integer it claims.

* float16, exhaustively: every float16 multiplier in [1/4, 4) and every integer the theorem
  covers (numpy multiplies two float16 values exactly in float32, then rounds once to float16: a
  single rounding, as the theorem assumes; a test-local format says so);
* float32 and float64, by hypothesis: multipliers that are float constants (``0.7f``, ``1.1f``, random
  bits) or reciprocals of small integers (``Div`` by 3.0), integers across the whole proven range,
  at its top and at the multiples of ``b`` where the rounding is decided.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcheck.symbolic.floats import FLOAT16, FLOAT32, FLOAT64, FloatFormat, Snap, chain_limit, snap, sqrt_bounds

F16_ONCE = FloatFormat("float16", 11, -14, 15)  # numpy's float16 products are rounded once
NP = {24: np.float32, 53: np.float64, 11: np.float16}
MODES = {"floor": np.floor, "ceil": np.ceil, "round": np.rint}  # np.rint: ties to even


def test_rounding_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    for fmt, dt, top in ((FLOAT32, np.float32, 30), (FLOAT64, np.float64, 300), (FLOAT16, np.float16, 4)):
        xs = rng.standard_normal(400) * 10.0 ** rng.integers(-top, top, 400)
        xs = np.concatenate([xs, [1 / 3, 2.0**24 + 1, -(2.0**53) - 2, 0.1, 65519.0, 2049.0]])
        for x in xs:  # each a double, so dt(x) rounds the exact value once
            with np.errstate(over="ignore"):
                want = dt(x)
            got = fmt.round(Fraction(float(x)))
            if not np.isfinite(want):
                assert got is None, (fmt.name, x)
                continue
            assert got == Fraction(float(want)), (fmt.name, x)
        for y in (1.0, 1.5, 1024.0, 1 / 1024, -2.0, 0.0):
            assert fmt.next_up(Fraction(y)) == Fraction(float(np.nextafter(dt(y), dt(np.inf))))
            assert fmt.next_down(Fraction(y)) == Fraction(float(np.nextafter(dt(y), dt(-np.inf))))


def _apply(s: Snap, e: np.ndarray) -> np.ndarray:
    """``Snap.apply`` on an array (checked against it on a sample below)."""
    n, b = s.a * e + s.shift, s.b
    if s.kind == "floor":
        return n // b
    if s.kind == "ceil":
        return -(-n // b)
    up, down = (2 * n + b) // (2 * b), -(-(2 * n - b) // (2 * b))
    if s.kind == "half_up":
        return up
    if s.kind == "half_down":
        return down
    return np.where((up == down) | (up % 2 == 0), up, down)


def _check(c: Fraction, fmt: FloatFormat, es: np.ndarray, via_div: int = 0) -> int:
    """Every claim of ``snap`` at the integers ``es`` (those within its range) against numpy;
    returns how many were checked."""
    dt = NP[fmt.p]
    checked = 0
    for mode, fn in MODES.items():
        s = snap(c, fmt, mode)
        if s is None:
            continue
        e = es[(es <= s.limit) & (es >= (1 if s.positive else 0))]
        if via_div:
            v = e.astype(dt) / dt(via_div)
        else:
            v = e.astype(dt) * dt(c)
        got = fn(v).astype(np.int64)
        want = _apply(s, e)
        assert [s.apply(int(x)) for x in e[:: max(1, len(e) // 20)]] == want[:: max(1, len(e) // 20)].tolist()
        bad = np.nonzero(got != want)[0]
        assert not len(bad), (fmt.name, c, mode, s, int(e[bad[0]]))
        checked += len(e)
    return checked


def test_float16_products_exhaustively() -> None:
    """Every float16 multiplier in [1/4, 4), every integer 0..2048 the theorem covers."""
    es = np.arange(0, 2049, dtype=np.int64)
    cs = np.arange(np.float16(0.25).view(np.uint16), np.float16(4).view(np.uint16), dtype=np.uint16).view(np.float16)
    total = covered = 0
    for c16 in cs:
        c = Fraction(float(c16))
        n = _check(c, F16_ONCE, es)
        total += n
        covered += n > 0
    assert covered == len(cs)  # the theorem proves something for every multiplier
    assert total > 100 * len(cs)  # on average over 30 integers per multiplier and mode


def test_limits_of_the_usual_constants() -> None:
    """The bounds the README states: Div by 2.0 and Ceil to 2**24 - 1 in float32, 0.7f to 1864135."""
    assert snap(Fraction(1, 2), FLOAT32, "ceil").limit == 2**24 - 1  # type: ignore[union-attr]
    seven = snap(Fraction(float(np.float32(0.7))), FLOAT32, "floor")
    assert seven is not None and (seven.a, seven.b, seven.shift, seven.limit) == (7, 10, 0, 1864135)
    # float32 rounds 10 * 0.7f (6.99999988...) up to 7.0: the floor is 7 = floor(7 * 10 / 10)
    assert int(np.floor(np.float32(10) * np.float32(0.7))) == seven.apply(10) == 7
    assert snap(Fraction(1, 2), FLOAT16, "floor") is None  # half formats round twice in onnxruntime


CONSTS = [0.7, 1.1, 0.3, 1.5, 0.1, 2.0 / 3.0, 1.0 / 7.0, 0.5, 0.25, 3.0, 1.25, 0.9, 1.3333333, 2.2, 0.35]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([FLOAT32, FLOAT64]),
    st.one_of(
        st.sampled_from(CONSTS).map(lambda x: ("mul", x)),
        st.integers(2, 97).map(lambda k: ("div", k)),
        st.floats(0.01, 100.0, allow_nan=False).map(lambda x: ("mul", x)),
    ),
    st.integers(0, 2**62),
)
def test_rounded_products_and_quotients(fmt: FloatFormat, how: tuple[str, float], seed: int) -> None:
    dt = NP[fmt.p]
    kind, x = how
    c = Fraction(1, int(x)) if kind == "div" else Fraction(float(dt(x)))
    rng = np.random.default_rng(seed % 2**32)
    checked = 0
    for mode in MODES:
        s = snap(c, fmt, mode)
        if s is None:
            continue
        lim = s.limit
        # everywhere in the range, its top, and the multiples of b where the rounding decides
        es = [rng.integers(0, lim + 1, 400), np.arange(max(0, lim - 300), lim + 1)]
        k = rng.integers(0, lim // s.b + 1, 400)
        es += [k * s.b + d for d in (-1, 0, 1)]
        e = np.unique(np.concatenate(es))
        e = e[(e >= 0) & (e <= lim)]
        checked += _check(c, fmt, e, int(x) if kind == "div" else 0)
    assert checked > 0 or c > 2**20


def test_square_roots_bracket_the_root() -> None:
    for fmt, dt in ((FLOAT32, np.float32), (FLOAT64, np.float64)):
        for x in [2, 3, 15, 99, 10**6 + 1, Fraction(3, 10), 2**24 - 1, 16, Fraction(9, 4)]:
            r = sqrt_bounds(Fraction(x), fmt)
            root = Fraction(float(np.sqrt(dt(float(x)))))
            if isinstance(r, Fraction):
                assert r == root
            else:
                assert r is not None and r[0] < r[1] == fmt.next_up(r[0])
                assert r[0] ** 2 < x < r[1] ** 2 and root in r


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([FLOAT32, FLOAT64]),
    st.integers(2, 40),
    st.lists(st.integers(-5, 5), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
)
def test_integers_added_after_the_rounding(fmt: FloatFormat, b: int, ks: list[int], seed: int) -> None:
    """Theorem 2: ``fl(fl(e / b) + k1) + ...`` (EnCodec's ``ceil(n / stride + 1)``) against numpy."""
    dt = NP[fmt.p]
    c = Fraction(1, b)
    rng = np.random.default_rng(seed)
    for mode, fn in MODES.items():
        lim = chain_limit(c, fmt, len(ks), sum(abs(k) for k in ks), mode)
        assert lim > 2 ** (fmt.p - 4) // b  # a useful bound
        e = np.unique(np.concatenate([rng.integers(0, lim + 1, 300), np.arange(max(0, lim - 200), lim + 1)]))
        e = np.unique(np.concatenate([e, (e // b) * b, (e // b) * b + b // 2]))
        e = e[(e >= 0) & (e <= lim)]
        v = e.astype(dt) / dt(b)
        for k in ks:
            v = v + dt(k)
        got = fn(v).astype(np.int64)
        n = e + sum(ks) * b  # x = n / b exactly
        want = {"floor": n // b, "ceil": -(-n // b)}.get(mode)
        if want is None:
            want = np.array([round(Fraction(int(x), b)) for x in n], np.int64)  # ties to even
        assert (got == want).all(), (fmt.name, b, ks, mode, e[got != want][:3])
