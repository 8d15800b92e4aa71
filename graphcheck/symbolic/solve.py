"""The exact valid set of a model's input sizes, from its conditions.

Conditions are split into independent groups of symbols. A group of one symbol is
solved exactly by :mod:`graphcheck.symbolic.usolve`. A coupled group is reduced by
substitution (``W = H``, ``T2 = 2*T``) and by enumerating a symbol whose range is
provably finite (``H*W*64 == 9216`` bounds ``H <= 144``); what still resists is kept as
its conditions, which remain an exact (if unsolved) statement, and is flagged as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from graphcheck.errors import TooComplex
from graphcheck.symbolic.assume import Assumptions
from graphcheck.symbolic.cond import FALSE, TRUE, AllOf, AnyOf, Cond, Eq, Ge, all_of, any_of, eq, ge
from graphcheck.symbolic.expr import Expr, Mono, Sym, as_expr, emax, emin, floordiv, minmax_atoms
from graphcheck.symbolic.intset import MAXDIM, IntSet
from graphcheck.symbolic.usolve import _first, cond_set, pieces, settled

ENUM_LIMIT = 4096

__all__ = ["Solution", "Part", "solve"]


class Part:
    """One independent group of symbols and the exact set of their valid values."""

    syms: tuple[Sym, ...]
    exact: bool = True

    def contains(self, env: Mapping[Sym, int]) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def is_empty(self) -> bool:
        raise NotImplementedError

    def smallest(self) -> dict[Sym, int] | None:
        raise NotImplementedError


@dataclass
class UniPart(Part):
    sym: Sym
    values: IntSet

    @property
    def syms(self) -> tuple[Sym, ...]:  # type: ignore[override]
        return (self.sym,)

    def contains(self, env: Mapping[Sym, int]) -> bool:
        return env[self.sym] in self.values

    def describe(self) -> str:
        return self.values.describe(self.sym.name)

    def is_empty(self) -> bool:
        return self.values.is_empty()

    def smallest(self) -> dict[Sym, int] | None:
        m = self.values.min()
        return None if m is None else {self.sym: m}


@dataclass
class DerivedPart(Part):
    """``target = formula(other symbols)``, and ``inner`` for the rest."""

    target: Sym
    formula: Expr
    inner: Solution

    @property
    def syms(self) -> tuple[Sym, ...]:  # type: ignore[override]
        return (self.target, *self.inner.symbols)

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return self.inner.exact

    def contains(self, env: Mapping[Sym, int]) -> bool:
        return env[self.target] == self.formula.evaluate(env) and self.inner.contains(env) is True

    def describe(self) -> str:
        rest = self.inner.describe(with_free=False)
        eq = f"{self.target.name} = {self.formula}"
        return eq if rest == "any size" else f"{eq} and {rest}"

    def is_empty(self) -> bool:
        return self.inner.is_empty()

    def smallest(self) -> dict[Sym, int] | None:
        base = self.inner.smallest()
        if base is None:
            return None
        return {**base, self.target: self.formula.evaluate(base)}


@dataclass
class EnumPart(Part):
    """A symbol with a provably finite range, and the solution of the rest for each value."""

    var: Sym
    rest: tuple[Sym, ...]
    groups: list[tuple[IntSet, Solution]]
    conds: list[Cond] = field(default_factory=list)

    @property
    def syms(self) -> tuple[Sym, ...]:  # type: ignore[override]
        return (self.var, *self.rest)

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return all(sol.exact for _, sol in self.groups)

    def contains(self, env: Mapping[Sym, int]) -> bool:
        v = env[self.var]
        for values, sol in self.groups:
            if v in values:
                return sol.contains(env) is True
        return False

    def describe(self) -> str:
        """The shorter of the set by values of ``var`` and the conditions themselves."""
        listed = self._listed()
        if not self.conds or not self.groups:
            return listed
        mine = listed

        points = self.points_all()

        def same(fewer: list[Cond]) -> bool:
            other = _enumerate(fewer, self.syms, {})
            if not isinstance(other, EnumPart):
                return False
            if points is not None:
                return other.points_all() == points
            return other._listed() == mine

        stated = statement(self.conds, self.syms, same)
        return stated if len(stated) < len(listed) else listed

    def points_all(self, limit: int = 1 << 14) -> set[tuple[int, ...]] | None:
        """Every point, in the order of the group's symbols as given, when the set is finite and small."""
        order = sorted(self.syms, key=lambda x: x.key)
        out: set[tuple[int, ...]] = set()
        for values, sol in self.groups:
            pts = sol.points(limit)
            if pts is None or not values.is_finite_small(limit):
                return None
            for v in values.elements(limit):
                for p in pts:
                    env = {self.var: v, **dict(zip(sol.symbols, p))}
                    out.add(tuple(env[x] for x in order))
                    if len(out) > limit:
                        return None
        return out

    def _listed(self) -> str:
        if not self.groups:
            return "no valid size"
        if len(self.groups) == 1:  # a product: each size on its own
            values, sol = self.groups[0]
            return f"{values.describe(self.var.name)}; {sol.describe(with_free=False)}"
        points: list[tuple[int, ...]] = []
        for values, sol in self.groups:
            pts = sol.points(limit=64)
            if pts is None or not values.is_finite_small(64):
                points = []
                break
            for v in values.elements(64):
                points.extend((v, *p) for p in pts)
        if points and len(points) <= 64:
            names = ", ".join(s.name for s in self.syms)
            body = ", ".join("(" + ", ".join(map(str, p)) + ")" for p in sorted(points))
            return f"({names}) in {{{body}}}"
        return " or ".join(
            f"({values.describe(self.var.name)} and {sol.describe(with_free=False)})" for values, sol in self.groups
        )

    def is_empty(self) -> bool:
        return not self.groups

    def smallest(self) -> dict[Sym, int] | None:
        best: dict[Sym, int] | None = None
        for values, sol in self.groups:
            v = values.min()
            rest = sol.smallest()
            if v is None or rest is None:
                continue
            cand = {self.var: v, **rest}
            key = tuple(cand[s] for s in self.syms)
            if best is None or key < tuple(best[s] for s in self.syms):
                best = cand
        return best


