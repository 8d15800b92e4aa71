"""Helpers for the shape-manipulation and slicing rules (:mod:`.shape`, :mod:`.slicing`).

* lower bounds of an expression wherever what is already known of the sizes holds (an
  :class:`~graphcheck.symbolic.assume.Assumptions`; without one, sizes are only >= 1), used to
  pick the winner of a ``min``/``max`` where one side provably wins (``min(1, L) = 1``), to
  decide signs, and to drop ``min``/``max`` arguments that never win (``max(L, min(1024, L)) = L``);
* ``slice_bound``/``slice_length``: the ONNX Slice clamping rules on symbolic sizes;
* row-major index arithmetic on small known tensor values (take, permute, concat, tile).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from graphcheck.infer.facts import Val
from graphcheck.infer.ops._common import lazy  # noqa: F401  (re-exported)
from graphcheck.symbolic.assume import NOTHING, Assumptions
from graphcheck.symbolic.assume import lower as _lower
from graphcheck.symbolic.cond import ge
from graphcheck.symbolic.expr import Expr, Floor, MinMax, ceildiv, const, emax, emin, floordiv

ZERO = const(0)
ONE = const(1)
INT64 = 7
BIG = 2**62  # a Slice start/end this large clamps like an infinity (sizes are taken to be smaller)


# -- formulas ---------------------------------------------------------------------------------------------------


def show(shape: Sequence[Expr]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# -- bounds -----------------------------------------------------------------------------------------------------
#
# Every decision below takes what is already known about the sizes (``assume``, the conditions
# collected upstream, see :mod:`graphcheck.symbolic.assume`); without it, sizes are only >= 1.


def at_least(e: Expr, k: int, assume: Assumptions = NOTHING) -> bool:
    """``e >= k`` wherever ``assume`` holds, provably (interval bounds first; then a one-size
    expression is decided exactly, a product of one-size factors by theirs)."""
    lo = _lower(e, assume.box)
    if lo is not None and lo >= k:
        return True
    if e.is_const or e.has_opaque():
        return False
    return assume.always(ge(e, k))


def at_most(e: Expr, k: int, assume: Assumptions = NOTHING) -> bool:
    return at_least(-e, -k, assume)


@lru_cache(maxsize=8192)
def simplify(e: Expr, assume: Assumptions = NOTHING) -> Expr:
    """Drop min/max arguments that never win: ``max(L, min(1024, L)) = L``.

    Broadcasting ``L`` with a slice ``min(1024, L)`` gives ``max(L, min(1024, L))``; taking the
    Shape of that and slicing again nests one level per layer, so shape values are simplified.
    """
    if not e.has_minmax():
        return e
    out = ZERO
    for m, c in e.terms:
        t = const(c)
        for a in m:
            if isinstance(a, MinMax):
                t = t * _simplify_minmax(a, assume)
            elif isinstance(a, Floor) and a.num.has_minmax():
                t = t * floordiv(simplify(a.num, assume), a.den)
            else:
                t = t * Expr({(a,): 1})
        out = out + t
    return out


def _simplify_minmax(a: MinMax, assume: Assumptions) -> Expr:
    args = [simplify(x, assume) for x in a.args]
    kept: list[Expr] = []
    for i, x in enumerate(args):
        # x never wins if another argument is always at least as good (ties keep the first)
        dominated = False
        for j, y in enumerate(args):
            if i == j:
                continue
            diff = y - x if a.is_max else x - y
            if at_least(diff, 0, assume) and (j < i or not at_least(-diff, 0, assume)):
                dominated = True
                break
        if not dominated:
            kept.append(x)
    return emax(*kept) if a.is_max else emin(*kept)


def smin(a: Expr, b: Expr, assume: Assumptions = NOTHING) -> Expr:
    """``min(a, b)``, reduced to one side when it provably wins."""
    d = b - a
    if at_least(d, 0, assume):
        return a
    if at_most(d, 0, assume):
        return b
    return emin(a, b)


def smax(a: Expr, b: Expr, assume: Assumptions = NOTHING) -> Expr:
    d = b - a
    if at_least(d, 0, assume):
        return b
    if at_most(d, 0, assume):
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


def tidy(e: Expr, depth: int = 3, assume: Assumptions = NOTHING) -> Expr:
    """Move a linear ``+-min/max`` into its arguments and simplify: ``L - max(L - 3, 0) = min(3, L)``."""
    if depth <= 0:
        return e
    hit = _single_minmax(e)
    if hit is None or not hit[2].terms:
        return e
    atom, c, rest = hit
    is_max = atom.is_max if c == 1 else not atom.is_max
    args = [tidy(rest + c * a, depth - 1, assume) for a in atom.args]
    acc = args[0]
    for a in args[1:]:
        acc = smax(acc, a, assume) if is_max else smin(acc, a, assume)
    return acc


def cdiv(e: Expr, k: int, assume: Assumptions = NOTHING) -> Expr:
    """``ceil(e / k)`` for a non-zero constant, taken into a lone min/max (monotone in ``e``)."""
    if k == 1:
        return e
    if k == -1:
        return tidy(-e, assume=assume)
    hit = _single_minmax(e)
    if hit is not None and hit[1] == 1 and not hit[2].terms:
        atom = hit[0]
        args = [cdiv(a, k, assume) for a in atom.args]
        is_max = atom.is_max if k > 0 else not atom.is_max
        acc = args[0]
        for a in args[1:]:
            acc = smax(acc, a, assume) if is_max else smin(acc, a, assume)
        return acc
    return ceildiv(e, k)


def nonneg_part(e: Expr, assume: Assumptions = NOTHING) -> Expr:
    """``max(e, 0)``."""
    return smax(e, ZERO, assume)


# -- slicing ----------------------------------------------------------------------------------------------------


class SignUnknown(Exception):
    """A start/end whose sign depends on a data-dependent size."""


ORT_END_SPECIAL = (2**31 - 1, 2**63 - 1)


def slice_bound(v: Expr, d: Expr, step: int, is_start: bool, ort: bool = False, assume: Assumptions = NOTHING) -> Expr:
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
            return smin(v, hi, assume)
        return smax(v + d, lo, assume)
    if at_least(v, 0, assume):
        return smin(v, hi, assume)
    if at_most(v, -1, assume):
        return smax(v + d, lo, assume)
    if v.has_opaque():
        raise SignUnknown(str(v))
    # the sign depends on the sizes: v + d*[v < 0], clamped; [v < 0] = 1 - min(1, max(0, v + 1))
    negative = 1 - smin(ONE, smax(ZERO, v + 1, assume), assume)
    return smin(smax(v + d * negative, lo, assume), hi, assume)


def slice_length(start: Expr, end: Expr, step: int, assume: Assumptions = NOTHING) -> Expr:
    """``max(0, ceil((end - start) / step))`` for clamped bounds."""
    return simplify(nonneg_part(cdiv(tidy(end - start, assume=assume), step, assume), assume), assume)


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
