"""Exact symbolic integer expressions for tensor dimensions.

An :class:`Expr` is a polynomial with integer coefficients over *atoms*: symbols,
floor divisions of an expression by a positive integer constant, and min/max of
expressions. Ceil division and mod are written in terms of floor division, so
every expression has one canonical form and two equal expressions built by
different routes compare equal (``L - (L - 6) == 6``).

There are no floats anywhere: division is always ``floor``/``ceil`` by an integer
constant and evaluation uses Python's exact ``//`` on ints. ``str(e)`` prints the shortest
readable form (the printer is at the end of this module).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from math import gcd, lcm
from typing import Union

from graphcheck.errors import TooComplex

__all__ = [
    "Atom",
    "Sym",
    "Floor",
    "MinMax",
    "Expr",
    "ExprLike",
    "const",
    "sym",
    "as_expr",
    "floordiv",
    "ceildiv",
    "mod",
    "emin",
    "emax",
    "product",
    "indicator",
    "minmax_atoms",
]

ExprLike = Union["Expr", int]

# Budgets (README, "Budgets and bounds"). An expression past one of them is not built: the operation
# raises TooComplex, which the engine reports as an unknown (GC102) naming the node, never a guess.
# Real models stay far below them (the zoo, the fixtures and the benchmark models: at most 331 nodes,
# depth 12, degree 3, 128-bit coefficients); towers of Div or Mul in hostile files double at each level.
SIZE_LIMIT = 20_000  # nodes of an expression written out as a tree (terms, atoms, everything nested)
DEPTH_LIMIT = 48  # floors and min/max nested in one another (evaluated code nests two parentheses each)
DEGREE_LIMIT = 64  # atoms multiplied in one term
COEF_BITS = 1024  # bits of a coefficient (int64 sizes need 63; products of strides a few more)
_COEF_MAX = 1 << COEF_BITS


class Atom:
    """A non-polynomial building block of an expression."""

    __slots__ = ("_hash", "size", "depth")
    _hash: int
    size: int  # nodes of the atom written out as a tree
    depth: int  # floors and min/max nested (0 for a symbol)

    @property
    def key(self) -> tuple[object, ...]:
        """A total order on atoms (for canonical monomials and display)."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self) and self._hash == other._hash and self.key == other.key)

    def __hash__(self) -> int:
        return self._hash

    def __lt__(self, other: Atom) -> bool:
        return self.key < other.key

    def symbols(self) -> frozenset[Sym]:
        raise NotImplementedError

    def nondecreasing(self) -> bool:
        raise NotImplementedError

    def nonincreasing(self) -> bool:
        """True when the value never increases as any input symbol grows."""
        raise NotImplementedError

    def nonneg(self) -> bool:
        """True when the atom is >= 0 whenever every input symbol is >= 1."""
        raise NotImplementedError

    def code(self, names: Mapping[Sym, str]) -> str:
        raise NotImplementedError

    def subs(self, env: Mapping[Sym, Expr]) -> Expr:
        raise NotImplementedError


class Sym(Atom):
    """A symbolic dimension.

    ``kind`` is ``"input"`` for a dimension of a model input (the sizes a user chooses),
    ``"opaque"`` for a size the analysis cannot know from the input sizes (the output of an
    unsupported op, a data-dependent count). Opaque symbols keep the algebra consistent
    (``u - u == 0``) while marking every condition that mentions them as undecidable.
    """

    __slots__ = ("name", "kind", "origin", "_skey")

    def __init__(self, name: str, kind: str = "input", origin: str = "") -> None:
        self.name = name
        self.kind = kind
        self.origin = origin
        self._skey: tuple[object, ...] = (0, kind, name)
        self._hash = hash(self._skey)
        self.size = 1
        self.depth = 0

    @property
    def key(self) -> tuple[object, ...]:
        return self._skey

    @property
    def opaque(self) -> bool:
        return self.kind != "input"

    def symbols(self) -> frozenset[Sym]:
        return frozenset((self,))

    def nondecreasing(self) -> bool:
        return True

    def nonincreasing(self) -> bool:
        return False

    def nonneg(self) -> bool:
        return not self.opaque

    def code(self, names: Mapping[Sym, str]) -> str:
        return names[self]

    def subs(self, env: Mapping[Sym, Expr]) -> Expr:
        value = env.get(self)
        return value if value is not None else Expr._atom(self)

    def __repr__(self) -> str:
        return f"Sym({self.name!r})"

    def __str__(self) -> str:
        return self.name


