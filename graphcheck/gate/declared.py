"""Declared sizes against the proven set: does a Triton config, a TensorRT profile or an MLflow
signature declare a size the model rejects?

Each profile becomes one requirement, decided exactly like ``--require`` (by
:func:`graphcheck.gate.decision.check_spec`: a failing one names the smallest counter-example and the
node that rejects it). What a declaration cannot bound (a -1 axis: any size) is a warning when the
model does not take every size; a range narrower than the proven run around it is a warning with
the wider range. Wrong input names, ranks, fixed sizes and element types fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphcheck.gate.artifacts import Declaration, DeclaredTensor
from graphcheck.gate.decision import SpecOutcome, check_spec, failure_at, first_failure
from graphcheck.gate.require import SizeSpec
from graphcheck.report.boxes import runs
from graphcheck.report.report import Report
from graphcheck.symbolic.intset import MAXDIM, IntSet

__all__ = ["DeclaredResult", "check_declaration", "declared_check"]


@dataclass
class DeclaredResult:
    outcomes: list[SpecOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _fail(text: str, why: str, where: str = "") -> SpecOutcome:
    return SpecOutcome(SizeSpec(text, (), "each"), "fail", why, where=where)


def _range_text(r: tuple[int, int]) -> str:
    return f"{{{r[0]}}}" if r[0] == r[1] else f"{r[0]}..{r[1]}"


def check_declaration(report: Report, decl: Declaration) -> DeclaredResult:
    out = DeclaredResult()
    inputs = {i.name: i for i in report.inputs}
    types = {vi.name: vi.elem_type for vi in report.analysis.graph.inputs}
    for k, profile in enumerate(decl.profiles):
        label = decl.label(k)
        declared = {t.name: t for t in profile}
        for name in declared:
            if name not in inputs:
                out.outcomes.append(_fail(f"{label}: input {name!r}", "the model has no such input"))
        ranges: dict[str, tuple[int, int]] = {}  # symbol -> declared range (intersected over its axes)
        anys: dict[str, str] = {}  # symbol -> where it is declared as any size
        for name, info in inputs.items():
            t = declared.get(name)
            dynamic = info.dims is not None and any(not d.isdigit() for d in info.dims)
            if t is None:
                if decl.all_inputs or dynamic:
                    out.outcomes.append(_fail(f"{label}: input {name!r}", "not declared"))
                continue
            _check_tensor(report, label, t, info.dims, types.get(name), ranges, anys, out)
        _check_ranges(report, label, ranges, anys, out)
    if decl.metadata_valid and decl.metadata_valid.strip() != report.valid.strip():
        out.warnings.append(
            f"{decl.source}: its metadata records valid: {decl.metadata_valid.strip()}; "
            f"proven now: {report.valid.strip()}"
        )
    return out


def _check_tensor(
    report: Report,
    label: str,
    t: DeclaredTensor,
    model_dims: tuple[str, ...] | None,
    elem_type: int | None,
    ranges: dict[str, tuple[int, int]],
    anys: dict[str, str],
    out: DeclaredResult,
) -> None:
    if t.elem_type is not None and elem_type and t.elem_type != elem_type:
        out.outcomes.append(
            _fail(f"{label}: input {t.name!r} type", f"declared element type {t.elem_type}, the model's is {elem_type}")
        )
    if t.dims is None or model_dims is None:
        return
    if len(t.dims) != len(model_dims):
        out.outcomes.append(
            _fail(
                f"{label}: input {t.name!r} rank",
                f"declares {len(t.dims)} axes, the model's input has {len(model_dims)} ([{', '.join(model_dims)}])",
            )
        )
        return
    for axis, (d, m) in enumerate(zip(t.dims, model_dims)):
        where = f"{t.name}:{axis}"
        if m.isdigit():
            if d is not None and d != (int(m), int(m)):
                out.outcomes.append(
                    _fail(
                        f"{label}: {where} in {_range_text(d)}",
                        f"{where} is fixed at {m} in the model",
                        f"input {t.name}",
                    )
                )
            continue
        if d is None:
            anys.setdefault(m, f"{label}: {where}")
            continue
        if m in ranges and ranges[m] != d:
            out.warnings.append(
                f"{label}: {m} is declared {_range_text(ranges[m])} on one axis and {_range_text(d)} on {where}; "
                f"the model takes one size for both"
            )
            d = (max(d[0], ranges[m][0]), min(d[1], ranges[m][1]))
            if d[0] > d[1]:
                out.outcomes.append(_fail(f"{label}: {m}", "the declared ranges of its axes do not overlap"))
                continue
        ranges[m] = d


def _check_ranges(
    report: Report, label: str, ranges: dict[str, tuple[int, int]], anys: dict[str, str], out: DeclaredResult
) -> None:
    sol = report.solution
    coupled_with_any = set()
    for p in sol.parts:
        names = {s.name for s in p.syms}
        if len(names) > 1 and names & set(anys) and names & set(ranges):
            coupled_with_any |= names & set(ranges)
            out.warnings.append(
                f"{label}: {', '.join(sorted(names & set(anys)))} declared as any size, coupled with "
                f"{', '.join(sorted(names & set(ranges)))}: the coupling ({p.describe()}) is not checked"
            )
    for name, where in anys.items():
        values = report.valid_set(name)
        if values is not None and values.is_full():
            continue
        statement = values.describe(name) if values is not None else "a coupled set"
        bad = values.complement().min() if values is not None else None
        detail = ""
        if bad is not None:
            at = first_failure(report, {name: bad})
            detail = f": {name} = {bad} fails" + (f" at {at}" if at else "")
        out.warnings.append(f"{where} is declared as any size (-1); only {statement} is valid{detail}")
    checked = {n: r for n, r in ranges.items() if n not in coupled_with_any}
    if checked:
        order = tuple(checked)
        text = f"{label}: " + ", ".join(f"{n} in {_range_text(r)}" for n, r in checked.items())
        spec = SizeSpec(text, order, "each", tuple(IntSet.interval(*checked[n]) for n in order))
        outcome = _inside(report, check_spec(report, spec), checked)
        out.outcomes.append(outcome)
        if outcome.status == "pass":
            _narrower(report, label, checked, out)


def _narrower(report: Report, label: str, ranges: dict[str, tuple[int, int]], out: DeclaredResult) -> None:
    """A declared range inside a longer proven run of its size: say how wide it may be."""
    for name, (a, b) in ranges.items():
        values = report.valid_set(name)
        if values is None:
            continue
        lo = a
        while lo - 1 >= 1 and lo - 1 in values and a - lo < 1 << 20:
            lo -= 1
        found = runs(values, a, MAXDIM, limit=1)
        if not found or found[0][0] != a:
            continue
        hi = found[0][1]
        if lo < a or hi > b:
            top = "inf" if hi > MAXDIM - 1 else str(hi)
            out.warnings.append(
                f"{label}: {name} declared {a}..{b}, narrower than needed: {lo}..{top} is proven valid "
                f"({values.describe(name)})"
            )


def declared_check(decl: Declaration, report: Report) -> tuple[list[SpecOutcome], list[str]]:
    """For :func:`graphcheck.gate.decision.run_gate` (``functools.partial(declared_check, decl)``)."""
    found = check_declaration(report, decl)
    return found.outcomes, found.warnings


def _inside(report: Report, outcome: SpecOutcome, ranges: dict[str, tuple[int, int]]) -> SpecOutcome:
    """The counter-example inside the declared box: the failing sizes, the others at their declared minimum."""
    if outcome.status != "fail":
        return outcome
    point = dict(outcome.smallest)
    for name, (a, b) in ranges.items():
        if not a <= point.get(name, a) <= b:
            point[name] = a
    if point == outcome.smallest or report.accepts(point) is not False:
        return outcome
    at = failure_at(report, point)
    outcome.smallest = point
    outcome.where, outcome.detail = at.get("where", ""), at.get("detail", "")
    outcome.code, outcome.node, outcome.op, outcome.layer = (at.get(k, "") for k in ("code", "node", "op", "layer"))
    return outcome
