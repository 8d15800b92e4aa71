"""Exact solution sets of one-symbol conditions.

For a condition on one symbol ``s`` the set ``{s in [1, MAXDIM] : cond(s)}`` is computed
exactly, by one of:

* closed form for ``a*s + b`` and for ``k*floor((a*s + b)/d) + c``;
* binary search when the expression is monotone in ``s`` (a monotone condition's set is
  an interval, so two searches over ``[1, 2**63)`` are a proof, not a sample);
* min/max taken apart from the innermost one out: where each argument wins is a plain one-size
  set, the winner replaces it there (at most ``PIECES_LIMIT`` pieces);
* otherwise the periodic argument: with ``P`` a multiple of every divisor nested in the
  expression, ``e(r + k*P)`` is, for each residue ``r``, an integer polynomial in ``k``
  (checked by one extra finite difference), solved exactly per residue.
"""

from __future__ import annotations

from collections.abc import Callable
from math import lcm
from typing import TypeVar

from graphcheck.errors import TooComplex
from graphcheck.symbolic import intset
from graphcheck.symbolic.cond import AllOf, AnyOf, Cond, Const, Eq, Ge
from graphcheck.symbolic.expr import Atom, Expr, Floor, MinMax, Sym, const
from graphcheck.symbolic.expr import quasi_linear as _quasi
from graphcheck.symbolic.intset import MAXDIM, PERIOD_LIMIT, IntSet, _up

__all__ = ["cond_set", "atom_set", "pieces", "settled", "work_spent"]


def cond_set(c: Cond, s: Sym, cache: dict[Cond, IntSet] | None = None) -> IntSet:
    """The exact set of values of ``s`` satisfying ``c`` (``c`` mentions only ``s``)."""
    if isinstance(c, Const):
        return IntSet.full() if c.truth else IntSet.empty()
    if isinstance(c, AnyOf):
        out = IntSet.empty()
        for x in c.items:
            out = out | cond_set(x, s, cache)
        return out
    if isinstance(c, AllOf):
        out = IntSet.full()
        for x in c.items:
            out = out & cond_set(x, s, cache)
            if out.is_empty():
                break
        return out
    if cache is not None:
        hit = cache.get(c)
        if hit is not None:
            return hit
    assert isinstance(c, Ge | Eq)
    res = atom_set(c.expr, isinstance(c, Eq), s)
    if cache is not None:
        cache[c] = res
    return res


def atom_set(e: Expr, is_eq: bool, s: Sym) -> IntSet:
    """``{s : e(s) == 0}`` if ``is_eq`` else ``{s : e(s) >= 0}``, in at most ``SOLVE_WORK`` steps of
    periodic solving (the pieces of a min/max share the budget of the call that cut them).

    A top-level answer is remembered, a TooComplex too: the same condition is asked for again by
    the solver, the statement and each finding, and one past the budget would spend it each time."""
    if _work[1]:
        return _atom_set(e, is_eq, s)
    key = (e, is_eq, s)
    hit = _SOLVED.get(key)
    if isinstance(hit, str):
        raise TooComplex(hit)
    if hit is not None:
        return hit
    if len(_SOLVED) >= _SOLVED_LIMIT:
        _SOLVED.clear()
    try:
        res = _budgeted(lambda: _atom_set(e, is_eq, s))
    except TooComplex as exc:
        _SOLVED[key] = str(exc)
        raise
    _SOLVED[key] = res
    return res


_SOLVED_LIMIT = 1024  # one-size solutions remembered (memory only; the memory is emptied when full)
_SOLVED: dict[tuple[Expr, bool, Sym], IntSet | str] = {}


_work = [0, 0]  # steps spent by the running top-level solve, and whether one is running
T = TypeVar("T")


_spent = [0]  # steps spent by every solve so far (see work_spent)


def work_spent() -> int:
    """Steps of periodic solving and min/max cutting spent in this process so far, remembered answers
    counted at their cost: a caller running many analyses (the fix search) bounds them all with it."""
    return _spent[0]


