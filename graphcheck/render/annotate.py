"""The output of ``graphcheck annotate``: what was written, as text and as JSON."""

from __future__ import annotations

from typing import Any

from graphcheck.report.annotate import Annotated
from graphcheck.report.shaper import ValueShape
from graphcheck.version import __version__

SCHEMA_VERSION = 1


def render_annotate(result: Annotated, listing: bool = False) -> str:
    """A summary of the annotated file (``listing``: every value written, with its shape)."""
    plan = result.plan
    values = result.values
    bodies = result.bodies
    every = result.all_values
    symbolic = sum(1 for v in every if any(isinstance(d, str) for d in v.dims))
    unset = sum(d is None for v in every for d in v.dims)
    lines = [f"{result.source} -> {result.out}"]
    lines.append(f"  valid: {plan.metadata['graphcheck.valid']}")
    if plan.at:
        lines.append("  at " + ", ".join(f"{k}={v}" for k, v in plan.at.items()) + ": every dim an integer")
    lines.append(
        f"  {result.full} of {len(every) + result.all_left} values with a full shape ({symbolic} symbolic), "
        f"{unset} dim{'s' if unset != 1 else ''} left unset"
    )
    if bodies:
        n = sum(len(b.values) + len(b.left) for b in bodies)
        wheres = ", ".join(b.where for b in bodies[:3]) + (f", ... ({len(bodies) - 3} more)" if len(bodies) > 3 else "")
        lines.append(f"  of which {n} in {len(bodies)} bod{'ies' if len(bodies) != 1 else 'y'}: {wheres}")
    if plan.not_followed:
        where, why = next(iter(plan.not_followed.items()))
        more = f" (and {len(plan.not_followed) - 1} more, --list shows them)" if len(plan.not_followed) > 1 else ""
        lines.append(
            f"  {len(plan.not_followed)} bod{'ies' if len(plan.not_followed) != 1 else 'y'} not followed, left as "
            f"the file has {'them' if len(plan.not_followed) != 1 else 'it'}: {where}: {why}{more}"
        )
    if plan.inputs:
        lines.append(
            "  inputs rewritten as analysed (--dim): " + ", ".join(f"{n}{v.text()}" for n, v in plan.inputs.items())
        )
    left = dict(result.left)
    for b in bodies:
        left.update((f"{b.where}: {n}", why) for n, why in b.left.items())
    if left:
        first = next(iter(left.items()))
        lines.append(f"  {len(left)} values left as the file has them: {first[0]}: {first[1]}")
    if result.moved_away_from_weights:
        files = ", ".join(result.written.external[:3])
        lines.append(
            f"  note: the weights stay in external files next to the model ({files}), which {result.out} refers to "
            "by relative path: keep it in the same folder"
        )
    for name, what in plan.data.items():
        lines.append(f"  {name}: {what}")
    if listing:
        _listing(lines, values, "  ")
        for b in bodies:
            lines.append(f"  [{b.where}]")
            _listing(lines, b.values, "    ")
            lines.extend(f"    {n}  (left as the file has it: {why})" for n, why in b.left.items())
        for where, reason in list(plan.not_followed.items())[1:]:
            lines.append(f"  [{where}] not followed: {reason}")
    else:
        unsets = [(v.name, w) for v in values for w in v.why]
        unsets += [(f"{b.where}: {v.name}", w) for b in bodies for v in b.values for w in v.why]
        for name, w in unsets[:3]:
            lines.append(f"  unset: {name} {w}")
        if len(unsets) > 3:
            lines.append(f"  ... {len(unsets) - 3} more (--list shows every value)")
    return "\n".join(lines)


def _listing(lines: list[str], values: list[ValueShape], indent: str) -> None:
    width = min(max((len(v.name) for v in values), default=0), 60)
    for v in values:
        lines.append(f"{indent}{v.name:<{width}}  {v.text()}")
        lines.extend(f"{indent}{'':<{width}}    {w}" for w in v.why)


def annotate_dict(result: Annotated) -> dict[str, Any]:
    plan = result.plan
    return {
        "schema_version": SCHEMA_VERSION,
        "graphcheck_version": __version__,
        "model": result.source,
        "out": result.out,
        "at": plan.at or None,
        "values": {v.name: {"dims": list(v.dims), "unset": list(v.why)} for v in result.values},
        "full": result.full,
        "inputs": {n: list(v.dims) for n, v in plan.inputs.items()},
        "left": result.left,
        "bodies": [
            {
                "where": b.where,
                "path": [list(k) for k in b.path],
                "values": {v.name: {"dims": list(v.dims), "unset": list(v.why)} for v in b.values},
                "left": b.left,
            }
            for b in result.bodies
        ],
        "not_followed": plan.not_followed,
        "external_data": result.written.external,
        "data": plan.data,
        "metadata": plan.metadata,
        "seconds": result.seconds,
    }
