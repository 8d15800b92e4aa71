"""Boolean conditions over dimension expressions: ``e >= 0``, ``e == 0``, and/or."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import gcd

from graphcheck.symbolic.expr import Expr, ExprLike, Sym, as_expr, floordiv

__all__ = ["Cond", "Ge", "Eq", "AnyOf", "AllOf", "TRUE", "FALSE", "ge", "eq", "any_of", "all_of"]


class Cond:
    """Base class: a condition on the values of input symbols."""

    def symbols(self) -> frozenset[Sym]:
        raise NotImplementedError

    def holds(self, env: Mapping[Sym, int]) -> bool:
        raise NotImplementedError

    def subs(self, env: Mapping[Sym, ExprLike]) -> Cond:
        raise NotImplementedError

    def atoms(self) -> list[Cond]:
        return [self]

    def has_opaque(self) -> bool:
        return any(s.opaque for s in self.symbols())


@dataclass(frozen=True)
class Const(Cond):
    truth: bool

    def symbols(self) -> frozenset[Sym]:
        return frozenset()

    def holds(self, env: Mapping[Sym, int]) -> bool:
        return self.truth

    def subs(self, env: Mapping[Sym, ExprLike]) -> Cond:
        return self

    def __str__(self) -> str:
        return "true" if self.truth else "false"


TRUE = Const(True)
FALSE = Const(False)


@dataclass(frozen=True)
class Ge(Cond):
    """``expr >= 0``."""

    expr: Expr

    def symbols(self) -> frozenset[Sym]:
        return self.expr.symbols()

    def holds(self, env: Mapping[Sym, int]) -> bool:
        return self.expr.evaluate(env) >= 0

    def subs(self, env: Mapping[Sym, ExprLike]) -> Cond:
        return _ge0(self.expr.subs(env))

    def __str__(self) -> str:
        return _rel(self.expr, ">=")


@dataclass(frozen=True)
class Eq(Cond):
    """``expr == 0``."""

    expr: Expr

    def symbols(self) -> frozenset[Sym]:
        return self.expr.symbols()

    def holds(self, env: Mapping[Sym, int]) -> bool:
        return self.expr.evaluate(env) == 0

    def subs(self, env: Mapping[Sym, ExprLike]) -> Cond:
        return _eq0(self.expr.subs(env))

    def __str__(self) -> str:
        return _rel(self.expr, "=")


@dataclass(frozen=True)
class AnyOf(Cond):
    items: tuple[Cond, ...]

    def symbols(self) -> frozenset[Sym]:
        out: frozenset[Sym] = frozenset()
        for c in self.items:
            out |= c.symbols()
        return out

    def holds(self, env: Mapping[Sym, int]) -> bool:
        return any(c.holds(env) for c in self.items)

    def subs(self, env: Mapping[Sym, ExprLike]) -> Cond:
        return any_of(c.subs(env) for c in self.items)

    def __str__(self) -> str:
        return " or ".join(f"({c})" if isinstance(c, AllOf) else str(c) for c in self.items)


@dataclass(frozen=True)
class AllOf(Cond):
    items: tuple[Cond, ...]

    def symbols(self) -> frozenset[Sym]:
        out: frozenset[Sym] = frozenset()
        for c in self.items:
            out |= c.symbols()
        return out

    def holds(self, env: Mapping[Sym, int]) -> bool:
        return all(c.holds(env) for c in self.items)

    def subs(self, env: Mapping[Sym, ExprLike]) -> Cond:
        return all_of(c.subs(env) for c in self.items)

    def atoms(self) -> list[Cond]:
        return [a for c in self.items for a in c.atoms()]

    def __str__(self) -> str:
        return " and ".join(f"({c})" if isinstance(c, AnyOf) else str(c) for c in self.items)


def _rel(e: Expr, op: str) -> str:
    """Show ``e op 0`` as ``lhs op rhs`` with positive terms on the left; a product of two sizes
    with their linear terms reads factored (``(h - 1)*(w - 1) = 36``) where that is shorter."""
    plain = _rel_plain(e, op)
    fac = _factored(e, op)
    return fac if fac is not None and len(fac) < len(plain) else plain


def _factored(e: Expr, op: str) -> str | None:
    """``k*x*y + a*x + b*y + c`` with ``k | a, b``: ``k*(x + b/k)*(y + a/k) + c - a*b/k``."""
    quad = [(m, c) for m, c in e.terms if len(m) == 2]
    if len(quad) != 1 or any(len(m) > 2 for m, _ in e.terms):
        return None
    (m, k) = quad[0]
    x, y = m
    if x == y:
        return None
    a = b = 0
    for mm, c in e.terms:
        if mm == (x,):
            a = c
        elif mm == (y,):
            b = c
        elif len(mm) == 1:
            return None
    if a % k or b % k or (a == 0 and b == 0):
        return None
    fx = Expr({(x,): 1}) + b // k
    fy = Expr({(y,): 1}) + a // k
    rest = e.constant_term - a * b // k
    if k < 0:  # keep the product positive on the left
        k, rest = -k, -rest
        op = {">=": "<=", "=": "="}[op]
    lhs = f"({fx})*({fy})" if k == 1 else f"{k}*({fx})*({fy})"
    return f"{lhs} {op} {-rest}"


def _rel_plain(e: Expr, op: str) -> str:
    pos = Expr({m: c for m, c in e.terms if c > 0 and m})
    neg = Expr({m: -c for m, c in e.terms if c < 0 and m})
    k = e.constant_term
    if not pos.terms and neg.terms:
        pos, neg, k = neg, pos, -k
        op = {">=": "<=", "=": "="}[op]
    rhs = neg - k
    return f"{pos} {op} {rhs}"


def _content(e: Expr) -> int:
    g = 0
    for m, c in e.terms:
        if m:
            g = gcd(g, c)
    return g


def _ge0(e: Expr) -> Cond:
    if e.is_const:
        return TRUE if e.value >= 0 else FALSE
    g = _content(e)
    if g > 1:  # g*x + c >= 0  <=>  x + floor(c/g) >= 0
        e = floordiv(e, g)
    return Ge(e)


def _eq0(e: Expr) -> Cond:
    if e.is_const:
        return TRUE if e.value == 0 else FALSE
    g = _content(e)
    if g > 1:
        if e.constant_term % g:
            return FALSE
        e = Expr({m: c // g for m, c in e.terms})
    for m, c in e.terms:  # canonical sign: first non-constant coefficient positive
        if m:
            if c < 0:
                e = -e
            break
    return Eq(e)


def ge(a: ExprLike, b: ExprLike = 0) -> Cond:
    """``a >= b``."""
    return _ge0(as_expr(a) - as_expr(b))


def eq(a: ExprLike, b: ExprLike = 0) -> Cond:
    """``a == b``."""
    return _eq0(as_expr(a) - as_expr(b))


def any_of(items: Iterable[Cond]) -> Cond:
    out: list[Cond] = []
    for c in items:
        if c is TRUE or c == TRUE:
            return TRUE
        if c == FALSE:
            continue
        for x in c.items if isinstance(c, AnyOf) else (c,):
            if x not in out:
                out.append(x)
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else AnyOf(tuple(out))


def all_of(items: Iterable[Cond]) -> Cond:
    out: list[Cond] = []
    for c in items:
        if c == FALSE:
            return FALSE
        if c == TRUE:
            continue
        for x in c.items if isinstance(c, AllOf) else (c,):
            if x not in out:
                out.append(x)
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else AllOf(tuple(out))