@dataclass
class ProjectedPart(Part):
    """A size ``var`` that its conditions bound from below and above by the other sizes
    (``s72 <= s43``, ``past + new <= 40``): the others range over ``inner`` (where some ``var``
    fits between its bounds), and ``var`` over ``[max(lows), min(highs)]`` there."""

    var: Sym
    conds: list[Cond]
    lows: list[Expr]  # var >= each (integers: the conditions' ceilings)
    highs: list[Expr]  # var <= each
    inner: Solution

    @property
    def syms(self) -> tuple[Sym, ...]:  # type: ignore[override]
        return (*self.inner.symbols, self.var)

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return self.inner.exact

    def contains(self, env: Mapping[Sym, int]) -> bool:
        return all(c.holds(env) for c in self.conds) and self.inner.contains(env) is True

    def describe(self) -> str:
        return statement(self.conds, self.syms)

    def is_empty(self) -> bool:
        return self.inner.is_empty()

    def smallest(self) -> dict[Sym, int] | None:
        base = self.inner.smallest()
        if base is None:
            return None
        env = {**base, self.var: 1}
        return {**base, self.var: max([1, *(e.evaluate(env) for e in self.lows)])}


def statement(conds: list[Cond], syms: tuple[Sym, ...], same: Callable[[list[Cond]], bool] | None = None) -> str:
    """The conditions of a coupled group as an engineer would state them: each size's own conditions
    as its set (``H >= 8``), then the conditions between sizes, without what the sets decide.
    ``same(conds')`` (optional) tells whether fewer conditions describe the same set: a size's own
    conditions that the others imply are then left out (``floor(H/8)*floor(W/8) = 64`` needs no
    ``H >= 8``)."""
    own: dict[Sym, IntSet] = {}
    folded: set[int] = set()  # the conditions own holds (one past the solver's limits stays a condition)
    for i, c in enumerate(conds):
        cs = c.symbols()
        if len(cs) == 1:
            (x,) = cs
            try:
                own[x] = own.get(x, IntSet.full()) & cond_set(c, x)
                folded.add(i)
            except TooComplex:
                pass
    known = Assumptions(own)
    implied: set[Sym] = set()
    if same is not None:
        for x in syms:
            if x in own and same([c for c in conds if c.symbols() != {x}]):
                implied.add(x)
    texts = [own[x].describe(x.name) for x in syms if x in own and not own[x].is_full() and x not in implied]
    between = [c for i, c in enumerate(conds) if i not in folded]
    if same is not None:
        for c in list(between):  # "C <= 1 or C*L = 64" may say no more than "C*L = 64" with the others
            if not isinstance(c, AnyOf):
                continue
            for alt in c.items:
                trial = [alt if x is c else x for x in conds]
                if len(alt.symbols()) > 1 and same(trial):
                    between = [alt if x is c else x for x in between]
                    conds = trial
                    break
    if same is not None and len(between) > 1:
        for c in list(between):  # a condition between sizes that the others imply
            if same([x for x in conds if x is not c and (x in between or x.symbols() - implied)]):
                between.remove(c)
                conds = [x for x in conds if x is not c]
    for c in between:
        kept = known.simplify(c)
        if kept != TRUE:
            texts.append(str(kept))
            known = known.narrowed(kept)  # what it bounds (a floor of several sizes) serves the next
    return "; ".join(texts) if texts else "any size"


