"""The result of checking a model: its symbols, exact valid set, findings and per-size answers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from graphcheck.errors import TooComplex, UsageError
from graphcheck.infer.engine import INCOMPLETE_CODES, Analysis, Case, Variant, analyze, no_gc
from graphcheck.infer.facts import Note, Requirement
from graphcheck.infer.resume import with_semantics
from graphcheck.model.layers import FrameworkInfo, LayerMap, layer_map
from graphcheck.report.diagnostics import (
    Diagnostic,
    conflict_diagnostic,
    coverage_diagnostic,
    deviation_diagnostics,
    exporter_range_diagnostics,
    incomplete_diagnostics,
    note_diagnostic,
    pinned_diagnostics,
    requirement_diagnostic,
)
from graphcheck.report.evaluate import Evaluation, evaluate, layer_rows, verdict
from graphcheck.symbolic.cond import Cond, all_of
from graphcheck.symbolic.expr import Sym
from graphcheck.symbolic.intset import MAXDIM, IntSet
from graphcheck.symbolic.solve import Solution, solve
from graphcheck.symbolic.usolve import cond_set


@dataclass(frozen=True)
class InputInfo:
    name: str
    dims: tuple[str, ...] | None  # each dim as its symbol name or its fixed size; None: rank unknown


T = TypeVar("T")


def _gc_paused(fn: Callable[[Report], T]) -> Callable[[Report], T]:
    """``fn`` with the cyclic garbage collector paused, as the walk runs: a model of 5,000 findings
    holds so many objects that each collection while its findings are made costs time in proportion."""

    @functools.wraps(fn)
    def run(self: Report) -> T:
        return no_gc(lambda: fn(self))

    return run


class Report:
    """What graphcheck knows about a model's input sizes.

    * ``symbols``: names of the dynamic sizes (``L``, ``unk__135``, ``signal:1``);
    * ``valid``: the exact valid set in words (``"L >= 9   (N: any >= 1)"``);
    * ``accepts(sizes)``: exact membership; ``None`` only when the analysis is incomplete;
    * ``at(sizes)``: every node's concrete shapes at those sizes and the first failure;
    * ``output_dims``: each output size as a formula of the input sizes;
    * ``diagnostics``: findings with stable codes.
    """

    def __init__(self, analysis: Analysis, name: str = "", framework: FrameworkInfo | None = None) -> None:
        self.analysis = analysis
        self.name = name or analysis.graph.source
        self.framework = framework
        self._cache: dict[Cond, IntSet] = analysis.cond_cache  # one-size solutions, shared with the walk

    @functools.cached_property
    def layers(self) -> LayerMap:
        """Framework layer names for the model's nodes (Keras layers, PyTorch modules), the nodes of
        control-flow bodies walked included."""
        a = self.analysis
        if not (a.cases or a.variants) and len(a.order) == len(a.graph.nodes):
            return layer_map(a.graph, self.framework)
        walked = list(a.order)
        for sub in (*(c.analysis for c in a.cases), *(v.analysis for v in a.variants)):
            walked.extend(sub.order)
            walked.extend(n for c in sub.cases for n in c.analysis.order)
        return layer_map(a.graph, self.framework, walked)

    # -- control flow: modes and cases ----------------------------------------------
    def _sub(self, analysis: Analysis) -> Report:
        return type(self)(analysis, self.name, self.framework)

    @functools.cached_property
    def modes(self) -> list[tuple[Variant, Report]]:
        """Per combination of the mode inputs' values (``use_cache_branch``, a sample rate): the
        report with them set. Empty for a model without modes."""
        return [(v, self._sub(v.analysis)) for v in self.analysis.variants]

    @functools.cached_property
    def cases(self) -> list[tuple[Case, Report]]:
        """Per side of the Ifs on the sizes (each under its path condition): that walk's report."""
        return [(c, self._sub(c.analysis)) for c in self.analysis.cases]

    @property
    def mode_inputs(self) -> list[str]:
        """The graph inputs that are modes (set by the caller, not sizes)."""
        out: list[str] = []
        for v in self.analysis.variants:
            out.extend(k for k, _ in v.values if k not in out)
        return out

    def _split_modes(self, sizes: Mapping[str, int]) -> tuple[list[Report], dict[str, int], list[str]]:
        """The mode reports ``sizes`` selects (every one when it gives no mode value), the sizes
        without the mode values, and the labels of the selected modes."""
        keys = set(self.mode_inputs)
        given = {k: v for k, v in sizes.items() if k in keys}
        rest = {k: v for k, v in sizes.items() if k not in keys}
        listed: dict[str, set[int]] = {}
        for v in self.analysis.variants:
            for k, x in v.values:
                if x is not None:
                    listed.setdefault(k, set()).add(x)
        picked: list[Report] = []
        labels: list[str] = []
        for variant, rep in self.modes:
            ok = True
            for k, x in variant.values:
                if k not in given:
                    continue
                g = int(given[k])
                if x is None:
                    ok = ok and g not in listed.get(k, set())
                else:
                    ok = ok and g == x
            if ok:
                picked.append(rep)
                labels.append(variant.label)
        return picked, rest, labels

    def _all_values_covered(self, sizes: Mapping[str, int]) -> bool:
        """Whether the modes analysed cover the values ``sizes`` leaves open (an integer mode
        compared with constants only by order has no mode for 'any other value')."""
        for k in self.mode_inputs:
            vals = {x for v in self.analysis.variants for kk, x in v.values if kk == k}
            if k in sizes:
                if sizes[k] not in vals and None not in vals:
                    return False
            elif None not in vals and not vals >= {0, 1}:
                return False
        return True

    def _case_at(self, env: Mapping[Sym, int]) -> tuple[Case, Report] | None:
        for case, rep in self.cases:
            if all(c.holds(env) for c in case.path):
                return case, rep
        return None

    def _with_layer(self, d: Diagnostic) -> Diagnostic:
        lay = self.layers.of(d.node) if d.node else None
        if lay is None or not lay.name:
            return d
        what = self.layers.axis_label(d.node, d.what) if d.what else d.what  # a Conv1D's "length"
        if what != d.what:
            d = replace(d, what=what, message=d.message.replace(d.what, what))
        return replace(d, layer=lay.name, layer_type=lay.kind)

    # -- the answer --------------------------------------------------------
    @functools.cached_property
    @_gc_paused
    def solution(self) -> Solution:
        """The valid set: proven when the analysis is complete (within the sizes it covers, see
        ``uncovered``); otherwise what every size must meet (necessary, not sufficient). With
        modes: the sizes every mode accepts."""
        return solve(self._solution_conds(), self.analysis.symbols, self._cache)

    def _solution_conds(self) -> list[Cond]:
        if self.modes:
            return [c for _, m in self.modes for c in m._solution_conds()]
        followed = self.followed
        return [r.cond for r in self.analysis.requirements if r.decidable and (followed or not r.covers)]

    @property
    def followed(self) -> bool:
        """Every node was followed (for some sizes at least) and every condition is decidable."""
        if self.modes:
            return all(m.followed for _, m in self.modes)
        return self.analysis.complete and all(r.decidable for r in self.analysis.requirements)

    @functools.cached_property
    @_gc_paused
    def necessary(self) -> Solution:
        """What every valid size meets: the model's conditions up to the first node followed for
        part of the sizes only (what comes after holds only within its part)."""
        return solve(self._necessary_conds(), self.analysis.symbols, self._cache)

    def _necessary_conds(self) -> list[Cond]:
        if self.modes:
            return [c for _, m in self.modes for c in m._necessary_conds()]
        conds: list[Cond] = []
        for r in self.analysis.requirements:  # in walk order: past a partly followed node, nothing is sure
            if r.covers and r.decidable:
                break
            if r.decidable:
                conds.append(r.cond)
        return conds

    @functools.cached_property
    def uncovered(self) -> list[tuple[Requirement, str]]:
        """Nodes followed only for part of the sizes (GC110) that leave some size meeting every
        condition undecided, each with those sizes in words; the one whose unknown sizes start
        lowest first (a float bound met earlier than another), else in walk order."""
        if self.modes:
            return [(r, f"{left} with {v.label}") for v, m in self.modes for r, left in m.uncovered]
        out: list[tuple[int, Requirement, str]] = []
        for r in self.analysis.requirements:
            if not r.covers or not r.decidable:
                continue
            one = self._outside(r)
            need = self.necessary.for_symbol(one[0]) if one is not None else None
            if one is not None and need is not None:
                x, outside = one
                left = need & outside
                if not left.is_empty():
                    out.append((left.min() or 0, r, left.describe(x.name)))
                continue
            out.append((0, r, f"the sizes where {r.cond} fails"))
        out.sort(key=lambda t: t[0])
        return [(r, left) for _, r, left in out]

    def _outside(self, r: Requirement) -> tuple[Sym, IntSet] | None:
        """For a node followed for part of one size's values only (GC110): that size and the values
        where the node was not followed; None when its condition has more sizes or is too complex."""
        syms = r.cond.symbols()
        if len(syms) != 1:
            return None
        (x,) = syms
        try:
            return x, cond_set(r.cond, x, self._cache).complement()
        except TooComplex:
            return None

    @functools.cached_property
    def _blind_at(self) -> dict[int, dict[Sym, tuple[IntSet, tuple[int, int], str]]]:
        """For each walk position downstream of a node followed for part of one size's values only
        (GC110), that node included: per size, the values where such a node upstream was not
        followed (every condition there was derived as if it had been), with the first such node.
        One forward pass over the nodes: linear in the graph, however many nodes are partly followed."""
        own: dict[int, list[tuple[Sym, IntSet, tuple[int, int], str]]] = {}
        for i, c in enumerate(self.analysis.requirements):
            one = self._outside(c) if c.covers and c.decidable else None
            if one is not None and not one[1].is_empty():
                own.setdefault(c.order, []).append((one[0], one[1], (c.order, i), f"{c.node} ({c.op})"))
        out: dict[int, dict[Sym, tuple[IntSet, tuple[int, int], str]]] = {}
        if not own:  # the usual case: every node followed for every size
            return out
        taint: dict[str, dict[Sym, tuple[IntSet, tuple[int, int], str]]] = {}
        for pos, node in enumerate(self.analysis.order):
            acc: dict[Sym, tuple[IntSet, tuple[int, int], str]] | None = None
            for name in node.inputs:
                t = taint.get(name) if name else None
                if t is not None and t is not acc:
                    acc = t if acc is None else _joined(acc, t)
            for s, outside, first, label in own.get(pos, ()):
                acc = _joined(acc or {}, {s: (outside, first, label)})
            if acc is not None:
                out[pos] = acc
                for o in node.outputs:
                    if o:
                        taint[o] = acc
        return out

    def _blind(self, r: Requirement) -> tuple[IntSet, str] | None:
        """The values of ``r``'s one size at which a node upstream of it was not followed."""
        at = self._blind_at.get(r.order)
        if at is None:
            return None
        syms = r.cond.symbols()
        if len(syms) != 1:
            return None
        (x,) = syms
        hit = at.get(x)
        return None if hit is None else (hit[0], hit[2])

    @property
    def symbols(self) -> list[str]:
        return [s.name for s in self.analysis.symbols]

    @property
    def complete(self) -> bool:
        """True when every node was followed for every size and every condition is decidable."""
        return self.followed and not self.uncovered

    @property
    def exact(self) -> bool:
        """True when ``valid`` is a solved, proven statement (not partial, not left as conditions)."""
        return self.complete and self.solution.exact

    @property
    def valid(self) -> str:
        if self.modes:
            return self._valid_by_mode()
        text = self.solution.describe()
        if self.complete:
            return text
        if self.followed:
            r, left = self.uncovered[0]
            return text + f"   [proven; unknown for {left}, past {r.node} ({r.op}): {r.what}]"
        stop = self.first_unknown
        where = f" past {stop.node} ({stop.op})" if stop is not None else ""
        return text + f"   [necessary only: the analysis is incomplete{where}; no size is claimed valid]"

    def _valid_by_mode(self) -> str:
        """``with use_cache_branch = true: N + P <= 24; with use_cache_branch = false: N <= 24``, then
        the sizes free in every mode."""
        parts = []
        mains = []
        for v, m in self.modes:
            text = m.valid
            main = text.split("   (")[0] if "   (" in text.split("   [")[0] else text.split("   [")[0]
            remark = text[len(text.split("   [")[0]) :] if "   [" in text else ""
            mains.append((main.strip(), remark))
            parts.append(f"with {v.label}: {main.strip()}{remark}")
        free = self.solution.describe()[len(self.solution.describe(with_free=False)) :]
        if len(set(mains)) == 1:  # every mode accepts the same sizes
            main, remark = mains[0]
            return f"{main} (with any {' and '.join(self.mode_inputs)}){remark}{free}"
        return "; ".join(parts) + free

    @property
    def first_unknown(self) -> Note | None:
        """The first node the analysis could not follow (for all sizes, or for some: GC110)."""
        if self.modes:
            return next((n for _, m in self.modes if (n := m.first_unknown) is not None), None)
        for n in sorted(self.analysis.notes, key=lambda n: n.order):
            if n.code in INCOMPLETE_CODES:
                return n
        if self.uncovered:
            r, left = self.uncovered[0]
            return Note("GC110", r.node, r.op, r.order, f"{r.what}: not followed for {left}")
        return None

    @property
    def any_valid(self) -> bool | None:
        """False when no size at all can work; None when that is not decided."""
        if self.necessary.is_empty():
            return False
        return True if self.complete or (self.followed and not self.solution.is_empty()) else None

    def smallest(self) -> dict[str, int] | None:
        m = self.solution.smallest()
        return None if m is None else {s.name: v for s, v in m.items()}

    def valid_set(self, name: str) -> IntSet | None:
        """The exact set of one size when it is independent of the others."""
        return self.solution.for_symbol(self.analysis.symbol(name))

    # -- inputs and outputs ------------------------------------------------------
    @property
    def inputs(self) -> list[InputInfo]:
        out = []
        for vi in self.analysis.graph.inputs:
            shape = self.analysis.input_shapes.get(vi.name)
            out.append(InputInfo(vi.name, None if shape is None else tuple(str(d) for d in shape)))
        return out

    @property
    def output_dims(self) -> dict[str, list[str] | None]:
        """Each output's sizes as formulas of the input sizes; where they differ by mode or by
        control-flow case, every alternative with its condition (``N + P (use_cache_branch = true) |
        N (use_cache_branch = false)``)."""
        if self.modes:
            return _alternatives([(v.label, m.output_dims) for v, m in self.modes])
        if self.cases:
            return _alternatives([(str(all_of(c.path)), m.output_dims) for c, m in self.cases])
        out: dict[str, list[str] | None] = {}
        for vi in self.analysis.graph.outputs:
            f = self.analysis.facts.get(vi.name)
            if f is None or f.shape is None:
                out[vi.name] = None
            else:
                out[vi.name] = ["?" if d.has_opaque() else str(d) for d in f.shape]
        return out

    # -- per size -----------------------------------------------------------------
    def sizes_env(self, sizes: Mapping[str, int]) -> tuple[dict[Sym, int], bool, list[str]]:
        """Map user keys (symbol names or input:axis) to symbols: the environment, False if a fixed
        dim is contradicted, and the free sizes not given (set to 1: no condition mentions them)."""
        env, why, defaulted = self._sizes_env(sizes)
        return env, not why, defaulted

    def _sizes_env(self, sizes: Mapping[str, int]) -> tuple[dict[Sym, int], str, list[str]]:
        """``sizes_env``, saying why the sizes cannot be fed ("" when they can)."""
        env: dict[Sym, int] = {}
        why = ""
        for key, v in sizes.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise UsageError(f"size for {key} must be an integer, got {v!r}")
            e = self.analysis.addresses.get(key)
            if e is not None and e.is_const:
                if e.value != v:
                    why = why or f"{key} is fixed to {e.value} in the model, not {v}"
                continue
            s = self.analysis.symbol(key)
            if s in env and env[s] != v:
                why = why or f"{key} is {s.name}, given both {env[s]} and {v}"
            env[s] = v
        out = [f"{s.name} = {v}" for s, v in env.items() if v < 1 or v > MAXDIM]
        if out:
            why = why or f"{out[0]} is not a size (1 to {MAXDIM})"
        free = set(self.solution.free) - {s for r in self.analysis.requirements for s in r.cond.symbols()}
        missing = [s for s in self.analysis.symbols if s not in env]
        defaulted = []
        for s in missing:
            if s in free:
                env[s] = 1
                defaulted.append(s.name)
        still = [s.name for s in self.analysis.symbols if s not in env]
        if still:
            raise UsageError(f"give a size for {', '.join(still)} (the answer depends on it)")
        return env, why, defaulted

    def accepts(self, sizes: Mapping[str, int]) -> bool | None:
        """Exact: True/False; None only when the analysis is incomplete and nothing proven fails.
        A model with modes takes their values by input name (``{"use_cache_branch": 1, ...}``);
        without them, sizes are accepted only if every mode accepts them."""
        if self.modes:
            picked, rest, _ = self._split_modes(sizes)
            answers = [m.accepts(rest) for m in picked]
            if any(a is False for a in answers):
                return False
            if not answers or not self._all_values_covered(sizes):
                return None  # a value no mode stands for: not analysed
            return None if any(a is None for a in answers) else True
        env, consistent, _ = self.sizes_env(sizes)
        if not consistent:
            return False
        return verdict(self.analysis, env)

    def at(self, sizes: Mapping[str, int]) -> Evaluation:
        """Every node's shapes at ``sizes`` and the first failure (for a model with modes: in the
        mode given, else in the first mode that fails there; for one split by control flow on the
        sizes: in the case whose path holds there)."""
        target, rest, context = self.resolve(sizes)
        if target is not self:
            ev = target.at(rest)
            ev.context = ", ".join(x for x in (context, ev.context) if x)
            return ev
        env, why, defaulted = self._sizes_env(sizes)
        ev = evaluate(self.analysis, env)
        ev.defaulted = defaulted
        ev.layers = layer_rows(ev, self.layers)
        if why:
            ev.ok = False
            ev.refused = why
        return ev

    def resolve(self, sizes: Mapping[str, int]) -> tuple[Report, dict[str, int], str]:
        """The report that answers per-size questions at ``sizes`` (a mode's, a control-flow case's,
        or this one), the sizes it takes, and which mode or case it is in words."""
        if self.modes:
            picked, rest, labels = self._split_modes(sizes)
            if not picked:
                raise UsageError(f"no mode of {', '.join(self.mode_inputs)} matches {dict(sizes)}")
            choice = 0
            if len(picked) > 1:  # no mode given: the first mode that fails there (or is undecided)
                answers = [m.accepts(rest) for m in picked]
                choice = next((i for i, a in enumerate(answers) if a is False), None) or next(
                    (i for i, a in enumerate(answers) if a is None), 0
                )
            sub, rest2, context = picked[choice].resolve(rest)
            return sub, rest2, ", ".join(x for x in (f"with {labels[choice]}", context) if x)
        if self.cases:
            env, why, _ = self._sizes_env(sizes)
            found = None if why else self._case_at(env)
            if found is not None:
                case, rep = found
                return rep, dict(sizes), f"where {all_of(case.path)}"
        return self, dict(sizes), ""

    # -- findings -----------------------------------------------------------------
    @functools.cached_property
    @_gc_paused
    def diagnostics(self) -> list[Diagnostic]:
        if self.modes:
            return self._diagnostics_by_mode()
        out: list[Diagnostic] = []
        for r in self.analysis.requirements:
            if not r.decidable or r.covers:
                continue
            d = requirement_diagnostic(r, self._cache, self._blind(r))
            if d is not None:
                out.append(d)
        if self.followed:
            out.extend(coverage_diagnostic(r, left) for r, left in self.uncovered)
        declared = set(self.analysis.symbols) - set(self.analysis.user_symbols)
        out.extend(pinned_diagnostics(self.analysis, self.necessary, self._cache, declared))
        if self.solution.is_empty():
            out.append(conflict_diagnostic(self.analysis, self._cache))
        out.extend(incomplete_diagnostics(self.solution))
        out.extend(exporter_range_diagnostics(self.analysis, self.solution, self.complete))
        out.extend(note_diagnostic(n) for n in self.analysis.notes)
        refused = any(n.code == "GC111" for n in self.analysis.notes)  # onnxruntime runs no size: GC111 says so
        if self.analysis.semantics == "spec" and _may_deviate(self.analysis) and not refused:
            out.extend(deviation_diagnostics(self.solution, self.ort_report.solution))
        out.sort(key=lambda d: (d.order if d.order >= 0 else 1 << 30, d.code))
        return [self._with_layer(d) for d in out]

    def _diagnostics_by_mode(self) -> list[Diagnostic]:
        """Every mode's findings; one found in some modes only says which (``context``)."""
        per = [(v, m.diagnostics) for v, m in self.modes]
        count: dict[tuple[str, str, str], int] = {}
        for _, ds in per:
            for k in {(d.code, d.node, d.message) for d in ds}:
                count[k] = count.get(k, 0) + 1
        out: list[Diagnostic] = []
        seen: set[tuple[str, str, str, str]] = set()
        for v, ds in per:
            for d in ds:
                k = (d.code, d.node, d.message)
                context = "" if count[k] == len(per) else f"with {v.label}"
                if (*k, context) in seen:
                    continue
                seen.add((*k, context))
                out.append(replace(d, context=context) if context else d)
        out.sort(key=lambda d: (d.order if d.order >= 0 else 1 << 30, d.code))
        return out

    @functools.cached_property
    @_gc_paused
    def ort_report(self) -> Report:
        """The same model analysed with onnxruntime's deviations from the spec."""
        if self.analysis.semantics == "ort":
            return self
        if len(self.analysis.steps) == len(self.analysis.order):  # re-run only what reads the semantics
            return type(self)(with_semantics(self.analysis, "ort"), self.name, self.framework)
        return type(self)(analyze(self.analysis.graph, self.analysis.dims, "ort"), self.name, self.framework)

    def ort_accepts(self, sizes: Mapping[str, int]) -> bool | None:
        """What onnxruntime will do (runs and produces no empty output), where it deviates from the spec."""
        return self.ort_report.accepts(sizes)

    @property
    def fails_as_declared(self) -> bool:
        """A model without dynamic sizes that fails at its declared shape."""
        return not self.analysis.symbols and self.solution.is_empty()


