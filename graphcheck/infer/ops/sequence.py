"""Sequences, as exporters write Python lists: SequenceEmpty, SequenceConstruct, SequenceInsert,
SequenceErase, SequenceAt, SequenceLength, SplitToSequence, ConcatFromSequence.

A sequence value's fact carries its elements (:class:`graphcheck.infer.facts.Seq`): each one's fact
when their number is known (``SequenceConstruct``, a split with given sizes), or the one fact every
element has and their number (``SplitToSequence`` into single slices along an axis of size ``L``).

* ``SequenceAt``/``SequenceErase``: a position must lie in ``[-n, n - 1]`` (GC009); erasing from
  an empty sequence is an error.
* ``SplitToSequence``: given sizes must sum to the axis (GC010); a scalar split cuts equal chunks
  with a smaller last one; no split: one element per index, the axis kept as 1 or dropped
  (``keepdims``).
* ``ConcatFromSequence``: the elements must agree on every axis but ``axis`` (GC004; with
  ``new_axis`` on every axis), which is summed (or stacked: the number of elements).
"""

from __future__ import annotations

from collections.abc import Sequence

from graphcheck.infer.facts import Fact, Seq, Val
from graphcheck.infer.ops._common import lazy
from graphcheck.infer.ops._shapeutil import concat, numel, small_numel
from graphcheck.infer.registry import Invalid, OpContext, Unsupported, norm_axis, rule
from graphcheck.symbolic.cond import all_of, eq, ge
from graphcheck.symbolic.expr import Expr, const

INT64 = 7
_SMALL = 4096


def _seq(ctx: OpContext, i: int) -> Seq:
    """Input ``i``'s sequence; an unknown one ends the rule quietly (its producer said why)."""
    from graphcheck.infer.registry import Propagate

    f = ctx.fact(i)
    if f.seq is None:
        raise Propagate()
    return f.seq


def _position(ctx: OpContext, i: int, length: Expr) -> int:
    """A constant position (input ``i``), required to lie in ``[-length, length - 1]``."""
    (p,) = ctx.const_ints(i, "the position")
    ctx.require(
        all_of([ge(length + p, 0), ge(length - p, 1)]) if p < 0 else ge(length - p, 1),
        "GC009",
        "sequence position",
        formula=lazy("position {} must lie in [-{}, {} - 1]", p, length, length),
        fix="read a position the sequence has",
    )
    return p


def _sequence(length: Expr | int, items: Sequence[Fact] | None = None, each: Fact | None = None) -> Fact:
    n = length if isinstance(length, Expr) else const(length)
    return Fact(
        None,
        each.dtype if each is not None else (items[0].dtype if items else 0),
        seq=Seq(n, None if items is None else tuple(items), each),
    )


@rule("SequenceEmpty")
def sequence_empty(ctx: OpContext) -> list[Fact]:
    return [_sequence(0, ())]


@rule("SequenceConstruct")
def sequence_construct(ctx: OpContext) -> list[Fact]:
    items = [ctx.fact(i) for i in range(len(ctx.node.inputs))]
    if not items:
        raise Invalid("SequenceConstruct needs at least one input")
    return [_sequence(len(items), items)]


@rule("SequenceInsert")
def sequence_insert(ctx: OpContext) -> list[Fact]:
    s = _seq(ctx, 0)
    t = ctx.fact(1)
    if s.items is not None:
        items = list(s.items)
        pos = len(items) if not ctx.has(2) else _position(ctx, 2, s.length + 1)
        pos = pos + len(items) if pos < 0 else pos
        items.insert(pos, t)
        return [_sequence(len(items), items)]
    if s.each is not None and s.each == t:
        if ctx.has(2):
            _position(ctx, 2, s.length + 1)
        return [_sequence(s.length + 1, None, t)]
    raise Unsupported("SequenceInsert: an element unlike the others into a sequence of unknown length")


@rule("SequenceErase")
def sequence_erase(ctx: OpContext) -> list[Fact]:
    s = _seq(ctx, 0)
    if s.items is not None:
        items = list(s.items)
        if not items:
            raise Invalid("SequenceErase from an empty sequence")
        pos = -1 if not ctx.has(1) else _position(ctx, 1, s.length)
        if not -len(items) <= pos < len(items):
            return []
        del items[pos]
        return [_sequence(len(items), items)]
    if ctx.has(1):
        _position(ctx, 1, s.length)
    else:
        ctx.require(ge(s.length, 1), "GC009", "sequence erase", formula=lazy("the sequence has {} elements", s.length))
    return [_sequence(s.length - 1, None, s.each)]


@rule("SequenceAt")
def sequence_at(ctx: OpContext) -> list[Fact]:
    s = _seq(ctx, 0)
    pos = _position(ctx, 1, s.length)
    f = s.at(pos)
    if f is None:
        return []
    return [f]


