"""What is already known about the sizes, and what follows from it.

A model's conditions are collected in walk order; where a rule must decide something (may this
Reshape entry be -1? do these indices stay inside the table?), only the sizes that meet every
condition collected so far matter: at any other size the model is already invalid, whatever this
node does. :class:`Assumptions` holds that knowledge in a form that is cheap to ask: for each size,
the exact set of values its own conditions allow (an :class:`IntSet`). It answers:

* :meth:`Assumptions.decide`: does a condition hold at every such size (True), at none (False),
  or is that not decided (None)? One-size conditions are decided exactly (their own solution set
  against the known set); others by interval bounds over the box of the known ranges, with the
  floors and min/max taken out where that is tighter (``L - floor(L/2) >= 1``);
* :meth:`Assumptions.simplify`: the condition with the conjuncts that always hold and the
  disjuncts that never hold dropped.

Both are sound: True/False only when proven for every size in the box. Interval bounds
(:func:`bounds`, :func:`lower`) are exact integer arithmetic; ``None`` stands for unbounded.

Budgets: a one-size decision is one solver call (its own budget: a period beyond
``PERIOD_LIMIT`` is undecided, never guessed); :func:`lower` takes floors and min/max out to a
depth of 3; an intersection whose period would pass the limit leaves the known set as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from graphcheck.errors import TooComplex
from graphcheck.symbolic.cond import FALSE, TRUE, AllOf, AnyOf, Cond, Const, Eq, Ge, all_of, any_of, eq, ge
from graphcheck.symbolic.expr import Atom, Expr, Floor, MinMax, Sym
from graphcheck.symbolic.factor import separate, two_products
from graphcheck.symbolic.intset import IntSet
from graphcheck.symbolic.usolve import cond_set

__all__ = ["Assumptions", "NOTHING", "Box", "bounds", "lower"]

Bound = int | None
_DECIDED_LIMIT = 1 << 16  # decisions remembered per Assumptions object
# (size or compound atom, lowest, highest): the sizes known more narrowly than [1, MAXDIM], and
# floors / min/max whose own bounds conditions between sizes give (``floor(h*w / 8) >= 1``)
Box = tuple[tuple[Atom, Bound, Bound], ...]


# -- interval bounds over a box ----------------------------------------------------------------------------------


def _sym_range(s: Sym, box: Box) -> tuple[Bound, Bound]:
    if s.opaque:
        return None, None
    for t, lo, hi in box:
        if t == s:
            return lo, hi
    return 1, None


def _known_range(a: Atom, box: Box, lo: Bound, hi: Bound) -> tuple[Bound, Bound]:
    """``(lo, hi)`` narrowed by what the box says of the compound atom ``a``."""
    for t, klo, khi in box:
        if t == a:
            if klo is not None:
                lo = klo if lo is None else max(lo, klo)
            if khi is not None:
                hi = khi if hi is None else min(hi, khi)
    return lo, hi


def _mul(a: tuple[Bound, Bound], b: tuple[Bound, Bound]) -> tuple[Bound, Bound]:
    """Interval product, ``None`` meaning unbounded on that side."""
    alo, ahi = a
    blo, bhi = b
    if alo is not None and blo is not None and alo >= 0 and blo >= 0:  # the common case: sizes
        return alo * blo, (None if ahi is None or bhi is None else ahi * bhi)
    ends_a = [alo, ahi]
    ends_b = [blo, bhi]
    if None in ends_a or None in ends_b:
        # unbounded somewhere: bounded only when the other factor is the constant 0
        if (alo == ahi == 0) or (blo == bhi == 0):
            return 0, 0
        return None, None
    prods = [x * y for x in ends_a for y in ends_b if x is not None and y is not None]
    return min(prods), max(prods)


def _atom_range(a: Atom, box: Box) -> tuple[Bound, Bound]:
    if isinstance(a, Sym):
        return _sym_range(a, box)
    if isinstance(a, Floor):
        lo, hi = bounds(a.num, box)
        return _known_range(a, box, None if lo is None else lo // a.den, None if hi is None else hi // a.den)
    if isinstance(a, MinMax):
        bs = [bounds(x, box) for x in a.args]
        los = [b[0] for b in bs]
        his = [b[1] for b in bs]
        if a.is_max:
            known_lo = [v for v in los if v is not None]
            mlo = max(known_lo) if known_lo else None
            mhi = None if None in his else max(h for h in his if h is not None)
        else:
            known_hi = [v for v in his if v is not None]
            mlo = None if None in los else min(v for v in los if v is not None)
            mhi = min(known_hi) if known_hi else None
        return _known_range(a, box, mlo, mhi)
    return None, None


@lru_cache(maxsize=16384)
def bounds(e: Expr, box: Box = ()) -> tuple[Bound, Bound]:
    """``(lo, hi)`` with ``lo <= e <= hi`` for every assignment of the sizes in ``box`` (other input
    sizes range over ``[1, MAXDIM]``; opaque ones are unbounded). ``None``: unbounded on that side."""
    lo: Bound = 0
    hi: Bound = 0
    for m, c in e.terms:
        if not m:
            mlo: Bound = c
            mhi: Bound = c
        else:
            r = _atom_range(m[0], box)
            for a in m[1:]:
                r = _mul(r, _atom_range(a, box))
            alo, ahi = r
            if c > 0:
                mlo = None if alo is None else c * alo
                mhi = None if ahi is None else c * ahi
            else:
                mlo = None if ahi is None else c * ahi
                mhi = None if alo is None else c * alo
        lo = None if lo is None or mlo is None else lo + mlo
        hi = None if hi is None or mhi is None else hi + mhi
        if lo is None and hi is None:
            break
    return lo, hi


@lru_cache(maxsize=16384)
def lower(e: Expr, box: Box = (), depth: int = 3) -> Bound:
    """A lower bound of ``e`` over the box (None: none found).

    Interval bounds lose the link between ``L`` and ``floor(L / 2)``; so each lone floor or
    min/max atom is also taken out: ``c*floor(n/d) >= c*(n - d + 1)/d`` (``c > 0``) or
    ``>= c*n/d`` (``c < 0``); ``max(args) >= arg`` (``-min(args) >= -arg``) for any arg, and
    ``rest + min(args) = min(rest + arg)``. ``L - floor(L/2) >= 1`` and ``L - min(3, L) >= 0``
    are found this way.
    """
    lo = bounds(e, box)[0]
    if depth <= 0:
        return lo
    for m, c in e.terms:
        if len(m) != 1 or not isinstance(m[0], Floor | MinMax):
            continue
        atom = m[0]
        rest = e - Expr({m: c})
        if any(atom in mm for mm, _ in rest.terms):
            continue
        cand: Bound = None
        if isinstance(atom, Floor):
            d = atom.den
            k = d - 1 if c > 0 else 0
            v = lower(rest * d + (atom.num - k) * c, box, depth - 1)
            cand = None if v is None else -((-v) // d)
        elif atom.is_max == (c > 0):  # c*max(args) >= c*arg (c > 0), c*min(args) >= c*arg (c < 0)
            for arg in atom.args:
                v = lower(rest + arg * c, box, depth - 1)
                if v is not None and (cand is None or v > cand):
                    cand = v
        else:  # rest + c*min(args) = min(rest + c*arg) (c > 0); likewise c*max(args) for c < 0
            vals = [lower(rest + arg * c, box, depth - 1) for arg in atom.args]
            if all(v is not None for v in vals):
                cand = min(v for v in vals if v is not None)
        if cand is not None and (lo is None or cand > lo):
            lo = cand
    return lo


# -- what is known -----------------------------------------------------------------------------------------------


class Assumptions:
    """For each size, the exact set of values its own conditions allow so far; immutable.

    Sizes not mentioned range over ``[1, MAXDIM]``. Two objects with the same sets are equal.
    ``cache`` (shared, optional) maps a one-size condition to its solution set.
    """

    __slots__ = ("sets", "atoms", "box", "_hash", "_decided")

    def __init__(
        self, sets: Mapping[Sym, IntSet] | None = None, atoms: Mapping[Atom, tuple[Bound, Bound]] | None = None
    ) -> None:
        self.sets: dict[Sym, IntSet] = dict(sets or {})
        self.atoms: dict[Atom, tuple[Bound, Bound]] = dict(atoms or {})
        box: list[tuple[Atom, Bound, Bound]] = []
        for s, v in sorted(self.sets.items(), key=lambda kv: kv[0].key):
            lo, hi = v.min(), v.max()
            if lo is None or hi is None:  # empty: nothing is valid, every question is moot
                lo, hi = 1, 0
            box.append((s, lo, hi))
        for a, (lo2, hi2) in sorted(self.atoms.items(), key=lambda kv: kv[0].key):
            box.append((a, lo2, hi2))
        self.box: Box = tuple(box)
        self._hash = hash(self.box)
        self._decided: dict[Cond, bool | None] = {}

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, Assumptions)
            and self._hash == other._hash
            and self.sets == other.sets
            and self.atoms == other.atoms
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        texts = [v.describe(s.name) for s, v in self.sets.items()]
        texts += [f"{lo} <= {Expr._atom(a)} <= {hi}" for a, (lo, hi) in self.atoms.items()]
        return "Assumptions(" + "; ".join(texts) + ")"

    @property
    def empty(self) -> bool:
        """No size meets what is known (the model is invalid everywhere already)."""
        return any(v.is_empty() for v in self.sets.values())

    def known(self, s: Sym) -> IntSet:
        return self.sets.get(s) or IntSet.full()

    def narrowed(self, cond: Cond, cache: dict[Cond, IntSet] | None = None) -> Assumptions:
        """What is known once ``cond`` holds too (only conditions on one input size narrow; of a
        conjunction, each such part)."""
        if isinstance(cond, AllOf):
            out = self
            for c in cond.items:
                out = out.narrowed(c, cache)
            return out
        syms = cond.symbols()
        if len(syms) != 1:
            return self._atom_bound(cond)
        (s,) = syms
        if s.opaque:
            return self
        try:
            new = self.known(s) & cond_set(cond, s, cache)
        except TooComplex:
            return self
        if new == self.known(s):
            return self
        return Assumptions({**self.sets, s: new}, self.atoms)

    def _atom_bound(self, cond: Cond) -> Assumptions:
        """A bound on one floor or min/max of several sizes (``c*A + k >= 0``), kept for what follows."""
        if not isinstance(cond, Ge) or len(cond.expr.terms) > 2 or cond.has_opaque():
            return self
        e = cond.expr
        k = e.constant_term
        (m, c), *_ = [(m, c) for m, c in e.terms if m] or [((), 0)]
        if len(m) != 1 or isinstance(m[0], Sym) or c == 0:
            return self
        a = m[0]
        lo, hi = self.atoms.get(a, (None, None))
        if c > 0:  # a >= ceil(-k/c)
            new = -((k) // c)
            lo = new if lo is None else max(lo, new)
        else:  # a <= floor(k/-c)
            new = k // -c
            hi = new if hi is None else min(hi, new)
        if (lo, hi) == self.atoms.get(a, (None, None)):
            return self
        return Assumptions(self.sets, {**self.atoms, a: (lo, hi)})

    # -- questions ---------------------------------------------------------------------------------------
    def decide(self, cond: Cond, cache: dict[Cond, IntSet] | None = None) -> bool | None:
        """True: ``cond`` holds wherever what is known holds; False: nowhere; None: not decided."""
        if isinstance(cond, Const):
            return cond.truth
        if self.empty:
            return None  # no size is valid already: nothing to learn here
        hit = self._decided.get(cond, 0)
        if hit != 0:
            return hit  # type: ignore[return-value]
        out: bool | None
        if isinstance(cond, AllOf):
            parts = [self.decide(c, cache) for c in cond.items]
            out = False if False in parts else (True if all(p is True for p in parts) else None)
        elif isinstance(cond, AnyOf):
            parts = [self.decide(c, cache) for c in cond.items]
            out = True if True in parts else (False if all(p is False for p in parts) else None)
        else:
            out = self._atom(cond, cache)
        if len(self._decided) >= _DECIDED_LIMIT:  # NOTHING lives as long as the process
            self._decided.clear()
        self._decided[cond] = out
        return out

    def always(self, cond: Cond, cache: dict[Cond, IntSet] | None = None) -> bool:
        return self.decide(cond, cache) is True

    def never(self, cond: Cond, cache: dict[Cond, IntSet] | None = None) -> bool:
        return self.decide(cond, cache) is False

    def simplify(self, cond: Cond, cache: dict[Cond, IntSet] | None = None) -> Cond:
        """``cond`` without the parts decided by what is known (equivalent wherever that holds)."""
        d = self.decide(cond, cache)
        if d is not None:
            return TRUE if d else FALSE
        if isinstance(cond, AllOf):
            return all_of(self.simplify(c, cache) for c in cond.items)
        if isinstance(cond, AnyOf):
            return any_of(self.simplify(c, cache) for c in cond.items)
        split = self._per_size(cond, cache)
        if split is not None:
            return self.simplify(split, cache)
        return cond

    def _atom(self, cond: Cond, cache: dict[Cond, IntSet] | None) -> bool | None:
        assert isinstance(cond, Ge | Eq)
        e = cond.expr
        syms = e.symbols()
        if any(s.opaque for s in syms):
            return None
        if len(syms) == 1:
            (s,) = syms
            try:
                sol = cond_set(cond, s, cache)
            except TooComplex:
                sol = None
            if sol is not None:
                known = self.known(s)
                try:
                    inter = known & sol
                except TooComplex:
                    inter = None
                if inter is not None:
                    if inter.is_empty():
                        return False
                    if inter == known:
                        return True
                    return None
        lo = lower(e, self.box)
        hi_neg = lower(-e, self.box)
        hi = None if hi_neg is None else -hi_neg
        verdict = _by_bounds(cond, lo, hi)
        if verdict is None:
            lo2, hi2 = self._product_bounds(e, cache)
            lo = lo if lo2 is None else lo2 if lo is None else max(lo, lo2)
            hi = hi if hi2 is None else hi2 if hi is None else min(hi, hi2)
            verdict = _by_bounds(cond, lo, hi)
        if verdict is None and isinstance(cond, Ge):
            cmp = self._compare(e, cache)
            if cmp is not None and cmp[0] == ">=":
                return True
        return verdict

    # -- a count computed two ways -------------------------------------------------------------------
    def _signed(self, f: Expr, least: int, cache: dict[Cond, IntSet] | None) -> tuple[int, Expr] | None:
        """``(sign, sign*f)`` with ``sign*f >= least`` wherever what is known holds."""
        for sign in (1, -1):
            if self.decide(ge(sign * f, least), cache) is True:
                return sign, sign * f
        return None

    def _compare(self, e: Expr, cache: dict[Cond, IntSet] | None) -> tuple[str, list[tuple[Expr, Expr]]] | None:
        """``e = c1*prod(A) - c2*prod(B)`` (:func:`two_products`) compared size by size: ``(">=",
        pairs)`` when ``e >= 0`` follows from ``g_s*A_s >= B_s >= 1`` for every size (``g`` a
        factorization of ``c1/c2``), so that ``e == 0`` exactly when every ``g_s*A_s == B_s``;
        ``("<=", pairs)`` likewise the other way round. ``pairs`` are those ``(g_s*A_s, B_s)``."""
        for split in two_products(e):
            got = self._compare_split(split, cache)
            if got is not None:
                return got
        return None

    def _compare_split(
        self, split: tuple[int, dict[Sym, Expr], int, dict[Sym, Expr]], cache: dict[Cond, IntSet] | None
    ) -> tuple[str, list[tuple[Expr, Expr]]] | None:
        c1, a_parts, c2, b_parts = split
        sizes = sorted(a_parts, key=lambda s: s.key)
        a_list: list[Expr] = []
        b_list: list[Expr] = []
        for s in sizes:
            sa = self._signed(a_parts[s], 0, cache)
            sb = self._signed(b_parts[s], 1, cache)
            if sa is None or sb is None:
                return None
            c1 *= sa[0]
            c2 *= sb[0]
            a_list.append(sa[1])
            b_list.append(sb[1])
        if c1 <= 0 or c2 <= 0:
            return None
        for rel, big, small, cb, cs in ((">=", a_list, b_list, c1, c2), ("<=", b_list, a_list, c2, c1)):
            if cb % cs or (rel == "<=" and not all(self._signed(x, 1, cache) == (1, x) for x in small)):
                continue
            for gammas in _factorizations(cb // cs, len(sizes)):
                pairs = [(g * x, y) for g, x, y in zip(gammas, big, small)]
                if all(self.decide(ge(x - y), cache) is True for x, y in pairs):
                    return rel, pairs
        return None

    def _per_size(self, cond: Cond, cache: dict[Cond, IntSet] | None) -> Cond | None:
        """A condition between sizes that holds exactly when one condition per size does: a count
        computed two ways (``16*ceil(h/4)*ceil(w/4) = h*w`` is ``h % 4 == 0 and w % 4 == 0``)."""
        if not isinstance(cond, Ge | Eq) or len(cond.symbols()) < 2:
            return None
        cmp = self._compare(cond.expr, cache)
        if cmp is None:
            return None
        rel, pairs = cmp
        if isinstance(cond, Ge) and rel == ">=":
            return TRUE
        return all_of(eq(x - y) for x, y in pairs)

    def _factor_low(self, f: Expr, cache: dict[Cond, IntSet] | None) -> int | None:
        """A lower bound of a one-size factor: by intervals, else 1 or 0 decided exactly."""
        lo = lower(f, self.box)
        if lo is not None and lo >= 1:
            return lo
        for k in (1, 0):
            if self.decide(ge(f, k), cache) is True:
                return k
        return lo

    def _product_bounds(self, e: Expr, cache: dict[Cond, IntSet] | None) -> tuple[Bound, Bound]:
        """Bounds of ``k + c*f1*f2*...`` (one-size factors, see :mod:`.factor`) from non-negative
        lower bounds of the factors: the product is at least the product of those."""
        sep = separate(e - e.constant_term)
        if sep is None:
            return None, None
        c, factors = sep
        lows: list[int] = []
        for f in factors:  # each factor non-negative, turning the sign of those that are not
            v = self._factor_low(f, cache)
            if v is None or v < 0:
                v = self._factor_low(-f, cache)
                c = -c
            if v is None or v < 0:
                return None, None
            lows.append(v)
        least = 1
        for v in lows:
            least *= v
        k = e.constant_term
        return (k + c * least, None) if c > 0 else (None, k + c * least)


def _factorizations(n: int, k: int, limit: int = 64) -> list[tuple[int, ...]]:
    """Ordered ways to write ``n`` as a product of ``k`` positive integers (at most ``limit``)."""
    if k == 1:
        return [(n,)]
    out: list[tuple[int, ...]] = []
    for d in range(1, n + 1):
        if n % d:
            continue
        for rest in _factorizations(n // d, k - 1, limit):
            out.append((d, *rest))
            if len(out) >= limit:
                return out
    return out


def _by_bounds(cond: Cond, lo: Bound, hi: Bound) -> bool | None:
    """``e >= 0`` / ``e == 0`` decided from bounds of ``e``."""
    if isinstance(cond, Ge):
        if lo is not None and lo >= 0:
            return True
        if hi is not None and hi < 0:
            return False
        return None
    if (lo is not None and lo > 0) or (hi is not None and hi < 0):
        return False
    if lo == 0 and hi == 0:
        return True
    return None


NOTHING = Assumptions()
