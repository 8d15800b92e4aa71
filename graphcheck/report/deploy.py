"""Deployment plans from the exact valid set: profiles of proven-valid sizes, per-size notes, torch Dims.

:func:`plan` gives what every serving artifact needs (``graphcheck check --emit KIND``,
``Report.emit``): the inputs and outputs with their dims and element types, TensorRT-style profiles
(each a box of sizes proven valid by :mod:`.boxes`), for each size its valid set and what still
fails inside the span of the profiles (``H % 32 != 0`` inside ``[32, 4096]``), and torch.export
``Dim``s (:mod:`.deploy_torch`). Nothing here is sampled; the texts are rendered by
:mod:`graphcheck.render.deploy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphcheck.errors import GraphcheckError, UsageError
from graphcheck.report.boxes import DEFAULT_MAX, Bounds, Box, Ctx, free_box, part_boxes
from graphcheck.report.deploy_torch import TorchDim, torch_dims
from graphcheck.report.report import Report
from graphcheck.symbolic.expr import Sym
from graphcheck.symbolic.intset import IntSet

__all__ = [
    "DEFAULT_MAX",
    "MAX_PROFILES",
    "Bounds",
    "DeployError",
    "DeployPlan",
    "Profile",
    "SizeRange",
    "SymbolNote",
    "TensorInfo",
    "TorchDim",
    "plan",
]

MAX_PROFILES = 8


class DeployError(GraphcheckError):
    """No deployment artifact can be proven for the model (one line, exit 2)."""


@dataclass(frozen=True)
class SizeRange:
    name: str
    min: int
    opt: int
    max: int


@dataclass(frozen=True)
class Profile:
    """One box: every combination of sizes in it is proven valid."""

    ranges: tuple[SizeRange, ...]

    def get(self, name: str) -> SizeRange:
        for r in self.ranges:
            if r.name == name:
                return r
        raise KeyError(name)

    def shape(self, dims: tuple[int | str, ...], which: str) -> tuple[int, ...]:
        """An input's shape at the box's ``min``, ``opt`` or ``max`` corner."""
        return tuple(d if isinstance(d, int) else getattr(self.get(d), which) for d in dims)

    def point(self, which: str) -> dict[str, int]:
        return {r.name: getattr(r, which) for r in self.ranges}


@dataclass(frozen=True)
class TensorInfo:
    """An input or output: its element type (ONNX code) and dims (a size, a symbol name, or "?")."""

    name: str
    elem_type: int
    dims: tuple[int | str, ...] | None


@dataclass(frozen=True)
class SymbolNote:
    """One size: its valid set in words and, within the box the profiles span, what still fails."""

    name: str
    statement: str
    coupled: bool
    window: tuple[int, int] | None = None  # the sizes considered: --min/--max, else the set's own bounds
    hull: tuple[int, int] | None = None  # the smallest interval holding every valid size of the window
    failing_inside: str = ""  # the sizes inside ``hull`` that fail, in words
    first_failing_inside: int | None = None
    capped: bool = False  # unbounded above: the window stops at DEFAULT_MAX


@dataclass(frozen=True)
class DeployPlan:
    model: str
    valid: str
    exact: bool
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    symbols: tuple[str, ...]
    profiles: tuple[Profile, ...]
    notes: tuple[str, ...]
    sets: tuple[SymbolNote, ...]
    torch: tuple[TorchDim, ...]
    problem: str = ""  # why no profile is given (empty when there are profiles)
    torch_notes: tuple[str, ...] = ()  # what torch.export's Dims leave out

    @property
    def dynamic_inputs(self) -> tuple[TensorInfo, ...]:
        return tuple(i for i in self.inputs if i.dims is not None and any(isinstance(d, str) for d in i.dims))

    def require_profiles(self, what: str) -> tuple[Profile, ...]:
        if not self.profiles:
            raise DeployError(f"cannot emit {what} for {self.model}: {self.problem}")
        return self.profiles


# -- the plan -------------------------------------------------------------------------------------


def _tensors(report: Report) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    inputs = []
    for vi in report.analysis.graph.inputs:
        shape = report.analysis.input_shapes.get(vi.name)
        dims: tuple[int | str, ...] | None = None
        if shape is not None:
            dims = tuple(d.value if d.is_const else str(d) for d in shape)
        inputs.append(TensorInfo(vi.name, vi.elem_type, dims))
    outs = []
    out_dims = report.output_dims
    for vo in report.analysis.graph.outputs:
        od = out_dims.get(vo.name)
        outs.append(TensorInfo(vo.name, vo.elem_type, None if od is None else tuple(_dim(x) for x in od)))
    return tuple(inputs), tuple(outs)


def _dim(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _symbol_notes(report: Report, ctx: Ctx) -> list[SymbolNote]:
    out = []
    sol = report.solution
    for s in report.analysis.symbols:
        values = sol.for_symbol(s)
        if values is None:
            part = next((p for p in sol.parts if s in p.syms), None)
            out.append(SymbolNote(s.name, part.describe() if part is not None else "", True))
            continue
        lo, hi, capped = ctx.window(s, values)
        inside = values & IntSet.interval(lo, hi)
        a, b = inside.min(), inside.max()
        if a is None or b is None:
            out.append(SymbolNote(s.name, values.describe(s.name), False, (lo, hi)))
            continue
        bad = IntSet.interval(a, b) - values
        failing = "" if bad.is_empty() else bad.describe(s.name)
        out.append(SymbolNote(s.name, values.describe(s.name), False, (lo, hi), (a, b), failing, bad.min(), capped))
    return out


def _profiles(report: Report, ctx: Ctx, notes: list[str]) -> tuple[list[Profile], str]:
    sol = report.solution
    # every size of the solution is proven valid when the analysis is complete, or when every node was
    # followed for some sizes at least (GC110: then the solution is the proven part, the rest unknown)
    proven = report.complete or bool(getattr(report, "followed", False))
    if not proven:
        stop = report.first_unknown
        where = f" past {stop.node} ({stop.op})" if stop is not None else ""
        return [], f"the analysis is incomplete{where}: no size is proven valid"
    if sol.is_empty():
        return [], "no size is valid (" + report.valid.strip() + ")"
    if not report.complete:
        stop = report.first_unknown
        if stop is not None:
            notes.append(f"only proven sizes are in the profiles; {stop.node} ({stop.op}): {stop.message}")
    per: list[list[Box]] = []
    for p in sol.parts:
        bs = part_boxes(p, ctx, notes)
        if not bs:
            return [], f"no box of {', '.join(s.name for s in p.syms)} is proven valid ({p.describe()})"
        per.append(bs)
    free_syms = tuple(s for s in sol.symbols if not any(s in p.syms for p in sol.parts))
    free = free_box(free_syms, ctx)
    count = min(MAX_PROFILES, max([len(bs) for bs in per], default=1))
    for p, bs in zip(sol.parts, per):
        if len(bs) > count:
            names = ", ".join(s.name for s in p.syms)
            notes.append(
                f"{names}: more proven boxes than the {count} profiles hold (the largest first, those holding --opt "
                f"before them); choose with --opt/--min/--max"
            )
    out: list[Profile] = []
    for i in range(count):  # zip the parts' boxes: any combination of independent parts' boxes is valid
        b: Box = dict(free)
        for bs in per:
            b.update(bs[i % len(bs)])
        out.append(Profile(tuple(_size_range(s, b[s], ctx) for s in report.analysis.symbols if s in b)))
    return _dedupe(out), ""


def _dedupe(profiles: list[Profile]) -> list[Profile]:
    seen: set[tuple[SizeRange, ...]] = set()
    out = []
    for p in profiles:
        if p.ranges not in seen:
            seen.add(p.ranges)
            out.append(p)
    return out


def _size_range(s: Sym, r: tuple[int, int], ctx: Ctx) -> SizeRange:
    lo, hi = r
    opt = ctx.opt.get(s)
    if opt is None or not lo <= opt <= hi:
        opt = lo + (hi - lo) // 2
    return SizeRange(s.name, lo, opt, hi)


def plan(report: Report, bounds: Bounds | None = None) -> DeployPlan:
    """The deployment plan of a report: profiles (boxes of proven-valid sizes), per-size notes, torch Dims."""
    ctx = Ctx(report, bounds or Bounds())
    notes: list[str] = []
    for s, v in ctx.opt.items():
        if report.solution.for_symbol(s) is not None and v not in (report.solution.for_symbol(s) or IntSet.empty()):
            raise UsageError(f"--opt {s.name}={v} is not a valid size ({report.valid.strip()})")
    profiles, problem = _profiles(report, ctx, notes)
    sets = _symbol_notes(report, ctx)
    for sn in sets:
        if sn.capped and sn.window is not None:
            notes.append(
                f"{sn.name}: no upper bound ({sn.statement}); boxes stop at {sn.window[1]} (--max {sn.name}=INT)"
            )
        if sn.failing_inside and sn.hull is not None:
            notes.append(
                f"{sn.name}: inside [{sn.hull[0]}, {sn.hull[1]}] only {sn.statement} is valid; "
                f"{sn.failing_inside} fail (first: {sn.name} = {sn.first_failing_inside})"
            )
    inputs, outputs = _tensors(report)
    primary = {r.name: (r.min, r.max) for r in profiles[0].ranges} if profiles else None
    torch, torch_notes = torch_dims(report, ctx, primary)
    return DeployPlan(
        model=report.name,
        valid=report.valid,
        exact=report.exact,
        inputs=inputs,
        outputs=outputs,
        symbols=tuple(report.symbols),
        profiles=tuple(profiles),
        notes=tuple(notes),
        sets=tuple(sets),
        torch=tuple(torch),
        problem=problem,
        torch_notes=tuple(torch_notes),
    )