@rule("SequenceLength")
def sequence_length(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    if f.seq is None:
        return [Fact((), INT64)]
    return [Fact((), INT64, (f.seq.length,))]


@rule("SplitToSequence")
def split_to_sequence(ctx: OpContext) -> list[Fact]:
    f = ctx.fact(0)
    x = ctx.shape(0)
    a = norm_axis(ctx.attr_int("axis", 0), len(x), ctx.node)
    d = x[a]
    if not ctx.has(1):
        keep = ctx.attr_int("keepdims", 1) != 0
        piece = (*x[:a], const(1), *x[a + 1 :]) if keep else (*x[:a], *x[a + 1 :])
        return [_sequence(d, None, Fact(piece, f.dtype))]
    split = ctx.fact(1)
    if split.shape is not None and len(split.shape) == 0:
        (s,) = ctx.ints(1, "the split size")
        if not s.is_const or s.value < 1:
            raise Unsupported("SplitToSequence: a split size that is not a positive constant")
        k = s.value
        if d.is_const:
            n, rest = divmod(d.value, k)
            sizes = [k] * n + ([rest] if rest else [])
            return [_sequence(len(sizes), [Fact((*x[:a], const(v), *x[a + 1 :]), f.dtype) for v in sizes])]
        if k == 1:
            return [_sequence(d, None, Fact((*x[:a], const(1), *x[a + 1 :]), f.dtype))]
        raise Unsupported(f"SplitToSequence: chunks of {k} along an axis of size {d} (the last may be smaller)")
    parts = ctx.ints(1, "the split sizes")
    total = parts[0] if parts else const(0)
    for p in parts[1:]:
        total = total + p
    ctx.require(
        eq(total, d),
        "GC010",
        f"SplitToSequence sizes on axis {a}",
        formula=lazy("the split sizes sum to {}, the axis has {}", total, d),
        fix="make the split sizes add up to the axis",
    )
    return [_sequence(len(parts), [Fact((*x[:a], p, *x[a + 1 :]), f.dtype) for p in parts])]


@rule("ConcatFromSequence")
def concat_from_sequence(ctx: OpContext) -> list[Fact]:
    s = _seq(ctx, 0)
    new_axis = ctx.attr_int("new_axis", 0) != 0
    if "axis" not in ctx.node.attrs:
        raise Invalid("ConcatFromSequence needs the axis attribute")
    axis = ctx.attr_int("axis", 0)
    if s.items is None:
        f = s.each
        if f is None or f.shape is None:
            return []
        r = len(f.shape) + (1 if new_axis else 0)
        a = norm_axis(axis, r, ctx.node)
        if new_axis:
            return [Fact((*f.shape[:a], s.length, *f.shape[a:]), f.dtype)]
        return [Fact((*f.shape[:a], f.shape[a] * s.length, *f.shape[a + 1 :]), f.dtype)]
    if not s.items:
        raise Invalid("ConcatFromSequence of an empty sequence")
    shapes = [f.shape for f in s.items]
    if any(sh is None for sh in shapes):
        return []
    first = shapes[0]
    assert first is not None
    r = len(first) + (1 if new_axis else 0)
    a = norm_axis(axis, r, ctx.node)
    for i, sh in enumerate(shapes[1:], start=1):
        assert sh is not None
        if len(sh) != len(first):
            raise Invalid(f"ConcatFromSequence element {i} has rank {len(sh)}, element 0 has rank {len(first)}")
        for j, (dd, d0) in enumerate(zip(sh, first)):
            if (j == a and not new_axis) or dd == d0:
                continue
            ctx.require(
                eq(dd, d0),
                "GC004",
                f"ConcatFromSequence element {i} axis {j}",
                formula=lazy("{} must equal {} (element 0 on axis {})", dd, d0, j),
                fix="the elements must agree on every axis but the one joined",
            )
    if new_axis:
        return [Fact((*first[:a], const(len(s.items)), *first[a:]), s.items[0].dtype)]
    total = first[a]
    for sh in shapes[1:]:
        assert sh is not None
        total = total + sh[a]
    shape = (*first[:a], total, *first[a + 1 :])
    return [Fact(shape, s.items[0].dtype, _joined(s.items, a, shape))]


def _joined(items: Sequence[Fact], a: int, shape: tuple[Expr, ...]) -> tuple[Val, ...] | None:
    """The joined values of small known elements (a Reshape target built from a list)."""
    if small_numel(shape, _SMALL) is None:
        return None
    parts = []
    for f in items:
        cs = small_numel(f.shape or (), _SMALL) if f.shape is not None else None
        if f.value is None or cs is None or len(f.value) != numel(cs):
            return None
        parts.append((f.value, cs))
    return concat(parts, a)
