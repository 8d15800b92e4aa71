"""What the analysis knows about each tensor, and the conditions it collects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from graphcheck.model.ir import TensorData
from graphcheck.symbolic.cond import Cond
from graphcheck.symbolic.expr import Expr, const, product

Val = Expr | Fraction  # an element of a known small tensor: exact integer expression or exact rational


@dataclass(frozen=True, init=False)
class Fact:
    """A tensor's shape (None: rank unknown), element type and, for small tensors, its values.

    ``value`` is row-major and only present when the shape is fully constant. Integer
    tensors hold :class:`Expr` elements (so ``Shape`` of a dynamic input is ``(N, L, 1)``),
    float tensors hold exact :class:`Fraction` constants.

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

    def __init__(
        self,
        shape: tuple[Expr, ...] | None,
        dtype: int = 0,
        value: tuple[Val, ...] | None = None,
        bounds: tuple[Expr, Expr] | None = None,
        bounds_exact: bool = True,
        lanes: tuple[tuple[Expr, Expr, bool], ...] | None = None,
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
        """Values as integer expressions (floats that are whole numbers included)."""
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
            elif v.denominator == 1:
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