def _spend(steps: int) -> None:
    _spent[0] += steps
    _work[0] += steps
    if _work[0] > SOLVE_WORK:
        raise TooComplex(f"solving a condition takes more than the solver's {SOLVE_WORK} steps")


def _budgeted(fn: Callable[[], T]) -> T:
    """``fn()`` within one ``SOLVE_WORK`` budget: a fresh one unless a solve is already running."""
    if _work[1]:
        return fn()
    _work[0], _work[1] = 0, 1
    intset._meter[0] = _spend  # set operations count too
    try:
        return fn()
    finally:
        _work[1] = 0
        intset._meter[0] = None


def _atom_set(e: Expr, is_eq: bool, s: Sym) -> IntSet:
    if e.is_const:
        ok = e.value == 0 if is_eq else e.value >= 0
        return IntSet.full() if ok else IntSet.empty()
    lin = e.as_linear(s)
    if lin is not None:
        return _linear(lin[0], lin[1], is_eq)
    if not is_eq:
        fl = _floor_linear(e, s)
        if fl is not None:
            return fl
    fn = _fn(e, s)
    if e.nondecreasing():
        return IntSet.interval(*_monotone(fn, 1, MAXDIM, True, is_eq))
    if (-e).nondecreasing():
        return IntSet.interval(*_monotone(fn, 1, MAXDIM, False, is_eq))
    if _find_minmax(e) is not None:
        out = IntSet.empty()
        for region, (piece,) in pieces((e,), s):
            out = out | (region & atom_set(piece, is_eq, s))
        return out
    return _periodic(e, is_eq, s)


PIECES_LIMIT = 512  # pieces a one-size min/max expression is cut into (past it: too complex, unknown)
# steps of solving one condition, all its pieces together: residues x (evaluations per residue x the
# expression's size + 16) for the periodic argument, plus the expressions' sizes for each piece cut.
# The test suite's largest is 116,604; a hostile tower of Div would take billions. Past it: too
# complex, unknown.
SOLVE_WORK = 1 << 20


def _innermost_minmax(exprs: tuple[Expr, ...], s: Sym) -> MinMax | None:
    """A min/max atom of size ``s`` alone none of whose arguments holds another."""
    stack: list[Atom] = [a for e in exprs for m, _ in e.terms for a in m]
    while stack:
        a = stack.pop()
        if isinstance(a, MinMax):
            if not any(x.has_minmax() for x in a.args) and a.symbols() == {s}:
                return a
            stack.extend(y for x in a.args for m, _ in x.terms for y in m)
        elif isinstance(a, Floor):
            stack.extend(x for m, _ in a.num.terms for x in m)
    return None


def pieces(exprs: tuple[Expr, ...], s: Sym) -> list[tuple[IntSet, tuple[Expr, ...]]]:
    """The sizes ``s`` cut into sets on each of which ``exprs`` hold no min/max of ``s`` alone.

    The innermost min/max goes first: its arguments hold none, so where each one wins is a plain
    one-size set; the winner replaces it there and the rest is cut the same way inside that set.
    (ONNX integer division truncates toward zero, and each layer of it nests a min/max: splitting
    from the outermost one re-solved the nested ones in every region, exponentially.) The sets
    are disjoint and cover ``[1, MAXDIM]``. Past ``PIECES_LIMIT`` pieces: TooComplex (unknown)."""
    return _budgeted(lambda: _pieces(exprs, s, IntSet.full(), [0]))


def settled(e: Expr, s: Sym, region: IntSet) -> Expr:
    """``e`` with each atom of ``s`` alone that is constant on ``region`` replaced by its value
    (``floor(W / 4)`` is 0 for ``1 <= W <= 3``); the region's hull bounds each atom."""
    lo, hi = region.min(), region.max()
    if lo is None or hi is None or hi >= MAXDIM:
        return e
    if lo == hi:
        return e.subs({s: lo})
    out = e
    for m, _ in e.terms:
        for a in m:
            if a.symbols() != {s} or isinstance(a, Sym):
                continue
            _, fn = Expr._atom(a).compiled()
            if a.nondecreasing() or a.nonincreasing():
                ends = {fn(lo), fn(hi)}
                if len(ends) == 1:
                    out = _replace(out, a, const(ends.pop()))
    return out