@dataclass
class CondPart(Part):
    """A coupled group left as its conditions: exact for membership, unsolved as a set."""

    conds: list[Cond]
    reason: str
    _syms: tuple[Sym, ...] = ()

    @property
    def syms(self) -> tuple[Sym, ...]:  # type: ignore[override]
        return self._syms

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return False

    def contains(self, env: Mapping[Sym, int]) -> bool:
        return all(c.holds(env) for c in self.conds)

    def describe(self) -> str:
        return statement(self.conds, self.syms)

    def is_empty(self) -> bool:
        return False

    def smallest(self) -> dict[Sym, int] | None:
        return None


@dataclass
class Solution:
    """The valid set: a product of independent parts; symbols in no part are free (any >= 1)."""

    symbols: tuple[Sym, ...]
    parts: list[Part] = field(default_factory=list)
    empty: bool = False

    @property
    def free(self) -> tuple[Sym, ...]:
        used = {s for p in self.parts if not _is_full(p) for s in p.syms}
        return tuple(s for s in self.symbols if s not in used)

    @property
    def exact(self) -> bool:
        return all(p.exact for p in self.parts)

    def is_empty(self) -> bool:
        return self.empty or any(p.is_empty() for p in self.parts)

    def contains(self, env: Mapping[Sym, int]) -> bool:
        if self.is_empty():
            return False
        return all(p.contains(env) for p in self.parts)

    def describe(self, with_free: bool = True) -> str:
        if self.is_empty():
            return "no valid size"
        texts = _likewise([p for p in self.parts if not _is_full(p)])
        out = "; ".join(texts) if texts else "any size"
        if with_free and self.free:
            out += f"   ({_free_text(self.free)})"
        return out

    def smallest(self) -> dict[Sym, int] | None:
        if self.is_empty():
            return None
        out = {s: 1 for s in self.free}
        for p in self.parts:
            m = p.smallest()
            if m is None:
                return None
            out.update(m)
        return out

    def points(self, limit: int) -> list[tuple[int, ...]] | None:
        """Every point (in ``symbols`` order) when the set is finite and small, else None."""
        if self.free:
            return None
        out: list[dict[Sym, int]] = [{}]
        for p in self.parts:
            if isinstance(p, UniPart) and p.values.is_finite_small(limit):
                out = [{**o, p.sym: v} for o in out for v in p.values.elements(limit)]
            else:
                return None
            if len(out) > limit:
                return None
        return [tuple(o[s] for s in self.symbols) for o in out]

    def for_symbol(self, s: Sym) -> IntSet | None:
        """The exact set of one symbol when it forms a part of its own."""
        for p in self.parts:
            if isinstance(p, UniPart) and p.sym == s:
                return p.values
        return IntSet.full() if s in self.free else None


def _is_full(p: Part) -> bool:
    """A size whose conditions allow every value: it is as free as one with none."""
    return isinstance(p, UniPart) and p.values.is_full()


def _likewise(parts: list[Part]) -> list[str]:
    """Each part's statement; sizes with the same set as an earlier one are named after it
    (``H >= 32 and H % 32 < 4; likewise W``)."""
    texts: list[str] = []
    groups: list[tuple[IntSet, int, list[str]]] = []  # a set, where its first text is, who shares it
    for p in parts:
        if isinstance(p, UniPart) and not p.values.is_empty():
            group = next((g for g in groups if g[0] == p.values), None)
            if group is not None and len(p.describe()) > len(p.sym.name) + 20:  # only where it is shorter
                group[2].append(p.sym.name)
                continue
            groups.append((p.values, len(texts), []))
        texts.append(p.describe())
    for _, i, names in groups:
        if names:
            texts[i] += "; likewise " + ", ".join(names)
    return texts


