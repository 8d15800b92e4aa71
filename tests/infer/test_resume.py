"""Resumed inference (graphcheck.infer.resume) equals a fresh analysis of the changed graph.

Every fixture, in both semantics, with changes of the kind the fix search makes (padding, stride,
dilation, kernel with its weight, SAME padding) on each of its convolutions and pools: the
conditions, notes and facts of ``reanalyze`` are those of ``analyze`` on the changed graph (up
to the numbering of opaque symbols), and ``Trials.passes`` answers, at many sizes, exactly what
the fresh analysis' conditions from the change on say, including when one ``Trials`` object
serves many candidates in a row and answers some from states it has already decided.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from graphcheck.infer.engine import INCOMPLETE_CODES, Analysis, analyze
from graphcheck.infer.facts import Note, Requirement
from graphcheck.infer.resume import Trials, reanalyze, with_semantics
from graphcheck.model.ir import Graph, Node, TensorData
from graphcheck.model.load import load
from graphcheck.symbolic.expr import Sym

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MODELS = sorted(p.name for p in FIXTURES.glob("*.onnx"))
WINDOW = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")
_OPAQUE = re.compile(r"#\d+")


def _norm(text: object) -> str:
    return _OPAQUE.sub("#", str(text))


def _summary(a: Analysis) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], dict[str, str]]:
    reqs = [(_norm(r.cond), r.code, r.node, str(r.order), r.what, _norm(r.value)) for r in a.requirements]
    notes = [(n.code, n.node, str(n.order), _norm(n.message)) for n in a.notes]
    facts = {k: _norm((f.shape, f.value, f.bounds, f.bounds_exact)) for k, f in a.facts.items()}
    return reqs, notes, facts


def _changes(graph: Graph, node: Node) -> list[tuple[Node, dict[str, TensorData]]]:
    """Candidate changes like the fix search's, for one window node."""
    attrs = dict(node.attrs)
    w = graph.initializers.get(node.inputs[1]) if node.op_type == "Conv" and len(node.inputs) > 1 else None
    ks = attrs.get("kernel_shape")
    nsp = len(ks) if isinstance(ks, tuple) else (len(w.dims) - 2 if w is not None else 0)
    if nsp <= 0:
        return []
    out: list[tuple[Node, dict[str, TensorData]]] = []

    def add(new_attrs: dict[str, object], weight: TensorData | None = None) -> None:
        out.append((replace(node, attrs=new_attrs), {weight.name: weight} if weight is not None else {}))

    pads = attrs.get("pads")
    base = list(pads) if isinstance(pads, tuple) and len(pads) == 2 * nsp else [0] * (2 * nsp)
    padded = {k: v for k, v in attrs.items() if k != "auto_pad"}
    padded["pads"] = tuple(p + 1 for p in base)
    add(padded)
    strided = dict(attrs)
    strided["strides"] = tuple(2 for _ in range(nsp))
    add(strided)
    dilated = dict(attrs)
    dilated["dilations"] = tuple(2 for _ in range(nsp))
    add(dilated)
    if node.op_type != "ConvTranspose":
        same = {k: v for k, v in attrs.items() if k != "pads"}
        same["auto_pad"] = "SAME_UPPER"
        add(same)
    kernel = list(ks) if isinstance(ks, tuple) else (list(w.dims[2:]) if w is not None else [])
    if kernel and max(kernel) > 1:
        smaller = dict(attrs)
        k2 = [max(1, k - 1) for k in kernel]
        if "kernel_shape" in smaller or node.op_type != "Conv":
            smaller["kernel_shape"] = tuple(k2)
        weight = None
        if w is not None:
            weight = replace(w, dims=(*w.dims[:2], *k2), values=None)
        add(smaller, weight)
    return out


def _weight_changes(graph: Graph, rnd: random.Random) -> list[dict[str, TensorData]]:
    """Changed initializers: a weight one wider, a small integer constant (a shape, an index) off by one."""
    out: list[dict[str, TensorData]] = []
    names = sorted(graph.initializers)
    rnd.shuffle(names)
    for name in names[:8]:
        t = graph.initializers[name]
        if t.values is not None and t.dims and all(isinstance(v, int) for v in t.values):
            vals = list(t.values)
            i = rnd.randrange(len(vals))
            vals[i] = int(vals[i]) + rnd.choice([-1, 1])
            out.append({name: replace(t, values=tuple(vals))})
        elif t.values is None and t.dims:
            out.append({name: replace(t, dims=(*t.dims[:-1], t.dims[-1] + 1))})
    return out


Change = tuple[Node | None, dict[str, TensorData]]


def _candidates(base: Analysis, model: str) -> list[Change]:
    windows = [n for n in base.order if n.op_type in WINDOW][:6]
    out: list[Change] = [(new, inits) for node in windows for new, inits in _changes(base.graph, node)]
    out += [(None, inits) for inits in _weight_changes(base.graph, random.Random(model))]
    return out


