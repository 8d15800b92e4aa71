"""Plain-text output for people."""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphcheck.errors import printable
from graphcheck.report.evaluate import Evaluation

if TYPE_CHECKING:
    from graphcheck.report.fixes import Fix
    from graphcheck.report.report import Report

MAX_FINDINGS = 25


def _dims(dims: tuple[str, ...] | list[str] | None) -> str:
    return "[?]" if dims is None else "[" + ", ".join(dims) + "]"


def render_check(
    report: Report, evaluation: Evaluation | None = None, show_all: bool = False, fixes: list[Fix] | None = None
) -> str:
    lines: list[str] = []
    ins = "  ".join(f"input {i.name}{_dims(i.dims)}" for i in report.inputs)
    lines.append(f"{report.name}  {ins}")
    exporter = getattr(report, "exporter", "")  # a live model's report (graphcheck.torch, .keras, .jax)
    if exporter:
        lines.append(f"  exported by {exporter}")
    lines.append(f"  valid: {report.valid}")
    small = report.smallest()
    if small and report.symbols and report.any_valid is not False:
        constrained = {k: v for k, v in small.items() if k not in {s.name for s in report.solution.free}}
        if constrained:
            lines.append("  smallest: " + ", ".join(f"{k} = {v}" for k, v in constrained.items()))
    diags = report.diagnostics
    shown = diags if show_all else diags[:MAX_FINDINGS]
    width = max((len(f"{d.code} {d.name}") for d in shown), default=0)
    for d in shown:
        head = f"{d.code} {d.name}".ljust(width)
        where = f"{d.where}  " if d.where else ""
        context = f"[{d.context}] " if d.context else ""
        lines.append(f"  {head}  {where}{context}{d.message}")
    if len(diags) > len(shown):
        lines.append(f"  ... {len(diags) - len(shown)} more findings (--all shows them, --format json lists them)")
    for name, dims in report.output_dims.items():
        lines.append(f"  output {name}{_dims(dims)}")
    if evaluation is not None:
        lines.extend(render_at_summary(evaluation, report, fixes))
    return "\n".join(map(printable, lines))  # names and paths from the file: one line each


def where_text(report: Report | None, node: str, op: str) -> str:
    lay = report.layers.of(node) if report is not None else None
    if lay is not None and lay.name:
        return f"{lay.name} ({lay.kind or op}) [{node}]"
    return f"{node} ({op})"


def what_text(report: Report | None, node: str, what: str) -> str:
    """A condition's axis as the layer's framework names it (``length (axis 1)`` of a Keras Conv1D)."""
    return report.layers.axis_label(node, what) if report is not None else what


def render_at_summary(ev: Evaluation, report: Report | None = None, fixes: list[Fix] | None = None) -> list[str]:
    sizes = ev.sizes_text()
    if ev.ok is True:
        outs = ", ".join(f"{k}{_dims([str(x) for x in v]) if v is not None else '[?]'}" for k, v in ev.outputs.items())
        return [f"  at {sizes}: ok  ({outs})"]
    if ev.ok is None:
        partial = ev.not_followed
        if partial is not None:
            where = where_text(report, partial.node, partial.op)
            why = f"{where} was followed for other sizes only: {partial.what}"
            return [f"  at {sizes}: unknown ({why}; nothing proven fails)"]
        return [f"  at {sizes}: unknown (the analysis is incomplete; nothing proven fails)"]
    r = ev.first_failure
    if r is None:
        return [f"  at {sizes}: FAILS: {ev.refused or 'these sizes cannot be fed'}"]
    out = [f"  at {sizes}: FAILS at {where_text(report, r.node, r.op)} {what_text(report, r.node, r.what)}"]
    detail = failure_detail(ev)
    if detail:
        out.append(f"    {detail}")
    if fixes:
        out.append("    fixes (each verified by re-running the analysis at these sizes):")
        out.extend(f"      - {f.text}" for f in fixes)
    elif r.fix:
        out.append(f"    fix: {r.fix}")
    return out


def failure_detail(ev: Evaluation) -> str:
    r = ev.first_failure
    if r is None:
        return ""
    env = {s: ev.sizes[s.name] for s in r.cond.symbols() if s.name in ev.sizes}
    if r.value is not None:
        try:
            val = r.value.evaluate(env)
        except KeyError:
            return r.formula
        return f"{r.formula or r.value} = {val}, but every size must be >= 1"
    at = getattr(r.formula_src, "at", None)
    if callable(at):
        try:
            return f"{r.formula}: here {at(env)}"
        except KeyError:
            pass
    return f"{r.formula or r.cond}  does not hold"


def render_explain(report: Report, ev: Evaluation, fixes: list[Fix] | None = None, nodes: bool = False) -> str:
    """Every node's (or, for Keras/PyTorch models, every layer's) output shape at the sizes asked."""
    sizes = ev.sizes_text()
    lines = [f"{report.name} at {sizes}"]
    first = ev.first_failure
    by_layer = report.layers.framework in ("keras", "torch", "jax") and not nodes
    rows: list[tuple[str, ...]] = []
    if by_layer:
        for row in ev.layers:
            shapes = "  ".join(_dims([str(x) for x in s]) if s is not None else "[?]" for _, s in row.outputs)
            mark = ""
            if row.failed:
                r = row.failed[0]
                head = "<- FIRST FAILURE " if first is not None and first in row.failed else "<- fails "
                mark = head + f"{r.code} {what_text(report, r.node, r.what)}"
            elif row.unknown:
                mark = "(not analysed)"
            rows.append((str(row.index), row.layer, row.kind or "-", shapes, mark))
        header = ("#", "layer", "type", "output shape")
    else:
        for n in ev.nodes:
            shapes = "  ".join(_dims([str(x) for x in s]) if s is not None else "[?]" for _, s in n.outputs)
            mark = ""
            if n.failed:
                r = n.failed[0]
                mark = ("<- FIRST FAILURE " if first is not None and r is first else "<- fails ") + f"{r.code} {r.what}"
            elif n.unknown:
                mark = "(not analysed)"
            rows.append((str(n.order), n.node, n.op, shapes, mark))
        header = ("#", "node", "op", "output shape")
    w = [max([len(r[i]) for r in rows] + [len(header[i])]) for i in range(4)]
    w[1] = min(w[1], 60)
    lines.append("  " + "  ".join(h.rjust(w[0]) if i == 0 else h.ljust(w[i]) for i, h in enumerate(header)))
    for o, name, op, shapes, mark in rows:
        name_txt = name if len(name) <= w[1] else "..." + name[-(w[1] - 3) :]
        lines.append(
            f"  {o.rjust(w[0])}  {name_txt.ljust(w[1])}  {op.ljust(w[2])}  {shapes.ljust(w[3])}  {mark}".rstrip()
        )
    lines.extend(render_at_summary(ev, report, fixes))
    return "\n".join(map(printable, lines))  # names and paths from the file: one line each
