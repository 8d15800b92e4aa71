"""Element bounds carried through ops that only move or shift integer elements.

A rule that knows an integer tensor's elements only by their range (Range) sets
``Fact.bounds``; this module carries the range through the ops that rearrange elements
(Unsqueeze, Reshape, Slice, Concat, Cast to an integer type, ...) and through shifts and
positive scalings by a constant (Add, Sub, Mul), so that a Gather far downstream can check
its indices. Rules need not know about it: the engine applies it to their outputs.
"""

from __future__ import annotations

from dataclasses import replace

from graphcheck.expr import Expr, emax, emin
from graphcheck.facts import Fact
from graphcheck.ir import Node

_INT_TYPES = {2, 3, 4, 5, 6, 7, 12, 13}

# op -> the inputs whose elements the output consists of (None: every input)
_MOVERS: dict[str, tuple[int, ...] | None] = {
    "Identity": (0,),
    "Unsqueeze": (0,),
    "Squeeze": (0,),
    "Reshape": (0,),
    "Flatten": (0,),
    "Transpose": (0,),
    "Expand": (0,),
    "Tile": (0,),
    "Slice": (0,),
    "Gather": (0,),
    "GatherElements": (0,),
    "GatherND": (0,),
    "Cast": (0,),
    "CastLike": (0,),
    "Concat": None,
}


def _scalar(f: Fact | None) -> Expr | None:
    """The single value of a constant tensor whose elements are all equal."""
    if f is None:
        return None
    vals = f.int_values()
    if not vals or any(v != vals[0] for v in vals):
        return None
    return vals[0] if vals[0].is_const else None


def _from_values(f: Fact | None) -> tuple[Expr, Expr] | None:
    if f is None:
        return None
    if f.bounds is not None:
        return f.bounds
    vals = f.int_values()
    if vals:
        return emin(*vals), emax(*vals)
    return None


def propagate(node: Node, ins: list[Fact | None], outs: list[Fact]) -> list[Fact]:
    """Fill in ``bounds`` on outputs that a rule left without them."""
    if not outs or outs[0].bounds is not None or outs[0].value is not None or outs[0].dtype not in _INT_TYPES:
        return outs
    op = node.op_type
    b: tuple[Expr, Expr] | None = None
    if op in _MOVERS:
        which = _MOVERS[op]
        idx = range(len(ins)) if which is None else which
        sources = [ins[i] for i in idx if i < len(ins)]
        parts = [_from_values(f) for f in sources]
        if parts and all(p is not None for p in parts) and any(f is not None and f.bounds is not None for f in sources):
            los = [p[0] for p in parts if p is not None]
            his = [p[1] for p in parts if p is not None]
            b = (emin(*los), emax(*his))
    elif op in ("Add", "Sub", "Mul") and len(ins) == 2:
        a, c = ins
        if a is not None and a.bounds is not None and (k := _scalar(c)) is not None:
            lo, hi = a.bounds
            if op == "Add":
                b = (lo + k, hi + k)
            elif op == "Sub":
                b = (lo - k, hi - k)
            elif k.value >= 0:
                b = (lo * k, hi * k)
        elif c is not None and c.bounds is not None and (k := _scalar(a)) is not None:
            lo, hi = c.bounds
            if op == "Add":
                b = (lo + k, hi + k)
            elif op == "Sub":
                b = (k - hi, k - lo)
            elif k.value >= 0:
                b = (lo * k, hi * k)
    if b is None:
        return outs
    return [replace(outs[0], bounds=b), *outs[1:]]