class Floor(Atom):
    """``floor(num / den)`` for an integer constant ``den >= 2``."""

    __slots__ = ("num", "den", "_key")

    def __init__(self, num: Expr, den: int) -> None:
        self.num = num
        self.den = den
        self._key: tuple[object, ...] | None = None
        self._hash = hash((1, den, hash(num)))
        self.size = 1 + num.size
        self.depth = 1 + num.depth

    @property
    def key(self) -> tuple[object, ...]:
        if self._key is None:
            self._key = (1, self.den, self.num.key)
        return self._key

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, Floor) and self._hash == other._hash and self.den == other.den and self.num == other.num
        )

    __hash__ = Atom.__hash__

    def symbols(self) -> frozenset[Sym]:
        return self.num.symbols()

    def nondecreasing(self) -> bool:
        return self.num.nondecreasing()

    def nonincreasing(self) -> bool:
        return self.num.nonincreasing()

    def nonneg(self) -> bool:
        return self.num.nonneg()

    def code(self, names: Mapping[Sym, str]) -> str:
        return f"({self.num.code(names)}//{self.den})"  # the numerator's code is parenthesized

    def subs(self, env: Mapping[Sym, Expr]) -> Expr:
        return floordiv(self.num.subs(env), self.den)

    def __repr__(self) -> str:
        return f"Floor({self.num!r}, {self.den})"


class MinMax(Atom):
    """``min(args)`` or ``max(args)`` of two or more expressions (args in canonical order)."""

    __slots__ = ("is_max", "args", "_key")

    def __init__(self, is_max: bool, args: tuple[Expr, ...]) -> None:
        self.is_max = is_max
        self.args = args
        self._key: tuple[object, ...] | None = None
        self._hash = hash((2, is_max, args))
        self.size = 1 + sum(a.size for a in args)
        self.depth = 1 + max(a.depth for a in args)

    @property
    def key(self) -> tuple[object, ...]:
        if self._key is None:
            self._key = (2, self.is_max, tuple(a.key for a in self.args))
        return self._key

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, MinMax)
            and self._hash == other._hash
            and self.is_max == other.is_max
            and self.args == other.args
        )

    __hash__ = Atom.__hash__

    def symbols(self) -> frozenset[Sym]:
        out: frozenset[Sym] = frozenset()
        for a in self.args:
            out |= a.symbols()
        return out

    def nondecreasing(self) -> bool:
        return all(a.nondecreasing() for a in self.args)

    def nonincreasing(self) -> bool:
        return all(a.nonincreasing() for a in self.args)

    def nonneg(self) -> bool:
        test = all if not self.is_max else any
        return test(a.nonneg() for a in self.args)

    def code(self, names: Mapping[Sym, str]) -> str:
        fn = "max" if self.is_max else "min"
        return f"{fn}({', '.join(a.code(names) for a in self.args)})"

    def subs(self, env: Mapping[Sym, Expr]) -> Expr:
        args = [a.subs(env) for a in self.args]
        return emax(*args) if self.is_max else emin(*args)

    def __repr__(self) -> str:
        return f"{'Max' if self.is_max else 'Min'}{self.args!r}"


Mono = tuple[Atom, ...]  # sorted atoms, repeated for powers; () is the constant monomial


def _mono_key(m: Mono) -> tuple[object, ...]:
    return tuple(a.key for a in m)


def _mono_mul(a: Mono, b: Mono) -> Mono:
    if not a:
        return b
    if not b:
        return a
    return tuple(sorted(a + b, key=lambda x: x.key))


def quasi_linear(e: Expr) -> tuple[Fraction, int] | None:
    """For an expression of degree 1 in its symbol: ``(slope, P)`` with ``e(s + P) = e(s) + slope*P``.

    A floor of such an expression repeats as soon as ``slope*P/den`` is an integer, which is
    usually far sooner than the product of all nested divisors (stride-2 chains halve the slope).
    """
    slope = Fraction(0)
    period = 1
    for m, c in e.terms:
        if not m:
            continue
        if len(m) != 1:
            return None
        a = m[0]
        if isinstance(a, Sym):
            slope += c
        elif isinstance(a, Floor):
            inner = quasi_linear(a.num)
            if inner is None:
                return None
            sl, p = inner
            num, den = sl.numerator, sl.denominator
            need = (den * a.den) // gcd(num, den * a.den) if num else 1
            p = lcm(p, need)
            period = lcm(period, p)
            slope += c * sl / a.den
        else:
            return None
    return slope, period


_MONOTONE_PERIOD = 4096  # the longest period whose differences are checked one by one


def _monotone_by_period(e: Expr, up: bool) -> bool:
    """Exact for one input size and floors of linear forms: ``e(s + P) = e(s) + slope*P``, so the
    difference ``e(s + 1) - e(s)`` repeats with period ``P``; one period of it decides
    (``L - floor((L + 1)/2)`` is nondecreasing though a term is not)."""
    syms = e.symbols()
    if len(syms) != 1 or next(iter(syms)).opaque:
        return False
    q = quasi_linear(e)
    if q is None or q[1] > _MONOTONE_PERIOD:
        return False
    slope, period = q
    if (slope < 0) if up else (slope > 0):
        return False
    (s,) = syms
    _, fn = e.compiled()
    prev = fn(1)
    for x in range(2, period + 2):
        cur = fn(x)
        if (cur < prev) if up else (cur > prev):
            return False
        prev = cur
    return True


_DIV_STEPS = 256  # steps of a polynomial long division beyond twice the dividend's terms


def _graded(m: Mono) -> tuple[int, tuple[tuple[object, ...], ...]]:
    """A monomial order: degree first, then the atoms compared from the largest."""
    return len(m), tuple(sorted((a.key for a in m), reverse=True))


