"""Float elements computed from sizes: the element-wise rules' exact arithmetic on
:class:`~graphcheck.symbolic.floats.FloatSize` and :class:`~graphcheck.symbolic.floats.FloatRange`.

``Cast(H)`` to float32 is ``FloatSize(H, 1)``: ``fl(H)``, equal to ``H`` while ``H <= 2**24``. An
operation on values that are exact there gives the exact result rounded once (``fl(H / 3)`` is
``FloatSize(H, 1/3)``), its conditions carried along (``pre``); multiplying or dividing by a power of
two commutes with the rounding and keeps them as they are. ``Floor``/``Ceil``/``Round`` and the
truncating ``Cast`` back to an integer give the exact integer expression, proven for the sizes
:func:`graphcheck.symbolic.floats.snap` derives (or where the value is exact), and the node that
turns the value into an integer says where (GC110 through ``ctx.covers``): past the bound the answer
is unknown, never a guess. Operations on a rounded value other than those, on a symbolic divisor,
and any rounding in the half formats (computed in float32 and rounded again by onnxruntime) give
None: the value is not known.

Every function returns None when the result is not known exactly.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

from graphcheck.infer.facts import Val
from graphcheck.infer.registry import current_assume
from graphcheck.symbolic.cond import FALSE, TRUE, AllOf, Cond, Ge, all_of, ge
from graphcheck.symbolic.expr import Expr, ceildiv, const, emax, emin, floordiv
from graphcheck.symbolic.floats import FloatFormat, FloatRange, FloatSize, chain_limit, snap

ONE = const(1)
FloatVal = FloatSize | FloatRange


def _sign(e: Expr) -> bool | None:
    """``e >= 0`` at every size that meets the conditions upstream (None: not decided)."""
    if e.is_const:
        return e.value >= 0
    if e.nonneg():
        return True
    if (-e - 1).nonneg():
        return False
    return current_assume().decide(ge(e, 0))


def conj(items: list[Cond]) -> Cond:
    """``all_of``, with bounds on the same expression merged: ``H <= 2**24 and H <= 1864135`` is
    ``H <= 1864135``."""
    flat = [a for c in items if c != TRUE for a in (c.items if isinstance(c, AllOf) else (c,))]
    tight: dict[Expr, Ge] = {}
    rest: list[Cond] = []
    for a in flat:
        if isinstance(a, Ge) and not a.expr.is_const:
            key = a.expr - a.expr.constant_term
            old = tight.get(key)
            if old is None or a.expr.constant_term < old.expr.constant_term:
                tight[key] = a
        else:
            rest.append(a)
    return all_of([*tight.values(), *rest])


def bound(e: Expr, limit: int) -> Cond:
    """``|e| <= limit``."""
    s = _sign(e)
    if s:
        return ge(limit - e)
    if s is False:
        return ge(limit + e)
    sides = [d for d in (limit - e, limit + e) if not d.nonneg()]  # a side that holds at every size is dropped
    return all_of([ge(d) for d in sides])


def representable(e: Expr, c: Fraction, fmt: FloatFormat) -> Cond | None:
    """Where ``e*c`` is a value of ``fmt`` (sufficient): ``c = u / 2**s`` with ``|e*u| <= 2**p`` and
    ``2**-s`` on the format's grid; None when ``c`` is not dyadic (``e*c`` is then a value only by
    accident)."""
    if c == 0 or e == 0:
        return TRUE
    d = c.denominator
    if d & (d - 1) or d.bit_length() - 1 > fmt.p - 1 - fmt.emin:
        return None
    if e.is_const:
        return TRUE if fmt.holds(e.value * c) else FALSE
    return bound(e, fmt.int_limit // abs(c.numerator))


def make(e: Expr, c: Fraction, fmt: FloatFormat, pre: Cond, exact: Cond | None) -> Val | None:
    """``fl(e*c)`` as a value: a constant when nothing depends on the sizes, else a FloatSize."""
    if c < 0:
        e, c = -e, -c
    if c == 0 or e == 0:
        e, c = const(0), Fraction(1)
    if e.is_const and pre == TRUE:
        x = e.value * c
        r = fmt.round(x)
        if r is None or (r != x and not fmt.single_rounding):
            return None
        return r
    if exact == FALSE:
        exact = None
    return FloatSize(e, c, fmt, pre, exact)


def from_int(e: Expr, fmt: FloatFormat) -> Val | None:
    """An integer cast to ``fmt``: ``fl(e)``, exact while ``|e| <= 2**p``."""
    if e.is_const:
        r = fmt.round(Fraction(e.value))
        return None if r is None or (r != e.value and not fmt.single_rounding) else r
    return FloatSize(e, Fraction(1), fmt, TRUE, representable(e, Fraction(1), fmt))


def _exact(v: Val, fmt: FloatFormat) -> tuple[Expr, Fraction, Cond] | None:
    """``v = e*c`` exactly wherever the returned condition holds (constants: ``e = 1``)."""
    if isinstance(v, FloatSize):
        if v.exact is None or v.fmt != fmt:
            return None
        return v.e, v.c, conj([v.pre, v.exact])
    if isinstance(v, FloatRange):
        return None
    if isinstance(v, Fraction):
        return ONE, v, TRUE
    if v.is_const:
        return ONE, Fraction(v.value), TRUE
    ex = representable(v, Fraction(1), fmt)  # a bare integer expression in a float tensor
    return (v, Fraction(1), ex) if ex is not None else None


def _common(c1: Fraction, c2: Fraction) -> int:
    return lcm(c1.denominator, c2.denominator)


def _power_of_two(k: Fraction) -> bool:
    n, d = abs(k.numerator), k.denominator
    return k != 0 and not (n & (n - 1)) and not (d & (d - 1)) and max(n, d).bit_length() <= 33


def _result(e: Expr, c: Fraction, fmt: FloatFormat, pre: Cond) -> Val | None:
    """The exact result ``e*c`` of one operation on operands exact where ``pre`` holds, rounded once."""
    if not fmt.single_rounding:
        ex = representable(e, c, fmt)
        if ex is None:
            return None  # a half format rounds twice (float32 then the format): only exact results are sure
        return make(e, c, fmt, conj([pre, ex]), TRUE)
    return make(e, c, fmt, pre, representable(e, c, fmt))


def binary(op: str, a: Val, b: Val, fmt: FloatFormat, fmod: int = 0) -> Val | None:
    """``a op b`` on a float tensor where an operand is computed from the sizes."""
    if op in ("Mul", "Div"):
        for x, k, swap in ((a, b, False), (b, a, True)):
            if swap and op == "Div":
                continue
            if isinstance(x, FloatSize) and x.fmt == fmt and not x.hops and isinstance(k, Fraction | Expr):
                kf = k if isinstance(k, Fraction) else (Fraction(k.value) if k.is_const else None)
                s = None if kf is None or not _power_of_two(kf) else (kf if op == "Mul" else 1 / kf)
                tiny = Fraction(2) ** fmt.emin
                if s is not None and x.c >= tiny and x.c * abs(s) >= tiny:
                    # scaling by a power of two commutes with the rounding (no value of |e| >= 1
                    # leaves the normal range downwards): every condition stays as it was
                    ex = None if x.exact is None else x.exact
                    return make(x.e, x.c * s, fmt, x.pre, ex)
    if op in ("Add", "Sub") and _zero(b):
        return a
    if op == "Add" and _zero(a):
        return b
    xa, xb = _exact(a, fmt), _exact(b, fmt)
    if xa is None or xb is None:
        if op in ("Add", "Sub"):
            return _add_integer(op, a, b, fmt)
        return _minmax_const(op, a, b, fmt)
    (e1, c1, p1), (e2, c2, p2) = xa, xb
    pre = conj([p1, p2])
    if op in ("Add", "Sub"):
        n = _common(c1, c2)
        t2 = e2 * int(c2 * n)
        e = e1 * int(c1 * n) + (t2 if op == "Add" else -t2)
        return _result(e, Fraction(1, n), fmt, pre)
    if op == "Mul":
        return _result(e1 * e2, c1 * c2, fmt, pre)
    if op == "Div":
        if e2.is_const:
            kd = e2.value * c2
            return None if kd == 0 else _result(e1, c1 / kd, fmt, pre)
        q = e1.exact_div(e2)
        if q is None or _sign(e2 - 1) is not True:
            return None
        return _result(q, c1 / c2, fmt, pre)
    if op in ("Max", "Min"):
        n = _common(c1, c2)
        x1, x2 = e1 * int(c1 * n), e2 * int(c2 * n)
        e = emax(x1, x2) if op == "Max" else emin(x1, x2)
        return make(e, Fraction(1, n), fmt, pre, TRUE)  # one of two values: a value
    if op == "Mod" and fmod and e2.is_const:
        k = e2.value * c2
        if k == 0:
            return None
        ratio = c1 / k  # x / k = e1 * ratio, truncated toward zero
        num = e1 * ratio.numerator
        pos = _sign(num)
        if pos is None:
            return None
        t = floordiv(num, ratio.denominator) if pos else ceildiv(num, ratio.denominator)
        n = _common(c1, k)
        return make(e1 * int(c1 * n) - t * int(k * n), Fraction(1, n), fmt, pre, TRUE)  # fmod is exact
    if op == "Pow" and e2.is_const and (e2.value * c2).denominator == 1 and 0 <= e2.value * c2 <= 8:
        n = int(e2.value * c2)
        if n == 0:
            return Fraction(1)
        e, c = e1, c1
        for _ in range(n - 1):
            e, c = e * e1, c * c1
        ex = representable(e, c, fmt)  # Pow is the runtime's libm (or x*x*x): only exact results are sure
        return None if ex is None else make(e, c, fmt, conj([pre, ex]), TRUE)
    return None


def _zero(v: Val) -> bool:
    return (isinstance(v, Fraction) and v == 0) or (isinstance(v, Expr) and v == 0)


def _add_integer(op: str, a: Val, b: Val, fmt: FloatFormat) -> Val | None:
    """A rounded value plus or minus an integer constant, rounded again (Theorem 2 of
    :mod:`graphcheck.symbolic.floats`)."""
    for x, k, first in ((a, b, True), (b, a, False)):
        if not isinstance(x, FloatSize) or x.exact is not None or x.fmt != fmt or not fmt.single_rounding:
            continue
        kf = k if isinstance(k, Fraction) else (Fraction(k.value) if isinstance(k, Expr) and k.is_const else None)
        if kf is None or kf.denominator != 1:
            return None
        n = int(kf)
        if op == "Sub" and not first:  # k - x
            x = FloatSize(-x.e, x.c, x.fmt, x.pre, None, -x.shift, x.spread, x.hops)
        elif op == "Sub":
            n = -n
        return FloatSize(x.e, x.c, fmt, x.pre, None, x.shift + n, x.spread + abs(n), x.hops + 1)
    return None


def _minmax_const(op: str, a: Val, b: Val, fmt: FloatFormat) -> Val | None:
    """Max/Min of a rounded value and a constant: ``fl`` is monotone and fixes the constant."""
    if op not in ("Max", "Min"):
        return None
    for x, k in ((a, b), (b, a)):
        if isinstance(x, FloatSize) and not x.hops and isinstance(k, Fraction) and x.fmt == fmt:
            n = _common(x.c, k)
            t1, t2 = x.e * int(x.c * n), const(int(k * n))
            e = emax(t1, t2) if op == "Max" else emin(t1, t2)
            return make(e, Fraction(1, n), fmt, x.pre, None)
    return None


# -- rounding to integers ----------------------------------------------------------------------


def _snap_expr(e: Expr, c: Fraction, fmt: FloatFormat, mode: str) -> tuple[Expr, Cond] | None:
    """``mode`` (floor, ceil, round) of ``fl(e*c)``, ``c > 0``, by :func:`snap`: the expression and
    where it is proven."""
    s = _sign(e)
    if s is None:
        return None
    if s is False:  # fl(-x) = -fl(x): floor(v) = -ceil(-v), round is symmetric
        flip = {"floor": "ceil", "ceil": "floor", "round": "round"}[mode]
        inner = _snap_expr(-e, c, fmt, flip)
        return None if inner is None else (-inner[0], inner[1])
    sn = snap(c, fmt, mode)
    if sn is None or (sn.positive and _sign(e - 1) is not True):
        return None
    n = e * sn.a + sn.shift
    b = sn.b
    if sn.kind == "floor":
        r = floordiv(n, b)
    elif sn.kind == "ceil":
        r = ceildiv(n, b)
    elif sn.kind == "half_up":
        r = floordiv(2 * n + b, 2 * b)
    elif sn.kind == "half_down":
        r = ceildiv(2 * n - b, 2 * b)
    else:
        r = _round_even(n, b)
    return r, bound(e, sn.limit)


def _round_even(n: Expr, b: int) -> Expr:
    """``n / b`` rounded to the nearest integer, ties to even."""
    up = floordiv(2 * n + b, 2 * b)
    if b % 2:
        return up  # no ties
    tie = up - floordiv(2 * n + b - 1, 2 * b)  # 1 exactly when 2b divides 2n + b
    return up - tie * (up - 2 * floordiv(up, 2))


def _exact_round(e: Expr, c: Fraction, mode: str) -> Expr:
    """``mode`` of the exact rational ``e*c`` (``c > 0``)."""
    n, d = e * c.numerator, c.denominator
    if mode == "floor":
        return floordiv(n, d)
    if mode == "ceil":
        return ceildiv(n, d)
    return _round_even(n, d)


def to_integer(v: FloatSize, mode: str) -> tuple[Expr, Cond] | None:
    """``floor``/``ceil``/``round``/``trunc`` (``mode``) of ``fl(e*c)``: the integer expression and
    where it is proven (``pre`` and the bound of the rounding, or of exactness)."""
    e, c, fmt = v.e, v.c, v.fmt
    if v.hops:
        return _chain_integer(v, mode)
    if c.denominator == 1:  # an integer: fl of an integer is an integer, every rounding keeps it
        if v.exact is None:
            return None
        return e * c.numerator, conj([v.pre, v.exact])
    if mode == "trunc":
        s = _sign(e)
        if s is None:
            return None
        mode = "floor" if s else "ceil"
    routes: list[tuple[Expr, Cond]] = []
    if mode != "round" or v.exact is None:
        got = _snap_expr(e, c, fmt, mode)
        if got is not None:
            routes.append((got[0], conj([v.pre, got[1]])))
    if v.exact is not None:
        routes.append((_exact_round(e, c, mode), conj([v.pre, v.exact])))
    return routes[0] if routes else None


def _chain_integer(v: FloatSize, mode: str) -> tuple[Expr, Cond] | None:
    """Theorem 2: integers added after the rounding; exact for ``c``'s own denominator ``b``."""
    b = v.c.denominator
    n = v.e * v.c.numerator + v.shift * b  # x = n / b
    if mode == "trunc":
        s = _sign(n)
        if s is None:
            return None
        mode = "floor" if s else "ceil"
    limit = chain_limit(v.c, v.fmt, v.hops, v.spread, mode)
    if limit < 0:
        return None
    return _exact_round(n, Fraction(1, b), mode), conj([v.pre, bound(v.e, limit)])


