"""Boolean conditions over dimension expressions: ``e >= 0``, ``e == 0``, and/or."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import gcd

from graphcheck.symbolic.expr import Expr, ExprLike, Floor, MinMax, Sym, as_expr, floordiv

__all__ = ["Cond", "Ge", "Eq", "AnyOf", "AllOf", "TRUE", "FALSE", "ge", "eq", "any_of", "all_of", "negate", "implies"]


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
    with their linear terms reads factored (``(h - 1)*(w - 1) = 36``), a multiple as a residue
    (``x % 8 == 0`` for ``x = 8*floor(x / 8)``), where that is shorter."""
    plain = _rel_plain(e, op)
    best = plain
    for cand in (_factored(e, op), _residue(e, op)):
        if cand is not None and len(cand) < len(best):
            best = cand
    return best


def _residue(e: Expr, op: str) -> str | None:
    """``x - d*floor(x / d) = 0`` read as ``x % d == 0``."""
    if op != "=":
        return None
    for m, c in e.terms:
        if len(m) == 1 and isinstance(m[0], Floor) and c == -m[0].den:
            x = m[0].num
            if e - Expr({m: c}) == x:
                return f"{_paren(x)} % {m[0].den} == 0"
        if len(m) == 1 and isinstance(m[0], Floor) and c == m[0].den:
            x = m[0].num
            if e - Expr({m: c}) == -x:
                return f"{_paren(x)} % {m[0].den} == 0"
    return None


def _paren(x: Expr) -> str:
    text = str(x)
    return text if len(x.terms) == 1 and x.terms[0][1] > 0 else f"({text})"


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


def _size_factor(e: Expr) -> Expr | None:
    """An input size that multiplies every term of ``e`` (no constant term)."""
    common: set[Sym] | None = None
    for m, _ in e.terms:
        here = {a for a in m if isinstance(a, Sym) and not a.opaque}
        common = here if common is None else common & here
        if not common:
            return None
    if not common:
        return None
    return Expr({(min(common, key=lambda s: s.key),): 1})


def _ge0(e: Expr) -> Cond:
    if e.is_const:
        return TRUE if e.value >= 0 else FALSE
    g = _content(e)
    if g > 1:  # g*x + c >= 0  <=>  x + floor(c/g) >= 0
        e = floordiv(e, g)
    k = e.constant_term
    if k in (0, -1):  # s*y >= 1 <=> y >= 1 and s*y >= 0 <=> y >= 0, for a size s >= 1 and integer y
        s = _size_factor(e - k)
        if s is not None:
            y = (e - k).exact_div(s)
            if y is not None:
                return _ge0(y + k)
    return Ge(e)


def _pinned_minmax(e: Expr) -> Cond | None:
    """``min(args) = a`` (``a`` one of the args) is ``a <= every other arg``; likewise max."""
    for m, c in e.terms:
        if len(m) == 1 and isinstance(m[0], MinMax) and c in (1, -1):
            mm = m[0]
            other = (e - Expr({m: c})) * (-c)  # e = c*(M - other)
            if any(other == a for a in mm.args) and not any(mm in mmm for mmm, _ in other.terms):
                return all_of(ge(x - other) if not mm.is_max else ge(other - x) for x in mm.args if x != other)
    return None


def _eq0(e: Expr) -> Cond:
    if e.is_const:
        return TRUE if e.value == 0 else FALSE
    g = _content(e)
    if g > 1:
        if e.constant_term % g:
            return FALSE
        e = Expr({m: c // g for m, c in e.terms})
    pinned = _pinned_minmax(e)
    if pinned is not None:
        return pinned
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


def negate(c: Cond) -> Cond:
    """The condition holding exactly where ``c`` does not (over the integers)."""
    if isinstance(c, Const):
        return FALSE if c.truth else TRUE
    if isinstance(c, Ge):  # not (e >= 0)  <=>  -e - 1 >= 0
        return _ge0(-c.expr - 1)
    if isinstance(c, Eq):  # e != 0  <=>  e >= 1 or -e >= 1
        return any_of([_ge0(c.expr - 1), _ge0(-c.expr - 1)])
    if isinstance(c, AnyOf):
        return all_of(negate(x) for x in c.items)
    if isinstance(c, AllOf):
        return any_of(negate(x) for x in c.items)
    raise TypeError(f"cannot negate {type(c).__name__}")


def implies(p: Cond, c: Cond) -> Cond:
    """``p -> c``: ``c`` wherever ``p`` holds, anything elsewhere."""
    if p == TRUE:
        return c
    if p == FALSE or c == TRUE:
        return TRUE
    return any_of([negate(p), c])
