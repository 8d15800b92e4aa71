"""Small helpers shared by the attention, loss, quantization, signal, random and text rules."""

from __future__ import annotations

from collections.abc import Sequence

from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._common import lazy  # noqa: F401  (re-exported)
from graphcheck.infer.registry import Invalid, OpContext, Unsupported
from graphcheck.symbolic.cond import any_of, eq, ge
from graphcheck.symbolic.expr import Expr, as_expr, const, floordiv, mod

INT64 = 7
INT32 = 6
UINT8 = 2
BOOL = 9
FLOAT = 1
STRING = 8


def require_eq(ctx: OpContext, a: Expr, b: Expr, code: str, what: str, fix: str = "") -> None:
    """``a == b`` (nothing recorded when they are the same expression)."""
    if a == b:
        return
    ctx.require(eq(a, b), code, what, formula=lazy("{} must equal {}", a, b), fix=fix)


def require_dims(
    ctx: OpContext,
    name: str,
    got: tuple[Expr, ...],
    want: Sequence[Expr | None],
    labels: Sequence[str] = (),
    code: str = "GC010",
    fix: str = "",
) -> None:
    """``got`` must be exactly ``want`` (rank, then every axis given; ``None`` matches any size)."""
    if len(got) != len(want):
        raise Invalid(f"{name} has rank {len(got)}, expected rank {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            continue
        label = labels[i] if i < len(labels) else f"axis {i}"
        require_eq(ctx, g, w, code, f"{name} {label} (axis {i})", fix)


def one_of(ctx: OpContext, d: Expr, options: Sequence[Expr], code: str, what: str, fix: str = "") -> None:
    """``d`` equals one of ``options``."""
    ctx.require(
        any_of(eq(d, o) for o in options),
        code,
        what,
        formula=lazy("{} must be {}", d, " or ".join(str(o) for o in options)),
        fix=fix,
    )


def divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def divide(ctx: OpContext, n: Expr, d: int, code: str, what: str, fix: str = "") -> Expr:
    """Require the constant ``d >= 1`` to divide ``n``; the exact quotient ``n / d``."""
    if d < 1:
        raise Invalid(f"{what}: the divisor {d} must be >= 1")
    ctx.require(eq(mod(n, d), 0), code, what, formula=lazy("{} must be a multiple of {}", n, d), fix=fix)
    return floordiv(n, d)


def require_divides(ctx: OpContext, n: Expr, d: Expr, code: str, what: str, fix: str = "") -> None:
    """Require ``d`` to divide ``n`` (sizes >= 1), exactly when either is a constant.

    With both symbolic, divisibility is not expressible in our conditions: the necessary
    ``n >= d`` is required, and the exact ``n = q*d`` carries a fresh unknown ``q``, so the
    condition stays undecidable (the report is then incomplete, never wrong).
    """
    if n == d or (not d.is_const and n.exact_div(d) is not None):
        return  # the same size, or a multiple of it by construction
    if d.is_const:
        divide(ctx, n, d.value, code, what, fix)
        return
    if n.is_const and abs(n.value) <= 4096:
        if n.value == 0:
            return
        ctx.require(
            any_of(eq(d, k) for k in divisors(abs(n.value))),
            code,
            what,
            formula=lazy("{} must divide {}", d, n),
            fix=fix,
        )
        return
    ctx.require(ge(n, d), code, what, formula=lazy("{} must be a multiple of {}", n, d), fix=fix)
    q = ctx.fresh("quotient")
    ctx.require(eq(n, q * d), code, what, formula=lazy("{} must be a multiple of {}", n, d), fix=fix)


def int_attr_required(ctx: OpContext, name: str) -> int:
    v = ctx.attr(name)
    if not isinstance(v, int) or isinstance(v, bool):
        raise Invalid(f"{ctx.node.op_type} needs the int attribute {name}")
    return v


def scalar_value(ctx: OpContext, i: int, what: str) -> Expr:
    """The single integer value of a scalar (or one-element) input."""
    vals = ctx.ints(i, what)
    if len(vals) != 1:
        raise Invalid(f"{what} (input {i}) must hold one value, got {len(vals)}")
    return vals[0]


def scalar_like(ctx: OpContext, i: int, what: str) -> None:
    """A scalar (rank 0) or one-element 1-D input."""
    if not ctx.has(i):
        return
    s = ctx.fact(i).shape
    if s is None:
        return
    if len(s) > 1:
        raise Invalid(f"{what} must be a scalar, got rank {len(s)}")
    if len(s) == 1:
        require_eq(ctx, s[0], const(1), "GC010", f"{what} size")


def same_shape(ctx: OpContext, a: tuple[Expr, ...], b: tuple[Expr, ...], name: str, code: str = "GC010") -> None:
    """``b`` must have exactly the shape ``a`` (no broadcasting)."""
    if len(a) != len(b):
        raise Invalid(f"{name} has rank {len(b)}, expected rank {len(a)} (no broadcasting)")
    for i, (x, y) in enumerate(zip(a, b)):
        require_eq(ctx, y, x, code, f"{name} axis {i} (no broadcasting)")


def dtype_or(ctx: OpContext, i: int, default: int) -> int:
    return ctx.fact(i).dtype if ctx.has(i) and ctx.fact(i).dtype else default


def fact(shape: Sequence[Expr | int], dtype: int) -> Fact:
    return Fact(tuple(as_expr(d) for d in shape), dtype)


def const_or_unsupported(e: Expr, what: str) -> int:
    if not e.is_const:
        raise Unsupported(f"{what} ({e}) depends on the input sizes")
    return e.value
