"""The output of ``graphcheck annotate``: what was written, as text and as JSON."""

from __future__ import annotations

from typing import Any

from graphcheck.report.annotate import Annotated
from graphcheck.version import __version__

SCHEMA_VERSION = 1


def render_annotate(result: Annotated, listing: bool = False) -> str:
    """A summary of the annotated file (``listing``: every value written, with its shape)."""
    plan = result.plan
    values = result.values
    symbolic = sum(1 for v in values if any(isinstance(d, str) for d in v.dims))
    unset = sum(d is None for v in values for d in v.dims)
    lines = [f"{result.source} -> {result.out}"]
    lines.append(f"  valid: {plan.metadata['graphcheck.valid']}")
    if plan.at:
        lines.append("  at " + ", ".join(f"{k}={v}" for k, v in plan.at.items()) + ": every dim an integer")
    lines.append(
        f"  {result.full} of {len(values) + len(result.left)} values with a full shape ({symbolic} symbolic), "
        f"{unset} dim{'s' if unset != 1 else ''} left unset"
    )
    if plan.inputs:
        lines.append(
            "  inputs rewritten as analysed (--dim): " + ", ".join(f"{n}{v.text()}" for n, v in plan.inputs.items())
        )
    left = result.left
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
        width = min(max((len(v.name) for v in values), default=0), 60)
        for v in values:
            lines.append(f"  {v.name:<{width}}  {v.text()}")
            lines.extend(f"  {'':<{width}}    {w}" for w in v.why)
    else:
        why = [(v.name, w) for v in values for w in v.why]
        for name, w in why[:3]:
            lines.append(f"  unset: {name} {w}")
        if len(why) > 3:
            lines.append(f"  ... {len(why) - 3} more (--list shows every value)")
    return "\n".join(lines)


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
        "external_data": result.written.external,
        "data": plan.data,
        "metadata": plan.metadata,
        "seconds": result.seconds,
    }
