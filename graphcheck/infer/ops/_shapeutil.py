"""Helpers for the shape-manipulation and slicing rules (:mod:`.shape`, :mod:`.slicing`).

* lower bounds of an expression over all input sizes (symbols >= 1), used to pick the winner
  of a ``min``/``max`` where one side provably wins (``min(1, L) = 1``), to decide signs, and to
  drop ``min``/``max`` arguments that never win (``max(L, min(1024, L)) = L``);
* ``slice_bound``/``slice_length``: the ONNX Slice clamping rules on symbolic sizes;
* row-major index arithmetic on small known tensor values (take, permute, concat, tile).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from graphcheck.infer.facts import Val
from graphcheck.infer.ops._common import lazy  # noqa: F401  (re-exported)
from graphcheck.symbolic.expr import Expr, Floor, MinMax, Sym, ceildiv, const, emax, emin

ZERO = const(0)
ONE = const(1)
INT64 = 7
BIG = 2**62  # a Slice start/end this large clamps like an infinity (sizes are taken to be smaller)

Bounds = tuple[int | None, int | None]


# -- formulas ---------------------------------------------------------------------------------------------------


def show(shape: Sequence[Expr]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# -- bounds -----------------------------------------------------------------------------------------------------


def _atom_bounds(a: object) -> Bounds:
    if isinstance(a, Sym):
        return (None, None) if a.opaque else (1, None)
    if isinstance(a, Floor):
        lo, hi = bounds(a.num)
        return (None if lo is None else lo // a.den, None if hi is None else hi // a.den)
    if isinstance(a, MinMax):
        bs = [bounds(x) for x in a.args]
        los = [b[0] for b in bs]
        his = [b[1] for b in bs]
        if a.is_max:
            known_lo = [v for v in los if v is not None]
            return (max(known_lo) if known_lo else None, None if None in his else max(h for h in his if h is not None))
        known_hi = [v for v in his if v is not None]
        return (None if None in los else min(v for v in los if v is not None), min(known_hi) if known_hi else None)
    return (None, None)


@lru_cache(maxsize=8192)
def bounds(e: Expr) -> Bounds:
    """``(lo, hi)`` with ``lo <= e <= hi`` for every assignment of input symbols >= 1 (None: unbounded/unknown)."""
    lo: int | None = 0
    hi: int | None = 0
    for m, c in e.terms:
        if not m:
            mlo: int | None = c
            mhi: int | None = c
        else:
            if len(m) == 1:
                alo, ahi = _atom_bounds(m[0])
            else:
                alo, ahi = 1, 1
                for a in m:
                    blo, bhi = _atom_bounds(a)
                    if blo is None or blo < 0:
                        alo = ahi = None
                        break
                    alo = alo * blo if alo is not None else None
                    ahi = ahi * bhi if ahi is not None and bhi is not None else None
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


@lru_cache(maxsize=8192)
def lower(e: Expr, depth: int = 3) -> int | None:
    """A lower bound of ``e`` over all sizes (None: none found).

    Interval bounds lose the link between ``L`` and ``floor(L / 2)``; so each lone floor or
    min/max atom is also taken out: ``c*floor(n/d) >= c*(n - d + 1)/d`` (``c > 0``) or
    ``>= c*n/d`` (``c < 0``); ``max(args) >= arg`` (``-min(args) >= -arg``) for any arg, and
    ``rest + min(args) = min(rest + arg)``. ``L - floor(L/2) >= 1`` and ``L - min(3, L) >= 0``
    are found this way.
    """
    lo = bounds(e)[0]
    if depth <= 0:
        return lo
    for m, c in e.terms:
        if len(m) != 1 or not isinstance(m[0], Floor | MinMax):
            continue
        atom = m[0]
        rest = e - Expr({m: c})
        if any(atom in mm for mm, _ in rest.terms):
            continue
        cand: int | None = None
        if isinstance(atom, Floor):
            d = atom.den
            k = d - 1 if c > 0 else 0
            v = lower(rest * d + (atom.num - k) * c, depth - 1)
            cand = None if v is None else -((-v) // d)
        elif atom.is_max == (c > 0):  # c*max(args) >= c*arg (c > 0), c*min(args) >= c*arg (c < 0)
            for arg in atom.args:
                v = lower(rest + arg * c, depth - 1)
                if v is not None and (cand is None or v > cand):
                    cand = v
        else:  # rest + c*min(args) = min(rest + c*arg) (c > 0); likewise c*max(args) for c < 0
            vals = [lower(rest + arg * c, depth - 1) for arg in atom.args]
            if all(v is not None for v in vals):
                cand = min(v for v in vals if v is not None)
        if cand is not None and (lo is None or cand > lo):
            lo = cand
    return lo


def at_least(e: Expr, k: int) -> bool:
    """``e >= k`` for every size, provably."""
    lo = lower(e)
    return lo is not None and lo >= k


def at_most(e: Expr, k: int) -> bool:
    lo = lower(-e)
    return lo is not None and -lo <= k


def _has_minmax(e: Expr) -> bool:
    return any(isinstance(a, MinMax) for m, _ in e.terms for a in m)


@lru_cache(maxsize=8192)
def simplify(e: Expr) -> Expr:
    """Drop min/max arguments that never win: ``max(L, min(1024, L)) = L``.

    Broadcasting ``L`` with a slice ``min(1024, L)`` gives ``max(L, min(1024, L))``; taking the
    Shape of that and slicing again nests one level per layer, so shape values are simplified.
    """
    if not _has_minmax(e):
        return e
    out = ZERO
    for m, c in e.terms:
        t = const(c)
        for a in m:
            t = t * (_simplify_minmax(a) if isinstance(a, MinMax) else Expr({(a,): 1}))
        out = out + t
    return out


def _simplify_minmax(a: MinMax) -> Expr:
    args = [simplify(x) for x in a.args]
    kept: list[Expr] = []
    for i, x in enumerate(args):
        # x never wins if another argument is always at least as good (ties keep the first)
        dominated = False
        for j, y in enumerate(args):
            if i == j:
                continue
            diff = y - x if a.is_max else x - y
            if at_least(diff, 0) and (j < i or not at_least(-diff, 0)):
                dominated = True
                break
        if not dominated:
            kept.append(x)
    return emax(*kept) if a.is_max else emin(*kept)


def smin(a: Expr, b: Expr) -> Expr:
    """``min(a, b)``, reduced to one side when it provably wins."""
    d = b - a
    if at_least(d, 0):
        return a
    if at_most(d, 0):
        return b
    return emin(a, b)


def smax(a: Expr, b: Expr) -> Expr:
    d = b - a
    if at_least(d, 0):
        return b
    if at_most(d, 0):
        return a
    return emax(a, b)


def _single_minmax(e: Expr) -> tuple[MinMax, int, Expr] | None:
    """``e = c*M + rest`` with ``M`` a min/max atom appearing once, linearly, with ``c = +-1``."""
    found: tuple[MinMax, int] | None = None
    for m, c in e.terms:
        if len(m) == 1 and isinstance(m[0], MinMax) and c in (1, -1):
            found = (m[0], c)
            break
    if found is None:
        return None
    atom, c = found
    rest = e - Expr({(atom,): c})
    if any(atom in m for m, _ in rest.terms):
        return None
    return atom, c, rest


def tidy(e: Expr, depth: int = 3) -> Expr:
    """Move a linear ``+-min/max`` into its arguments and simplify: ``L - max(L - 3, 0) = min(3, L)``."""
    if depth <= 0:
        return e
    hit = _single_minmax(e)
    if hit is None or not hit[2].terms:
        return e
    atom, c, rest = hit
    is_max = atom.is_max if c == 1 else not atom.is_max
    args = [tidy(rest + c * a, depth - 1) for a in atom.args]
    acc = args[0]
    for a in args[1:]:
        acc = smax(acc, a) if is_max else smin(acc, a)
    return acc


def cdiv(e: Expr, k: int) -> Expr:
    """``ceil(e / k)`` for a non-zero constant, taken into a lone min/max (monotone in ``e``)."""
    if k == 1:
        return e
    if k == -1:
        return tidy(-e)
    hit = _single_minmax(e)
    if hit is not None and hit[1] == 1 and not hit[2].terms:
        atom = hit[0]
        args = [cdiv(a, k) for a in atom.args]
        is_max = atom.is_max if k > 0 else not atom.is_max
        acc = args[0]
        for a in args[1:]:
            acc = smax(acc, a) if is_max else smin(acc, a)
        return acc
    return ceildiv(e, k)


def nonneg_part(e: Expr) -> Expr:
    """``max(e, 0)``."""
    return smax(e, ZERO)


# -- slicing ----------------------------------------------------------------------------------------------------


class SignUnknown(Exception):
    """A start/end whose sign depends on a data-dependent size."""


ORT_END_SPECIAL = (2**31 - 1, 2**63 - 1)


def slice_bound(v: Expr, d: Expr, step: int, is_start: bool, ort: bool = False) -> Expr:
    """A start or end clamped as the ONNX Slice spec says (``d`` the axis size).

    Values with ``|v| >= 2**62`` clamp like infinities (sizes are taken to be below 2**62).
    ``ort``: onnxruntime reads an end of exactly INT32_MAX or INT64_MAX as "to the end in the
    step's direction", i.e. -1 for a negative step, where the spec clamps it to ``d - 1``.
    """
    if step > 0:
        lo, hi = ZERO, d
    elif is_start:
        lo, hi = ZERO, d - 1
    else:
        lo, hi = const(-1), d - 1
    if v.is_const:
        x = v.value
        if ort and step < 0 and not is_start and x in ORT_END_SPECIAL:
            return lo
        if x >= BIG:
            return hi
        if x <= -BIG:
            return lo
        if x >= 0:
            return smin(v, hi)
        return smax(v + d, lo)
    if at_least(v, 0):
        return smin(v, hi)
    if at_most(v, -1):
        return smax(v + d, lo)
    if v.has_opaque():
        raise SignUnknown(str(v))
    # the sign depends on the sizes: v + d*[v < 0], clamped; [v < 0] = 1 - min(1, max(0, v + 1))
    negative = 1 - smin(ONE, smax(ZERO, v + 1))
    return smin(smax(v + d * negative, lo), hi)


def slice_length(start: Expr, end: Expr, step: int) -> Expr:
    """``max(0, ceil((end - start) / step))`` for clamped bounds."""
    return simplify(nonneg_part(cdiv(tidy(end - start), step)))


# -- values (row-major) -----------------------------------------------------------------------------------------


def numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def strides(shape: Sequence[int]) -> list[int]:
    out = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        out[i] = out[i + 1] * shape[i + 1]
    return out


def take(values: Sequence[Val], shape: Sequence[int], index: Sequence[Sequence[int]]) -> tuple[Val, ...]:
    """The elements at the cartesian product of per-axis index lists."""
    st = strides(shape)
    flat = [0]
    for axis, idx in enumerate(index):
        s = st[axis]
        flat = [base + i * s for base in flat for i in idx]
    return tuple(values[i] for i in flat)


def permute(values: Sequence[Val], shape: Sequence[int], perm: Sequence[int]) -> tuple[Val, ...]:
    st = strides(shape)
    flat = [0]
    for p in perm:
        s = st[p]
        flat = [base + i * s for base in flat for i in range(shape[p])]
    return tuple(values[i] for i in flat)


def concat(parts: Sequence[tuple[Sequence[Val], Sequence[int]]], axis: int) -> tuple[Val, ...]:
    """Concatenate row-major tensors along ``axis`` (shapes agree elsewhere)."""
    outer = numel(parts[0][1][:axis])
    out: list[Val] = []
    chunks = [(vals, numel(shape[axis:])) for vals, shape in parts]
    for o in range(outer):
        for vals, size in chunks:
            out.extend(vals[o * size : (o + 1) * size])
    return tuple(out)


def small_numel(shape: Sequence[Expr], limit: int) -> tuple[int, ...] | None:
    """The shape as ints when constant with at most ``limit`` elements."""
    out: list[int] = []
    n = 1
    for d in shape:
        if not d.is_const:
            return None
        v = d.value
        if v < 0:
            return None
        out.append(v)
        n *= v
    return tuple(out) if n <= limit else None
