"""Text output of the gate: one block per model, and a summary table for several."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphcheck.errors import printable

_LABEL = {"pass": "PASS", "fail": "FAIL", "unknown": "UNKNOWN", "error": "ERROR"}


def render_gate(result: Mapping[str, Any]) -> str:
    status = str(result["status"])
    lines = [f"{_LABEL.get(status, status.upper())}  {result['model']}"]
    if status == "error":
        lines.append(f"  error: {result['error']}")
        return "\n".join(map(printable, lines))
    lines.append(f"  valid: {result['valid']}")
    for o in result["requirements"]:
        if o["status"] == "pass":
            lines.append(f"  ok       {o['requirement']}")
        elif o["status"] == "unknown":
            lines.append(f"  unknown  {o['requirement']}: {o['reason']}")
        else:
            if o["smallest_failing"]:
                lines.append(f"  FAILS    {o['requirement']}: fails for {o['failing']}")
            else:  # not a size (a declared input the model lacks, a wrong rank or type): the reason itself
                lines.append(f"  FAILS    {o['requirement']}: {o['failing']}")
            smallest = ", ".join(f"{k}={v}" for k, v in o["smallest_failing"].items())
            if smallest:
                lines.append(f"           smallest failing: {smallest}")
            if o["first_failure"]:
                lines.append(f"           first failing layer: {o['first_failure']}")
            if o["detail"]:
                lines.append(f"             {o['detail']}")
            if o.get("fixes"):
                lines.append("           fixes (each verified: the changed model meets the whole requirement):")
                lines.extend(f"             - {f['text']}" for f in o["fixes"])
    for w in result.get("warnings") or []:
        lines.append(f"  warning  {w}")
    for d in result["blocking"]:
        lines.append(f"  blocks   {d['code']} {d['name']}: {d['message']}")
    if status == "unknown" and not any(o["status"] == "unknown" for o in result["requirements"]):
        stops = [d for d in result["diagnostics"] if d["code"] in ("GC101", "GC102", "GC103", "GC901")]
        why = f"{stops[0]['node']} ({stops[0]['op']}): {stops[0]['message']}" if stops else "incomplete analysis"
        lines.append(f"  unknown: the analysis is incomplete at {why} (--allow-unknown to pass anyway)")
    if result.get("note"):
        lines.append(f"  note: {result['note']}")
    return "\n".join(map(printable, lines))


def render_summary(results: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in results:
        failing = "; ".join(o["requirement"] for o in r["requirements"] if o["status"] != "pass")
        if r.get("blocking"):
            blocked = ", ".join(sorted({str(d["code"]) for d in r["blocking"]}))
            failing = f"{failing}; blocked by {blocked}" if failing else f"blocked by {blocked}"
        if r["status"] == "error":
            failing = str(r["error"])
        rows.append((str(r["model"]), _LABEL.get(str(r["status"]), str(r["status"])), str(r["valid"] or ""), failing))
    w = [max([len(x[i]) for x in rows] + [len(h)]) for i, h in enumerate(("model", "status", "valid", "failing"))]
    w = [min(v, 60) for v in w]
    lines = [f"{'model'.ljust(w[0])}  {'status'.ljust(w[1])}  {'valid'.ljust(w[2])}  failing"]
    for m, st, va, fa in rows:
        m = m if len(m) <= w[0] else "..." + m[-(w[0] - 3) :]
        va = va if len(va) <= w[2] else va[: w[2] - 3] + "..."
        lines.append(f"{m.ljust(w[0])}  {st.ljust(w[1])}  {va.ljust(w[2])}  {fa}".rstrip())
    counts = {k: sum(1 for r in results if r["status"] == k) for k in ("pass", "fail", "unknown", "error")}
    lines.append(
        f"{len(results)} models: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['unknown']} unknown, {counts['error']} error{'' if counts['error'] == 1 else 's'}"
    )
    return "\n".join(map(printable, lines))