def _fresh(base: Analysis, node: Node | None, inits: dict[str, TensorData]) -> Analysis:
    graph = base.graph
    changed = replace(
        graph,
        nodes=[node if node is not None and n.index == node.index else n for n in graph.nodes],
        initializers={**graph.initializers, **inits},
    )
    return analyze(changed, base.dims, base.semantics)


def _first(base: Analysis, node: Node | None, inits: dict[str, TensorData]) -> int:
    starts = [i for i, n in enumerate(base.order) if (node is not None and n.index == node.index)]
    starts += [i for i, n in enumerate(base.order) if set(n.inputs) & set(inits)]
    return min(starts, default=len(base.order))


def _cases() -> list[tuple[str, str]]:
    return [(m, s) for m in MODELS for s in ("spec", "ort")]


@pytest.mark.parametrize("model,semantics", _cases())
def test_reanalyze_equals_a_fresh_analysis(model: str, semantics: str) -> None:
    base = analyze(load(FIXTURES / model), None, semantics)
    tried = 0
    for new, inits in _candidates(base, model):
        got = reanalyze(base, {new.index: new} if new is not None else {}, inits)
        assert got is not None
        want = _fresh(base, new, inits)
        assert _summary(got) == _summary(want), (model, new, list(inits))
        tried += 1
    assert tried >= 3
    # no change at all: the same analysis back
    same = reanalyze(base)
    assert same is not None and _summary(same) == _summary(base)


def _envs(a: Analysis, rnd: random.Random) -> list[dict[Sym, int]]:
    out = []
    for _ in range(12):
        out.append({s: rnd.choice([1, 2, 3, 5, 8, 9, 16, 31, 64, 100, 224, 513, 1500, 3000]) for s in a.symbols})
    return out


def _expected(full: Analysis, pos: int, env: dict[Sym, int]) -> bool:
    for r in full.requirements:
        if r.order >= pos and (not r.decidable or not r.cond.holds(env)):
            return False
    return not any(n.order >= pos and n.code in INCOMPLETE_CODES for n in full.notes)


@pytest.mark.parametrize("model,semantics", _cases())
def test_trials_answer_what_a_fresh_analysis_says(model: str, semantics: str) -> None:
    rnd = random.Random(model + semantics)
    base = analyze(load(FIXTURES / model), None, semantics)
    candidates = _candidates(base, model)
    fresh = [(_fresh(base, new, inits), _first(base, new, inits)) for new, inits in candidates]
    seen_true = seen_false = 0
    for env in _envs(base, rnd):

        def fails(item: Requirement | Note, env: dict[Sym, int] = env) -> bool:
            if isinstance(item, Note):
                return item.code in INCOMPLETE_CODES
            return not item.decidable or not item.cond.holds(env)

        trials = Trials(base, fails)  # one object for all candidates: later ones reuse decided states
        for i in [*range(len(candidates))] * 2:  # the second round is answered from the table
            new, inits = candidates[i]
            want = _expected(*fresh[i], env)
            got = trials.passes({new.index: new} if new is not None else {}, inits)
            assert got is want, (model, new, list(inits), env)
            seen_true += want
            seen_false += not want
    assert seen_false > 0


@pytest.mark.parametrize("model", MODELS)
def test_with_semantics_equals_a_fresh_analysis(model: str) -> None:
    """The onnxruntime twin of an analysis, re-running only the nodes whose rule asked for the
    semantics (and fused Range -> Gather pairs), is the fresh "ort" analysis; and back again."""
    graph = load(FIXTURES / model)
    spec, ort = analyze(graph, None, "spec"), analyze(graph, None, "ort")
    derived = with_semantics(spec, "ort")
    assert derived.semantics == "ort"
    assert _summary(derived) == _summary(ort)
    assert _summary(with_semantics(ort, "spec")) == _summary(spec)
    pools = ("MaxPool", "AveragePool", "LpPool")  # (a Conv asks only where onnxruntime refuses it: SAME with dilations)
    assert any(step.reads_semantics for step in spec.steps) or not any(n.op_type in pools for n in spec.order)


def test_with_semantics_sees_the_differences() -> None:
    """On a model where onnxruntime deviates (a pool whose window can exceed its input: ORT
    truncates toward zero), the derived twin has the deviating condition, not the spec's."""
    from onnx import TensorProto, helper

    from graphcheck.model.load import from_proto

    pool = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[5], strides=[3])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "L"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph([pool], "pool", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    g = from_proto(m)
    spec, ort = analyze(g, None, "spec"), analyze(g, None, "ort")
    assert _summary(spec) != _summary(ort)
    assert _summary(with_semantics(spec, "ort")) == _summary(ort)
