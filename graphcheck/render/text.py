"""Plain-text output for people."""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphcheck.evaluate import Evaluation

if TYPE_CHECKING:
    from graphcheck.report import Report

MAX_FINDINGS = 25


def _dims(dims: tuple[str, ...] | list[str] | None) -> str:
    return "[?]" if dims is None else "[" + ", ".join(dims) + "]"


def render_check(report: Report, evaluation: Evaluation | None = None, show_all: bool = False) -> str:
    lines: list[str] = []
    ins = "  ".join(f"input {i.name}{_dims(i.dims)}" for i in report.inputs)
    lines.append(f"{report.name}  {ins}")
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
        where = f"{d.node} ({d.op})  " if d.node else ""
        lines.append(f"  {head}  {where}{d.message}")
    if len(diags) > len(shown):
        lines.append(f"  ... {len(diags) - len(shown)} more findings (--all shows them, --format json lists them)")
    for name, dims in report.output_dims.items():
        lines.append(f"  output {name}{_dims(dims)}")
    if evaluation is not None:
        lines.extend(render_at_summary(evaluation))
    return "\n".join(lines)


def render_at_summary(ev: Evaluation) -> list[str]:
    sizes = ev.sizes_text()
    if ev.ok is True:
        outs = ", ".join(f"{k}{_dims([str(x) for x in v]) if v is not None else '[?]'}" for k, v in ev.outputs.items())
        return [f"  at {sizes}: ok  ({outs})"]
    if ev.ok is None:
        return [f"  at {sizes}: unknown (the analysis is incomplete; nothing proven fails)"]
    r = ev.first_failure
    assert r is not None
    out = [f"  at {sizes}: FAILS at {r.node} ({r.op}) {r.what}"]
    detail = _failure_detail(ev)
    if detail:
        out.append(f"    {detail}")
    if r.fix:
        out.append(f"    fix: {r.fix}")
    return out


def _failure_detail(ev: Evaluation) -> str:
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


def render_explain(report: Report, ev: Evaluation) -> str:
    sizes = ev.sizes_text()
    lines = [f"{report.name} at {sizes}"]
    rows = []
    first = ev.first_failure
    for n in ev.nodes:
        shapes = "  ".join(_dims([str(x) for x in s]) if s is not None else "[?]" for _, s in n.outputs)
        mark = ""
        if n.failed:
            r = n.failed[0]
            mark = ("<- FIRST FAILURE " if first is not None and r is first else "<- fails ") + f"{r.code} {r.what}"
        elif n.unknown:
            mark = "(not analysed)"
        rows.append((str(n.order), n.node, n.op, shapes, mark))
    w = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    w = [max(w[0], 1), min(max(w[1], 4), 60), max(w[2], 2), max(w[3], 5)]
    lines.append(f"  {'#'.rjust(w[0])}  {'node'.ljust(w[1])}  {'op'.ljust(w[2])}  {'output shape'.ljust(w[3])}")
    for o, node, op, shapes, mark in rows:
        node_txt = node if len(node) <= w[1] else "..." + node[-(w[1] - 3) :]
        lines.append(
            f"  {o.rjust(w[0])}  {node_txt.ljust(w[1])}  {op.ljust(w[2])}  {shapes.ljust(w[3])}  {mark}".rstrip()
        )
    lines.extend(render_at_summary(ev))
    return "\n".join(lines)
