"""Element bounds of integer (and boolean) tensors whose values are not kept.

A rule that knows a tensor's elements only by their range (``Range(0, L)`` holds ``0 .. L-1``)
sets ``Fact.bounds``; this module carries the range through the ops that rearrange elements,
through shifts and scalings by a constant, through comparisons (decided from the ranges where
possible: ``Range(0, L) < 0`` is all false) and ``Where``, so that a Gather far downstream can
check its indices. Rules need not know about it: the engine applies it to their outputs.

``Fact.bounds_exact`` says whether the minimum and the maximum are *attained*: a Gather may
only turn exact bounds into an exact condition. An over-approximation (after a Slice, or the
sum of two ranges) is kept, but a Gather on it is reported as not followed, never as valid.
"""

from __future__ import annotations

from dataclasses import replace

from graphcheck.infer.facts import Fact
from graphcheck.model.ir import Node
from graphcheck.symbolic.expr import Expr, const, emax, emin

_INT_TYPES = {2, 3, 4, 5, 6, 7, 9, 12, 13}  # the integer types and bool
# float copies of integers (tf2onnx compares indices as floats): the bounds stay valid for
# comparisons at integer thresholds, but float rounding makes them inexact
_FLOAT_TYPES = {1, 10, 11, 16}

# op -> (the inputs whose elements the output consists of (None: every input), all of them kept?)
_MOVERS: dict[str, tuple[tuple[int, ...] | None, bool]] = {
    "Identity": ((0,), True),
    "Unsqueeze": ((0,), True),
    "Squeeze": ((0,), True),
    "Reshape": ((0,), True),
    "Flatten": ((0,), True),
    "Transpose": ((0,), True),
    "Expand": ((0,), True),
    "Tile": ((0,), True),
    "Cast": ((0,), True),
    "CastLike": ((0,), True),
    "Concat": (None, True),
    "Slice": ((0,), False),  # a part of the elements: the extremes may be cut off
    "Gather": ((0,), False),
    "GatherElements": ((0,), False),
    "GatherND": ((0,), False),
}

Bounds = tuple[Expr, Expr, bool]  # lo, hi, exact (both attained)


def _bounds(f: Fact | None) -> Bounds | None:
    if f is None:
        return None
    if f.bounds is not None:
        return f.bounds[0], f.bounds[1], f.bounds_exact
    vals = f.int_values()
    if vals:
        return emin(*vals), emax(*vals), True
    return None


def _le(x: Expr, y: Expr) -> bool:
    """``x <= y`` for every size (sizes >= 1), by inspection."""
    return (y - x).nonneg()


def _compare(op: str, a: Bounds, b: Bounds) -> Bounds:
    """The truth values of ``a OP b`` elementwise: decided (1 or 0) or both possible."""
    alo, ahi, _ = a
    blo, bhi, _ = b
    true = false = False
    if op == "Less":
        true, false = _le(ahi + 1, blo), _le(bhi, alo)
    elif op == "LessOrEqual":
        true, false = _le(ahi, blo), _le(bhi + 1, alo)
    elif op == "Greater":
        true, false = _le(bhi + 1, alo), _le(ahi, blo)
    elif op == "GreaterOrEqual":
        true, false = _le(bhi, alo), _le(ahi + 1, blo)
    elif op == "Equal":
        if alo == ahi == blo == bhi:
            true = True
        else:
            false = _le(ahi + 1, blo) or _le(bhi + 1, alo)
    if true:
        return const(1), const(1), True
    if false:
        return const(0), const(0), True
    return const(0), const(1), False


def _arith(op: str, a: Bounds, b: Bounds) -> Bounds | None:
    alo, ahi, aex = a
    blo, bhi, bex = b
    a_const = aex and alo == ahi
    b_const = bex and blo == bhi
    if op == "Add":
        return alo + blo, ahi + bhi, (aex and b_const) or (bex and a_const)
    if op == "Sub":
        return alo - bhi, ahi - blo, (aex and b_const) or (bex and a_const)
    if op == "Mul":
        if b_const and blo.is_const:
            k = blo.value
            return (alo * k, ahi * k, aex) if k >= 0 else (ahi * k, alo * k, aex)
        if a_const and alo.is_const:
            k = alo.value
            return (blo * k, bhi * k, bex) if k >= 0 else (bhi * k, blo * k, bex)
        if alo.nonneg() and blo.nonneg():
            return alo * blo, ahi * bhi, False
    return None


