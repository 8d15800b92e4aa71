"""Control flow in the walk: the bodies of If, Loop and Scan are walked like the main graph.

When the walk meets a control-flow node, :func:`expand` says what to walk in its place (see
:mod:`graphcheck.infer.bodies`): the nodes of the branch an If takes (its condition decided: a
constant, a mode the caller chose, a condition on the sizes that the path so far decides), of both
branches (a condition on data: a size is valid only if both accept it), or of a loop's body once
(:mod:`graphcheck.infer.loops`). After the body comes the control node itself, moved into the
internal domain, whose rule (:mod:`graphcheck.infer.ops.control`) gives its outputs from the body's.

An If on a condition of the sizes that the path does not decide raises :class:`Split`: the
engine's driver then analyses the model once per side, under each side's path condition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from graphcheck.infer.bodies import Expansion, Scope, Split, body_path, is_control, lay_out
from graphcheck.infer.facts import UNKNOWN, Fact
from graphcheck.infer.loops import expand_loop, expand_scan
from graphcheck.infer.ops.control import INTERNAL
from graphcheck.infer.ops.elementwise import element_truth
from graphcheck.model.ir import Graph, Node, SubGraph
from graphcheck.symbolic.assume import Assumptions
from graphcheck.symbolic.cond import Cond, negate

__all__ = ["Expansion", "Scope", "Split", "expand", "is_control", "branch_taken"]


def expand(node: Node, scope: Scope) -> Expansion | None:
    """The expansion of control node ``node``, or None when its bodies cannot be laid out (a
    malformed node, an op version not followed: its plain rule then says why). Raises
    :class:`Split`."""
    if node.op_type == "If":
        return _expand_if(node, scope.facts, scope.known, scope.path, scope.next_index, scope.model, scope.cache)
    if node.op_type == "Loop":
        return expand_loop(node, scope)
    return expand_scan(node, scope)


# ---------------------------------------------------------------------------------------------- If


def branch_taken(f: Fact, known: Assumptions, path: Sequence[Cond], cache: dict | None) -> bool | Cond | None:
    """Which branch an If with condition fact ``f`` takes: True/False when decided on this path, the
    condition on the sizes when it is one the path does not decide, None when it depends on data."""
    t = element_truth(f)
    if t is None or t.has_opaque():
        return None
    if not t.symbols():
        return t.holds({})
    if t in path:
        return True
    if negate(t) in path:
        return False
    if known.always(t, cache):
        return True
    if known.never(t, cache):
        return False
    return t


def _expand_if(
    node: Node,
    facts: Mapping[str, Fact],
    known: Assumptions,
    path: Sequence[Cond],
    next_index: Callable[[], int],
    functions: Graph,
    cache: dict | None,
) -> Expansion | None:
    then_g, else_g = node.attrs.get("then_branch"), node.attrs.get("else_branch")
    if not (isinstance(then_g, SubGraph) and isinstance(else_g, SubGraph)) or not node.inputs:
        return None
    if then_g.body is None or else_g.body is None:
        return None
    n_out = len(node.outputs)
    if len(then_g.outputs) != n_out or len(else_g.outputs) != n_out:
        return None
    cond = facts.get(node.inputs[0], UNKNOWN)
    taken = branch_taken(cond, known, path, cache)
    if isinstance(taken, Cond):
        raise Split(taken, node)
    notes: list[tuple[str, str]] = []
    chosen = [("then_branch", then_g)] if taken is True else [("else_branch", else_g)] if taken is False else []
    if taken is None:
        chosen = [("then_branch", then_g), ("else_branch", else_g)]
        notes.append(
            (
                "GC104",
                "If: the condition depends on data (not on the sizes, nor on an input the caller sets): "
                "a size is valid only if both branches accept it",
            )
        )
    body_nodes: list[Node] = []
    body_facts: dict[str, Fact] = {}
    outs: list[str] = []
    for label, sg in chosen:
        assert sg.body is not None
        laid = lay_out(
            sg.body, f"{node.name}/{label}/", f"{label} of {node.name}: ", next_index, functions, body_path(node, label)
        )
        body_nodes.extend(laid.nodes)
        body_facts.update(laid.facts)
        outs.extend(laid.rename.get(o, o) for o in sg.outputs)
    merge = replace(
        node,
        domain=INTERNAL,
        inputs=tuple(outs),
        attrs={"branches": ",".join(label for label, _ in chosen)},
    )
    return Expansion((*body_nodes, merge), body_facts, tuple(notes))
