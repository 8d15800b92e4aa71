"""One analysis from the cases an If on the sizes split a model into.

Each case is a walk under its path condition ``P`` (the sides of the Ifs it took); the cases
partition the sizes. The merged analysis requires each case's conditions as ``P -> C``: their
conjunction is exactly the union of the cases' valid sets, so the solver, the findings and
``accepts`` work on it unchanged. A condition every case has (met before the first split) is kept
as it is. What depends on one walk (shapes at a size, explain, fixes) is asked of the case whose
path holds there (``Analysis.cases``). A path past the split budget is not analysed: the merged
analysis covers the sizes outside it only (GC110), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from graphcheck.infer.analysis import Analysis, Case
from graphcheck.infer.facts import Note, Requirement
from graphcheck.symbolic.assume import NOTHING
from graphcheck.symbolic.cond import all_of, implies, negate

__all__ = ["merge"]


def merge(cases: Sequence[Case], dropped: Sequence[tuple[tuple, str]], limit: int) -> Analysis:
    """The analysis whose conditions hold exactly where the case whose path holds accepts."""
    first = cases[0].analysis if cases else None
    if first is None:
        raise ValueError("no case was analysed")
    n = len(cases)
    key = lambda r: (r.cond, r.code, r.node, r.what, r.covers)  # noqa: E731
    seen_in: dict[tuple, int] = {}
    for c in cases:
        for k in {key(r) for r in c.analysis.requirements}:
            seen_in[k] = seen_in.get(k, 0) + 1
    shared = {k for k, count in seen_in.items() if count == n and not dropped}
    merged: list[tuple[int, int, Requirement]] = []
    kept_shared: set[tuple] = set()
    for i, c in enumerate(cases):
        p = all_of(c.path)
        for r in c.analysis.requirements:
            k = key(r)
            if k in shared:
                if k in kept_shared:
                    continue
                kept_shared.add(k)
                merged.append((r.order, i, r))
                continue
            merged.append((r.order, i, replace(r, cond=implies(p, r.cond))))
    for path, where in dropped:
        p = all_of(path)
        merged.append(
            (
                1 << 30,
                len(cases),
                Requirement(
                    negate(p),
                    "GC110",
                    where.split(" (")[0],
                    "If",
                    len(first.order),
                    f"control flow past the budget of {limit} cases ({where}); not followed where {p}",
                    covers=True,
                ),
            )
        )
    merged.sort(key=lambda t: (t[0], t[1]))
    notes: list[Note] = []
    seen_notes: set[tuple[str, str, str]] = set()
    for c in cases:
        for note in c.analysis.notes:
            nk = (note.code, note.node, note.message)
            if nk not in seen_notes:
                seen_notes.add(nk)
                notes.append(note)
    notes.sort(key=lambda x: x.order)
    return replace(
        first,
        requirements=[r for _, _, r in merged],
        notes=notes,
        steps=[],
        known=[(0, NOTHING)],
        cases=tuple(cases),
    )