def _positive_atom(a: Atom) -> bool:
    """An atom >= 1 for every assignment of symbols >= 1: a size, or a max of which one argument is
    (``max(P, T)``), or a min of which every argument is."""
    if isinstance(a, Sym):
        return not a.opaque
    if isinstance(a, MinMax):
        args = [x.positive_trivially() for x in a.args]
        return any(args) if a.is_max else all(args)
    return False


class Expr:
    """An immutable canonical integer polynomial over atoms.

    Internally a dict from monomial to non-zero coefficient; the sorted view (``terms``) and
    the sort key (``key``) are computed only when needed (display, canonical ordering).
    """

    __slots__ = ("_d", "_terms", "_key", "_hash", "_syms", "_fn", "_names", "_str", "_mm", "_dir", "_size", "_opq")

    def __init__(self, terms: dict[Mono, int], _clean: bool = False) -> None:
        self._d = terms if _clean else {m: c for m, c in terms.items() if c != 0}
        self._mm: bool | None = None
        self._dir: tuple[bool, bool] | None = None
        self._terms: tuple[tuple[Mono, int], ...] | None = None
        self._key: tuple[object, ...] | None = None
        self._hash: int | None = None
        self._syms: frozenset[Sym] | None = None
        self._fn: Callable[..., int] | None = None
        self._names: tuple[Sym, ...] = ()
        self._str: str | None = None
        self._size: tuple[int, int] | None = None
        self._opq: bool | None = None

    @property
    def terms(self) -> tuple[tuple[Mono, int], ...]:
        """(monomial, coefficient) pairs in canonical order."""
        if self._terms is None:
            items = list(self._d.items())
            if len(items) > 1:
                items.sort(key=lambda mc: _mono_key(mc[0]))
            self._terms = tuple(items)
        return self._terms

    @property
    def key(self) -> tuple[object, ...]:
        if self._key is None:
            self._key = tuple((_mono_key(m), c) for m, c in self.terms)
        return self._key

    # -- construction -------------------------------------------------
    @staticmethod
    def _atom(a: Atom) -> Expr:
        return Expr({(a,): 1}, True)

    def _dict(self) -> dict[Mono, int]:
        return dict(self._d)

    # -- queries -------------------------------------------------------
    @property
    def is_const(self) -> bool:
        d = self._d
        return not d or (len(d) == 1 and () in d)

    @property
    def value(self) -> int:
        """The integer value of a constant expression."""
        d = self._d
        if not d:
            return 0
        if len(d) == 1 and () in d:
            return d[()]
        raise ValueError(f"{self} is not a constant")

    def const_value(self) -> int | None:
        return self.value if self.is_const else None

    @property
    def constant_term(self) -> int:
        return self._d.get((), 0)

    def symbols(self) -> frozenset[Sym]:
        if self._syms is None:
            out: frozenset[Sym] = frozenset()
            for m in self._d:
                for a in m:
                    out |= a.symbols()
            self._syms = out
        return self._syms

    def has_minmax(self) -> bool:
        """A min/max appears somewhere in the expression (inside floors too)."""
        if self._mm is None:
            self._mm = any(
                isinstance(a, MinMax) or (isinstance(a, Floor) and a.num.has_minmax()) for m in self._d for a in m
            )
        return self._mm

    def input_symbols(self) -> frozenset[Sym]:
        return frozenset(s for s in self.symbols() if not s.opaque)

    def has_opaque(self) -> bool:
        if self._opq is None:
            self._opq = any(s.opaque for s in self.symbols())
        return self._opq

    def atoms(self) -> set[Atom]:
        out: set[Atom] = set()
        for m in self._d:
            out.update(m)
        return out

    def degree(self) -> int:
        return max((len(m) for m in self._d), default=0)

    def _measure(self) -> tuple[int, int]:
        if self._size is None:
            size = depth = 0
            for m in self._d:
                size += 1
                for a in m:
                    size += a.size
                    if a.depth > depth:
                        depth = a.depth
            self._size = (size, depth)
        return self._size

    @property
    def size(self) -> int:
        """Nodes of the expression written out as a tree (each term, each atom, all nested): what
        printing and evaluating it cost. Shared sub-expressions count each time they appear."""
        return self._measure()[0]

    @property
    def depth(self) -> int:
        """Floors and min/max nested in one another (0 for a polynomial in symbols)."""
        return self._measure()[1]

    def nondecreasing(self) -> bool:
        """True when the value never decreases as any input symbol grows (symbols are >= 1), by
        inspection: each term a non-negative multiple of a nondecreasing atom or product of
        non-negative ones, or a negative multiple of a nonincreasing atom (``-floor(-L/2)``)."""
        if self._dir is None:
            self._dir = (self._monotone(True), self._monotone(False))
        return self._dir[0]

    def nonincreasing(self) -> bool:
        if self._dir is None:
            self._dir = (self._monotone(True), self._monotone(False))
        return self._dir[1]

    def _monotone(self, up: bool) -> bool:
        return self._termwise(up) or _monotone_by_period(self, up)

    def _termwise(self, up: bool) -> bool:
        for m, c in self._d.items():
            if not m:
                continue
            rising = (c > 0) == up  # this term must not decrease (up) / increase (down)
            if len(m) == 1:
                a = m[0]
                if not (a.nondecreasing() if rising else a.nonincreasing()):
                    return False
                continue
            if not rising or not all(a.nonneg() and a.nondecreasing() for a in m):
                return False
        return True

    def nonneg(self) -> bool:
        """True when the value is >= 0 whenever every input symbol is >= 1, by inspection."""
        for m, c in self._d.items():
            if not m:
                if c < 0:
                    return False
            elif c < 0 or not all(a.nonneg() for a in m):
                return False
        return True

    def as_linear(self, s: Sym) -> tuple[int, int] | None:
        """``(a, b)`` when the expression is exactly ``a*s + b``."""
        a = b = 0
        for m, c in self._d.items():
            if not m:
                b = c
            elif len(m) == 1 and m[0] == s:
                a = c
            else:
                return None
        return a, b

    def as_sym(self) -> Sym | None:
        d = self._d
        if len(d) == 1:
            for m, c in d.items():
                if c == 1 and len(m) == 1 and isinstance(m[0], Sym):
                    return m[0]
        return None

    def positive_trivially(self) -> bool:
        """True when the expression is >= 1 for every assignment of symbols >= 1, by inspection."""
        total = 0
        for m, c in self._d.items():
            if m and (c < 0 or not all(_positive_atom(a) for a in m)):
                return False
            total += c
        return total >= 1

    # -- arithmetic ----------------------------------------------------
    def __add__(self, other: ExprLike) -> Expr:
        if isinstance(other, int):
            if other == 0:
                return self
            d = dict(self._d)
            v = d.get((), 0) + other
            if v:
                if not -_COEF_MAX < v < _COEF_MAX:
                    _coef_check({(): v})
                d[()] = v
            else:
                del d[()]
            return Expr(d, True)
        if not other._d:
            return self
        if not self._d:
            return other
        d = dict(self._d)
        for m, c in other._d.items():
            v = d.get(m, 0) + c
            if v:
                if not -_COEF_MAX < v < _COEF_MAX:
                    _coef_check(d)
                d[m] = v
            else:
                del d[m]
        return Expr(d, True)

    __radd__ = __add__

    def __neg__(self) -> Expr:
        return Expr({m: -c for m, c in self._d.items()}, True)

    def __sub__(self, other: ExprLike) -> Expr:
        if isinstance(other, int):
            return self + (-other)
        if not other._d:
            return self
        d = dict(self._d)
        for m, c in other._d.items():
            v = d.get(m, 0) - c
            if v:
                if not -_COEF_MAX < v < _COEF_MAX:
                    _coef_check({m: v})
                d[m] = v
            else:
                del d[m]
        return Expr(d, True)

    def __rsub__(self, other: ExprLike) -> Expr:
        return as_expr(other) - self

    def __mul__(self, other: ExprLike) -> Expr:
        if isinstance(other, int):
            if other == 0:
                return ZERO
            if other == 1:
                return self
            d = {m: c * other for m, c in self._d.items()}
            _coef_check(d)
            return Expr(d, True)
        o = other
        if o.is_const:
            return self * o.value
        if self.is_const:
            return o * self.value
        if len(self._d) * len(o._d) > SIZE_LIMIT:
            raise TooComplex(f"a product of {len(self._d)} by {len(o._d)} terms, past the budget of {SIZE_LIMIT}")
        if len(self._d) == 1 == len(o._d):  # two monomials (most products of sizes): one term out
            ((m1, c1),) = self._d.items()
            ((m2, c2),) = o._d.items()
            if len(m1) + len(m2) > DEGREE_LIMIT:
                raise TooComplex(f"a product of degree {len(m1) + len(m2)}, past the budget of {DEGREE_LIMIT}")
            one = {_mono_mul(m1, m2): c1 * c2}
            _coef_check(one)
            return Expr(one, True)
        if self.degree() + o.degree() > DEGREE_LIMIT:
            raise TooComplex(f"a product of degree {self.degree() + o.degree()}, past the budget of {DEGREE_LIMIT}")
        d = {}
        for m1, c1 in self._d.items():
            for m2, c2 in o._d.items():
                m = _mono_mul(m1, m2)
                d[m] = d.get(m, 0) + c1 * c2
        _coef_check(d)
        return Expr(d)

    __rmul__ = __mul__

    def exact_div(self, other: ExprLike) -> Expr | None:
        """The quotient when ``other`` divides this polynomial exactly (monomial divisors), else None."""
        o = as_expr(other)
        if o.is_const:
            k = o.value
            if k == 0:
                return None
            if all(c % k == 0 for _, c in self.terms):
                return Expr({m: c // k for m, c in self.terms})
            return None
        if len(o.terms) != 1:
            if o == self:
                return ONE
            return self._long_div(o)
        dm, dc = o.terms[0]
        out: dict[Mono, int] = {}
        for m, c in self.terms:
            rest = list(m)
            for a in dm:
                if a in rest:
                    rest.remove(a)
                else:
                    return None
            if c % dc:
                return None
            out[tuple(rest)] = c // dc
        return Expr(out)

    def _long_div(self, o: Expr) -> Expr | None:
        """The quotient when ``o`` divides this polynomial exactly, by long division with atoms as
        variables (``(32*f + 32) / (f + 1) = 32`` for any atom ``f``); None when there is a remainder.
        Terms are taken in a graded order (degree, then the atoms from the largest), which
        multiplication preserves, so each step removes the remainder's leading term; the number of
        steps is bounded (``_DIV_STEPS``), past which the answer is None (not an exact quotient)."""
        lead_m, lead_c = max(o._d.items(), key=lambda mc: _graded(mc[0]))
        rem = dict(self._d)
        quot: dict[Mono, int] = {}
        for _ in range(_DIV_STEPS + 2 * len(rem)):
            if not rem:
                q = Expr(quot)
                return q if q * o == self else None
            m, c = max(rem.items(), key=lambda mc: _graded(mc[0]))
            rest = list(m)
            for a in lead_m:
                if a in rest:
                    rest.remove(a)
                else:
                    return None
            if c % lead_c:
                return None
            qm, qc = tuple(rest), c // lead_c
            quot[qm] = quot.get(qm, 0) + qc
            for dm, dc in o._d.items():
                pm = _mono_mul(qm, dm)
                v = rem.get(pm, 0) - qc * dc
                if v:
                    rem[pm] = v
                else:
                    rem.pop(pm, None)
        return None

    # -- comparison / hashing -----------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return self.is_const and self.value == other
        if not isinstance(other, Expr):
            return False
        if self is other:
            return True
        if self._hash is not None and other._hash is not None and self._hash != other._hash:
            return False
        return self._d == other._d

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._d.items()))
        return self._hash

    # -- substitution / evaluation ------------------------------------
    def subs(self, env: Mapping[Sym, ExprLike]) -> Expr:
        if not env:
            return self
        envx = {k: as_expr(v) for k, v in env.items()}
        if not (self.symbols() & envx.keys()):
            return self
        out = ZERO
        for m, c in self.terms:
            t = as_expr(c)
            for a in m:
                t = t * a.subs(envx)
            out = out + t
        return out

    def code(self, names: Mapping[Sym, str]) -> str:
        parts = []
        for m, c in self.terms:
            if not m:
                parts.append(str(c))
            else:
                parts.append("*".join([str(c)] + [a.code(names) for a in m]))
        if len(parts) > 64:  # a flat call, not a chain of + that Python's compiler recurses into
            return "sum((" + ", ".join(parts) + "))"
        return "(" + " + ".join(parts) + ")" if parts else "(0)"

    def compiled(self) -> tuple[tuple[Sym, ...], Callable[..., int]]:
        """A fast evaluator taking the values of :meth:`symbols` in the returned order (equal
        expressions share one: a 100,000-node graph repeats the same few sizes)."""
        if self._fn is None:
            hit = _COMPILED.get(self)
            if hit is not None:
                self._names, self._fn = hit
                return hit
            syms = tuple(sorted(self.symbols(), key=lambda s: s.key))
            names = {s: f"v{i}" for i, s in enumerate(syms)}
            src = f"lambda {', '.join(names[s] for s in syms)}: {self.code(names)}"
            try:
                self._fn = eval(src, {"min": min, "max": max, "sum": sum})  # noqa: S307 - from our own AST
            except (RecursionError, SyntaxError, MemoryError) as exc:  # past what the budgets allow
                raise TooComplex(f"an expression of {self.size} nodes that Python cannot compile ({exc})") from None
            self._names = syms
            if len(_COMPILED) >= _COMPILED_LIMIT or _COMPILED_HELD[0] > _COMPILED_NODES:
                _COMPILED.clear()
                _COMPILED_HELD[0] = 0
            _COMPILED[self] = (syms, self._fn)
            _COMPILED_HELD[0] += self.size
        return self._names, self._fn

    def evaluate(self, env: Mapping[Sym, int]) -> int:
        d = self._d
        if len(d) <= 1 and (not d or () in d):
            return d.get((), 0)  # a constant: nothing to compile
        syms, fn = self.compiled()
        return fn(*[env[s] for s in syms])

    def __call__(self, env: Mapping[Sym, int]) -> int:
        return self.evaluate(env)

    # -- display -------------------------------------------------------
    def __repr__(self) -> str:
        return f"Expr({self})"

    def __str__(self) -> str:
        if self._str is None:
            self._str = format_expr(self)
        return self._str


