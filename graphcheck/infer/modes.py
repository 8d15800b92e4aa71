"""Modes: graph inputs that are not sizes but choose a branch (``use_cache_branch``, a sample rate).

Hugging Face optimum merges a decoder with and without its cache into one model whose single If
reads the boolean input ``use_cache_branch``; a voice-activity model branches on ``Equal(sr,
16000)``. Such an input is set by the caller, not by the data: the valid sizes depend on its value,
and the analysis states them per value (a *mode*). :func:`find_modes` finds the graph inputs whose
value (not shape) reaches an If's condition through value ops, and the values that matter: both
truth values of a boolean, and for an integer each constant it is compared with, plus "any other"
(``None``: analysed with the value unknown, so Ifs on it are data-dependent there).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from graphcheck.model.ir import Graph, Node, subgraphs

__all__ = ["Mode", "find_modes", "assignments", "MODES_LIMIT"]

MODES_LIMIT = 8  # mode assignments analysed (the product of every mode's values); past it, no modes
_VALUE_LIMIT = 6  # compared constants kept per integer mode input
_BOOL, _INTS = 9, {2, 3, 4, 5, 6, 7, 12, 13}
_THROUGH_SHAPE = {"Shape", "Size"}  # these read a tensor's shape, not its value: a mode stops there


@dataclass(frozen=True)
class Mode:
    """A graph input that chooses branches, and the values analysed (None: any other value, analysed
    at ``other``, a value that stands for all of them)."""

    input: str
    values: tuple[int | None, ...]
    other: int | None = None

    @property
    def is_bool(self) -> bool:
        return self.values == (1, 0)


def find_modes(graph: Graph) -> list[Mode]:
    """The graph inputs of at most one element, boolean or integer, whose value reaches the
    condition of an If (in the graph or any body)."""
    producers: dict[str, Node] = {}
    all_nodes = graph.all_nodes()
    for n in all_nodes:
        for o in n.outputs:
            if o:
                producers[o] = n
    candidates = {vi.name: vi for vi in graph.inputs if _small_scalar(vi.shape) and vi.elem_type in {_BOOL, *_INTS}}
    if not candidates:
        return []
    found: dict[str, set[int]] = {}
    for n in all_nodes:
        if n.op_type != "If" or n.domain or not n.inputs or not n.inputs[0]:
            continue
        for name, compared in _cone(n.inputs[0], producers, graph, candidates):
            found.setdefault(name, set()).update(compared)
    out = []
    for vi in graph.inputs:
        if vi.name not in found:
            continue
        if vi.elem_type == _BOOL:
            out.append(Mode(vi.name, (1, 0)))
            continue
        vals = sorted(found[vi.name])
        if len(vals) > _VALUE_LIMIT:
            continue  # too many values to tell apart: the Ifs on it are data to the analysis
        if _only_equal(vi.name, all_nodes, _constants(graph)):
            # every use compares it with a constant for equality: every other value takes the same
            # branches, so one of them (the smallest positive one not listed) stands for all
            other = next(v for v in range(1, len(vals) + 2) if v not in vals)
            out.append(Mode(vi.name, (*vals, None), other))
        else:
            out.append(Mode(vi.name, tuple(vals)))
    return out


_PASS = {"Identity", "Cast", "Squeeze", "Unsqueeze", "Reshape", "Flatten"}  # the same value, another shape or type


def _only_equal(name: str, nodes: list[Node], consts: Mapping[str, int]) -> bool:
    """Every use of ``name``'s value (through ops that pass it on) is an Equal with a constant."""
    readers: dict[str, list[Node]] = {}
    for n in nodes:
        for x in n.inputs:
            if x:
                readers.setdefault(x, []).append(n)
    stack, seen = [name], set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        for n in readers.get(v, []):
            if n.op_type in _PASS and n.inputs and n.inputs[0] == v:
                stack.extend(o for o in n.outputs if o)
            elif n.op_type == "Equal" and len(n.inputs) == 2 and any(x in consts for x in n.inputs if x != v):
                continue
            else:
                return False
    return True


def assignments(modes: list[Mode]) -> list[dict[str, int | None]]:
    """Every combination of the modes' values, or none past ``MODES_LIMIT``."""
    total = 1
    for m in modes:
        total *= len(m.values)
    if not modes or total > MODES_LIMIT:
        return []
    return [dict(zip((m.input for m in modes), combo)) for combo in itertools.product(*(m.values for m in modes))]


def _small_scalar(shape: tuple[object, ...] | None) -> bool:
    return shape is not None and len(shape) <= 1 and all(d == 1 for d in shape)


def _cone(
    start: str, producers: dict[str, Node], graph: Graph, candidates: Mapping[str, object]
) -> Iterator[tuple[str, set[int]]]:
    """The candidate inputs whose value reaches ``start``, each with the constants it is compared
    with on the way (Equal/Less/Greater/... against a constant)."""
    consts = _constants(graph)
    seen: set[str] = set()
    stack = [start]
    reached: dict[str, set[int]] = {}
    compared: set[int] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in candidates:
            reached.setdefault(name, set())
            continue
        n = producers.get(name)
        if n is None or n.op_type in _THROUGH_SHAPE:
            continue
        if n.op_type in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual") and len(n.inputs) == 2:
            for x in n.inputs:
                c = consts.get(x)
                if c is not None:
                    compared.add(c)
                    if n.op_type != "Equal":  # an order comparison: a value on each side of the threshold
                        compared.update((c - 1, c + 1))
        stack.extend(x for x in n.inputs if x)
    for name, s in reached.items():
        s.update(compared)
        yield name, s


def _constants(graph: Graph) -> dict[str, int]:
    """One-element integer constants by name (initializers and Constant nodes, bodies included)."""
    out: dict[str, int] = {}
    for g in [graph, *_bodies(graph)]:
        for name, t in g.initializers.items():
            if t.values is not None and len(t.values) == 1 and isinstance(t.values[0], int):
                out[name] = t.values[0]
    for n in graph.all_nodes():
        if n.op_type == "Constant" and n.outputs:
            v = n.attrs.get("value")
            vals = getattr(v, "values", None)
            if vals is not None and len(vals) == 1 and isinstance(vals[0], int):
                out[n.outputs[0]] = vals[0]
            elif isinstance(n.attrs.get("value_int"), int):
                out[n.outputs[0]] = int(n.attrs["value_int"])  # type: ignore[arg-type]
    return out


def _bodies(graph: Graph) -> list[Graph]:
    out: list[Graph] = []
    for n in graph.all_nodes():
        out.extend(subgraphs(n))
    return out
