"""Shared by the annotate test and ``bench/annotate.py``: the models (the fixtures and the committed
zoo), valid sizes to probe them at, and every node output's shape there by onnxruntime.

onnxruntime runs a copy of the model whose graph outputs are its outputs followed by every node
output of the main graph (optimizations off, so what runs is the graph as written), in the zoo's
worker subprocess (``fixtures/zoo/probe.py``: it can abort on some sizes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

import graphcheck
from graphcheck.report.report import Report

ROOT = Path(__file__).resolve().parent.parent
ZOO_DIR = ROOT / "fixtures" / "zoo"
if str(ZOO_DIR) not in sys.path:
    sys.path.insert(0, str(ZOO_DIR))

import probe as zoo_probe  # noqa: E402
import zoo  # noqa: E402

Shapes = dict[str, list[int]]


@dataclass(frozen=True)
class Subject:
    """A model and the valid sizes it is probed at: each probe the input shapes and the values of
    the non-size inputs."""

    name: str
    path: Path
    probes: tuple[tuple[Shapes, dict[str, int]], ...]


def _spread(items: list[Any], k: int) -> list[Any]:
    """Up to ``k`` items, first and last included, evenly spaced."""
    if len(items) <= k:
        return items
    idx = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


def _fixture_points(rep: Report, k: int) -> list[dict[str, int]]:
    """Valid sizes of a fixture, from its exact report: per size its first valid values, values
    around the end of its valid runs and a large one, the others at their smallest."""
    base = rep.smallest() or {}
    free = {s.name for s in rep.solution.free}
    base = {n: (2 if n in free else v) for n, v in base.items()}
    points = [base] if base else []
    for name in rep.symbols:
        vs = rep.valid_set(name)
        if vs is None:
            continue
        values = vs.elements(3) if name not in free else [1, 3, 7]
        for ivs in vs.classes.values():
            for _, hi in ivs:
                if hi < 1 << 40:
                    values.append(hi)
        big = vs.first_at_least(1000)
        if big is not None and big < 5000:
            values.append(big)
        for v in values:
            p = {**base, name: v}
            if p not in points and rep.accepts(p):
                points.append(p)
    return _spread(points, k)


def _shapes_at(rep: Report, point: Mapping[str, int]) -> Shapes:
    env = {rep.analysis.symbol(n): v for n, v in point.items()}
    out: Shapes = {}
    for name, shape in rep.analysis.input_shapes.items():
        assert shape is not None
        out[name] = [d.evaluate(env) for d in shape]
    return out


def subjects(k: int = 4) -> list[Subject]:
    """The fixtures and the committed zoo models, each with up to ``k`` valid probes (a model
    that accepts no size gets none)."""
    out: list[Subject] = []
    for path in sorted((ROOT / "fixtures").glob("*.onnx")):
        rep = graphcheck.check(path)
        pts = _fixture_points(rep, k)
        out.append(Subject(f"fixtures/{path.stem}", path, tuple((_shapes_at(rep, p), {}) for p in pts)))
    for e in sorted(zoo.ZOO.values(), key=lambda e: e.name):
        path = ZOO_DIR / "models" / f"{e.name}.onnx"
        truth_path = ZOO_DIR / "truth" / f"{e.name}.json"
        if e.large or not path.exists() or not truth_path.exists():
            continue
        truth = json.loads(truth_path.read_text())
        valid = [r["at"] for r in truth["probes"] if r["spec"] and r["ok"]]
        probes = tuple((e.inputs(*at), e.fill_at(*at)) for at in _spread(valid, k))
        out.append(Subject(f"zoo/{e.name}", path, probes))
    return out


def sizes_by_name(model: onnx.ModelProto | Path, shapes: Shapes) -> dict[str, int]:
    """Each input dim name (``dim_param``) of ``model`` with the size fed to it."""
    m = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    out: dict[str, int] = {}
    for vi in m.graph.input:
        if vi.name not in shapes:
            continue
        for d, n in zip(vi.type.tensor_type.shape.dim, shapes[vi.name]):
            if d.HasField("dim_param") and d.dim_param:
                out[d.dim_param] = n
    return out


def node_outputs(m: onnx.ModelProto) -> list[str]:
    return [o for n in m.graph.node for o in n.output if o]


def expose(src: Path, dst: Path) -> list[str]:
    """Write ``src`` with every node output of its main graph made a graph output; the outputs' names
    in order."""
    m = onnx.load(str(src))
    have = {o.name for o in m.graph.output}
    for o in node_outputs(m):
        if o not in have:
            m.graph.output.append(onnx.ValueInfoProto(name=o))
            have.add(o)
    onnx.save(m, str(dst))
    return [o.name for o in m.graph.output]


def run_exposed(
    jobs: list[tuple[Path, list[str], tuple[tuple[Shapes, dict[str, int]], ...]]],
) -> list[list[Shapes | None]]:
    """For each (exposed model, its output names, probes): every output's shape at each probe (None
    where onnxruntime failed), all in one worker process."""
    flat: list[dict[str, Any]] = []
    for path, _, probes in jobs:
        flat.extend({"model": str(path), "shapes": s, "fill": f, "noopt": True} for s, f in probes)
    results = zoo_probe.run_many(flat)
    out: list[list[Shapes | None]] = []
    i = 0
    for _, names, probes in jobs:
        got: list[Shapes | None] = []
        for _ in probes:
            res = results[i]
            i += 1
            got.append(dict(zip(names, res["shapes"])) if res.get("ran") else None)
        out.append(got)
    return out


# ---------------------------------------------------------------------------
# the values inside If/Loop/Scan bodies, which onnxruntime cannot expose as graph outputs

BodyPath = tuple[tuple[int, str], ...]  # from the main graph: (node position, attribute), per level
ROW = 10  # an encoded shape: [value id, rank, dim 0, ..., dim 7] (-1 past the rank)


def body_declared(m: onnx.ModelProto) -> dict[tuple[BodyPath, str], list[int | str | None] | None]:
    """Each body value's declared shape in ``m`` (value_info, outputs, inputs of every body, nested
    ones too), per dim an int, a dim text or None (unset); None when the rank is not declared.
    Only tensor values are listed."""
    out: dict[tuple[BodyPath, str], list[int | str | None] | None] = {}

    def visit(g: onnx.GraphProto, path: BodyPath) -> None:
        if path:
            for vi in list(g.value_info) + list(g.output) + list(g.input):
                t = vi.type
                if t.WhichOneof("value") != "tensor_type" or (path, vi.name) in out:
                    continue
                if not t.tensor_type.HasField("shape"):
                    out[(path, vi.name)] = None
                    continue
                out[(path, vi.name)] = [
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.tensor_type.shape.dim
                ]
        for p, n in enumerate(g.node):
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    visit(a.g, (*path, (p, a.name)))

    visit(m.graph, ())
    return out


def body_nodes_outputs(m: onnx.ModelProto) -> list[tuple[BodyPath, str]]:
    """Every value a node of a body produces (nested bodies too), in file order."""
    out: list[tuple[BodyPath, str]] = []

    def visit(g: onnx.GraphProto, path: BodyPath) -> None:
        for p, n in enumerate(g.node):
            if path:
                out.extend((path, o) for o in n.output if o)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    visit(a.g, (*path, (p, a.name)))

    visit(m.graph, ())
    return out


class _Instrument:
    """Adds to each body the nodes that encode the shape of each of its tensor values as a row
    ``[id, rank, dims...]`` (``Shape`` of the value, at every run of the body), and carries the
    rows out: an If's branches give theirs as an extra output of the If, a Loop accumulates them
    in an extra carried value (its rows may change in number from one iteration to the next), a
    Scan stacks them as an extra scan output. Only ops every opset since 5 has (Shape, Concat,
    Gather, Reshape, Constant)."""

    def __init__(self, wanted: set[tuple[BodyPath, str]]) -> None:
        self.wanted = wanted
        self.ids: list[tuple[BodyPath, str]] = []
        self.n = 0

    def fresh(self, what: str) -> str:
        self.n += 1
        return f"__gc_{what}_{self.n}"

    def const(self, nodes: list[onnx.NodeProto], values: list[int], dims: list[int]) -> str:
        name = self.fresh("c")
        t = onnx.helper.make_tensor(name + "_t", onnx.TensorProto.INT64, dims, values)
        nodes.append(onnx.helper.make_node("Constant", [], [name], value=t))
        return name

    def graph(self, g: onnx.GraphProto, path: BodyPath) -> str:
        """Instrument ``g`` (nested bodies first); the name, in ``g``, of its rows ([n, ROW])."""
        parts: list[str] = []
        new_nodes: list[onnx.NodeProto] = []
        for p, node in enumerate(g.node):
            new_nodes.extend(self.around(node, p, path, parts))
        tail: list[onnx.NodeProto] = []
        if path:
            names = (
                [vi.name for vi in g.input] + [o for n in g.node for o in n.output if o] + [o.name for o in g.output]
            )
            idx = fill = ""
            for v in dict.fromkeys(names):
                if (path, v) not in self.wanted:
                    continue
                if not idx:
                    idx = self.const(tail, list(range(ROW)), [1, ROW])
                    fill = self.const(tail, [-1] * (ROW - 2), [ROW - 2])
                self.ids.append((path, v))
                vid = self.const(tail, [len(self.ids) - 1], [1])
                s, r, cat, row = (self.fresh(x) for x in ("s", "r", "cat", "row"))
                tail.append(onnx.helper.make_node("Shape", [v], [s]))
                tail.append(onnx.helper.make_node("Shape", [s], [r]))
                tail.append(onnx.helper.make_node("Concat", [vid, r, s, fill], [cat], axis=0))
                tail.append(onnx.helper.make_node("Gather", [cat, idx], [row], axis=0))
                parts.append(row)
        rows = self.fresh("rows")
        if parts:
            tail.append(onnx.helper.make_node("Concat", parts, [rows], axis=0))
        else:
            empty = onnx.helper.make_tensor(rows + "_t", onnx.TensorProto.INT64, [0, ROW], [])
            tail.append(onnx.helper.make_node("Constant", [], [rows], value=empty))
        del g.node[:]
        g.node.extend(new_nodes + tail)
        return rows

    def around(self, node: onnx.NodeProto, p: int, path: BodyPath, parts: list[str]) -> list[onnx.NodeProto]:
        """``node`` (position ``p`` of the graph at ``path``), instrumented when it is a control
        node, with the nodes it needs before and after it; its rows' name added to ``parts``."""
        if node.op_type not in ("If", "Loop", "Scan") or node.domain not in ("", "ai.onnx"):
            return [node]
        before: list[onnx.NodeProto] = []
        after: list[onnx.NodeProto] = []
        parts.append(self.control(node, p, path, before, after))
        return [*before, node, *after]

    def control(
        self, node: onnx.NodeProto, p: int, path: BodyPath, before: list[onnx.NodeProto], after: list[onnx.NodeProto]
    ) -> str:
        """Instrument control node ``node`` (position ``p``); the name of its rows in its graph."""
        bodies = {a.name: a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH}
        out = self.fresh("ctl")

        def output(g: onnx.GraphProto, name: str, at: int | None = None) -> None:
            vi = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64, [None, ROW])
            if at is None:
                g.output.append(vi)
            else:
                g.output.insert(at, vi)

        if node.op_type == "If":
            for attr in ("then_branch", "else_branch"):
                output(bodies[attr], self.graph(bodies[attr], (*path, (p, attr))))
            node.output.append(out)
            return out
        body = bodies["body"]
        rows = self.graph(body, (*path, (p, "body")))
        if node.op_type == "Loop":
            n_carried = len(node.input) - 2
            acc_in, acc_out = self.fresh("acc_in"), self.fresh("acc_out")
            body.node.append(onnx.helper.make_node("Concat", [acc_in, rows], [acc_out], axis=0))
            body.input.insert(
                2 + n_carried, onnx.helper.make_tensor_value_info(acc_in, onnx.TensorProto.INT64, [None, ROW])
            )
            output(body, acc_out, 1 + n_carried)
            empty = onnx.helper.make_tensor(self.fresh("e"), onnx.TensorProto.INT64, [0, ROW], [])
            init = self.fresh("acc0")
            before.append(onnx.helper.make_node("Constant", [], [init], value=empty))
            node.input.append(init)
            while len(node.output) < n_carried:
                node.output.append(self.fresh("pad"))
            node.output.insert(n_carried, out)
            return out
        # Scan: an extra scan output, [trips, n, ROW], flattened to rows after the node
        while len(node.output) < len(body.output):
            node.output.append(self.fresh("pad"))
        output(body, rows)
        node.output.append(out)
        for a in node.attribute:
            if a.name in ("scan_output_axes", "scan_output_directions"):
                a.ints.append(0)
        flat, shape = self.fresh("flat"), self.fresh("shp")
        t = onnx.helper.make_tensor(shape + "_t", onnx.TensorProto.INT64, [2], [-1, ROW])
        after.append(onnx.helper.make_node("Constant", [], [shape], value=t))
        after.append(onnx.helper.make_node("Reshape", [out, shape], [flat]))
        return flat