_COMPILED: dict[Expr, tuple[tuple[Sym, ...], Callable[..., int]]] = {}  # evaluators of recent expressions
_COMPILED_LIMIT = 1 << 14
# nodes of the expressions whose evaluators are kept, all together: a large expression's code is
# large (a fuzz worker's memory grew to 600 MB over 10,000 inputs with the count bound alone)
_COMPILED_NODES = 1 << 18
_COMPILED_HELD = [0]


def _coef_check(d: Mapping[Mono, int]) -> None:
    for v in d.values():
        if v >= _COEF_MAX or v <= -_COEF_MAX:
            raise TooComplex(f"a coefficient of {v.bit_length()} bits, past the budget of {COEF_BITS}")


def _budget(e: Expr, what: str) -> None:
    """Raise TooComplex when ``e`` is too large to be nested in a floor (``what``)."""
    size, depth = e._measure()
    if size > SIZE_LIMIT:
        raise TooComplex(f"{what} of an expression of {size} nodes, past the budget of {SIZE_LIMIT}")
    if depth >= DEPTH_LIMIT:
        raise TooComplex(f"{what} nested {depth + 1} deep, past the budget of {DEPTH_LIMIT}")


ZERO = Expr({}, True)
ONE = Expr({(): 1}, True)
_SMALL = {i: Expr({(): i}, True) if i else ZERO for i in range(-4, 257)}


