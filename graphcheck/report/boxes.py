"""Boxes inside the exact valid set: ranges of sizes in which every combination is proven valid.

:func:`part_boxes` gives, for each part of :attr:`Report.solution`, boxes proven inside it, never
sampled:

* one size (a ``UniPart``): the maximal runs of consecutive sizes of its ``IntSet``;
* a size with a provably finite range enumerated (``EnumPart``): a run of its values times a box of
  the rest's solution for them;
* ``target = formula(others)`` (``DerivedPart``): a box of the others with the formula's sizes
  pinned, the target at the formula's value;
* a size bounded by the others (``ProjectedPart``, ``past + new <= 40``): a box of the others (and
  staircase cuts of it), the size over ``[max of its lower bounds, min of its upper bounds]`` on that
  box, the extremes taken at corners where the bounds are monotone (by inspection) or over every
  point of the box;
* conditions left unsolved (``CondPart``): only a box the user bounded, checked point by point.

Boxes of coupled parts small enough are checked a second time, point by point, by the part's exact
membership. Sizes the set leaves unbounded stop at ``DEFAULT_MAX`` unless the user gives a top.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product

from graphcheck.errors import UsageError
from graphcheck.report.report import Report
from graphcheck.symbolic.expr import Expr, Sym
from graphcheck.symbolic.intset import MAXDIM, IntSet
from graphcheck.symbolic.solve import CondPart, DerivedPart, EnumPart, Part, ProjectedPart, Solution, UniPart

__all__ = ["DEFAULT_MAX", "Box", "Bounds", "Ctx", "free_box", "part_boxes", "solution_boxes", "runs", "volume"]

DEFAULT_MAX = 4096  # the top of a box for a size the model leaves unbounded (override: --max NAME=N)
EVAL_LIMIT = 1 << 16  # points of a box evaluated one by one (exhaustive, hence exact)
RUN_LIMIT = 1024  # runs of a set looked at, from the bottom
CANDIDATES = 256  # boxes kept per part

Box = dict[Sym, tuple[int, int]]


@dataclass(frozen=True)
class Bounds:
    """The user's limits per size (symbol name or ``input:axis``): ``--min``, ``--max``, ``--opt``."""

    min: Mapping[str, int] = field(default_factory=dict)
    max: Mapping[str, int] = field(default_factory=dict)
    opt: Mapping[str, int] = field(default_factory=dict)


# -- runs and windows ---------------------------------------------------------------------------


def runs(values: IntSet, lo: int, hi: int, limit: int = RUN_LIMIT) -> list[tuple[int, int]]:
    """The maximal runs of consecutive sizes of ``values`` inside ``[lo, hi]``, from the bottom, at most ``limit``."""
    w = values & IntSet.interval(lo, hi)
    if w.is_empty():
        return []
    if w.period == 1:
        return list(w.classes[0][:limit])
    out: list[tuple[int, int]] = []
    for v in w.iter_sorted():
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        elif len(out) >= limit:
            break
        else:
            out.append((v, v))
    return out


class Ctx:
    """The user's bounds resolved to symbols, and the preferred point (``--opt``)."""

    def __init__(self, report: Report, bounds: Bounds) -> None:
        self.report = report
        self.lo: dict[Sym, int] = {}
        self.hi: dict[Sym, int] = {}
        self.opt: dict[Sym, int] = {}
        for table, what in ((self.lo, bounds.min), (self.hi, bounds.max), (self.opt, bounds.opt)):
            for key, v in what.items():
                if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > MAXDIM:
                    raise UsageError(f"{key}={v!r}: a size must be an integer >= 1")
                table[report.analysis.symbol(key)] = v
        for s in set(self.lo) | set(self.hi):
            if self.lo.get(s, 1) > self.hi.get(s, MAXDIM):
                raise UsageError(f"--min {s.name}={self.lo[s]} is above --max {s.name}={self.hi[s]}")
        for s, v in self.opt.items():
            if not self.lo.get(s, 1) <= v <= self.hi.get(s, MAXDIM):
                raise UsageError(f"--opt {s.name}={v} is outside its --min/--max")

    def window(self, s: Sym, values: IntSet | None = None) -> tuple[int, int, bool]:
        """``[lo, hi]`` for a size, and whether the top was capped at DEFAULT_MAX."""
        lo = self.lo.get(s, 1)
        if s in self.hi:
            return lo, self.hi[s], False
        if values is not None and not values.unbounded():
            top = values.max()
            return lo, top if top is not None else lo, False
        base = values.min() if values is not None else None
        return lo, max(DEFAULT_MAX, 2 * (base or 1), lo), True


