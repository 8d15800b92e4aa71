"""How torch.export can declare the valid sizes: a ``Dim`` per size, from the exact set.

``Dim(min=, max=)`` states an interval; ``step * Dim(...) + offset`` (a derived dim) states one
residue class (``H % 32 == 0``); a size equal to another (``target = a*base + b``, a
``DerivedPart``) reuses the other's ``Dim``. What torch cannot state (several runs, a pin among
several values, ``past + new <= 40``) is declared as one proven box, with a note of what it leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphcheck.report.boxes import Box, Ctx, part_boxes, solution_boxes
from graphcheck.report.report import Report
from graphcheck.symbolic.expr import Sym
from graphcheck.symbolic.intset import MAXDIM, IntSet
from graphcheck.symbolic.solve import DerivedPart, Part, Solution, UniPart

__all__ = ["TorchDim", "torch_dims"]


@dataclass(frozen=True)
class TorchDim:
    """One size for torch.export: ``kind`` is "dim" (``Dim(min, max)``; None: torch's default),
    "multiple" (``step * Dim(min, max) + offset``), "same" (``step * <base's Dim> + offset``) or
    "static" (the example's size must be ``value``)."""

    name: str
    kind: str
    min: int | None = None
    max: int | None = None
    step: int = 1
    offset: int = 0
    base: str = ""
    value: int = 0

    def contains(self, v: int, dims: Mapping[str, TorchDim], base_value: int | None = None) -> bool:
        """Whether the declaration admits size ``v`` (for "same": given the base's size)."""
        if self.kind == "static":
            return v == self.value
        if self.kind == "same":
            return base_value is not None and v == self.step * base_value + self.offset
        k = (v - self.offset) // self.step
        if k * self.step + self.offset != v:
            return False
        return (self.min is None or k >= self.min) and (self.max is None or k <= self.max)


def _interval(name: str, lo: int, hi: int | None) -> TorchDim:
    if hi is not None and lo == hi:
        return TorchDim(name, "static", value=lo)
    return TorchDim(name, "dim", lo, hi)


def _uni(s: Sym, values: IntSet, lo: int, hi: int) -> TorchDim | None:
    """An exact declaration of ``values`` inside ``[lo, hi]`` (``hi`` MAXDIM: unbounded), or None."""
    w = values & IntSet.interval(lo, hi)
    if w.is_empty() or len(w.classes) != 1:
        return None
    ((r, ivs),) = w.classes.items()
    if len(ivs) != 1:
        return None
    a, b = ivs[0]
    top = None if b > MAXDIM - w.period else b
    if w.period == 1:
        return _interval(s.name, a, top)
    p = w.period
    off = r if a > r else r - p  # multipliers start at 1
    k0 = (a - off) // p
    k1 = None if top is None else (top - off) // p
    if k1 is not None and k0 == k1:
        return TorchDim(s.name, "static", value=a)
    return TorchDim(s.name, "multiple", k0, k1, step=p, offset=off)


def _strip(p: Part) -> tuple[list[tuple[Sym, Sym, int, int]], Solution | None]:
    """Peel ``target = a*base + b`` layers off a derived part: the links, and the solution beneath."""
    links: list[tuple[Sym, Sym, int, int]] = []
    cur: Part = p
    while isinstance(cur, DerivedPart):
        syms = list(cur.formula.symbols())
        lin = cur.formula.as_linear(syms[0]) if len(syms) == 1 else None
        if lin is None or lin[0] < 1:
            return [], None
        links.append((cur.target, syms[0], lin[0], lin[1]))
        inner = cur.inner
        if len(inner.parts) != 1 or inner.free:
            return links, inner
        cur = inner.parts[0]
    return links, Solution(tuple(cur.syms), [cur])


def torch_dims(
    report: Report, ctx: Ctx, primary: Mapping[str, tuple[int, int]] | None
) -> tuple[list[TorchDim], list[str]]:
    """A ``TorchDim`` per size (in the report's symbol order) and notes on what is left out."""
    sol = report.solution
    out: dict[str, TorchDim] = {}
    notes: list[str] = []
    if not (report.complete or getattr(report, "followed", False)) or sol.is_empty():
        return [], []
    for s in sol.free:
        out[s.name] = TorchDim(s.name, "dim", ctx.lo.get(s, 1), ctx.hi.get(s))  # torch's own default min is 0
    for p in sol.parts:
        if isinstance(p, UniPart):
            d = _uni(p.sym, p.values, ctx.lo.get(p.sym, 1), ctx.hi.get(p.sym, MAXDIM))
            if d is None:
                d = _from_box(p.sym, primary)
                if d is not None:
                    notes.append(
                        f"{p.values.describe(p.sym.name)} is not one Dim: dynamic_shapes declare "
                        f"{_range_text(d)} (a proven run); other sizes are left out"
                    )
            if d is not None:
                out[p.sym.name] = d
            continue
        links, beneath = _strip(p)
        box: Box | None = None
        if beneath is not None:
            found = solution_boxes(beneath, ctx, []) if links else part_boxes(beneath.parts[0], ctx, [])
            box = found[0] if found else None
        if box is not None and links:
            for s, (lo, hi) in box.items():
                out[s.name] = _interval(s.name, lo, hi)
            for target, base, a, b in links:
                out[target.name] = TorchDim(target.name, "same", step=a, offset=b, base=base.name)
        else:
            for s in p.syms:
                d = _from_box(s, primary)
                if d is not None:
                    out[s.name] = d
        names = ", ".join(s.name for s in p.syms)
        notes.append(f"{p.describe()} couples {names}: dynamic_shapes declare one proven box of it")
    ordered = [out[s.name] for s in report.analysis.symbols if s.name in out]
    return _resolve_same(ordered), notes


def _resolve_same(dims: list[TorchDim]) -> list[TorchDim]:
    """A "same" whose base is static is static too (torch derives only from a Dim)."""
    by = {d.name: d for d in dims}
    out = []
    for d in dims:
        base = by.get(d.base)
        if d.kind == "same" and base is not None and base.kind == "static":
            d = TorchDim(d.name, "static", value=d.step * base.value + d.offset)
        out.append(d)
    return out


def _from_box(s: Sym, primary: Mapping[str, tuple[int, int]] | None) -> TorchDim | None:
    if primary is None or s.name not in primary:
        return None
    lo, hi = primary[s.name]
    return _interval(s.name, lo, hi)


def _range_text(d: TorchDim) -> str:
    if d.kind == "static":
        return f"{d.name} = {d.value}"
    return f"{d.min} <= {d.name} <= {d.max}"
