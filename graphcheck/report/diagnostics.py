"""Turning conditions, notes and the solution into findings with stable codes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from graphcheck.errors import TooComplex
from graphcheck.infer.engine import Analysis
from graphcheck.infer.facts import Note, Requirement
from graphcheck.report.codes import CODES
from graphcheck.symbolic.cond import Cond, Const
from graphcheck.symbolic.expr import Sym
from graphcheck.symbolic.intset import IntSet
from graphcheck.symbolic.solve import CondPart, EnumPart, Part, ProjectedPart, Solution, UniPart, solve
from graphcheck.symbolic.usolve import cond_set

PINNED_LIMIT = 16


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    severity: str
    node: str
    op: str
    order: int
    message: str
    what: str = ""
    formula: str = ""
    fails_for: str = ""  # the sizes at which this condition fails, e.g. "L <= 6"
    needs: str = ""  # the sizes this condition alone admits, e.g. "L >= 7"
    fix: str = ""
    symbols: tuple[str, ...] = ()
    layer: str = ""  # the framework layer (Keras layer / PyTorch module) the node belongs to
    layer_type: str = ""  # its class (Conv1D, Conv1d) when known, else the main ONNX op
    context: str = ""  # the mode it holds in, when not in every mode (``with use_cache_branch = true``)

    @property
    def where(self) -> str:
        """``conv_a (Conv1D) [toy_1/conv_a_1/convolution]``, or the ONNX node alone."""
        if self.layer:
            kind = self.layer_type or self.op
            node = f" [{self.node}]" if self.node else ""  # a front end's finding names a layer, no node
            return f"{self.layer} ({kind}){node}" if kind else f"{self.layer}{node}"
        return f"{self.node} ({self.op})" if self.node else ""

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["symbols"] = list(self.symbols)
        return d


def _diag(code: str, node: str, op: str, order: int, message: str, **kw: object) -> Diagnostic:
    c = CODES[code]
    return Diagnostic(code, c.name, c.severity, node, op, order, message, **kw)  # type: ignore[arg-type]


def requirement_set(r: Requirement, cache: dict[Cond, IntSet]) -> tuple[Sym, IntSet] | None:
    """The exact set of the one symbol a condition mentions, or None (several symbols / too complex)."""
    syms = r.cond.symbols()
    if len(syms) != 1:
        return None
    (s,) = syms
    try:
        return s, cond_set(r.cond, s, cache)
    except TooComplex:
        return None


def coverage_diagnostic(r: Requirement, left: str) -> Diagnostic:
    """A node followed for part of the sizes only (GC110): which sizes stay unknown, and why."""
    why = f": {r.formula}" if r.formula else ""
    msg = f"{r.what}{why}  decided only for other sizes; unknown for {left}"
    return _diag(r.code, r.node, r.op, r.order, msg, what=r.what, formula=r.formula, fails_for=left)


def requirement_diagnostic(
    r: Requirement, cache: dict[Cond, IntSet], blind: tuple[IntSet, str] | None = None
) -> Diagnostic | None:
    """A finding for a condition that fails for some sizes; None when it always holds (or fails
    only where it is not known: ``blind`` is the sizes of its one size at which a node upstream
    was not followed, with that node's label; there the condition says nothing)."""
    syms = tuple(sorted(s.name for s in r.cond.symbols()))
    if r.value is not None:
        value_txt = f"{r.what} = {r.formula}" if r.formula else f"{r.what} = {r.value}"
    else:
        value_txt = r.what
    if isinstance(r.cond, Const) or not syms:
        msg = f"{value_txt}: {r.formula or r.cond} fails for every input size"
        return _diag(
            r.code,
            r.node,
            r.op,
            r.order,
            msg,
            what=r.what,
            formula=r.formula,
            fails_for="every size",
            needs="none",
            fix=r.fix,
        )
    one = requirement_set(r, cache)
    if one is not None:
        s, ok = one
        if ok.is_full():
            return None
        bad = ok.complement()
        unknown = ""
        try:
            hidden = bad & blind[0] if blind is not None else None
            if blind is not None and hidden is not None and not hidden.is_empty():
                unknown = f"  (unknown for {hidden.describe(s.name)}, past {blind[1]})"
                bad = bad & blind[0].complement()
        except TooComplex:  # where a node upstream was not followed is too complex to take out: no claim
            return None
        if bad.is_empty():
            return None
        fails = bad.describe(s.name)
        needs = ok.describe(s.name)
        if r.value is not None:
            msg = f"{value_txt}  is < 1 for {fails}{unknown}"
        else:
            msg = f"{value_txt}: {r.formula or r.cond}  fails for {fails}{unknown}"
        return _diag(
            r.code,
            r.node,
            r.op,
            r.order,
            msg,
            what=r.what,
            formula=r.formula,
            fails_for=fails,
            needs=needs,
            fix=r.fix,
            symbols=syms,
        )
    sol = solve([r.cond], r.cond.symbols(), cache)
    needs = sol.describe(with_free=False)
    if r.value is not None:
        msg = f"{value_txt}  is < 1 unless {needs}"
    else:
        msg = f"{value_txt}: {r.formula or r.cond}  holds only when {needs}"
    return _diag(
        r.code,
        r.node,
        r.op,
        r.order,
        msg,
        what=r.what,
        formula=r.formula,
        fails_for=f"not ({needs})",
        needs=needs,
        fix=r.fix,
        symbols=syms,
    )


def note_diagnostic(n: Note) -> Diagnostic:
    return _diag(n.code, n.node, n.op, n.order, n.message)


def pinned_diagnostics(
    analysis: Analysis, solution: Solution, cache: dict[Cond, IntSet], declared: set[Sym]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for part in solution.parts:
        if not isinstance(part, UniPart) or part.sym not in declared:
            continue
        values = part.values
        if values.is_empty() or not values.is_finite_small(PINNED_LIMIT):
            continue
        s = part.sym
        pins = []
        for r in analysis.requirements:
            if r.cond.symbols() == {s}:
                one = requirement_set(r, cache)
                if one is not None and one[1].is_finite_small(PINNED_LIMIT):
                    pins.append(r)
        where = pins[0] if pins else None
        set_txt = values.describe(s.name)
        if where is not None:
            msg = (
                f"{s.name} is declared dynamic but only {set_txt} can work: pinned by "
                f"{where.node} ({where.op}) {where.what}: {where.formula or where.cond}"
            )
            out.append(
                _diag(
                    "GC007",
                    where.node,
                    where.op,
                    where.order,
                    msg,
                    what=where.what,
                    formula=where.formula,
                    needs=set_txt,
                    fix=where.fix,
                    symbols=(s.name,),
                )
            )
        else:
            msg = f"{s.name} is declared dynamic but only {set_txt} can work (several conditions together pin it)"
            out.append(_diag("GC007", "", "", -1, msg, needs=set_txt, symbols=(s.name,)))
    return out


def conflict_diagnostic(analysis: Analysis, cache: dict[Cond, IntSet]) -> Diagnostic:
    """GC008: name the condition at which the running conjunction becomes unsatisfiable."""
    decidable = [r for r in analysis.requirements if r.decidable]
    conds = [r.cond for r in decidable]

    def empty(k: int) -> bool:  # the first k conditions admit no size (more conditions, fewer sizes)
        return solve(conds[:k], analysis.symbols, cache).is_empty()

    if decidable and empty(len(conds)):
        lo, hi = 1, len(conds)  # bisect for the shortest empty prefix: log-many solves, not one per condition
        while lo < hi:
            mid = (lo + hi) // 2
            if empty(mid):
                hi = mid
            else:
                lo = mid + 1
        r = decidable[lo - 1]
        msg = f"no input size satisfies every condition; the first contradiction is at {r.node} ({r.op}) {r.what}"
        if r.formula:
            msg += f": {r.formula}"
        return _diag("GC008", r.node, r.op, r.order, msg, what=r.what, formula=r.formula, fix=r.fix)
    return _diag("GC008", "", "", -1, "no input size satisfies every condition")


def incomplete_diagnostics(solution: Solution) -> list[Diagnostic]:
    out = []
    for p in solution.parts:
        if isinstance(p, CondPart):
            names = ", ".join(s.name for s in p.syms)
            out.append(
                _diag(
                    "GC105",
                    "",
                    "",
                    -1,
                    f"valid set of {names} given as conditions ({p.reason})",
                    symbols=tuple(s.name for s in p.syms),
                )
            )
    return out


def deviation_diagnostics(spec: Solution, ort: Solution) -> list[Diagnostic]:
    """GC106: the sizes onnxruntime treats differently from the spec, per independent group of sizes."""
    out: list[Diagnostic] = []
    ort_uni = {p.sym: p.values for p in ort.parts if isinstance(p, UniPart)}
    ort_by_syms = {frozenset(p.syms): p for p in ort.parts}
    for p in spec.parts:
        names = tuple(s.name for s in p.syms)
        if isinstance(p, UniPart):
            theirs = ort_uni.get(p.sym, IntSet.full() if p.sym in ort.free else None)
            try:
                if theirs is None or theirs == p.values:
                    continue
                extra = theirs - p.values
                missing = p.values - theirs
            except TooComplex:  # the two sets' common period is past the limit: no claim either way
                continue
            parts = []
            if not extra.is_empty():
                parts.append(f"it also runs {extra.describe(p.sym.name)}, which the spec makes invalid")
            if not missing.is_empty():
                parts.append(f"it fails at {missing.describe(p.sym.name)}, which the spec allows")
            msg = "onnxruntime deviates from the ONNX spec: " + "; ".join(parts)
        else:
            other = ort_by_syms.get(frozenset(p.syms))
            mine = p.describe()
            theirs_txt = other.describe() if other is not None else "a different set"
            if theirs_txt == mine or (other is not None and _same_points(p, other)):
                continue
            msg = f"onnxruntime deviates from the ONNX spec for {', '.join(names)}: it accepts {theirs_txt}"
        out.append(_diag("GC106", "", "", -1, msg, symbols=names))
    return out


def _same_points(a: Part, b: Part, limit: int = 4096) -> bool:
    """Two coupled parts over the same sizes that are the same finite set (worded apart)."""
    pa, pb = _points(a, limit), _points(b, limit)
    return pa is not None and pb is not None and pa == pb


def _points(p: Part, limit: int) -> frozenset[frozenset[tuple[str, int]]] | None:
    """Every point of a finite part (each a set of (size, value)), or None (infinite, too many, or
    a form not enumerated)."""
    if isinstance(p, UniPart):
        if not p.values.is_finite_small(limit):
            return None
        return frozenset(frozenset({(p.sym.name, v)}) for v in p.values.elements(limit))
    if isinstance(p, EnumPart):
        order = sorted(p.syms, key=lambda x: x.key)
        pts = p.points_all(limit)
        return None if pts is None else frozenset(frozenset(zip((s.name for s in order), pt)) for pt in pts)
    if isinstance(p, ProjectedPart):
        inner = p.inner.points(limit)
        if inner is None:
            return None
        out = set()
        for pt in inner:
            env = dict(zip(p.inner.symbols, pt))
            at = {**env, p.var: 1}
            lo = max([1, *(e.evaluate(at) for e in p.lows)])
            hi = min(e.evaluate(at) for e in p.highs) if p.highs else None
            if hi is None or hi - lo > limit:
                return None
            for v in range(lo, hi + 1):
                full = {**env, p.var: v}
                if p.contains(full):
                    out.add(frozenset((s.name, x) for s, x in full.items()))
            if len(out) > limit:
                return None
        return frozenset(out)
    return None


def exporter_range_diagnostics(analysis: Analysis, solution: Solution, complete: bool = True) -> list[Diagnostic]:
    """GC107: torch.export's declared ranges against the exact valid sets."""
    from graphcheck.model.exporter_meta import describe_range, match_symbols, range_set, torch_ranges

    ranges = torch_ranges(analysis.graph.graph_metadata)
    if not ranges:
        return []
    names = [s.name for s in analysis.symbols]
    renamed = {t: analysis.aliases[t] for t in ranges if analysis.aliases.get(t) in names}  # s70 -> seq_len
    rest = {t: r for t, r in ranges.items() if t not in renamed}
    matched = {**renamed, **match_symbols(rest, [n for n in names if n not in renamed.values()])}
    out: list[Diagnostic] = []
    for tname, ours_name in matched.items():
        lo, hi = ranges[tname]
        sym = next(s for s in analysis.symbols if s.name == ours_name)
        ours = solution.for_symbol(sym)
        if ours is None:
            continue
        declared = range_set(lo, hi)
        admitted_failing = declared - ours
        excluded_working = ours - declared
        parts = []
        if not admitted_failing.is_empty():
            zero = " (and 0, an empty tensor)" if lo <= 0 else ""
            parts.append(f"it admits {admitted_failing.describe(ours_name)}{zero}, which fail")
        if not excluded_working.is_empty() and complete:  # "work" is only claimed when proven
            parts.append(f"it excludes {excluded_working.describe(ours_name)}, which work")
        if not parts:
            continue  # torch's default lower bound 0 alone is not worth a finding
        label = ours_name if tname == ours_name else f"{ours_name} (torch's {tname})"
        msg = (
            f"torch.export declared {label} in {describe_range(lo, hi)}, but the valid set is "
            f"{ours.describe(ours_name)}: " + "; ".join(parts)
        )
        out.append(
            _diag(
                "GC107",
                "",
                "",
                -1,
                msg,
                symbols=(ours_name,),
                fix=f"declare the dimension with torch.export.Dim(min=..., max=...) matching "
                f"{ours.describe(ours_name)}",
            )
        )
    return out


def exporter_diagnostic(code: str, message: str, symbols: tuple[str, ...] = (), fix: str = "") -> Diagnostic:
    """A finding about how a front end exported the model (GC108, GC109): no node, before the others."""
    return _diag(code, "", "", -1, message, symbols=symbols, fix=fix)