def rounded(v: FloatVal, mode: str) -> Val | None:
    """``Floor``/``Ceil``/``Round`` of a float value computed from sizes (the result is a float)."""
    if isinstance(v, FloatRange):
        lo, hi = _range_ints(v, mode)
        return Fraction(lo) if lo == hi else None
    if v.c.denominator == 1 and not v.hops:
        return v
    got = to_integer(v, mode)
    if got is None:
        return None
    r, where = got
    return make(r, Fraction(1), v.fmt, where, TRUE)


def _range_ints(v: FloatRange, mode: str) -> tuple[int, int]:
    def one(x: Fraction) -> int:
        if mode == "floor" or (mode == "trunc" and x >= 0):
            return x.numerator // x.denominator
        if mode in ("ceil", "trunc"):
            return -(-x.numerator // x.denominator)
        return round(x)

    return one(v.lo), one(v.hi)


def truncated(v: FloatVal) -> tuple[Expr, Cond] | None:
    """``Cast`` of the value to an integer type (truncation toward zero): the expression and where
    it is proven."""
    if isinstance(v, FloatRange):
        lo, hi = _range_ints(v, "trunc")
        return (const(lo), TRUE) if lo == hi else None
    return to_integer(v, "trunc")


def recast(v: FloatVal, fmt: FloatFormat) -> Val | None:
    """The value converted to another float format (one correctly rounded conversion)."""
    if isinstance(v, FloatRange):
        lo, hi = fmt.round(v.lo), fmt.round(v.hi)
        if lo is None or hi is None:
            return None
        return lo if lo == hi else FloatRange(lo, hi, fmt)
    if v.exact is None:
        # a rounded value: the same number in a wider format, still described by its own rounding
        return v if fmt.p >= v.fmt.p and fmt.emin <= v.fmt.emin else None
    return _result(v.e, v.c, fmt, conj([v.pre, v.exact]))  # exact there: one rounding (none when wider)


def negate(v: FloatVal) -> Val:
    if isinstance(v, FloatRange):
        return FloatRange(-v.hi, -v.lo, v.fmt)
    return FloatSize(-v.e, v.c, v.fmt, v.pre, v.exact, -v.shift, v.spread, v.hops)


def sign_of(v: FloatVal) -> bool | None:
    """``v >= 0`` (True) or ``v <= 0`` (False) for every size: rounding keeps the sign."""
    if isinstance(v, FloatRange):
        return True if v.lo >= 0 else False if v.hi <= 0 else None
    return None if v.hops else _sign(v.e)


def range_binary(op: str, x: FloatRange, k: Fraction, swap: bool) -> Val | None:
    """``x op k`` (``k op x`` when ``swap``) for a constant ``k``: the exact results at the ends bound
    the exact result, and rounding is monotone."""
    fmt = x.fmt
    if not fmt.single_rounding or op not in ("Add", "Sub", "Mul", "Div"):
        return None
    ends = []
    for t in (x.lo, x.hi):
        a, b = (k, t) if swap else (t, k)
        if op == "Div" and b == 0:
            return None
        if op == "Div" and swap and x.lo <= 0 <= x.hi:
            return None
        ends.append(a + b if op == "Add" else a - b if op == "Sub" else a * b if op == "Mul" else a / b)
    lo, hi = fmt.round(min(ends)), fmt.round(max(ends))
    if lo is None or hi is None:
        return None
    return lo if lo == hi else FloatRange(lo, hi, fmt)


def compare(v: FloatVal, k: Fraction) -> tuple[bool | None, bool | None]:
    """``(v == k, v > k)`` for a constant ``k``, each when decided for every size. A FloatSize is
    compared only when nothing conditions its rounding (``pre`` true): ``fl`` is monotone and fixes
    ``k`` and its neighbours, so ``e*c >= next_up(k)`` proves ``v > k`` and ``e*c <= k`` proves
    ``v <= k``."""
    if isinstance(v, FloatRange):
        if v.lo > k:
            return False, True
        if v.hi < k:
            return False, False
        if v.hi <= k:
            return None, False
        return None, None
    if v.pre != TRUE or v.hops or not v.fmt.holds(k):
        return None, None
    up, down = v.fmt.next_up(k), v.fmt.next_down(k)

    def at_least(t: Fraction) -> bool:  # e*c >= t at every size
        return _sign(v.e * (v.c.numerator * t.denominator) - t.numerator * v.c.denominator) is True

    def at_most(t: Fraction) -> bool:
        return _sign(t.numerator * v.c.denominator - v.e * (v.c.numerator * t.denominator)) is True

    if at_least(up):
        return False, True
    if at_most(k):
        return (False if at_most(down) else None), False
    return None, None


def size_of(v: Val) -> tuple[Expr, Cond] | None:
    """A float element read as a whole number (a Range bound, a scale): the integer and where."""
    if isinstance(v, FloatSize) and v.c.denominator == 1 and v.exact is not None:
        return v.e * v.c.numerator, conj([v.pre, v.exact])
    return None
