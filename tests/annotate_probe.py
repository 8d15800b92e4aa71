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
