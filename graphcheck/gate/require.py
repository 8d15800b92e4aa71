"""The requirements language: which sizes a model must accept.

Same syntax on the CLI (``--require``) and in policy files::

    L in 8000..480000          a range (inclusive)
    L in 8000..480000 step 160 every 160th size of the range
    H = 224                    one value
    T in {3000}                a set (values or ranges: {16, 32, 64..128})
    L >= 9   /   L <= 4096     a bound (">" and "<" too)
    H, W in 32..512            each of several sizes over a range (every combination)
    H = W in 32..512           several sizes equal to each other, over a range
    (H, W) in {(224, 224), (320, 240)}   coupled sizes: exactly these combinations

A name is a symbol (``L``, ``unk__135``) or an input axis (``signal:1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphcheck.errors import UsageError
from graphcheck.symbolic.intset import MAXDIM, IntSet

__all__ = ["SizeSpec", "parse_requirement"]

_NAME = r"[A-Za-z_][\w.\-]*(?::\d+)?"
_INT = r"\d+"


@dataclass(frozen=True)
class SizeSpec:
    """A parsed requirement.

    ``kind`` is "each" (every combination of ``sets`` over ``names``), "equal" (all names equal,
    taking the values of ``sets[0]``) or "points" (exactly the tuples in ``points``).
    """

    text: str
    names: tuple[str, ...]
    kind: str
    sets: tuple[IntSet, ...] = ()
    points: tuple[tuple[int, ...], ...] = ()

    def set_for(self, name: str) -> IntSet:
        """The values this requirement asks of one of its names."""
        if self.kind == "points":
            i = self.names.index(name)
            return IntSet.points({p[i] for p in self.points})
        if self.kind == "equal":
            return self.sets[0]
        return self.sets[self.names.index(name)]

    def count(self) -> int | None:
        """How many size combinations this asks for (None: unbounded)."""
        if self.kind == "points":
            return len(self.points)
        total = 1
        for s in self.sets if self.kind == "each" else self.sets[:1]:
            if s.unbounded():
                return None
            total *= s.count()
        return total


def _err(text: str, why: str) -> UsageError:
    return UsageError(f"requirement {text!r}: {why}")


def _range(text: str, body: str) -> IntSet:
    m = re.fullmatch(rf"\s*({_INT})\s*\.\.\s*({_INT})\s*(?:step\s+({_INT}))?\s*", body)
    if not m:
        raise _err(text, f"expected A..B or A..B step K, got {body.strip()!r}")
    lo, hi = int(m.group(1)), int(m.group(2))
    if lo > hi:
        raise _err(text, f"empty range {lo}..{hi}")
    if lo < 1:
        raise _err(text, "sizes start at 1")
    if m.group(3):
        step = int(m.group(3))
        if step < 1:
            raise _err(text, "step must be >= 1")
        if step == 1:
            return IntSet.interval(lo, hi)
        return IntSet.residues(step, [lo % step], lo, hi)
    return IntSet.interval(lo, hi)


def _value_set(text: str, body: str) -> IntSet:
    body = body.strip()
    if body.startswith("{") and body.endswith("}"):
        items = [x.strip() for x in body[1:-1].split(",") if x.strip()]
        if not items:
            raise _err(text, "empty set")
        out = IntSet.empty()
        for item in items:
            if ".." in item:
                out = out | _range(text, item)
            elif re.fullmatch(_INT, item):
                v = int(item)
                if v < 1:
                    raise _err(text, "sizes start at 1")
                out = out | IntSet.points([v])
            else:
                raise _err(text, f"expected a size or A..B in the set, got {item!r}")
        return out
    if ".." in body:
        return _range(text, body)
    if re.fullmatch(_INT, body):
        v = int(body)
        if v < 1:
            raise _err(text, "sizes start at 1")
        return IntSet.points([v])
    raise _err(text, f"expected A..B, {{a, b, ...}} or a size, got {body!r}")


def _names(text: str, part: str) -> tuple[str, ...]:
    part = part.strip()
    if part.startswith("(") and part.endswith(")"):
        part = part[1:-1]
    names = tuple(n.strip() for n in part.split(","))
    if not names or not all(re.fullmatch(_NAME, n) for n in names):
        raise _err(text, f"expected size names (L, H, signal:1), got {part!r}")
    if len(set(names)) != len(names):
        raise _err(text, "a name appears twice")
    return names


def parse_requirement(text: str) -> SizeSpec:
    """Parse one requirement; a malformed one raises :class:`UsageError` (exit code 2)."""
    t = text.strip()
    if not t:
        raise _err(text, "empty")
    # coupled points: (H, W) in {(224, 224), (320, 240)}
    m = re.fullmatch(r"\((.+?)\)\s+in\s+\{(.*)\}", t)
    if m and "(" in m.group(2):
        names = _names(text, m.group(1))
        tuples = re.findall(r"\(([^()]*)\)", m.group(2))
        rest = re.sub(r"\([^()]*\)", "", m.group(2)).replace(",", "").strip()
        if rest or not tuples:
            raise _err(text, "expected {(a, b), (c, d), ...}")
        points = []
        for tup in tuples:
            vals = [v.strip() for v in tup.split(",")]
            if len(vals) != len(names) or not all(re.fullmatch(_INT, v) for v in vals):
                raise _err(text, f"each tuple needs {len(names)} sizes, got ({tup})")
            ints = tuple(int(v) for v in vals)
            if min(ints) < 1:
                raise _err(text, "sizes start at 1")
            points.append(ints)
        return SizeSpec(text, names, "points", points=tuple(sorted(set(points))))
    # equal sizes: H = W in 32..512
    m = re.fullmatch(rf"({_NAME}(?:\s*=\s*{_NAME})+)\s+in\s+(.+)", t)
    if m and "=" in m.group(1):
        names = tuple(n.strip() for n in m.group(1).split("="))
        if len(set(names)) != len(names):
            raise _err(text, "a name appears twice")
        return SizeSpec(text, names, "equal", sets=(_value_set(text, m.group(2)),))
    # each: L in A..B / H, W in A..B / T in {..}
    m = re.fullmatch(r"(.+?)\s+in\s+(.+)", t)
    if m:
        names = _names(text, m.group(1))
        values = _value_set(text, m.group(2))
        return SizeSpec(text, names, "each", sets=tuple(values for _ in names))
    # comparisons and equality
    m = re.fullmatch(rf"({_NAME})\s*(>=|<=|==|=|>|<)\s*({_INT})", t)
    if m:
        name, op, v = m.group(1), m.group(2), int(m.group(3))
        if v > MAXDIM:
            raise _err(text, f"sizes are int64: at most {MAXDIM}")
        if op in ("=", "==", "<=", ">=") and v < 1 and op != ">=":
            raise _err(text, "sizes start at 1")
        sets = {
            ">=": IntSet.interval(v),
            ">": IntSet.interval(v + 1),
            "<=": IntSet.interval(1, v),
            "<": IntSet.interval(1, v - 1),
            "=": IntSet.points([v]),
            "==": IntSet.points([v]),
        }[op]
        if sets.is_empty():
            raise _err(text, "asks for no size at all")
        return SizeSpec(text, (name,), "each", sets=(sets,))
    raise _err(
        text,
        "expected NAME in A..B, NAME in {a, b}, NAME = V, NAME >= V, H, W in A..B, H = W in A..B "
        "or (H, W) in {(a, b), ...}",
    )


def describe_spec(spec: SizeSpec) -> str:
    return spec.text.strip()


UNBOUNDED = MAXDIM