def _joined(
    a: dict[Sym, tuple[IntSet, tuple[int, int], str]], b: dict[Sym, tuple[IntSet, tuple[int, int], str]]
) -> dict[Sym, tuple[IntSet, tuple[int, int], str]]:
    """Blind sizes from two sources: per size the union, named after the earliest partly followed node."""
    out = dict(a)
    for s, (outside, first, label) in b.items():
        mine = out.get(s)
        if mine is None:
            out[s] = (outside, first, label)
            continue
        try:
            both = mine[0] | outside
        except TooComplex:  # past the period limit: every value counts as not followed (claims nothing)
            both = IntSet.full()
        out[s] = (both, min(mine[1], first), mine[2] if mine[1] <= first else label)
    return out


_DEVIATING_OPS = {"MaxPool", "AveragePool", "LpPool", "Conv", "ConvTranspose", "PRelu", "Slice"}


def _may_deviate(analysis: Analysis) -> bool:
    ops = {n.op_type for n in analysis.order}
    return bool(ops & _DEVIATING_OPS) or {"Range", "Gather"} <= ops  # Range -> Gather runs as a Slice


def _alternatives(per: list[tuple[str, dict[str, list[str] | None]]]) -> dict[str, list[str] | None]:
    """Output sizes that differ between modes or cases, each alternative with its condition."""
    first = per[0][1]
    out: dict[str, list[str] | None] = {}
    for name in first:
        shapes = [(label, dims.get(name)) for label, dims in per]
        if all(d == shapes[0][1] for _, d in shapes):
            out[name] = shapes[0][1]
            continue
        ranks = {len(d) for _, d in shapes if d is not None}
        if len(ranks) != 1 or any(d is None for _, d in shapes):
            out[name] = None
            continue
        (rank,) = ranks
        dims: list[str] = []
        for i in range(rank):
            vals = [(label, d[i]) for label, d in shapes if d is not None]
            if all(x == vals[0][1] for _, x in vals):
                dims.append(vals[0][1])
            else:
                dims.append(" | ".join(f"{x} ({label})" for label, x in vals))
        out[name] = dims
    return out
