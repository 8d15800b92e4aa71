"""Plain statements of exact size sets: ``L >= 9``, ``H % 32 == 0``, ``T in {2999, 3000}``."""

from __future__ import annotations

from graphcheck.intset import MAXDIM, IntSet, _up

FINITE_LIST_LIMIT = 12


def _residue_text(name: str, period: int, residues: list[int]) -> str:
    if len(residues) == 1:
        return f"{name} % {period} == {residues[0]}"
    if len(residues) == period - 1:
        missing = next(r for r in range(period) if r not in residues)
        return f"{name} % {period} != {missing}"
    return f"{name} % {period} in {{{', '.join(map(str, residues))}}}"


def _interval_text(name: str, lo: int, hi: int) -> str:
    top = hi > MAXDIM - 1
    if lo == hi:
        return f"{name} = {lo}"
    if lo <= 1 and top:
        return f"{name} >= 1"
    if top:
        return f"{name} >= {lo}"
    if lo <= 1:
        return f"{name} <= {hi}"
    return f"{lo} <= {name} <= {hi}"


def _block_text(name: str, period: int, residues: list[int], lo: int, hi: int) -> str:
    parts: list[str] = []
    natural_lo = min(_up(1, r, period) for r in residues)
    unbounded = hi > MAXDIM - period
    if lo > natural_lo and unbounded:
        parts.append(f"{name} >= {lo}")
    elif lo > natural_lo:
        parts.append(f"{lo} <= {name} <= {hi}")
    elif not unbounded:
        parts.append(f"{name} <= {hi}")
    parts.append(_residue_text(name, period, residues))
    return " and ".join(parts)


def describe_set(s: IntSet, name: str) -> str:
    if s.is_empty():
        return "no valid size"
    if s.is_full():
        return f"{name} >= 1"
    runs_long = s.period == 1 and any(hi - lo >= 2 for lo, hi in s.classes[0])
    if s.is_finite_small(FINITE_LIST_LIMIT) and not runs_long:
        vals = s.elements(FINITE_LIST_LIMIT)
        return f"{name} = {vals[0]}" if len(vals) == 1 else f"{name} in {{{', '.join(map(str, vals))}}}"
    p = s.period
    if p == 1:
        return " or ".join(_interval_text(name, lo, hi) for lo, hi in s.classes[0])
    residues = sorted(s.classes)
    lo, hi = s.min(), s.max()
    assert lo is not None and hi is not None
    if IntSet.residues(p, residues, lo, hi) == s:
        return _block_text(name, p, residues, lo, hi)
    # A periodic part (the classes that run to the top) plus whatever it does not cover.
    tail_classes = sorted(r for r, ivs in s.classes.items() if ivs[-1][1] > MAXDIM - p)
    if tail_classes:
        start = max(1, max(s.classes[r][-1][0] - p + 1 for r in tail_classes))
        tail = IntSet.residues(p, tail_classes, start)
        head = s - tail
        if (head | tail) == s and (tail - s).is_empty():
            tail_txt = describe_set(tail, name)
            if head.is_empty():
                return tail_txt
            top = head.max()
            assert top is not None
            covering = s & IntSet.interval(1, top)  # the head's runs, overlapping the tail where they do
            if head.is_finite_small(FINITE_LIST_LIMIT) or covering.period != 1 or len(covering.classes[0]) > 6:
                covering = head
            return f"{describe_set(covering, name)} or {tail_txt}"
    parts = []
    for r, ivs in s.classes.items():
        for a, b in ivs:
            parts.append(f"({_block_text(name, p, [r], a, b)})")
    return " or ".join(parts)