# ops whose output keeps each element's position along the last axis when the last size is unchanged:
# row-major rearrangements and broadcasts over the other axes (Transpose only when the last axis stays)
_LANE_KEEPERS = {"Identity", "Cast", "CastLike", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand", "Tile"}

Lane = tuple[Expr, Expr, bool]


def _last(f: Fact | None) -> int | None:
    if f is None or not f.shape:
        return None
    return f.shape[-1].const_value()


def lanes_of(f: Fact | None) -> tuple[Lane, ...] | None:
    """Bounds per position along the last axis: kept ones, from known values, or the whole tensor's
    bounds repeated (attained per lane only when there is a single lane)."""
    if f is None:
        return None
    if f.lanes is not None:
        return f.lanes
    k = _last(f)
    if k is None or k < 1 or k > 64:
        return None
    vals = f.int_values()
    if vals is not None and len(vals) % k == 0 and vals:
        return tuple((emin(*vals[j::k]), emax(*vals[j::k]), True) for j in range(k))
    b = _bounds(f)
    if b is None:
        return None
    return tuple((b[0], b[1], b[2] and k == 1) for _ in range(k))


def _lanes(node: Node, ins: list[Fact | None], out: Fact) -> tuple[Lane, ...] | None:
    op = node.op_type
    k = _last(out)
    if k is None or not ins or ins[0] is None:
        return None
    if op == "Concat":
        axis = node.attrs.get("axis", 0)
        rank = len(out.shape or ())
        if not isinstance(axis, int) or axis not in (rank - 1, -1):
            return None
        parts: list[Lane] = []
        for f in ins:
            got = lanes_of(f)
            if got is None:
                return None
            parts.extend(got)
        return tuple(parts) if len(parts) == k else None
    if op in _LANE_KEEPERS or op == "Transpose":
        src = ins[0]
        if src.lanes is None or _last(src) != k:
            return None
        if op == "Transpose":
            perm = node.attrs.get("perm")
            r = len(out.shape or ())
            if not isinstance(perm, tuple) or not perm or perm[-1] != r - 1:
                return None
        return src.lanes
    return None


def propagate(node: Node, ins: list[Fact | None], outs: list[Fact]) -> list[Fact]:
    """Fill in ``bounds`` (and ``lanes``) on outputs that a rule left without them."""
    if not outs or outs[0].bounds is not None or outs[0].value is not None:
        return outs
    if outs[0].dtype not in _INT_TYPES and outs[0].dtype not in _FLOAT_TYPES:
        return outs
    op = node.op_type
    b: Bounds | None = None
    if op in _MOVERS:
        which, keeps_all = _MOVERS[op]
        idx = range(len(ins)) if which is None else which
        sources = [ins[i] for i in idx if i < len(ins)]
        parts = [_bounds(f) for f in sources]
        if parts and all(p is not None for p in parts) and any(f is not None and f.bounds is not None for f in sources):
            los = [p[0] for p in parts if p is not None]
            his = [p[1] for p in parts if p is not None]
            # every source attains its extremes (Concat: each extreme is attained in one input)
            exact = keeps_all and all(p[2] for p in parts if p is not None)
            b = (emin(*los), emax(*his), exact)
    elif op in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal") and len(ins) == 2:
        ba, bb = _bounds(ins[0]), _bounds(ins[1])
        if ba is not None and bb is not None:
            b = _compare(op, ba, bb)
    elif op == "Not" and ins:
        ba = _bounds(ins[0])
        if ba is not None:
            b = (1 - ba[1], 1 - ba[0], ba[2])
    elif op in ("Add", "Sub", "Mul") and len(ins) == 2:
        ba, bb = _bounds(ins[0]), _bounds(ins[1])
        if ba is not None and bb is not None:
            b = _arith(op, ba, bb)
    elif op == "Where" and len(ins) == 3:
        bc, bx, by = (_bounds(f) for f in ins)
        if bc is not None and bc[0] == bc[1] and bc[2]:
            b = bx if bc[0] == 1 else by  # the condition is decided: one branch
        elif bx is not None and by is not None:
            b = (emin(bx[0], by[0]), emax(bx[1], by[1]), False)
    if b is None:
        return outs
    exact = b[2] and outs[0].dtype not in _FLOAT_TYPES
    lanes = _lanes(node, ins, outs[0]) if outs[0].dtype not in _FLOAT_TYPES else None
    return [replace(outs[0], bounds=(b[0], b[1]), bounds_exact=exact, lanes=lanes), *outs[1:]]