def _free_text(free: Iterable[Sym]) -> str:
    names = [s.name for s in free]
    if not names:
        return ""
    return f"{', '.join(names)}: any >= 1"


def _flatten(conds: Iterable[Cond]) -> list[Cond]:
    out: list[Cond] = []
    seen: set[Cond] = set()
    for c in conds:
        for a in c.items if isinstance(c, AllOf) else (c,):
            if a == TRUE or a in seen:
                continue
            seen.add(a)
            out.append(a)
    return out


def _prune(conds: list[Cond], cache: dict[Cond, IntSet]) -> list[Cond]:
    """Conditions between sizes without what each size's own conditions decide
    (``floor(H/4)*floor(W/4) >= 1`` once ``H >= 4`` and ``W >= 4``): a group whose coupling is
    all implied falls apart into independent sizes."""
    own: dict[Sym, IntSet] = {}
    for c in conds:
        cs = c.symbols()
        if len(cs) == 1:
            (x,) = cs
            try:
                own[x] = own.get(x, IntSet.full()) & cond_set(c, x, cache)
            except TooComplex:
                continue
    if not own or all(len(c.symbols()) <= 1 for c in conds):
        return conds
    known = Assumptions(own)
    out: list[Cond] = []
    for c in conds:
        if len(c.symbols()) > 1:
            c = known.simplify(c, cache)
            if c == TRUE:
                continue
            known = known.narrowed(c, cache)
        out.append(c)
    return out


def _components(conds: list[Cond], syms: tuple[Sym, ...]) -> list[tuple[tuple[Sym, ...], list[Cond]]]:
    parent = {s: s for s in syms}

    def find(x: Sym) -> Sym:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in conds:
        ss = [s for s in c.symbols() if s in parent]
        for a in ss[1:]:
            ra, rb = find(ss[0]), find(a)
            if ra != rb:
                parent[rb] = ra
    groups: dict[Sym, list[Cond]] = {}
    members: dict[Sym, list[Sym]] = {}
    for s in syms:
        members.setdefault(find(s), []).append(s)
    for c in conds:
        ss = [s for s in c.symbols() if s in parent]
        if ss:
            groups.setdefault(find(ss[0]), []).append(c)
    return [(tuple(members[r]), groups[r]) for r in members if r in groups]


def solve(conds: Iterable[Cond], symbols: Iterable[Sym], cache: dict[Cond, IntSet] | None = None) -> Solution:
    """Solve conditions over input symbols (each symbol ranges over ``[1, 2**63 - 1]``)."""
    syms = tuple(symbols)
    flat = _flatten(conds)
    if any(c == FALSE for c in flat):
        return Solution(syms, [], empty=True)
    cache = {} if cache is None else cache
    flat = _prune(flat, cache)
    if any(c == FALSE for c in flat):
        return Solution(syms, [], empty=True)
    sol = Solution(syms)
    for group_syms, group in _components(flat, syms):
        part = _solve_group(group, group_syms, cache)
        sol.parts.append(part)
        if part.is_empty():
            sol.empty = True
    order = {s: i for i, s in enumerate(syms)}
    sol.parts.sort(key=lambda p: min(order.get(s, 0) for s in p.syms))
    return sol


def _solve_group(conds: list[Cond], syms: tuple[Sym, ...], cache: dict[Cond, IntSet]) -> Part:
    if len(syms) == 1:
        s = syms[0]
        try:
            values = IntSet.full()
            for c in conds:
                values = values & cond_set(c, s, cache)
                if values.is_empty():
                    break
            return UniPart(s, values)
        except TooComplex as exc:
            return CondPart(conds, str(exc), (s,))
    derived = _derive(conds, syms)
    if derived is not None:
        return derived
    projected = _project(conds, syms)
    if projected is not None:
        return projected
    cut = _by_pieces(conds, syms, cache)
    if cut is not None:
        return cut
    enum = _enumerate(conds, syms, cache)
    if enum is not None:
        return enum
    return CondPart(conds, f"coupled conditions over {', '.join(s.name for s in syms)}", syms)


def _derive(conds: list[Cond], syms: tuple[Sym, ...]) -> Part | None:
    """Use an equality ``t = formula(others)`` (t with coefficient +-1, linear) to eliminate ``t``."""
    for c in conds:
        if not isinstance(c, Eq):
            continue
        for t in reversed(syms):  # the last size goes: the smallest point is then the first in order
            lin = _unit_linear(c.expr, t)
            if lin is None:
                continue
            formula = lin
            rest_syms = tuple(s for s in syms if s != t)
            env = {t: formula}
            others = [x.subs(env) for x in conds if x is not c]
            others.append(ge(formula, 1))
            others.append(ge(MAXDIM - formula))
            inner = solve(others, rest_syms)
            return DerivedPart(t, formula, inner)
    return None