# -- boxes per part ------------------------------------------------------------------------------


def volume(b: Box) -> int:
    v = 1
    for lo, hi in b.values():
        v *= hi - lo + 1
    return v


def _rank(boxes: list[Box], ctx: Ctx) -> list[Box]:
    def key(b: Box) -> tuple[int, int, tuple[int, ...]]:
        holds_opt = all(lo <= ctx.opt[s] <= hi for s, (lo, hi) in b.items() if s in ctx.opt)
        return (
            0 if holds_opt else 1,
            -volume(b),
            tuple(lo for _, (lo, _) in sorted(b.items(), key=lambda x: x[0].key)),
        )

    unique: dict[tuple[tuple[str, int, int], ...], Box] = {}
    for b in boxes:
        unique.setdefault(tuple(sorted((s.name, lo, hi) for s, (lo, hi) in b.items())), b)
    return sorted(unique.values(), key=key)


def free_box(syms: tuple[Sym, ...], ctx: Ctx) -> Box:
    out: Box = {}
    for s in syms:
        lo, hi, _ = ctx.window(s)
        out[s] = (lo, hi)
    return out


def solution_boxes(sol: Solution, ctx: Ctx, notes: list[str]) -> list[Box]:
    """Boxes of a product of parts: combinations of each part's best boxes (every one valid)."""
    per: list[list[Box]] = []
    for p in sol.parts:
        bs = part_boxes(p, ctx, notes)
        if not bs:
            return []
        per.append(bs)
    free = free_box(tuple(s for s in sol.symbols if not any(s in p.syms for p in sol.parts)), ctx)
    out: list[Box] = []
    for combo in product(*[bs[:4] for bs in per]):
        b: Box = dict(free)
        for c in combo:
            b.update(c)
        out.append(b)
        if len(out) >= CANDIDATES:
            break
    return out


def part_boxes(p: Part, ctx: Ctx, notes: list[str]) -> list[Box]:
    if isinstance(p, UniPart):
        lo, hi, _ = ctx.window(p.sym, p.values)
        found = runs(p.values, lo, hi)
        opt = ctx.opt.get(p.sym)
        if opt is not None and opt in p.values and lo <= opt <= hi:  # the run holding --opt, wherever it is
            start = opt
            while start - 1 >= lo and start - 1 in p.values and opt - start < EVAL_LIMIT:
                start -= 1
            found += runs(p.values, start, hi, limit=1)
        return _rank([{p.sym: r} for r in found], ctx)
    if isinstance(p, EnumPart):
        out: list[Box] = []
        for values, sol in p.groups:
            lo, hi, _ = ctx.window(p.var)
            rest = solution_boxes(sol, ctx, notes)
            for r in runs(values, lo, hi):
                out.extend({p.var: r, **b} for b in rest[:16])
            if len(out) >= CANDIDATES:
                break
        return _checked(p, _rank(out, ctx))
    if isinstance(p, DerivedPart):
        return _checked(p, _rank(_derived_boxes(p, ctx, notes), ctx))
    if isinstance(p, ProjectedPart):
        return _checked(p, _rank(_projected_boxes(p, ctx, notes), ctx))
    if isinstance(p, CondPart):
        return _cond_boxes(p, ctx, notes)
    notes.append(f"{', '.join(s.name for s in p.syms)}: a set of a kind no box is derived for")
    return []


def _checked(p: Part, boxes: list[Box]) -> list[Box]:
    """A second, independent proof where it is cheap: every point of a small box is a member."""
    out = []
    for b in boxes:
        if volume(b) <= 512 and not all(p.contains(env) for env in _points(b, p.syms)):
            continue  # never claimed: the structural argument and membership disagree
        out.append(b)
    return out


