"""What the analysis knows about each tensor, and the conditions it collects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from graphcheck.model.ir import TensorData
from graphcheck.symbolic.cond import Cond
from graphcheck.symbolic.expr import Expr, const, product
from graphcheck.symbolic.floats import FloatRange, FloatSize

# an element of a known small tensor: an exact integer expression, an exact rational (a float
# constant), or a float computed from sizes (``fl(e * c)``) or known within an interval
Val = Expr | Fraction | FloatSize | FloatRange


@dataclass(frozen=True, init=False)
class Fact:
    """A tensor's shape (None: rank unknown), element type and, for small tensors, its values.

    ``value`` is row-major and only present when the shape is fully constant. Integer
    tensors hold :class:`Expr` elements (so ``Shape`` of a dynamic input is ``(N, L, 1)``),
    float tensors hold exact :class:`Fraction` constants and, computed from sizes,
    :class:`~graphcheck.symbolic.floats.FloatSize` elements (``Cast(L)`` is ``fl(L)``) or constants
    known within an interval (:class:`~graphcheck.symbolic.floats.FloatRange`).

    ``bounds`` is ``(lo, hi)``: every element of an integer tensor whose values are not kept
    (``Range(0, L)`` holds ``0 .. L - 1``) lies in ``[lo, hi]``. Gather checks its indices
    against them, which is how a learned position table caps a sequence length. ``lanes`` does
    the same per position of the last axis, for tensors of index tuples.
    """

    shape: tuple[Expr, ...] | None
    dtype: int = 0
    value: tuple[Val, ...] | None = None
    bounds: tuple[Expr, Expr] | None = None
    bounds_exact: bool = True  # both bounds attained (see graphcheck.infer.bounds)
    # bounds per position along the last axis, (lo, hi, attained) each: the components of index
    # tuples (GatherND, ScatterND), where one range for the whole tensor would mix the axes
    lanes: tuple[tuple[Expr, Expr, bool], ...] | None = None
    # a one-element boolean tensor whose value depends on the sizes: the condition under which it is
    # true (``Equal(Mod(L, 2), 0)`` is ``L % 2 == 0``); what an If on it branches on
    truth: Cond | None = None
    # a sequence value (SequenceConstruct, SplitToSequence): its elements, else None for a tensor
    seq: Seq | None = None

    def __init__(
        self,
        shape: tuple[Expr, ...] | None,
        dtype: int = 0,
        value: tuple[Val, ...] | None = None,
        bounds: tuple[Expr, Expr] | None = None,
        bounds_exact: bool = True,
        lanes: tuple[tuple[Expr, Expr, bool], ...] | None = None,
        truth: Cond | None = None,
        seq: Seq | None = None,
    ) -> None:
        # (the dataclass' own __init__ of a frozen class sets each field through object.__setattr__;
        # one is made per tensor of the graph, so the fields are written at once)
        d = self.__dict__
        d["shape"] = shape
        d["dtype"] = dtype
        d["value"] = value
        d["bounds"] = bounds
        d["bounds_exact"] = bounds_exact
        d["lanes"] = lanes
        d["truth"] = truth
        d["seq"] = seq

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def known(self) -> bool:
        return self.shape is not None

    def numel(self) -> Expr:
        assert self.shape is not None
        return product(self.shape)

    def const_shape(self) -> tuple[int, ...] | None:
        if self.shape is None or not all(d.is_const for d in self.shape):
            return None
        return tuple(d.value for d in self.shape)

    def int_values(self) -> tuple[Expr, ...] | None:
        """Values as integer expressions (float constants that are whole numbers included; not floats
        computed from sizes, which need the node reading them to say where they are exact)."""
        if self.value is None:
            return None
        got = self.__dict__.get("_ints", self)  # (remembered: axes and shape constants are read often)
        if got is not self:
            return got  # type: ignore[no-any-return]
        out = self._int_values()
        self.__dict__["_ints"] = out
        return out

    def _int_values(self) -> tuple[Expr, ...] | None:
        assert self.value is not None
        out: list[Expr] = []
        for v in self.value:
            if isinstance(v, Expr):
                out.append(v)
            elif isinstance(v, Fraction) and v.denominator == 1:
                out.append(const(int(v)))
            else:
                return None
        return tuple(out)

    def const_ints(self) -> tuple[int, ...] | None:
        got = self.__dict__.get("_consts", self)  # (remembered, as int_values)
        if got is not self:
            return got  # type: ignore[no-any-return]
        vals = self.int_values()
        out = None if vals is None or not all(v.is_const for v in vals) else tuple(v.value for v in vals)
        self.__dict__["_consts"] = out
        return out


@dataclass(frozen=True)
class Seq:
    """A sequence's elements: each one's fact when their number is known (``items``), or the fact
    every element has (``each``) and their number ``length``."""

    length: Expr
    items: tuple[Fact, ...] | None = None
    each: Fact | None = None

    def at(self, i: int) -> Fact | None:
        """Element ``i`` (negative counts from the end) when known."""
        if self.items is not None:
            n = len(self.items)
            return self.items[i] if -n <= i < n else None
        return self.each


UNKNOWN = Fact(None)


@dataclass(frozen=True)
class Requirement:
    """A condition the input sizes must meet, with where it comes from and how to explain it."""

    cond: Cond
    code: str
    node: str
    op: str
    order: int
    what: str
    formula_src: str | Callable[[], str] = ""  # text, or a function making it (formatting is done lazily)
    value: Expr | None = None  # the size whose ">= 1" this is, when it is one
    fix: str = ""
    # True: not a condition the model imposes but the sizes the analysis covers (GC110): outside
    # them the answer is unknown, not a failure
    covers: bool = False

    @property
    def formula(self) -> str:
        """The op's formula with the numbers filled in, e.g. ``floor((L - 6 - 3) / 2) + 1``."""
        f = self.formula_src
        return f if isinstance(f, str) else f()

    @property
    def decidable(self) -> bool:
        return not self.cond.has_opaque()


@dataclass(frozen=True)
class Note:
    """An incompleteness: where and why the analysis could not follow (GC1xx) or failed (GC9xx)."""

    code: str
    node: str
    op: str
    order: int
    message: str


def tensor_fact(t: TensorData) -> Fact:
    """The fact of a constant tensor. Facts are immutable, so equal constants (the many ``[0]``,
    ``1`` and ``-1`` of an exporter's Constant nodes) share one."""
    key = (t.elem_type, t.dims, t.values)
    try:
        hit = _TENSOR_FACTS.get(key)
    except TypeError:  # pragma: no cover - values are ints and floats, always hashable
        hit = None
    if hit is not None:
        return hit
    out = _tensor_fact(t)
    if t.values is None or len(t.values) <= 64:
        if len(_TENSOR_FACTS) >= _TENSOR_FACTS_LIMIT:
            _TENSOR_FACTS.clear()
        _TENSOR_FACTS[key] = out
    return out


_TENSOR_FACTS_LIMIT = 4096  # constants' facts remembered (memory only; emptied when full)
_TENSOR_FACTS: dict[tuple[int, tuple[int, ...], object], Fact] = {}


def _tensor_fact(t: TensorData) -> Fact:
    shape = tuple(const(d) for d in t.dims)
    values: tuple[Val, ...] | None = None
    if t.values is not None:
        if all(isinstance(v, int) for v in t.values):
            values = tuple(const(int(v)) for v in t.values)
        else:
            try:
                values = tuple(Fraction(v) for v in t.values)
            except (ValueError, OverflowError):  # nan / inf
                values = None
    return Fact(shape, t.elem_type, values)
