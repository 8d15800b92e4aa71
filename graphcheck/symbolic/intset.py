"""Exact sets of dimension sizes.

An :class:`IntSet` is a subset of ``[1, MAXDIM]`` (every ONNX dimension is a
positive int64) written as a period ``P`` and, for each residue class ``r`` mod ``P``,
a sorted list of disjoint intervals of that class. ``{L : L >= 9}`` is period 1 with
one interval; ``{H : H % 32 == 0}`` is period 32 with the single class 0.
All operations are exact integer computations.

Sets are worded as plain statements: ``L >= 9``, ``H % 32 == 0``, ``T in {2999, 3000}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import lcm

from graphcheck.errors import TooComplex

MAXDIM = 2**63 - 1
PERIOD_LIMIT = 1 << 16

# While a budgeted solve runs (graphcheck.symbolic.usolve), the steps of set operations are charged to
# its budget: a condition whose sets have long periods runs out of it (GC105) instead of spinning in
# refine and reduce. None: nothing is charged (outside a solve every operation is bounded by PERIOD_LIMIT).
_meter: list[Callable[[int], None] | None] = [None]


def _charge(items: int) -> None:
    """Charge making ``items`` residue classes or intervals, each worth about as much time as eight of
    the solver's steps (an evaluation of a small expression)."""
    m = _meter[0]
    if m is not None:
        m(8 * items)


Intervals = tuple[tuple[int, int], ...]


def _up(x: int, r: int, p: int) -> int:
    """Smallest s >= x with s = r (mod p)."""
    return x + ((r - x) % p)


def _down(x: int, r: int, p: int) -> int:
    """Largest s <= x with s = r (mod p)."""
    return x - ((x - r) % p)


def _merge(ivs: list[tuple[int, int]], p: int) -> Intervals:
    ivs.sort()
    out: list[tuple[int, int]] = []
    for lo, hi in ivs:
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + p:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _intersect(a: Intervals, b: Intervals) -> Intervals:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _complement(a: Intervals, lo: int, hi: int, p: int) -> Intervals:
    out: list[tuple[int, int]] = []
    cur = lo
    for x, y in a:
        if x > cur:
            out.append((cur, x - p))
        cur = max(cur, y + p)
    if cur <= hi:
        out.append((cur, hi))
    return tuple(out)