def _linear_in(e: Expr, t: Sym) -> tuple[int, Expr] | None:
    """``(a, r)`` when ``e = a*t + r`` with ``r`` free of ``t`` (``t`` a bare symbol, not in a floor)."""
    a = 0
    rest: dict[Mono, int] = {}
    for m, c in e.terms:
        if m == (t,):
            a = c
        elif any(t in x.symbols() for x in m):
            return None
        else:
            rest[m] = c
    return a, Expr(rest)


def _project(conds: list[Cond], syms: tuple[Sym, ...]) -> Part | None:
    """Eliminate a size that every condition mentioning it bounds linearly (``a*t + r >= 0``,
    ``a*t + r = 0``): over the integers, some ``t`` fits exactly when ``max(lows) <= min(highs)``
    with ``low = ceil(-r/a)`` (``a > 0``) and ``high = floor(r/-a)`` (``a < 0``); that one condition
    on the other sizes replaces them, and is solved like any other (exact, not a relaxation)."""
    for t in reversed(syms):
        lows: list[Expr] = []
        highs: list[Expr] = []
        mine: list[Cond] = []
        ok = True
        for c in conds:
            if t not in c.symbols():
                continue
            if not isinstance(c, Ge | Eq):
                ok = False
                break
            lin = _linear_in(c.expr, t)
            if lin is None or lin[0] == 0:
                ok = False
                break
            a, r = lin
            mine.append(c)
            if a > 0 or isinstance(c, Eq):  # t >= ceil(-r/a)
                lows.append(-floordiv(r, a) if a > 0 else -floordiv(-r, -a))
            if a < 0 or isinstance(c, Eq):  # t <= floor(r/-a)
                highs.append(floordiv(r, -a) if a < 0 else floordiv(-r, a))
        if not ok or not mine:
            continue
        rest_syms = tuple(x for x in syms if x != t)
        lo = emax(1, *lows)
        hi = emin(MAXDIM, *highs)
        others = [c for c in conds if t not in c.symbols()] + [ge(hi - lo)]
        inner = solve(others, rest_syms)
        return ProjectedPart(t, conds, lows, highs, inner)
    return None


def _cond_exprs(c: Cond) -> list[Expr]:
    if isinstance(c, Ge | Eq):
        return [c.expr]
    if isinstance(c, AnyOf | AllOf):
        return [e for x in c.items for e in _cond_exprs(x)]
    return []


def _cond_with(c: Cond, new: Iterator[Expr]) -> Cond:
    """``c`` with its expressions replaced, in the order :func:`_cond_exprs` lists them."""
    if isinstance(c, Ge):
        return ge(next(new))
    if isinstance(c, Eq):
        return eq(next(new))
    if isinstance(c, AnyOf):
        return any_of([_cond_with(x, new) for x in c.items])
    if isinstance(c, AllOf):
        return all_of([_cond_with(x, new) for x in c.items])
    return c


def _by_pieces(conds: list[Cond], syms: tuple[Sym, ...], cache: dict[Cond, IntSet]) -> Part | None:
    """A size that enters the conditions only through min/max of itself (0/1 indicators of its
    intervals, truncating divisions): cut into the sets where no such min/max is left
    (:func:`usolve.pieces`), on each of which the conditions no longer mention it, and the other
    sizes solved set by set."""
    for s in syms:
        own = [c for c in conds if c.symbols() == {s}]
        between = [c for c in conds if c.symbols() != {s}]
        exprs = [e for c in between for e in _cond_exprs(c)]
        if not any(a.symbols() == {s} for e in exprs for a in minmax_atoms(e)):
            continue
        try:
            mine = IntSet.full()
            for c in own:
                mine = mine & cond_set(c, s, cache)
            cut = pieces(tuple(exprs), s)
        except TooComplex:
            continue
        rest = tuple(x for x in syms if x != s)
        groups: list[tuple[IntSet, Solution]] = []
        for region, new in cut:
            region = region & mine
            if region.is_empty():
                continue
            it = iter(settled(e, s, region) for e in new)
            there = [_cond_with(c, it) for c in between]
            if any(s in c.symbols() for c in there):
                break
            sub = solve(there, rest, cache)
            if sub.is_empty():
                continue
            same = next((i for i, (_, g) in enumerate(groups) if g.describe() == sub.describe()), None)
            if same is None:
                groups.append((region, sub))
            else:
                groups[same] = (groups[same][0] | region, groups[same][1])
        else:
            groups.sort(key=lambda g: g[0].min() or 0)
            return EnumPart(s, rest, groups, list(conds))
    return None


