"""The gate: are all the sizes a team requires proven valid?

Decided from the exact valid set, never by sampling: for a size independent of the others the
required set minus the valid set is computed exactly; for coupled sizes every required
combination is checked against the solved set (exact membership), as long as there are finitely
many (a bounded requirement). What cannot be decided is "unknown" (exit 2 unless allowed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product

from graphcheck.errors import UsageError
from graphcheck.gate.require import SizeSpec
from graphcheck.report.diagnostics import Diagnostic
from graphcheck.report.fixes import Fix
from graphcheck.report.report import Report
from graphcheck.symbolic.expr import Sym
from graphcheck.symbolic.intset import IntSet
from graphcheck.symbolic.solve import Part, UniPart

MAX_COMBINATIONS = 200_000
DeclaredCheck = Callable[[Report], tuple[list["SpecOutcome"], list[str]]]
SEVERITY_RANK = {"never": 99, "error": 3, "warning": 2, "info": 1, "note": 1}

__all__ = ["GateResult", "SpecOutcome", "run_gate", "check_spec", "failure_at", "first_failure", "MAX_COMBINATIONS"]


@dataclass
class SpecOutcome:
    spec: SizeSpec
    status: str  # "pass", "fail", "unknown"
    failing: str = ""  # the failing part of the requirement, e.g. "L % 2 == 1" or a list of combinations
    smallest: dict[str, int] = field(default_factory=dict)  # the smallest failing sizes
    where: str = ""  # the first failing layer/node at the smallest failing sizes
    detail: str = ""  # its condition with the numbers filled in
    reason: str = ""  # why it is unknown
    code: str = ""  # the failing condition's code, node, op and framework layer
    node: str = ""
    op: str = ""
    layer: str = ""
    fixes: list[Fix] = field(default_factory=list)  # model changes under which the whole requirement holds


@dataclass
class GateResult:
    model: str
    status: str  # "pass", "fail", "unknown", "error"
    outcomes: list[SpecOutcome] = field(default_factory=list)
    blocking: list[Diagnostic] = field(default_factory=list)  # findings at or above the policy's fail-on
    report: Report | None = None
    error: str = ""
    note: str = ""
    warnings: list[str] = field(default_factory=list)  # declared artifacts: what they leave unchecked or too narrow

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1}.get(self.status, 2)


def _smallest_failure(report: Report, point: Mapping[str, int]) -> dict[str, str]:
    """Where the model first fails at a failing point: the layer/node, its condition with the numbers."""
    from graphcheck.render.text import failure_detail, what_text, where_text

    try:
        ev = report.at(point)
    except UsageError:
        return {}
    r = ev.first_failure
    if r is None:
        return {}
    lay = report.layers.of(r.node)
    return {
        "where": f"{where_text(report, r.node, r.op)} {what_text(report, r.node, r.what)}",
        "detail": failure_detail(ev),
        "code": r.code,
        "node": r.node,
        "op": r.op,
        "layer": lay.name if lay is not None else "",
    }


def _complete_point(report: Report, partial: Mapping[str, int]) -> dict[str, int]:
    """Fill the sizes not given with their smallest valid values (free ones with 1)."""
    base = report.smallest() or {}
    out = {s: base.get(s, 1) for s in report.symbols}
    out.update(partial)
    return out


def _check_spec(report: Report, spec: SizeSpec, with_fixes: bool = True) -> SpecOutcome:
    analysis = report.analysis
    sol = report.solution
    # resolve names: symbols, or input axes fixed in the model
    syms: dict[str, Sym] = {}
    fixed: dict[str, int] = {}
    for name in spec.names:
        e = analysis.addresses.get(name)
        if e is not None and e.is_const:
            fixed[name] = e.value
        else:
            syms[name] = analysis.symbol(name)
    # a fixed axis accepts only its declared size
    for name, c in fixed.items():
        bad = spec.set_for(name) - IntSet.points([c])
        if not bad.is_empty():
            return SpecOutcome(
                spec,
                "fail",
                f"{bad.describe(name)} (the model declares {name} = {c})",
                {name: bad.min() or 0},
                where=f"input {name.split(':')[0]}",
                detail=f"{name} is fixed at {c} in the model",
            )
    if not syms:
        return SpecOutcome(spec, "pass")
    by_sym = {s: n for n, s in syms.items()}
    parts: list[Part] = []
    for p in sol.parts:
        if any(s in by_sym for s in p.syms) and p not in parts:
            parts.append(p)
    failing_texts: list[str] = []
    smallest: dict[str, int] = {}
    for p in parts:
        missing = [s.name for s in p.syms if s not in by_sym]
        if missing:
            raise UsageError(
                f"requirement {spec.text!r}: {', '.join(missing)} is coupled with "
                f"{', '.join(by_sym[s] for s in p.syms if s in by_sym)}; give them in one requirement, "
                f"e.g. ({', '.join(s.name for s in p.syms)}) in {{...}}"
            )
        if isinstance(p, UniPart):
            name = by_sym[p.sym]
            bad = spec.set_for(name) - p.values
            if not bad.is_empty():
                failing_texts.append(bad.describe(name))
                smallest[p.sym.name] = bad.min() or 0
            continue
        # a coupled group: every required combination, checked exactly
        names = [by_sym[s] for s in p.syms]
        combos = _combinations(spec, names)
        if combos is None:
            return SpecOutcome(
                spec,
                "unknown",
                reason=f"{', '.join(names)} are coupled and the requirement has more than "
                f"{MAX_COMBINATIONS} combinations (or is unbounded): bound it",
            )
        bad_points = []
        for combo in combos:
            env = {s: combo[i] for i, s in enumerate(p.syms)}
            if not p.contains(env):
                bad_points.append(combo)
        if bad_points:
            shown = ", ".join("(" + ", ".join(map(str, b)) + ")" for b in bad_points[:8])
            more = f" and {len(bad_points) - 8} more" if len(bad_points) > 8 else ""
            failing_texts.append(f"({', '.join(names)}) in {{{shown}{more}}}")
            smallest.update({s.name: v for s, v in zip(p.syms, min(bad_points))})
    # symbols free in the model (batch-like) always pass
    if failing_texts:
        if spec.kind != "each":  # report a combination the requirement actually asks for
            combos = _combinations(spec, list(spec.names)) or []
            for combo in combos:
                given = {syms[n].name: v for n, v in zip(spec.names, combo) if n in syms}
                if report.accepts(_complete_point(report, given)) is False:
                    smallest = given
                    break
        point = _complete_point(report, smallest)
        at = _smallest_failure(report, point)
        fixes = _fixes(report, spec, point) if with_fixes else []
        return SpecOutcome(
            spec,
            "fail",
            "; ".join(failing_texts),
            point,
            at.get("where", ""),
            at.get("detail", ""),
            code=at.get("code", ""),
            node=at.get("node", ""),
            op=at.get("op", ""),
            layer=at.get("layer", ""),
            fixes=fixes,
        )
    return SpecOutcome(spec, "pass")


def check_spec(report: Report, spec: SizeSpec) -> SpecOutcome:
    """One requirement decided exactly (no fix search): pass, fail with the smallest failing sizes
    and the first failing node, or unknown."""
    try:
        return _check_spec(report, spec, with_fixes=False)
    except UsageError as exc:
        return SpecOutcome(spec, "unknown", reason=str(exc))


def failure_at(report: Report, point: Mapping[str, int]) -> dict[str, str]:
    """Where the model first fails at these sizes: ``where``, ``detail``, ``code``, ``node``, ``op``, ``layer``."""
    return _smallest_failure(report, point)


def first_failure(report: Report, partial: Mapping[str, int]) -> str:
    """Where the model first fails at these sizes (the others at their smallest valid values)."""
    return _smallest_failure(report, _complete_point(report, partial)).get("where", "")


def _fixes(report: Report, spec: SizeSpec, point: Mapping[str, int]) -> list[Fix]:
    """Changes to the first failing layers under which the model meets the whole requirement."""
    from graphcheck.report.fixes import suggest_fixes

    def meets(rep: Report) -> bool:
        try:
            return _check_spec(rep, spec, with_fixes=False).status == "pass"
        except UsageError:
            return False

    try:
        return suggest_fixes(report, point, verify=meets)
    except UsageError:
        return []


def _combinations(spec: SizeSpec, names: Sequence[str]) -> list[tuple[int, ...]] | None:
    if spec.kind == "points":
        idx = [spec.names.index(n) for n in names]
        return sorted({tuple(p[i] for i in idx) for p in spec.points})
    if spec.kind == "equal":
        s = spec.sets[0]
        if s.unbounded() or s.count() > MAX_COMBINATIONS:
            return None
        return [tuple(v for _ in names) for v in s.elements(MAX_COMBINATIONS)]
    sets = [spec.set_for(n) for n in names]
    total = 1
    for s in sets:
        if s.unbounded():
            return None
        total *= s.count()
        if total > MAX_COMBINATIONS:
            return None
    return list(product(*[s.elements(MAX_COMBINATIONS) for s in sets]))


def run_gate(
    report: Report,
    specs: Sequence[SizeSpec],
    *,
    allow_unknown: bool = False,
    fail_on: str = "never",
    severity: Mapping[str, str] | None = None,
    declared: DeclaredCheck | None = None,
) -> GateResult:
    """Decide the gate for one analysed model.

    ``fail_on`` is the policy's threshold ("error", "warning", "info" or "never"): findings whose
    severity (after the policy's ``severity`` overrides per code) reaches it block the gate too.
    Condition findings (GC0xx) count only where they fail inside the required sizes, which the
    requirements themselves decide, so the threshold applies to the other codes.
    """
    result = GateResult(report.name, "pass", report=report)
    if specs:
        result.outcomes = [_check_spec(report, s) for s in specs]
    elif report.any_valid is False:
        result.outcomes = [SpecOutcome(SizeSpec("any size", (), "each"), "fail", "no size at all is valid")]
    overrides = {k.upper(): v for k, v in (severity or {}).items()}
    threshold = SEVERITY_RANK.get(fail_on, 99)
    for d in report.diagnostics:
        sev = overrides.get(d.code, d.severity)
        if d.code.startswith("GC0"):
            continue
        if SEVERITY_RANK.get(sev, 0) >= threshold:
            result.blocking.append(d)
    if declared is not None:  # the sizes a serving artifact declares (graphcheck.gate.declared)
        outcomes, warnings = declared(report)
        result.outcomes.extend(outcomes)
        result.warnings.extend(warnings)
    if any(o.status == "fail" for o in result.outcomes) or result.blocking:
        result.status = "fail"
    elif any(o.status == "unknown" for o in result.outcomes) or not report.complete:
        if allow_unknown:
            result.status = "pass"
            result.note = "passed with unknowns allowed: the analysis is incomplete"
        else:
            result.status = "unknown"
    return result


# ---------------------------------------------------------------------------
# running the gate on files (one process per model in batch mode)


def result_dict(result: GateResult) -> dict[str, object]:
    """A JSON-ready summary (also what crosses process boundaries in batch mode)."""
    from graphcheck.version import __version__

    rep = result.report
    return {
        "model": result.model,
        "status": result.status,
        "error": result.error,
        "note": result.note,
        "graphcheck_version": __version__,
        "valid": rep.valid if rep is not None else None,
        "symbols": rep.symbols if rep is not None else [],
        "requirements": [
            {
                "requirement": o.spec.text,
                "status": o.status,
                "failing": o.failing,
                "smallest_failing": o.smallest,
                "first_failure": o.where,
                "detail": o.detail,
                "reason": o.reason,
                "first_failure_code": o.code,
                "first_failure_node": o.node,
                "first_failure_op": o.op,
                "first_failure_layer": o.layer,
                "fixes": [f.to_dict() for f in o.fixes],
            }
            for o in result.outcomes
        ],
        "blocking": [d.to_dict() for d in result.blocking],
        "diagnostics": [d.to_dict() for d in rep.diagnostics] if rep is not None else [],
        "warnings": list(result.warnings),
    }


def gate_path(
    model: str,
    requires: Sequence[str] = (),
    dims: Sequence[str] = (),
    *,
    policy_path: str | None = None,
    allow_unknown: bool | None = None,
    display_name: str | None = None,
    declared: DeclaredCheck | None = None,
) -> dict[str, object]:
    """Gate one model file with the policy's settings for it plus the given ones; never raises."""
    from graphcheck.api import check
    from graphcheck.errors import GraphcheckError
    from graphcheck.gate.policy import load_policy
    from graphcheck.gate.require import parse_requirement

    name = display_name or model
    try:
        policy = load_policy(policy_path)
        settings = policy.settings_for(name)
        specs = [parse_requirement(r) for r in (*settings.require, *requires)]
        report = check(model, [*settings.dims, *dims])
        report.name = name
        allow = settings.allow_unknown if allow_unknown is None else allow_unknown
        result = run_gate(
            report, specs, allow_unknown=allow, fail_on=settings.fail_on, severity=settings.severity, declared=declared
        )
        return result_dict(result)
    except GraphcheckError as exc:
        return {
            "model": name,
            "status": "error",
            "error": str(exc),
            "requirements": [],
            "diagnostics": [],
            "blocking": [],
            "valid": None,
            "symbols": [],
            "note": "",
        }
    except Exception as exc:  # one bad file must not stop a batch
        return {
            "model": name,
            "status": "error",
            "error": f"internal error: {type(exc).__name__}: {exc}",
            "requirements": [],
            "diagnostics": [],
            "blocking": [],
            "valid": None,
            "symbols": [],
            "note": "",
        }


def expand_models(args: Sequence[str]) -> list[str]:
    """Paths, directories (every *.onnx below) and globs; registry URIs (models:/...) kept as they are."""
    import glob
    from pathlib import Path

    out: list[str] = []
    for a in args:
        if a.startswith("models:/"):
            out.append(a)
            continue
        p = Path(a)
        if p.is_dir():
            out.extend(sorted(str(x) for x in p.rglob("*.onnx")))
        elif any(ch in a for ch in "*?["):
            out.extend(sorted(glob.glob(a, recursive=True)))
        else:
            out.append(a)
    seen: set[str] = set()
    return [x for x in out if not (x in seen or seen.add(x))]  # type: ignore[func-returns-value]