def _pieces(exprs: tuple[Expr, ...], s: Sym, region: IntSet, count: list[int]) -> list[tuple[IntSet, tuple[Expr, ...]]]:
    _spend(sum(e.size for e in exprs))  # rewriting them for each piece costs their size
    mm = _innermost_minmax(exprs, s)
    if mm is None:
        count[0] += 1
        if count[0] > PIECES_LIMIT:
            raise TooComplex(f"{exprs[0]} splits into more than {PIECES_LIMIT} pieces")
        return [(region, exprs)]
    out: list[tuple[IntSet, tuple[Expr, ...]]] = []
    for i, ai in enumerate(mm.args):
        where = region
        for j, aj in enumerate(mm.args):
            if i != j and not where.is_empty():
                # ai is the chosen extreme (ties go to the first: equal values either way)
                diff = (ai - aj) if mm.is_max else (aj - ai)
                if j < i:
                    diff = diff - 1  # strictly better than an earlier argument
                where = where & atom_set(diff, False, s)
        if not where.is_empty():
            memo: dict[Atom, Expr] = {}
            out.extend(_pieces(tuple(_replace(e, mm, ai, memo) for e in exprs), s, where, count))
    return out


def _fn(e: Expr, s: Sym) -> Callable[[int], int]:
    syms, f = e.compiled()
    if syms != (s,):  # pragma: no cover - guarded by callers
        raise ValueError(f"{e} is not a function of {s} alone")
    return f