def expose_bodies(src: Path, dst: Path, wanted: set[tuple[BodyPath, str]]) -> list[tuple[BodyPath, str]]:
    """Write ``src`` with the shapes of the body values ``wanted`` exposed: one extra graph output,
    ``__gc_body_rows`` ([n, ROW] int64), a row per run of a body (each branch taken, each
    iteration) per value: ``[id, rank, dims...]``. Returns the values by id."""
    m = onnx.load(str(src))
    ins = _Instrument(wanted)
    parts: list[str] = []
    new_nodes: list[onnx.NodeProto] = []
    for p, node in enumerate(m.graph.node):
        new_nodes.extend(ins.around(node, p, (), parts))
    out = "__gc_body_rows"
    if parts:
        new_nodes.append(onnx.helper.make_node("Concat", parts, [out], axis=0))
    else:
        empty = onnx.helper.make_tensor(out + "_t", onnx.TensorProto.INT64, [0, ROW], [])
        new_nodes.append(onnx.helper.make_node("Constant", [], [out], value=empty))
    del m.graph.node[:]
    m.graph.node.extend(new_nodes)
    m.graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.INT64, [None, ROW]))
    onnx.save(m, str(dst))
    return ins.ids


def body_shapes(rows: list[list[int]], ids: list[tuple[BodyPath, str]]) -> dict[tuple[BodyPath, str], list[list[int]]]:
    """The rows of ``__gc_body_rows`` decoded: each body value's shapes, one per run of its body."""
    out: dict[tuple[BodyPath, str], list[list[int]]] = {}
    for row in rows:
        vid, rank = row[0], row[1]
        assert 0 <= rank <= ROW - 2, f"rank {rank} is past what a row holds"
        out.setdefault(ids[vid], []).append(row[2 : 2 + rank])
    return out