class IntSet:
    """An exact subset of ``[1, MAXDIM]``; immutable."""

    __slots__ = ("period", "classes")

    def __init__(self, period: int, classes: dict[int, Intervals]) -> None:
        self.period = period
        self.classes = {r: ivs for r, ivs in sorted(classes.items()) if ivs}

    # -- constructors ----------------------------------------------------
    @staticmethod
    def empty() -> IntSet:
        return _EMPTY

    @staticmethod
    def full() -> IntSet:
        return _FULL

    @staticmethod
    def interval(lo: int, hi: int = MAXDIM) -> IntSet:
        lo, hi = max(lo, 1), min(hi, MAXDIM)
        return IntSet(1, {0: ((lo, hi),)} if lo <= hi else {})

    @staticmethod
    def points(values: list[int] | set[int]) -> IntSet:
        return IntSet(1, {0: _merge([(v, v) for v in values if 1 <= v <= MAXDIM], 1)})

    @staticmethod
    def residues(period: int, residues: set[int] | list[int], lo: int = 1, hi: int = MAXDIM) -> IntSet:
        classes: dict[int, Intervals] = {}
        for r in residues:
            r %= period
            a, b = _up(max(lo, 1), r, period), _down(min(hi, MAXDIM), r, period)
            if a <= b:
                classes[r] = ((a, b),)
        return IntSet(period, classes).reduced()

    @staticmethod
    def from_classes(period: int, classes: dict[int, list[tuple[int, int]]]) -> IntSet:
        """Build from possibly unaligned, unsorted intervals per residue class."""
        _charge(len(classes) + period)
        out: dict[int, Intervals] = {}
        for r, ivs in classes.items():
            aligned = []
            for lo, hi in ivs:
                a, b = _up(max(lo, 1), r, period), _down(min(hi, MAXDIM), r, period)
                if a <= b:
                    aligned.append((a, b))
            out[r] = _merge(aligned, period)
        return IntSet(period, out).reduced()

    # -- basic queries -------------------------------------------------------
    def __contains__(self, s: int) -> bool:
        ivs = self.classes.get(s % self.period)
        if not ivs or s < 1 or s > MAXDIM:
            return False
        for lo, hi in ivs:
            if lo <= s <= hi:
                return True
            if lo > s:
                return False
        return False

    def is_empty(self) -> bool:
        return not self.classes

    def is_full(self) -> bool:
        if self.period == 1:  # (sets are kept reduced: a full one has period 1)
            return self.classes == _FULL.classes
        return self == _FULL

    def min(self) -> int | None:
        return min((ivs[0][0] for ivs in self.classes.values()), default=None)

    def max(self) -> int | None:
        return max((ivs[-1][1] for ivs in self.classes.values()), default=None)

    def unbounded(self) -> bool:
        m = self.max()
        return m is not None and m > MAXDIM - self.period

    def count(self) -> int:
        return sum((hi - lo) // self.period + 1 for ivs in self.classes.values() for lo, hi in ivs)

    def is_finite_small(self, limit: int = 12) -> bool:
        return not self.unbounded() and self.count() <= limit

    def elements(self, limit: int = 1000) -> list[int]:
        out: list[int] = []
        for v in self.iter_sorted():
            out.append(v)
            if len(out) >= limit:
                break
        return out

    def iter_sorted(self) -> Iterator[int]:
        """Members in increasing order (lazy)."""
        import heapq

        gens = [self._class_iter(r) for r in self.classes]
        return heapq.merge(*gens)

    def _class_iter(self, r: int) -> Iterator[int]:
        for lo, hi in self.classes[r]:
            yield from range(lo, hi + 1, self.period)

    def first_at_least(self, x: int) -> int | None:
        best: int | None = None
        for r, ivs in self.classes.items():
            for lo, hi in ivs:
                if hi < x:
                    continue
                c = max(lo, _up(x, r, self.period))
                if c <= hi and (best is None or c < best):
                    best = c
                break
        return best

    # -- algebra -----------------------------------------------------------
    def refine(self, q: int) -> IntSet:
        """The same set written with period ``q`` (a multiple of the current period)."""
        p = self.period
        if q == p:
            return self
        if q % p:
            raise ValueError("refine needs a multiple of the period")
        if q > PERIOD_LIMIT:
            raise TooComplex(f"period {q} exceeds the solver's limit {PERIOD_LIMIT}")
        _charge(q // p * sum(len(ivs) for ivs in self.classes.values()) + q // p)
        classes: dict[int, list[tuple[int, int]]] = {}
        for r, ivs in self.classes.items():
            for j in range(q // p):
                rr = r + j * p
                lst = classes.setdefault(rr, [])
                for lo, hi in ivs:
                    a, b = _up(lo, rr, q), _down(hi, rr, q)
                    if a <= b:
                        lst.append((a, b))
        # intervals of a class a step apart in period p may touch in the finer class (3 and 5 of
        # the odd numbers): merged, so that equal sets have equal classes
        return IntSet(q, {r: _merge(v, q) for r, v in classes.items()})

    def _common(self, other: IntSet) -> tuple[IntSet, IntSet]:
        q = lcm(self.period, other.period)
        return self.refine(q), other.refine(q)

    def __and__(self, other: IntSet) -> IntSet:
        if self.is_empty() or other.is_empty():
            return IntSet.empty()
        if other.is_full():
            return self
        if self.is_full():
            return other
        a, b = self._common(other)
        classes = {r: _intersect(ivs, b.classes[r]) for r, ivs in a.classes.items() if r in b.classes}
        return IntSet(a.period, classes).reduced()

    def __or__(self, other: IntSet) -> IntSet:
        if self.is_empty():
            return other
        if other.is_empty():
            return self
        a, b = self._common(other)
        classes: dict[int, Intervals] = {}
        for r in set(a.classes) | set(b.classes):
            classes[r] = _merge(list(a.classes.get(r, ())) + list(b.classes.get(r, ())), a.period)
        return IntSet(a.period, classes).reduced()

    def complement(self) -> IntSet:
        p = self.period
        _charge(p + len(self.classes))
        classes: dict[int, Intervals] = {}
        for r in range(p):
            lo, hi = _up(1, r, p), _down(MAXDIM, r, p)
            classes[r] = _complement(self.classes.get(r, ()), lo, hi, p)
        return IntSet(p, classes).reduced()

    def __sub__(self, other: IntSet) -> IntSet:
        return self & other.complement()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntSet):
            return NotImplemented
        a, b = self._common(other) if self.period != other.period else (self, other)
        return a.classes == b.classes

    __hash__ = None  # type: ignore[assignment]

    def reduced(self) -> IntSet:
        """The same set with the smallest period reachable by removing prime factors.

        A prime that cannot be removed from a period cannot be removed from any multiple of the
        set's periods either, so each prime is divided out while it can be and never tried again:
        about (number of prime factors) x period steps, not that squared."""
        cur = self
        for f in _prime_factors(cur.period):
            while cur.period % f == 0:
                cand = cur._try_period(cur.period // f)
                if cand is None:
                    break
                cur = cand
        return cur

    def _try_period(self, q: int) -> IntSet | None:
        _charge(len(self.classes) + q)
        classes: dict[int, list[tuple[int, int]]] = {}
        for r, ivs in self.classes.items():
            classes.setdefault(r % q, []).extend(ivs)
        cand = IntSet(q, {r: _merge(v, q) for r, v in classes.items()})
        return cand if cand.refine(self.period).classes == self.classes else None

    # -- display -------------------------------------------------------------
    def describe(self, name: str) -> str:
        return describe_set(self, name)

    def __repr__(self) -> str:
        return f"IntSet(period={self.period}, classes={self.classes})"


_EMPTY = IntSet(1, {})  # (sets are immutable: one of each is shared)
_FULL = IntSet(1, {0: ((1, MAXDIM),)})


def _prime_factors(n: int) -> list[int]:
    out = []
    f = 2
    while f * f <= n:
        if n % f == 0:
            out.append(f)
            while n % f == 0:
                n //= f
        f += 1
    if n > 1:
        out.append(n)
    return out


# -- how sets are worded ------------------------------------------------------------------

FINITE_LIST_LIMIT = 12


def _runs(values: list[int]) -> str:
    """Sorted integers with runs of three or more shortened: ``0, 1, 26..31``."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{values[i]}..{values[j]}")
        else:
            out.extend(str(v) for v in values[i : j + 1])
        i = j + 1
    return ", ".join(out)


def _residue_text(name: str, period: int, residues: list[int]) -> str:
    if len(residues) == 1:
        return f"{name} % {period} == {residues[0]}"
    if len(residues) == period - 1:
        missing = next(r for r in range(period) if r not in residues)
        return f"{name} % {period} != {missing}"
    k = len(residues)
    if residues == list(range(k)):
        return f"{name} % {period} < {k}"
    if residues == list(range(period - k, period)):
        return f"{name} % {period} >= {period - k}"
    return f"{name} % {period} in {{{_runs(residues)}}}"


def _interval_text(name: str, lo: int, hi: int) -> str:
    top = hi > MAXDIM - 1
    if lo == hi:
        return f"{name} = {lo}"
    if lo <= 1 and top:
        return f"{name} >= 1"
    if top:
        return f"{name} >= {lo}"
    if lo <= 1:
        return f"{name} <= {hi}"
    return f"{lo} <= {name} <= {hi}"


def _block_text(name: str, period: int, residues: list[int], lo: int, hi: int) -> str:
    parts: list[str] = []
    natural_lo = min(_up(1, r, period) for r in residues)
    unbounded = hi > MAXDIM - period
    if lo > natural_lo and unbounded:
        parts.append(f"{name} >= {lo}")
    elif lo > natural_lo:
        parts.append(f"{lo} <= {name} <= {hi}")
    elif not unbounded:
        parts.append(f"{name} <= {hi}")
    parts.append(_residue_text(name, period, residues))
    return " and ".join(parts)


def describe_set(s: IntSet, name: str) -> str:
    if s.is_empty():
        return "no valid size"
    if s.is_full():
        return f"{name} >= 1"
    runs_long = s.period == 1 and any(hi - lo >= 2 for lo, hi in s.classes[0])
    if s.is_finite_small(FINITE_LIST_LIMIT) and not runs_long:
        vals = s.elements(FINITE_LIST_LIMIT)
        return f"{name} = {vals[0]}" if len(vals) == 1 else f"{name} in {{{', '.join(map(str, vals))}}}"
    p = s.period
    if p == 1:
        return " or ".join(_interval_text(name, lo, hi) for lo, hi in s.classes[0])
    residues = sorted(s.classes)
    lo, hi = s.min(), s.max()
    assert lo is not None and hi is not None
    if IntSet.residues(p, residues, lo, hi) == s:
        return _block_text(name, p, residues, lo, hi)
    # A periodic part (the classes that run to the top) plus whatever it does not cover.
    tail_classes = sorted(r for r, ivs in s.classes.items() if ivs[-1][1] > MAXDIM - p)
    if tail_classes:
        start = max(1, max(s.classes[r][-1][0] - p + 1 for r in tail_classes))
        tail = IntSet.residues(p, tail_classes, start)
        head = s - tail
        if (head | tail) == s and (tail - s).is_empty():
            tail_txt = describe_set(tail, name)
            if head.is_empty():
                return tail_txt
            top = head.max()
            assert top is not None
            covering = s & IntSet.interval(1, top)  # the head's runs, overlapping the tail where they do
            if head.is_finite_small(FINITE_LIST_LIMIT) or covering.period != 1 or len(covering.classes[0]) > 6:
                covering = head
            return f"{describe_set(covering, name)} or {tail_txt}"
    parts = []
    for r, ivs in s.classes.items():
        for a, b in ivs:
            parts.append(f"({_block_text(name, p, [r], a, b)})")
    return " or ".join(parts)