def _unit_linear(e: Expr, t: Sym) -> Expr | None:
    """If ``e == 0`` reads ``t = f(others)`` (t appears once, linearly, with coefficient +-1), f."""
    lin = _linear_in(e, t)
    if lin is None or lin[0] not in (1, -1):
        return None
    a, r = lin
    return -r if a == 1 else r


def _upper_bound(conds: list[Cond], v: Sym, syms: tuple[Sym, ...], lows: Mapping[Sym, int]) -> int | None:
    """A proven upper bound on ``v`` from a condition monotone in every symbol.

    ``lows`` holds proven lower bounds of the symbols (from their own conditions). Each
    symbol is shifted to start at its lower bound first (``s = t + low - 1``, ``t >= 1``), so
    that sizes like ``floor((H - 4)/4)``, negative only below ``H = 4``, count as non-negative.
    """
    shift = {s: Expr._atom(s) + (lows.get(s, 1) - 1) for s in syms if lows.get(s, 1) > 1}
    ones = {s: 1 for s in syms if s != v}
    best: int | None = None
    for c in conds:
        if isinstance(c, AnyOf):  # a disjunction bounds v when every alternative does (by the largest)
            alts = [_upper_bound([x], v, syms, lows) for x in c.items]
            if alts and all(a is not None for a in alts):
                ub_any = max(a for a in alts if a is not None)
                best = ub_any if best is None else min(best, ub_any)
            continue
        cands: list[Expr] = []
        if isinstance(c, Eq):
            cands = [c.expr, -c.expr]
        elif isinstance(c, Ge):
            cands = [-c.expr]
        for e in cands:
            # e nondecreasing in every (shifted) symbol and e <= 0 is required  =>  e(v, low, ..., low) <= 0
            if v not in e.symbols():
                continue
            shifted = e.subs(shift) if shift else e
            if not shifted.nondecreasing():
                continue
            at_ones = shifted.subs(ones)
            if at_ones.symbols() != {v}:
                continue
            _, fn = at_ones.compiled()
            first_pos = _first(_positive(fn), 1, MAXDIM)
            ub = first_pos - 1 + lows.get(v, 1) - 1
            if best is None or ub < best:
                best = ub
    return best


def _positive(fn: Callable[..., int]) -> Callable[[int], bool]:
    return lambda x: fn(x) >= 1


def _enumerate(conds: list[Cond], syms: tuple[Sym, ...], cache: dict[Cond, IntSet]) -> Part | None:
    lows: dict[Sym, int] = {}
    highs: dict[Sym, int] = {}
    for s in syms:
        own = [c for c in conds if c.symbols() == {s}]
        try:
            values = IntSet.full()
            for c in own:
                values = values & cond_set(c, s, cache)
        except TooComplex:
            continue
        if values.is_empty():
            return UniPart(s, values)
        lows[s] = values.min() or 1
        top = values.max()
        if own and top is not None and top < MAXDIM:  # its own conditions bound it (D in {1, 4})
            highs[s] = top
    bounds = [(ub, s) for s in syms if (ub := highs.get(s, _upper_bound(conds, s, syms, lows))) is not None]
    if not bounds:
        return None
    ub, var = min(bounds, key=lambda b: b[0])
    if ub > ENUM_LIMIT:
        return None
    rest = tuple(s for s in syms if s != var)
    groups: list[tuple[IntSet, Solution]] = []
    by_text: dict[str, tuple[list[int], Solution]] = {}
    for x in range(1, ub + 1):
        sub = solve([c.subs({var: as_expr(x)}) for c in conds], rest, cache)
        if sub.is_empty():
            continue
        key = sub.describe()
        by_text.setdefault(key, ([], sub))[0].append(x)
    for xs, sub in by_text.values():
        groups.append((IntSet.points(xs), sub))
    groups.sort(key=lambda g: g[0].min() or 0)
    return EnumPart(var, rest, groups, list(conds))


def conds_of(items: Iterable[Cond]) -> Cond:
    return all_of(items)
