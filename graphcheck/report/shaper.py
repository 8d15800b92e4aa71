"""Facts turned into the shapes ``graphcheck annotate`` writes (:mod:`graphcheck.report.annotate`,
:mod:`graphcheck.report.annotate_bodies`): a value's shape as written, a body's plan, what each
opaque size is (a data-dependent size's name, or why it is not written), and the :class:`Shaper`
that writes one dim (an integer, an expression over the inputs' dim names, or unset with why)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from graphcheck.errors import TooComplex
from graphcheck.infer.analysis import Analysis, Step
from graphcheck.infer.facts import Fact
from graphcheck.infer.ops._shapeutil import simplify
from graphcheck.model.ir import Node
from graphcheck.symbolic.assume import Assumptions
from graphcheck.symbolic.dimtext import DimSyntaxError, names
from graphcheck.symbolic.expr import Expr, Sym, sym

__all__ = ["Dim", "ValueShape", "BodyKey", "Body", "Opaque", "Shaper", "iteration_dependent", "opaque_sizes"]

Dim = int | str | None
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ValueShape:
    """One value's shape as written: each dim an int, a dim text or None (unset, ``why`` says why)."""

    name: str
    elem_type: int
    dims: tuple[Dim, ...]
    why: tuple[str, ...] = ()  # one line per unset dim ("axis 2: ...")

    @property
    def full(self) -> bool:
        return all(d is not None for d in self.dims)

    def text(self) -> str:
        return "[" + ", ".join("?" if d is None else str(d) for d in self.dims) + "]"


BodyKey = tuple[int, str, int]  # (the node's position in its graph's file order, attribute name, index)


@dataclass(frozen=True)
class Body:
    """The values of one subgraph body (an If branch, a Loop or Scan body) and of the bodies nested in
    it: ``shapes`` its node outputs and declared outputs, ``inputs`` the body inputs whose declared
    type is replaced (a loop's carried values, a Scan's states and scan slices), ``unknown`` the
    values left as the file has them (with why), ``where`` the body in words (``then_branch of
    If_0``, as findings name its nodes)."""

    shapes: dict[str, ValueShape]
    bodies: dict[BodyKey, Body] = field(default_factory=dict)
    inputs: dict[str, ValueShape] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    where: str = ""


@dataclass
class Opaque:
    """What each opaque size is: a data-dependent one gets a name, any other a reason. Filled from
    every walk of the analysis (modes, cases); ``node`` remembers which node made each symbol, so
    that a symbol two walks made at different nodes (their fresh numbers met) is never one name."""

    names: dict[Sym, Expr] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    why: dict[Sym, str] = field(default_factory=dict)
    node: dict[Sym, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, analysis: Analysis, taken: set[str]) -> None:
        """Name or explain the opaque sizes of ``analysis``'s walk (in walk order: a symbol where it
        first appears, the node that made it)."""
        here: set[Sym] = set()
        for pos, node in enumerate(analysis.order):
            if pos >= len(analysis.steps):
                break
            step = analysis.steps[pos]
            for f in step.outs:
                if f.shape is None:
                    continue
                for d in f.shape:
                    if d.has_opaque():
                        for s in d.symbols():
                            if s.opaque and s not in here:
                                here.add(s)
                                self._one(s, node, step, taken)

    def _one(self, s: Sym, node: Node, step: Step, taken: set[str]) -> None:
        seen = self.node.get(s)
        if seen is not None:
            if seen != node.name:  # two walks made it at two nodes (their fresh numbers met): no name
                self.names.pop(s, None)
                self.why[s] = "a size decided at a node that differs by mode or control-flow case"
            return
        self.node[s] = node.name
        if s.origin in ("loop", "scan"):
            self.why[s] = iteration_dependent(s)
            return
        notes = list(step.notes)
        data = next((n for n in notes if n.code == "GC104"), None)
        if data is not None:
            hint = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in (s.origin or "size"))
            k = self.counts.get(hint, 0)
            while True:
                k += 1
                name = f"data_{hint}_{k}"
                if name not in taken:
                    break
            self.counts[hint] = k
            taken.add(name)
            self.names[s] = sym(name)
            what = data.message.removeprefix(f"{node.op_type}: ")
            self.data[name] = f"{node.name} ({node.op_type}): {what}"
        elif notes:
            n = notes[0]
            self.why[s] = f"decided by {node.name} ({node.op_type}), not followed ({n.code}): {n.message}"
        else:
            self.why[s] = f"computed by {node.name} ({node.op_type}) from values graphcheck does not know"


