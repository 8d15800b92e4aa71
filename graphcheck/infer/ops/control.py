"""Control flow, sequences and optionals: If, Loop, Scan, Sequence*, SplitToSequence,
ConcatFromSequence, Optional*.

The IR keeps only the interface of a subgraph (its input and output names), so the bodies
of If/Loop/Scan are not analysed: their outputs are unknown and a GC103 note says so (an
analysis with such a note is incomplete, never "valid"). Sequence and optional values are
not tensors and carry no shape; ops producing or reading them leave their outputs unknown
with a GC103 note too. Two outputs are nonetheless exact and cheap: ``SequenceLength`` and
``OptionalHasElement`` always return a scalar (its value stays unknown).
"""

from __future__ import annotations

from graphcheck.infer.facts import Fact
from graphcheck.infer.registry import OpContext, rule
from graphcheck.symbolic.expr import const

INT64 = 7
BOOL = 9


@rule("If", "Loop", "Scan")
def control_flow(ctx: OpContext) -> list[Fact]:
    ctx.note("GC103", f"{ctx.node.op_type}: control flow: outputs not analysed (subgraph bodies are not followed)")
    return []


@rule(
    "SequenceConstruct",
    "SequenceEmpty",
    "SequenceInsert",
    "SequenceErase",
    "SequenceAt",
    "SequenceMap",
    "SplitToSequence",
    "ConcatFromSequence",
    "Optional",
)
def sequence_or_optional(ctx: OpContext) -> list[Fact]:
    ctx.note("GC103", f"{ctx.node.op_type}: sequence/optional values are not analysed; its outputs are unknown")
    return []


@rule("SequenceLength")
def sequence_length(ctx: OpContext) -> list[Fact]:
    return [Fact((), INT64)]


def _plain_tensor(ctx: OpContext) -> Fact | None:
    """The input's fact when it is a plain tensor (an optional or sequence never has a shape here)."""
    if not ctx.has(0):
        return None
    f = ctx.fact(0)
    return f if f.shape is not None else None


@rule("OptionalHasElement")
def optional_has_element(ctx: OpContext) -> list[Fact]:
    # Since opset 18 the input may be a plain tensor, which always "has an element"; no input: none.
    if not ctx.has(0):
        return [Fact((), BOOL, (const(0),))]
    return [Fact((), BOOL, (const(1),) if _plain_tensor(ctx) is not None else None)]


@rule("OptionalGetElement")
def optional_get_element(ctx: OpContext) -> list[Fact]:
    f = _plain_tensor(ctx)
    if f is not None:  # a plain tensor (opset 18): the identity
        return [f]
    ctx.note("GC103", "OptionalGetElement: optional values are not analysed; its output is unknown")
    return []
