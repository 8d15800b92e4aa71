"""What exporters declare about sizes, compared with the exact answer.

The dynamo exporter (torch.onnx with ``dynamo=True``) stores torch.export's value ranges in the
graph's metadata, ``pkg.torch.export.ExportedProgram.range_constraints``, e.g.
``{s77: VR[0, int_oo], s53: VR[9, int_oo]}``. torch.export only checks ranges the user (or its
guards) declared; the exact valid set may admit fewer or more sizes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from graphcheck.symbolic.intset import MAXDIM, IntSet

RANGE_KEY = "pkg.torch.export.ExportedProgram.range_constraints"
_ENTRY = re.compile(r"(\w+)\s*:\s*VR\[\s*(-?\w+)\s*,\s*(-?\w+)\s*\]")


def _bound(txt: str) -> int | None:
    if txt in ("int_oo", "oo", "inf"):
        return None
    try:
        return int(txt)
    except ValueError:
        return None


def torch_ranges(metadata: Mapping[str, str]) -> dict[str, tuple[int, int | None]]:
    """``{"s53": (9, None)}`` from the dynamo exporter's metadata (empty when absent)."""
    txt = metadata.get(RANGE_KEY)
    if not txt:
        return {}
    out: dict[str, tuple[int, int | None]] = {}
    for name, lo, hi in _ENTRY.findall(txt):
        lo_v = _bound(lo)
        out[name] = (lo_v if lo_v is not None else 0, _bound(hi))
    return out


def match_symbols(ranges: Mapping[str, tuple[int, int | None]], symbols: list[str]) -> dict[str, str]:
    """torch symbol -> our symbol: same names, or the single pair left unmatched on each side."""
    mapping = {k: k for k in ranges if k in symbols}
    left_t = [k for k in ranges if k not in mapping]
    left_s = [s for s in symbols if s not in mapping.values()]
    if len(left_t) == 1 and len(left_s) == 1:
        mapping[left_t[0]] = left_s[0]
    return mapping


def range_set(lo: int, hi: int | None) -> IntSet:
    return IntSet.interval(max(lo, 1), MAXDIM if hi is None else hi)


def describe_range(lo: int, hi: int | None) -> str:
    return f"[{lo}, {'inf' if hi is None else hi}]"