def _points(b: Box, syms: tuple[Sym, ...]) -> Iterator[dict[Sym, int]]:
    order = [s for s in syms if s in b]
    for combo in product(*[range(b[s][0], b[s][1] + 1) for s in order]):
        yield dict(zip(order, combo))


def _derived_boxes(p: DerivedPart, ctx: Ctx, notes: list[str]) -> list[Box]:
    out: list[Box] = []
    pinned = sorted(p.formula.symbols(), key=lambda s: s.key)
    lo_t, hi_t, _ = ctx.window(p.target)
    for b in solution_boxes(p.inner, ctx, notes)[:32]:
        choices: list[list[int]] = []
        for s in pinned:
            lo, hi = b.get(s, (1, 1))
            vals = sorted({lo, hi, ctx.opt.get(s, lo) if lo <= ctx.opt.get(s, lo) <= hi else lo, lo + (hi - lo) // 2})
            choices.append(vals if hi - lo >= 4 else list(range(lo, hi + 1)))
        for combo in product(*choices):
            env = dict(zip(pinned, combo))
            v = p.formula.evaluate(env)
            if not lo_t <= v <= hi_t:
                continue
            nb = dict(b)
            nb.update({s: (x, x) for s, x in env.items()})
            nb[p.target] = (v, v)
            out.append(nb)
    return out


def _extreme(e: Expr, box: Box, want_max: bool) -> int | None:
    """The exact max (or min) of ``e`` over a box: every point when few, else a corner where ``e`` is
    monotone in every size (by inspection); None when neither applies."""
    syms = sorted(e.symbols(), key=lambda s: s.key)
    count = 1
    for s in syms:
        count *= box[s][1] - box[s][0] + 1
    if count <= EVAL_LIMIT:
        vals = (e.evaluate(env) for env in _points(box, tuple(syms)))
        return max(vals) if want_max else min(vals)
    up = {s: box[s][1] for s in syms}
    down = {s: box[s][0] for s in syms}
    if e.nondecreasing():
        return e.evaluate(up if want_max else down)
    if e.nonincreasing():
        return e.evaluate(down if want_max else up)
    return None


def _projected_boxes(p: ProjectedPart, ctx: Ctx, notes: list[str]) -> list[Box]:
    out: list[Box] = []
    lo_v, hi_v, _ = ctx.window(p.var)
    for b in solution_boxes(p.inner, ctx, notes)[:16]:
        for num in (4, 3, 2, 1):  # the box and staircase cuts of it: each size cut at num/4 of its range
            cut = {s: (lo, lo + (hi - lo) * num // 4) for s, (lo, hi) in b.items()}
            low = max([lo_v, *(v for e in p.lows if (v := _extreme(e, cut, True)) is not None)])
            highs = [_extreme(e, cut, False) for e in p.highs]
            if any(h is None for h in highs) or any(_extreme(e, cut, True) is None for e in p.lows):
                continue
            high = min([hi_v, *(h for h in highs if h is not None)])
            if low <= high:
                out.append({**cut, p.var: (low, high)})
    return out


def _cond_boxes(p: CondPart, ctx: Ctx, notes: list[str]) -> list[Box]:
    names = ", ".join(s.name for s in p.syms)
    if not all(s in ctx.hi for s in p.syms):
        notes.append(
            f"{names}: coupled sizes left as conditions (GC105); no box is derived: bound every one of them "
            f"with --max (and --min) to have that box checked point by point"
        )
        return []
    b = {s: (ctx.lo.get(s, 1), ctx.hi[s]) for s in p.syms}
    if volume(b) > EVAL_LIMIT:
        notes.append(f"{names}: the box asked has more than {EVAL_LIMIT} points to check; narrow it")
        return []
    for env in _points(b, p.syms):
        if not p.contains(env):
            shown = ", ".join(f"{s.name}={v}" for s, v in env.items())
            notes.append(f"{names}: the box asked is not valid: it holds {shown}, which fails")
            return []
    return [b]