def const(v: int) -> Expr:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"dimension constants are integers, got {v!r}")
    e = _SMALL.get(v)
    return e if e is not None else Expr({(): v}, True)


def sym(name: str, kind: str = "input", origin: str = "") -> Expr:
    return Expr._atom(Sym(name, kind, origin))


def as_expr(v: ExprLike) -> Expr:
    if isinstance(v, Expr):
        return v
    return const(v)


def floordiv(e: ExprLike, d: int) -> Expr:
    """``floor(e / d)`` for an integer constant ``d != 0``, simplified to canonical form."""
    e = as_expr(e)
    if not isinstance(d, int) or d == 0:
        raise ValueError(f"floor division needs a non-zero integer constant, got {d!r}")
    if d < 0:
        return floordiv(-e, -d)
    if d == 1:
        return e
    if e.is_const:
        return const(e.value // d)
    # Move out every multiple of d: floor((d*q + r)/d) = q + floor(r/d) for integer-valued q.
    quot: dict[Mono, int] = {}
    rem: dict[Mono, int] = {}
    for m, c in e._d.items():
        q, r = divmod(c, d)
        if q:
            quot[m] = q
        if r:
            rem[m] = r
    outside = Expr(quot, True)
    if not rem:
        return outside
    r_expr = Expr(rem, True)
    if r_expr.is_const:  # 0 <= r < d
        return outside
    # Common factor: floor(g*x / (g*d')) = floor(x / d').
    g = d
    for c in rem.values():
        g = gcd(g, c)
        if g == 1:
            break
    if g > 1:
        return outside + floordiv(Expr({m: c // g for m, c in rem.items()}), d // g)
    # Nested floor with coefficient 1: floor((floor(x/a) + y)/d) = floor((x + a*y)/(a*d)).
    for m, c in rem.items():
        if c == 1 and len(m) == 1 and isinstance(m[0], Floor):
            inner = m[0]
            rest = {mm: cc for mm, cc in rem.items() if mm != m}
            merged = inner.num + Expr(rest) * inner.den
            return outside + floordiv(merged, inner.den * d)
    _budget(r_expr, "a floor")
    return outside + Expr._atom(Floor(r_expr, d))


def ceildiv(e: ExprLike, d: int) -> Expr:
    """``ceil(e / d)`` = ``-floor(-e / d)``."""
    return -floordiv(-as_expr(e), d)


def mod(e: ExprLike, d: int) -> Expr:
    """``e mod d`` with the sign of ``d`` (Python semantics): ``e - d*floor(e/d)``."""
    e = as_expr(e)
    return e - floordiv(e, d) * d


def _minmax(is_max: bool, args: Iterable[ExprLike]) -> Expr:
    flat: list[Expr] = []
    for a in args:
        x = as_expr(a)
        if len(x.terms) == 1 and x.terms[0][1] == 1 and len(x.terms[0][0]) == 1:
            at = x.terms[0][0][0]
            if isinstance(at, MinMax) and at.is_max == is_max:
                flat.extend(at.args)
                continue
        flat.append(x)
    # Drop duplicates and arguments dominated by a constant difference.
    kept: list[Expr] = []
    for x in flat:
        dominated = False
        for i, y in enumerate(kept):
            diff = x - y
            if diff.is_const:
                better = diff.value > 0 if is_max else diff.value < 0
                if better:
                    kept[i] = x
                dominated = True
                break
        if not dominated:
            kept.append(x)
    # max(a, min(a, b)) = a and min(a, max(a, b)) = a: drop an argument that can never win.
    if len(kept) > 1:
        inner: list[Expr] = []
        for x in kept:
            mm = _single_minmax(x)
            if mm is not None and mm.is_max != is_max and any(y in mm.args for y in kept if y is not x):
                continue
            inner.append(x)
        kept = inner
    consts = [k for k in kept if k.is_const]
    if len(consts) > 1:
        best = max(consts, key=lambda k: k.value) if is_max else min(consts, key=lambda k: k.value)
        kept = [k for k in kept if not k.is_const] + [best]
    if len(kept) == 1:
        return kept[0]
    if not kept:
        raise ValueError("min/max of nothing")
    size, depth = sum(k.size for k in kept), max(k.depth for k in kept)
    if size > SIZE_LIMIT:
        raise TooComplex(f"a min/max of expressions of {size} nodes, past the budget of {SIZE_LIMIT}")
    if depth >= DEPTH_LIMIT:
        raise TooComplex(f"a min/max nested {depth + 1} deep, past the budget of {DEPTH_LIMIT}")
    kept.sort(key=lambda k: k.key)
    return Expr._atom(MinMax(is_max, tuple(kept)))


def _single_minmax(x: Expr) -> MinMax | None:
    if len(x._d) == 1:
        for m, c in x._d.items():
            if c == 1 and len(m) == 1 and isinstance(m[0], MinMax):
                return m[0]
    return None


def emin(*args: ExprLike) -> Expr:
    return _minmax(False, args)


def emax(*args: ExprLike) -> Expr:
    return _minmax(True, args)


def indicator(x: Expr, lo: int, hi: int | None) -> Expr:
    """1 where ``lo <= x <= hi`` (``hi`` None: no upper end), else 0, for integer ``x``:
    ``min(1, max(0, x - lo + 1)) * min(1, max(0, hi - x + 1))``."""
    out = emin(1, emax(0, x - lo + 1))
    if hi is not None:
        out = out * emin(1, emax(0, hi - x + 1))
    return out


def minmax_atoms(e: Expr) -> list[MinMax]:
    """Every min/max atom in ``e``, floors' numerators and min/max arguments included."""
    out: list[MinMax] = []
    stack: list[Atom] = [a for m in e._d for a in m]
    while stack:
        a = stack.pop()
        if isinstance(a, MinMax):
            out.append(a)
            stack.extend(y for x in a.args for m in x._d for y in m)
        elif isinstance(a, Floor):
            stack.extend(y for m in a.num._d for y in m)
    return out


def product(items: Iterable[ExprLike]) -> Expr:
    k = 1  # the constant factors, multiplied as integers (most sizes in a shape are constants)
    out: Expr | None = None
    for x in items:
        e = as_expr(x)
        d = e._d
        if not d:
            k = 0
        elif len(d) == 1 and () in d:
            k *= d[()]
        else:
            out = e if out is None else out * e
    return (ONE if out is None else out) * k


def _own(m: Mono, s: Sym) -> tuple[Mono, Mono] | None:
    """The atoms of ``m`` that depend on ``s`` alone, and the rest; None when an atom mixes sizes."""
    mine: list[object] = []
    rest: list[object] = []
    for a in m:
        syms = a.symbols()
        if len(syms) > 1:
            return None
        (mine if s in syms else rest).append(a)
    return tuple(mine), tuple(rest)  # type: ignore[arg-type]


def _primitive(p: Expr) -> Expr:
    g = 0
    for _, c in p.terms:
        g = gcd(g, c)
    lead = next((c for m, c in p.terms if m), 1)
    if lead < 0:
        g = -g
    return p.exact_div(g) or p if g not in (0, 1) else p


def separate_factors(e: Expr) -> tuple[int, list[Expr]] | None:
    """``(c, [f1, f2, ...])`` with ``e == c * f1 * f2 * ...``, each ``fi`` depending on one size,
    when ``e`` (with no constant term) is such a product of at least two factors; else None.

    For each size in turn, the part of the polynomial that size contributes to one term (its
    coefficient polynomial there) is tried as a factor by exact long division: one division per
    size, each bounded by :meth:`Expr.exact_div`'s own step budget."""
    syms = sorted(e.symbols(), key=lambda s: s.key)
    if len(syms) < 2 or e.constant_term:
        return None
    factors: list[Expr] = []
    rest = e
    for s in syms:
        if s not in rest.symbols():
            continue
        split = [_own(m, s) for m, _ in rest.terms]
        if any(x is None for x in split):
            return None
        first_rest = split[0][1]  # type: ignore[index]
        part: dict[Mono, int] = {}
        for (_, c), sp in zip(rest.terms, split):
            assert sp is not None
            if sp[1] == first_rest:
                part[sp[0]] = part.get(sp[0], 0) + c
        p = _primitive(Expr(part))
        if p.is_const or s not in p.symbols() or len(p.symbols()) != 1:
            return None
        q = rest.exact_div(p)
        if q is None:
            return None
        factors.append(p)
        rest = q
    if not rest.is_const or len(factors) < 2:
        return None
    return rest.value, factors


# -- how expressions are printed ------------------------------------------------------------


def _leading_negative(e: Expr) -> bool:
    for m, c in e.terms:
        if m:
            return c < 0
    return e.constant_term < 0


def _atom_str(a: Atom, neg_floor: bool = False) -> str:
    if isinstance(a, Sym):
        return a.name
    if isinstance(a, Floor):
        if neg_floor:
            return f"ceil({_paren_num(-a.num)} / {a.den})"
        return f"floor({_paren_num(a.num)} / {a.den})"
    if isinstance(a, MinMax):
        fn = "max" if a.is_max else "min"
        return f"{fn}({', '.join(format_expr(x) for x in a.args)})"
    return repr(a)  # pragma: no cover


def _paren_num(e: Expr) -> str:
    s = format_expr(e)
    return s if len(e.terms) == 1 and e.terms[0][1] > 0 else f"({s})"


def _mono_str(m: Mono, neg_floor: bool) -> str:
    parts: list[str] = []
    i = 0
    while i < len(m):
        a = m[i]
        j = i
        while j < len(m) and m[j] == a:
            j += 1
        s = _atom_str(a, neg_floor and len(m) == 1)
        if len(m) > 1 and isinstance(a, Floor | MinMax):
            s = s  # function-call syntax needs no parentheses
        parts.append(s if j - i == 1 else f"{s}^{j - i}")
        i = j
    return "*".join(parts)


def format_expr(e: Expr) -> str:
    """Render ``e``; a lone floor plus simple terms is shown folded (``floor((L - 7) / 2)``)."""
    raw = _format_terms(e)
    best = raw
    for cand in (_folded(e), _merged(e), _factored(e), _common(e)):
        if cand is not None and len(cand) < len(best):
            best = cand
    return best


def _bare(text: str) -> bool:
    """No sum or difference outside parentheses: safe as a factor without them."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch in "+-" and i > 0 and text[i - 1] == " ":
            return False
    return True


def _as_factor(text: str) -> str:
    return text if _bare(text) else f"({text})"


def _common(e: Expr) -> str | None:
    """A common integer factor taken out: ``4*floor((H + 12) / 16)`` for
    ``4*floor(H / 4) - 4*floor(3*floor(H / 4) / 4)``."""
    g = 0
    for _, c in e.terms:
        g = gcd(g, c)
    if g <= 1 or len(e.terms) < 2:
        return None
    inner = e.exact_div(g)
    return None if inner is None else f"{g}*{_as_factor(format_expr(inner))}"


def _factored(e: Expr) -> str | None:
    """A product of one-size factors shown as one (Swin's window count
    ``B*floor((H + 12) / 16)*floor((W + 12) / 16)``, expanded a page long), plus its constant."""
    if len(e.terms) < 3 or len(e.symbols()) < 2:
        return None
    k = e.constant_term
    sep = separate_factors(e - k)
    if sep is None:
        return None
    c, factors = sep
    parts = []
    for f in factors:  # each factor the shorter way round (its sign moved into the constant)
        plain, turned = format_expr(f), format_expr(-f)
        if len(turned) < len(plain) or (len(turned) == len(plain) and _leading_negative(f)):
            plain, c = turned, -c
        parts.append(_as_factor(plain))
    text = "*".join(([str(abs(c))] if abs(c) != 1 else []) + parts)
    if c < 0:
        text = "-" + text
    if k:
        text += f" + {k}" if k > 0 else f" - {-k}"
    return text


def _merged(e: Expr) -> str | None:
    """The shortest single floor equal to ``e``, folding its other (integer-valued) terms into one of
    its floors: ``x + floor(u/d) = floor((u + d*x)/d)`` and ``x - floor(u/d) = floor((d*x - u + d - 1)/d)``.
    Canonical forms keep floors' numerators with positive remainders, so ``a - floor((3a + 1)/4)``
    stays as it is; shown merged it reads ``floor((a + 2)/4)`` (and nested floors then merge too)."""
    best: str | None = None
    for m, c in e.terms:
        if len(m) != 1 or abs(c) != 1 or not isinstance(m[0], Floor):
            continue
        fl = m[0]
        rest = Expr({mm: cc for mm, cc in e.terms if mm != m})
        if rest.is_const:
            continue  # floor(x/2) + 1 reads better as it is
        num = fl.num + rest * fl.den if c == 1 else rest * fl.den - fl.num + (fl.den - 1)
        cand = floordiv(num, fl.den)
        if len(cand.terms) > 2:
            continue
        text = _format_terms(cand)
        if best is None or len(text) < len(best):
            best = text
    return best


def _folded(e: Expr) -> str | None:
    floors = [(m, c) for m, c in e.terms if any(isinstance(a, (Floor, MinMax)) for a in m)]
    if len(floors) != 1:
        return None
    (m, c) = floors[0]
    if len(m) != 1 or abs(c) != 1 or not isinstance(m[0], Floor):
        return None
    fl = m[0]
    rest = Expr({mm: cc for mm, cc in e.terms if mm != m})
    if not rest.symbols() <= fl.num.symbols():
        return None
    if c == 1:
        return f"floor({_paren_num(fl.num + rest * fl.den)} / {fl.den})"
    return f"ceil({_paren_num(-fl.num + rest * fl.den)} / {fl.den})"


def _format_terms(e: Expr) -> str:
    if not e.terms:
        return "0"
    ordered = [t for t in e.terms if t[0]] + [t for t in e.terms if not t[0]]
    out: list[str] = []
    for idx, (m, c) in enumerate(ordered):
        neg_floor = len(m) == 1 and isinstance(m[0], Floor) and c < 0 and _leading_negative(m[0].num)
        if neg_floor:
            c = -c
        if not m:
            body = str(abs(c))
        else:
            ms = _mono_str(m, neg_floor)
            body = ms if abs(c) == 1 else f"{abs(c)}*{ms}"
        if idx == 0:
            out.append(("-" + body) if c < 0 else body)
        else:
            out.append(("- " if c < 0 else "+ ") + body)
    return " ".join(out)
