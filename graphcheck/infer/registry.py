"""Op rules: one pure function per op (and opset where the semantics changed).

A rule takes an :class:`OpContext` (the node, its input facts, the opset) and returns
the output facts; conditions on sizes go through :meth:`OpContext.require`. Rules live
in ``graphcheck/infer/ops/<family>.py`` and register themselves with :func:`rule` when
:mod:`graphcheck.infer.ops` is imported (the engine does).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from fractions import Fraction
from typing import Any

from graphcheck.infer.facts import Fact, Note, Requirement
from graphcheck.model.ir import Node, SubGraph, TensorData
from graphcheck.symbolic.assume import NOTHING, Assumptions
from graphcheck.symbolic.cond import FALSE, TRUE, Cond
from graphcheck.symbolic.expr import Expr, const, sym
from graphcheck.symbolic.intset import IntSet

RuleFn = Callable[["OpContext"], Sequence[Fact]]

_RULES: dict[tuple[str, str], list[tuple[int, RuleFn]]] = {}


def rule(*ops: str, since: int = 1, domain: str = "") -> Callable[[RuleFn], RuleFn]:
    """Register ``fn`` for ``ops`` from opset ``since`` on (until a later registration)."""

    def deco(fn: RuleFn) -> RuleFn:
        for op in ops:
            lst = _RULES.setdefault((domain, op), [])
            lst.append((since, fn))
            lst.sort(key=lambda x: x[0])
        _LOOKED_UP.clear()
        return fn

    return deco


# ops deliberately left without a rule, with the reason (shown in their GC101 note): what their
# outputs are cannot be told from sizes (a beam search's generated length, a tokenizer's token count)
_NO_RULE: dict[tuple[str, str], str] = {}


def no_rule(domain: str, reason: str, *ops: str) -> None:
    """Record that ``ops`` have no rule on purpose, and why (their GC101 note says it)."""
    for op in ops:
        _NO_RULE[(domain, op)] = reason


def why_no_rule(domain: str, op: str) -> str | None:
    """The recorded reason an op has no rule (None: none recorded)."""
    return _NO_RULE.get((domain, op))


def lookup(domain: str, op: str, opset: int) -> RuleFn | None:
    key = (domain, op, opset)
    try:
        return _LOOKED_UP[key]
    except KeyError:
        pass
    lst = _RULES.get((domain, op))
    fn = None
    if lst:
        i = bisect.bisect_right([s for s, _ in lst], opset) - 1
        fn = lst[max(i, 0)][1]
    if len(_LOOKED_UP) >= _LOOKUP_LIMIT:  # a hostile file names any number of ops (memory only)
        _LOOKED_UP.clear()
    _LOOKED_UP[key] = fn
    return fn


_LOOKUP_LIMIT = 4096  # (domain, op, opset) -> rule answers remembered (memory only; emptied when full)
_LOOKED_UP: dict[tuple[str, str, int], RuleFn | None] = {}


class Unsupported(Exception):
    """The rule cannot follow this node (an attribute form, a value it cannot know): outputs unknown, GC102."""


class Propagate(Exception):
    """An input is already unknown: outputs become unknown without a new note."""


class Invalid(Exception):
    """The node is invalid for every size (a malformed model): GC010 with this message."""


def _opaque(hint: str) -> Expr:
    return sym(hint, "opaque")


class OpContext:
    """What a rule sees of its node: the node, its input facts, the opset; what it collects.

    (A plain class with slots rather than a dataclass: one is made per node on the hot path.)"""

    __slots__ = (
        "node", "inputs", "opset", "order", "mode", "fresh", "requirements", "notes", "dim_code", "dim_fix",
        "fused_range", "semantics_read", "known", "known_read", "cond_cache",
    )  # fmt: skip

    def __init__(
        self,
        node: Node,
        inputs: list[Fact | None],
        opset: int,
        order: int,
        mode: str = "spec",  # "spec" or "ort"; rules read it as ``semantics``, which is recorded
        fresh: Callable[[str], Expr] = _opaque,
        requirements: list[Requirement] | None = None,
        notes: list[Note] | None = None,
        dim_code: str = "GC002",  # code for the engine's "every output size >= 1" checks on this node
        dim_fix: str = "",
        # semantics "ort" only: the input facts of a Range whose only consumer is this Gather's indices;
        # onnxruntime's optimizer (GatherToSliceFusion) turns that pair into a Slice, which clamps
        fused_range: list[Fact | None] | None = None,
        semantics_read: bool = False,  # the rule asked which semantics: its result may differ between them
        # what the conditions upstream tell of the sizes (only sizes meeting them matter: at any other the
        # model is already invalid); rules read it as ``assume``, which is recorded
        known: Assumptions = NOTHING,
        known_read: bool = False,
        cond_cache: dict[Cond, IntSet] | None = None,
    ) -> None:
        self.node = node
        self.inputs = inputs
        self.opset = opset
        self.order = order
        self.mode = mode
        self.fresh = fresh
        self.requirements: list[Requirement] = [] if requirements is None else requirements
        self.notes: list[Note] = [] if notes is None else notes
        self.dim_code = dim_code
        self.dim_fix = dim_fix
        self.fused_range = fused_range
        self.semantics_read = semantics_read
        self.known = known
        self.known_read = known_read
        self.cond_cache = cond_cache

    @property
    def semantics(self) -> str:
        """``"spec"`` or ``"ort"``. Reading it marks the rule's result as semantics-dependent, so
        an analysis can be turned into its onnxruntime twin by re-running only such nodes."""
        self.semantics_read = True
        return self.mode

    @property
    def assume(self) -> Assumptions:
        """What the conditions upstream tell of the sizes. Reading it marks the rule's result as
        depending on them, so a re-inference re-runs the rule when they change."""
        if self.known.sets:
            self.known_read = True
        return self.known

    def always(self, cond: Cond) -> bool:
        """``cond`` holds at every size meeting the conditions upstream (proven)."""
        if cond == TRUE:
            return True
        return self.assume.always(cond, self.cond_cache)

    def never(self, cond: Cond) -> bool:
        """``cond`` holds at no size meeting the conditions upstream (proven)."""
        if cond == FALSE:
            return True
        return self.assume.never(cond, self.cond_cache)

    # -- attributes ------------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        return self.node.attrs.get(name, default)

    def attr_int(self, name: str, default: int) -> int:
        v = self.node.attrs.get(name, default)
        if not isinstance(v, int):
            raise Invalid(f"attribute {name} should be an int, got {v!r}")
        return v

    def attr_ints(self, name: str, default: Sequence[int] | None = None) -> tuple[int, ...] | None:
        v = self.node.attrs.get(name)
        if v is None:
            return None if default is None else tuple(default)
        if isinstance(v, int):
            return (v,)
        if not isinstance(v, tuple) or not all(isinstance(x, int) for x in v):
            raise Invalid(f"attribute {name} should be ints, got {v!r}")
        return v

    def attr_str(self, name: str, default: str) -> str:
        v = self.node.attrs.get(name, default)
        return v if isinstance(v, str) else default

    def attr_float(self, name: str, default: float) -> float:
        v = self.node.attrs.get(name, default)
        return float(v) if isinstance(v, int | float) else default

    def attr_tensor(self, name: str) -> TensorData | None:
        v = self.node.attrs.get(name)
        return v if isinstance(v, TensorData) else None

    def attr_graph(self, name: str) -> SubGraph | None:
        v = self.node.attrs.get(name)
        return v if isinstance(v, SubGraph) else None

    # -- inputs ------------------------------------------------------------------
    def has(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def fact(self, i: int) -> Fact:
        """Input ``i``'s fact (shape may be unknown)."""
        if not self.has(i):
            raise Invalid(f"input {i} is required but missing")
        f = self.inputs[i]
        assert f is not None
        return f

    def shape(self, i: int) -> tuple[Expr, ...]:
        """Input ``i``'s shape; an unknown shape ends this node's analysis quietly."""
        f = self.fact(i)
        if f.shape is None:
            raise Propagate()
        return f.shape

    def ints(self, i: int, what: str = "") -> tuple[Expr, ...]:
        """Input ``i``'s values as integer expressions; unknown values make the outputs unknown (GC102)."""
        f = self.fact(i)
        vals = f.int_values()
        if vals is None:
            raise Unsupported(
                f"the value of input {i} ({self.node.inputs[i]}{', ' + what if what else ''}) is not known statically"
            )
        return vals

    def const_ints(self, i: int, what: str = "") -> tuple[int, ...]:
        known = self.fact(i).const_ints()
        if known is not None:
            return known
        vals = self.ints(i, what)
        if not all(v.is_const for v in vals):
            raise Unsupported(
                f"input {i} ({self.node.inputs[i]}{', ' + what if what else ''}) depends on the input sizes"
            )
        return tuple(v.value for v in vals)

    def fractions(self, i: int, what: str = "") -> tuple[Fraction, ...]:
        f = self.fact(i)
        if f.value is None:
            raise Unsupported(
                f"the value of input {i} ({self.node.inputs[i]}{', ' + what if what else ''}) is not known statically"
            )
        out = []
        for v in f.value:
            if isinstance(v, Expr):
                if not v.is_const:
                    raise Unsupported(f"input {i} ({self.node.inputs[i]}) depends on the input sizes")
                out.append(Fraction(v.value))
            elif isinstance(v, Fraction):
                out.append(v)
            else:
                raise Unsupported(f"input {i} ({self.node.inputs[i]}) is {v}, computed from the input sizes")
        return tuple(out)

    # -- conditions ----------------------------------------------------------------
    def require(
        self,
        cond: Cond,
        code: str,
        what: str,
        formula: str | Callable[[], str] = "",
        value: Expr | None = None,
        fix: str = "",
    ) -> None:
        if cond == TRUE:
            return
        self.requirements.append(
            Requirement(cond, code, self.node.name, self.node.op_type, self.order, what, formula, value, fix)
        )

    def covers(self, cond: Cond, what: str, formula: str | Callable[[], str] = "") -> None:
        """Follow the node only where ``cond`` holds: the sizes outside are unknown (GC110), neither
        valid nor invalid, and the rule's outputs need only be right inside."""
        if cond == TRUE:
            return
        self.requirements.append(
            Requirement(cond, "GC110", self.node.name, self.node.op_type, self.order, what, formula, covers=True)
        )

    def note(self, code: str, message: str) -> None:
        self.notes.append(Note(code, self.node.name, self.node.op_type, self.order, message))


_RUNNING: ContextVar[OpContext | None] = ContextVar("graphcheck_rule", default=None)


def running(ctx: OpContext) -> Token[OpContext | None]:
    """Mark ``ctx`` as the rule being applied (the engine does, around each rule call)."""
    return _RUNNING.set(ctx)


def done(token: Token[OpContext | None]) -> None:
    _RUNNING.reset(token)


def current_assume() -> Assumptions:
    """What the conditions upstream tell of the sizes, for helpers deep inside a rule (the sign of a
    value in :mod:`graphcheck.infer.ops._values`); reading it is recorded like ``ctx.assume``.
    Outside a rule: nothing is known (sizes >= 1)."""
    ctx = _RUNNING.get()
    return NOTHING if ctx is None else ctx.assume


def norm_axis(axis: int, rank: int, node: Node) -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise Invalid(f"axis {axis} is out of range for rank {rank}")
    return a


def c(v: int) -> Expr:
    return const(v)