def iteration_dependent(s: Sym) -> str:
    """Why a size a loop's body sees is not written: it changes from one iteration to the next."""
    loop = s.name.removeprefix("?").rsplit("#", 1)[0]
    return (
        f"changes from one iteration of {loop} to the next (a carried value whose size is not the same at every step)"
    )


def opaque_sizes(analysis: Analysis, taken: set[str]) -> Opaque:
    out = Opaque()
    out.add(analysis, taken)
    return out


@dataclass(frozen=True)
class Shaper:
    """Turns facts into written shapes: what is known of the sizes (to read min/max under), the sizes
    given with ``at``, the names of data-dependent sizes and the names a dim may read."""

    known: Assumptions
    env: Mapping[Sym, Expr] | None
    opaque: Opaque
    unnamed: Mapping[Sym, str]
    allowed: frozenset[str]

    def shape(self, name: str, fact: Fact, elem_type: int) -> ValueShape:
        """A value's shape as written (its fact's rank must be known)."""
        assert fact.shape is not None
        dims: list[Dim] = []
        why: list[str] = []
        for axis, d in enumerate(fact.shape):
            v, w = self.dim(d)
            dims.append(v)
            if w:
                why.append(f"axis {axis}: {w}")
        return ValueShape(name, elem_type or fact.dtype, tuple(dims), tuple(why))

    def dim(self, e: Expr) -> tuple[Dim, str]:
        """One dim as written, or None and why."""
        return self.text(self.settle(e))

    def settle(self, e: Expr) -> Expr:
        """``e`` with its min/max read under what is known of the sizes."""
        if e.has_minmax() and self.known.sets:
            try:
                return simplify(e, self.known)
            except TooComplex:
                pass
        return e

    def text(self, e: Expr) -> tuple[Dim, str]:
        """A settled dim as written, or None and why."""
        for s in e.symbols():
            if s in self.unnamed:
                return None, self.unnamed[s]
            if s.opaque and s not in self.opaque.names:
                why = self.opaque.why.get(s)
                if why is None:
                    why = iteration_dependent(s) if s.origin in ("loop", "scan") else "a size graphcheck does not know"
                return None, why
        try:
            if self.env:
                e = e.subs(self.env)
            if e.has_opaque():
                e = e.subs(self.opaque.names)
        except TooComplex as exc:
            return None, f"too large to write ({exc})"
        if e.is_const:
            v = e.value
            return (v, "") if v >= 0 else (None, f"{v}: negative (no size is valid here)")
        s1 = e.as_sym()
        if s1 is not None:
            return s1.name, ""  # an input's own name, whatever characters it holds
        odd = sorted(s.name for s in e.symbols() if not _NAME.fullmatch(s.name))
        if odd:
            return None, f"{e} reads the dim {odd[0]!r}, whose name is not a name of the grammar (rename it with --dim)"
        text = str(e)
        try:
            used = names(text)
        except DimSyntaxError as exc:  # pragma: no cover - the printer writes the grammar
            return None, f"not written: {exc}"
        if not used <= self.allowed:
            bad = sorted(used - self.allowed)[0]
            return None, f"{text} reads {bad!r}, which is not an input's dim name of the grammar"
        return text, ""