def run_bodies(
    jobs: list[tuple[Path, tuple[tuple[Shapes, dict[str, int]], ...]]],
) -> list[list[list[list[int]] | None]]:
    """For each (model from :func:`expose_bodies`, probes): the rows at each probe (None where
    onnxruntime failed), in one worker process."""
    flat = [
        {
            "model": str(path),
            "shapes": s,
            "fill": f,
            "noopt": True,
            "values": ["__gc_body_rows"],
            "empty_ok": ["__gc_body_rows"],
        }
        for path, probes in jobs
        for s, f in probes
    ]
    results = iter(zoo_probe.run_many(flat))
    out: list[list[list[list[int]] | None]] = []
    for _, probes in jobs:
        out.append([r["values"]["__gc_body_rows"] if r.get("ran") else None for r in (next(results) for _ in probes)])
    return out


def body_mismatches(
    decl: Mapping[tuple[BodyPath, str], list[int | str | None] | None],
    seen: Mapping[tuple[BodyPath, str], list[list[int]]],
    sizes: Mapping[str, int],
) -> tuple[list[tuple[tuple[BodyPath, str], list[int | str | None], list[int]]], int]:
    """The body values whose declared shape differs from one onnxruntime produced at some run of
    the body (rank, or a dim written, evaluated at ``sizes`` by the grammar's evaluator), and how
    many written dims were compared."""
    from graphcheck.symbolic.dimtext import evaluate

    bad = []
    checked = 0
    for key, shapes in seen.items():
        dims = decl.get(key)
        if dims is None:
            continue
        for got in shapes:
            if len(got) != len(dims):
                bad.append((key, dims, got))
                continue
            for d, n in zip(dims, got):
                if d is None:
                    continue
                checked += 1
                if (d if isinstance(d, int) else evaluate(d, dict(sizes))) != n:
                    bad.append((key, dims, got))
                    break
    return bad, checked
