"""The result of a walk: facts, conditions and notes, in walk order (built by
:mod:`graphcheck.infer.engine`, merged over control-flow cases by :mod:`graphcheck.infer.cases`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from graphcheck.errors import UsageError
from graphcheck.infer.facts import Fact, Note, Requirement
from graphcheck.model.ir import Graph, Node
from graphcheck.symbolic.assume import NOTHING, Assumptions
from graphcheck.symbolic.cond import Cond
from graphcheck.symbolic.expr import Expr, Sym
from graphcheck.symbolic.intset import IntSet

__all__ = ["Analysis", "Case", "Step", "Variant", "INCOMPLETE_CODES"]

INCOMPLETE_CODES = {"GC101", "GC102", "GC103", "GC901"}


class Step(NamedTuple):
    """One node's rule applied: its output facts and what it asked, before deduplication.

    (Immutable like the other records; a named tuple because one is made per node on the hot path,
    and a frozen dataclass' ``__init__`` costs several times as much.)"""

    outs: tuple[Fact, ...]  # one per node output (UNKNOWN where the rule gave none)
    requirements: tuple[Requirement, ...]
    notes: tuple[Note, ...]
    dim_code: str  # the code and fix hint of this node's "every output size >= 1" checks
    dim_fix: str
    reads_semantics: bool = False  # the result may differ between "spec" and "ort"
    assumed: Assumptions | None = None  # what was known of the sizes, when the rule asked it


@dataclass
class Analysis:
    graph: Graph
    symbols: tuple[Sym, ...]
    addresses: dict[str, Expr]  # "input:axis" -> its size (symbol or constant)
    input_shapes: dict[str, tuple[Expr, ...] | None]
    facts: dict[str, Fact]
    requirements: list[Requirement]
    notes: list[Note]
    order: list[Node]
    semantics: str = "spec"
    fixed: dict[Sym, int] = field(default_factory=dict)  # symbols the user fixed with --dim NAME=V
    user_symbols: tuple[Sym, ...] = ()  # symbols the user made from fixed dims (--dim input:axis=NAME)
    dims: dict[str, int | str] = field(default_factory=dict)  # the user's --dim settings
    steps: list[Step] = field(default_factory=list, repr=False)  # per position in ``order``
    fresh_next: int = 0  # the next number for a fresh opaque symbol (a resumed walk starts there)
    index_cache: object = field(default=None, repr=False, compare=False)  # graphcheck.infer.resume's index
    # what was known of the sizes along the walk: (first position it held at, the knowledge), in order
    known: list[tuple[int, Assumptions]] = field(default_factory=lambda: [(0, NOTHING)], repr=False)
    cond_cache: dict[Cond, IntSet] = field(default_factory=dict, repr=False, compare=False)  # one-size solutions
    # an analysis split by control flow on the sizes (an If on ``L % 2 == 0``): each case's own walk,
    # under its path condition. This analysis' conditions are theirs, each as "path -> condition"
    # (those all cases share as they are); its order and facts are the first case's.
    aliases: dict[str, str] = field(default_factory=dict)  # an exporter's name for a size (unk__68) -> the symbol's
    cases: tuple[Case, ...] = ()
    # a model whose Ifs read graph inputs the caller sets (modes: ``use_cache_branch``, a sample
    # rate): the analysis at each combination of their values (None: any other value). This
    # analysis is then the first mode's (its walk stands for the model's graph, inputs, symbols).
    variants: tuple[Variant, ...] = ()
    # control-flow bodies were laid out in the walk: facts there were set from the walk at the time,
    # so a resumed walk (graphcheck.infer.resume) analyses the changed graph afresh instead
    expanded: bool = False
    # the walk's path condition (the sides of Ifs on the sizes it took) and the mode values it was
    # given: what walking the model again the same way takes (graphcheck.infer.resume)
    path: tuple[Cond, ...] = ()
    values: tuple[tuple[str, int], ...] = ()

    @property
    def complete(self) -> bool:
        return not any(n.code in INCOMPLETE_CODES for n in self.notes)

    def symbol(self, key: str) -> Sym:
        """A symbol by name or by ``input:axis`` address (or the exporter's name, an alias)."""
        key = self.aliases.get(key, key)
        for s in self.symbols:
            if s.name == key:
                return s
        e = self.addresses.get(key)
        if e is not None:
            found = e.as_sym()
            if found is not None:
                return found
            raise UsageError(f"{key} is fixed at {e} in this model; make it symbolic with --dim {key}=NAME")
        raise UsageError(f"unknown dimension {key!r}; known: {', '.join(self.known_keys())}")

    def known_keys(self) -> list[str]:
        names = {s.name for s in self.symbols}
        return [s.name for s in self.symbols] + [a for a in (*self.addresses, *self.aliases) if a not in names]


@dataclass(frozen=True)
class Case:
    """One side of the control-flow splits: the path condition (the conditions each If on the sizes
    took, in order) and the walk under it."""

    path: tuple[Cond, ...]
    analysis: Analysis


@dataclass(frozen=True)
class Variant:
    """The analysis with the mode inputs set to ``values`` (input name -> value; None: any value
    other than those listed for it); ``label`` says it in words (``use_cache_branch = true``)."""

    values: tuple[tuple[str, int | None], ...]
    analysis: Analysis
    label: str