def _linear(a: int, b: int, is_eq: bool) -> IntSet:
    if is_eq:
        if b % a:
            return IntSet.empty()
        v = -b // a
        return IntSet.interval(v, v)
    if a > 0:
        return IntSet.interval(-(b // a))
    return IntSet.interval(1, b // (-a))


def _floor_linear(e: Expr, s: Sym) -> IntSet | None:
    """``k*floor((a*s + b)/d) + c >= 0`` in closed form (the shape of every conv/pool size)."""
    c0 = 0
    term: tuple[Floor, int] | None = None
    for m, c in e.terms:
        if not m:
            c0 = c
        elif len(m) == 1 and isinstance(m[0], Floor) and term is None:
            term = (m[0], c)
        else:
            return None
    if term is None:
        return None
    fl, k = term
    lin = fl.num.as_linear(s)
    if lin is None or lin[0] == 0:
        return None
    a, b = lin
    d = fl.den
    # k*f + c0 >= 0 with f = floor(x/d), x = a*s + b
    if k > 0:
        m_ = -(c0 // k)  # f >= ceil(-c0/k)
        # floor(x/d) >= m_  <=>  x >= m_*d
        return _linear(a, b - m_ * d, False)
    m_ = c0 // (-k)  # f <= floor(c0/-k)  <=>  x <= m_*d + d - 1  <=>  -x + m_*d + d - 1 >= 0
    return _linear(-a, -b + m_ * d + d - 1, False)


def _first(pred: Callable[[int], bool], lo: int, hi: int) -> int:
    """Smallest x in [lo, hi] with pred(x), pred monotone False..True; hi + 1 if none."""
    if pred(lo):
        return lo
    if not pred(hi):
        return hi + 1
    a, b = lo, hi  # pred(a) False, pred(b) True
    while b - a > 1:
        mid = (a + b) // 2
        if pred(mid):
            b = mid
        else:
            a = mid
    return b


def _monotone(f: Callable[[int], int], lo: int, hi: int, increasing: bool, is_eq: bool) -> tuple[int, int]:
    """The interval of x in [lo, hi] with f(x) >= 0 (or == 0) for monotone f; empty as (1, 0)."""
    if increasing:
        a = _first(lambda x: f(x) >= 0, lo, hi)
        b = _first(lambda x: f(x) >= 1, lo, hi) - 1 if is_eq else hi
    else:
        b = _first(lambda x: f(x) < 0, lo, hi) - 1
        a = _first(lambda x: f(x) <= 0, lo, hi) if is_eq else lo
    return (a, b) if a <= b else (1, 0)


def _find_minmax(e: Expr) -> MinMax | None:
    stack: list[Atom] = [a for m, _ in e.terms for a in m]
    while stack:
        a = stack.pop()
        if isinstance(a, MinMax):
            return a
        if isinstance(a, Floor):
            stack.extend(x for m, _ in a.num.terms for x in m)
    return None


def _replace(e: Expr, target: Atom, value: Expr, memo: dict[Atom, Expr] | None = None) -> Expr:
    """``e`` with the atom ``target`` replaced by ``value`` wherever it occurs, nested included.
    Each distinct atom is rewritten once (``memo``), and one that holds no ``target`` is kept as it
    is: towers of Div share their sub-expressions, which a plain walk rewrote exponentially often."""
    from graphcheck.symbolic.expr import emax, emin, floordiv

    if memo is None:
        memo = {}
    out = const(0)
    for m, c in e.terms:
        t = const(c)
        for a in m:
            t = t * _replace_atom(a, target, value, memo, emax, emin, floordiv)
        out = out + t
    return out


def _replace_atom(
    a: Atom,
    target: Atom,
    value: Expr,
    memo: dict[Atom, Expr],
    emax: Callable[..., Expr],
    emin: Callable[..., Expr],
    floordiv: Callable[[Expr, int], Expr],
) -> Expr:
    if a == target:
        return value
    done = memo.get(a)
    if done is not None:
        return done
    if isinstance(a, Floor):
        num = _replace(a.num, target, value, memo)
        r = Expr._atom(a) if num == a.num else floordiv(num, a.den)
    elif isinstance(a, MinMax):
        args = [_replace(x, target, value, memo) for x in a.args]
        if all(x == y for x, y in zip(args, a.args)):
            r = Expr._atom(a)
        else:
            r = emax(*args) if a.is_max else emin(*args)
    else:
        r = Expr._atom(a)
    memo[a] = r
    return r


def _period(e: Expr) -> int:
    """A period P such that ``e(r + k*P)`` is an integer polynomial in k for every residue r."""
    q = _quasi(e)
    if q is not None:
        return q[1]
    p = 1
    for m, _ in e.terms:
        for a in m:
            if isinstance(a, Floor):
                p = lcm(p, _period(a.num) * a.den)
    return p


def _degree(e: Expr) -> int:
    best = 0
    for m, _ in e.terms:
        d = 0
        for a in m:
            d += _degree(a.num) if isinstance(a, Floor) else 1
        best = max(best, d)
    return best


def _periodic(e: Expr, is_eq: bool, s: Sym) -> IntSet:
    """The periodic argument, remembered: the pieces of min/max expressions bring the same
    expression back many times (each piece, each finding, each candidate of the fix search). A
    remembered answer is charged what it cost, so what the budget decides does not depend on what
    was asked before."""
    key = (e, is_eq, s)
    hit = _PERIODIC.get(key)
    if hit is not None:
        res, cost = hit
        _spend(cost)
        if isinstance(res, str):
            raise TooComplex(res)
        return res
    p = _period(e)
    if p > PERIOD_LIMIT:
        raise TooComplex(f"{e} repeats with period {p}, beyond the solver's limit {PERIOD_LIMIT}")
    deg = _degree(e)
    cost = p * ((deg + 2) * e.size + 16)
    _spend(cost)
    try:
        out: IntSet | str = _periodic_solve(e, is_eq, s, p, deg)
    except TooComplex as exc:
        out = str(exc)
    if len(_PERIODIC) >= _SOLVED_LIMIT:
        _PERIODIC.clear()
    _PERIODIC[key] = (out, cost)
    if isinstance(out, str):
        raise TooComplex(out)
    return out


_PERIODIC: dict[tuple[Expr, bool, Sym], tuple[IntSet | str, int]] = {}


def _periodic_solve(e: Expr, is_eq: bool, s: Sym, p: int, deg: int) -> IntSet:
    f = _fn(e, s)
    classes: dict[int, list[tuple[int, int]]] = {}
    if deg <= 1:  # e(r + k*p) = c0 + c1*k on each residue: three values and a closed form
        for r in range(p):
            first = r if r >= 1 else p
            kmax = (MAXDIM - first) // p
            v0, v1, v2 = f(first), f(first + p), f(first + 2 * p)
            c1 = v1 - v0
            if v2 - v1 != c1:  # pragma: no cover - would mean the period argument is wrong
                raise TooComplex(f"{e} is not polynomial on residue classes mod {p}")
            ks = _solve_newton([v0, c1] if c1 else [v0], kmax, is_eq)
            classes[r] = [(first + a * p, first + b * p) for a, b in ks]
        return IntSet.from_classes(p, classes)
    for r in range(p):
        first = _up(1, r, p)
        kmax = (MAXDIM - first) // p
        vals = [f(first + k * p) for k in range(deg + 2)]
        coef = _newton(vals)
        if coef[-1] != 0:  # pragma: no cover - would mean the period argument is wrong
            raise TooComplex(f"{e} is not polynomial on residue classes mod {p}")
        coef = coef[:-1]
        ks = _solve_newton(coef, kmax, is_eq)
        classes[r] = [(first + a * p, first + b * p) for a, b in ks]
    return IntSet.from_classes(p, classes)


def _newton(vals: list[int]) -> list[int]:
    """Forward-difference coefficients: h(k) = sum c_i * C(k, i)."""
    out = []
    cur = list(vals)
    while cur:
        out.append(cur[0])
        cur = [b - a for a, b in zip(cur, cur[1:])]
    return out


def _binom_eval(coef: list[int], k: int) -> int:
    total, b = 0, 1
    for i, c in enumerate(coef):
        total += c * b
        b = b * (k - i) // (i + 1)
    return total


def _solve_newton(coef: list[int], kmax: int, is_eq: bool) -> list[tuple[int, int]]:
    """k-intervals in [0, kmax] where h(k) >= 0 (or == 0)."""
    while len(coef) > 1 and coef[-1] == 0:
        coef = coef[:-1]
    h = lambda k: _binom_eval(coef, k)  # noqa: E731
    if len(coef) == 1:
        ok = coef[0] == 0 if is_eq else coef[0] >= 0
        return [(0, kmax)] if ok else []
    if len(coef) == 2:  # c0 + c1*k, c1 != 0: in closed form (most residues of most conditions)
        c0, c1 = coef
        if is_eq:
            k = -c0 // c1
            return [(k, k)] if c0 % c1 == 0 and 0 <= k <= kmax else []
        if c1 > 0:
            lo = max(0, -(c0 // c1))  # k >= ceil(-c0 / c1)
            return [(lo, kmax)] if lo <= kmax else []
        hi = min(kmax, c0 // -c1)  # k <= floor(c0 / -c1)
        return [(0, hi)] if hi >= 0 else []
    if all(c >= 0 for c in coef[1:]):
        return [_monotone(h, 0, kmax, True, is_eq)]
    if all(c <= 0 for c in coef[1:]):
        return [_monotone(h, 0, kmax, False, is_eq)]
    if len(coef) == 3:
        # h(k) = c0 + c1*k + c2*k*(k-1)/2, a parabola; monotone on each side of its vertex.
        c2 = coef[2]
        # h(k+1) - h(k) = c1 + c2*k changes sign at k = -c1/c2
        v = (-coef[1]) // c2 if c2 > 0 else (coef[1] // -c2)
        v = min(max(v, 0), kmax)
        left = _monotone(h, 0, v, c2 < 0, is_eq)
        right = _monotone(h, v + 1, kmax, c2 > 0, is_eq) if v < kmax else (1, 0)
        return [iv for iv in (left, right) if iv[0] <= iv[1]]
    raise TooComplex(f"a degree-{len(coef) - 1} polynomial condition with mixed signs")
