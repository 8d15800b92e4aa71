"""The short fuzz run (CI): hostile and odd models end in a report or one clean error, in bounded
time and memory, never a traceback, a hang or a crash. Everything runs in a worker subprocess
(:mod:`tests.fuzz.harness`); the long run is ``python bench/fuzz.py`` (README, "Budgets and bounds").
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import graphcheck
from graphcheck.errors import ModelLoadError
from graphcheck.model.ir import Graph, Node, ValueInfo
from graphcheck.model.layers import layer_map
from tests.fuzz import corpus
from tests.fuzz.harness import MEMORY_LIMIT, ROOT, TIMEOUT, Stats, campaign, run_inputs

PEAK_MB = 512  # the bound stated in the README: peak resident memory of any one input

SHORT_RUN = range(0, 300)  # fixed seeds: a failure is replayed by its number (bench/fuzz.py --seed N --count 1)


def _no_defects(stats: Stats) -> None:
    details = [f"{o.kind} seed {o.seed} ({o.family}): {o.detail.strip().splitlines()[-1:]}" for o in stats.defects]
    assert not details, "\n".join(details)
    assert stats.peak_mb < PEAK_MB, stats.summary()


def test_short_fuzz_run_has_no_traceback_hang_or_crash() -> None:
    stats = campaign(SHORT_RUN, timeout=TIMEOUT, memory=MEMORY_LIMIT)
    _no_defects(stats)
    counts = stats.counts
    assert counts["report"] + counts["error"] == len(SHORT_RUN)
    # the corpus reaches the analysis, not only the parser: every family gives reports, most mutated
    # bytes give clean errors
    families = {o.family for o in stats.outcomes if o.kind == "report"}
    assert {"generated", "graph-mutation"} <= families, families
    assert counts["report"] > len(SHORT_RUN) // 3 and counts["error"] > len(SHORT_RUN) // 10, counts


@st.composite
def shape_programs(draw: st.DrawFn) -> bytes:
    """Generated graphs: integer arithmetic on a size (Shape -> Gather -> ops -> a consumer),
    constants from the hostile list, earlier values reused (expressions grow)."""
    ops = draw(st.lists(st.sampled_from(corpus.ARITH), min_size=1, max_size=60))
    consts = draw(st.lists(st.sampled_from((-1, 0, 1, 2, 3, 7, 2**31, 2**40, 2**62)), min_size=len(ops)))
    reuse = draw(st.lists(st.integers(0, 3), min_size=len(ops), max_size=len(ops)))
    end = draw(st.sampled_from(["Reshape", "Slice", "ConstantOfShape", "Range"]))
    inits = [
        numpy_helper.from_array(np.array([2], np.int64), "i2"),
        numpy_helper.from_array(np.array([0], np.int64), "z"),
    ]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "i2"], ["v0"], name="gather", axis=0),
    ]
    for i, (op, c, back) in enumerate(zip(ops, consts, reuse), 1):
        inits.append(numpy_helper.from_array(np.array([c], np.int64), f"k{i}"))
        other = f"v{max(0, i - 1 - back)}" if back else f"k{i}"
        nodes.append(helper.make_node(op, [f"v{i - 1}", other], [f"v{i}"], name=f"op{i}"))
    v = f"v{len(ops)}"
    if end == "Reshape":
        nodes.append(helper.make_node("Concat", ["z", v], ["t"], name="cat", axis=0))
        nodes.append(helper.make_node("Reshape", ["x", "t"], ["y"], name="reshape"))
    elif end == "Slice":
        nodes.append(helper.make_node("Slice", ["x", "z", v, "i2"], ["y"], name="slice"))
    elif end == "ConstantOfShape":
        nodes.append(helper.make_node("ConstantOfShape", [v], ["y"], name="cos"))
    else:
        inits.append(numpy_helper.from_array(np.array(0, np.int64), "zero"))
        inits.append(numpy_helper.from_array(np.array(1, np.int64), "one"))
        nodes.append(helper.make_node("Squeeze", [v, "z"], ["vs"], name="squeeze"))
        nodes.append(helper.make_node("Range", ["zero", "vs", "one"], ["y"], name="range"))
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "L"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    return bytes(m.SerializeToString())


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(st.lists(shape_programs(), min_size=25, max_size=25), st.randoms(use_true_random=False))
def test_generated_shape_programs_end_in_a_report(programs: list[bytes], rnd: random.Random) -> None:
    """Hypothesis-generated shape arithmetic (and a flipped byte in some), all through the worker."""
    inputs = []
    for i, data in enumerate(programs):
        if rnd.random() < 0.3:
            data = corpus.mutate_bytes(rnd, data)
        inputs.append((i, "hypothesis", data))
    _no_defects(run_inputs(inputs))


# ---------------------------------------------------------------------------------------- regressions
# Each was a traceback or a hang (issue 13); they run in the worker, under its time and memory bound.


def _model_bytes(m: onnx.ModelProto) -> bytes:
    return bytes(m.SerializeToString())


def test_known_hostile_inputs() -> None:
    rnd = random.Random(0)
    inputs = [
        # towers of Div: v = v/a * v/b doubles the expression at every level
        (1, "div tower", _model_bytes(corpus.div_tower(rnd, depth=200))),
        # a chain of 5,000 shape-arithmetic nodes
        (2, "shape chain", _model_bytes(corpus.shape_chain(random.Random(1), length=5000))),
        (3, "shape chain", _model_bytes(corpus.shape_chain(random.Random(2), length=5000))),
    ]
    # huge but legal kernels, strides and pads (explain runs the fix search at a failing size)
    for i, (k, s, p) in enumerate([(2**40, 1, 0), (3, 2**62, 0), (3, 1, 2**40), (2**62, 2**62, 2**62)], 4):
        from tests.models import conv_stack

        m = conv_stack([{"name": "c", "k": 1, "s": s, "pads": [p, p]}])
        pool = helper.make_node("MaxPool", ["c_out"], ["y"], name="pool", kernel_shape=[k], strides=[s], pads=[p, p])
        m.graph.node.append(pool)
        m.graph.output[0].name = "y"
        inputs.append((i, "huge attributes", _model_bytes(m)))
    # explained at sizes that fail, so the fix search tries kernels, strides and pads below huge ones
    at = {i: {"N": 1, "L": 2} for i in range(4, 8)} | {1: {"N": 1, "L": 7}, 2: {"N": 1, "L": 7}}
    stats = run_inputs(inputs, at=at)
    _no_defects(stats)
    assert all(o.kind == "report" for o in stats.outcomes), [(o.family, o.kind, o.detail) for o in stats.outcomes]


_TOWER = """
import random, json
import graphcheck
from tests.fuzz import corpus
rep = graphcheck.check(corpus.div_tower(random.Random(0), depth=200))
stop = rep.first_unknown
print(json.dumps([rep.complete, stop.code, stop.node, stop.message, rep.accepts({"N": 1, "L": 10})]))
"""


def test_a_tower_of_div_is_unknown_naming_the_node_not_a_guess() -> None:
    """Past the expression budget the answer is unknown (GC102 naming the node), never valid.
    (In a subprocess with a timeout: before the budgets this analysis never ended.)"""
    res = subprocess.run([sys.executable, "-c", _TOWER], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    complete, code, node, message, accepts = json.loads(res.stdout)
    assert complete is False and code == "GC102" and node and "budget" in message
    assert accepts is None


def _pool(dims: list[object], **attrs: object) -> onnx.ModelProto:
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", **attrs)
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def test_huge_legal_sizes_stay_exact() -> None:
    """A fixed size of 2**40 + 5 through a stride of 2**40 is 2; a kernel of 2**40 needs L >= 2**40."""
    rep = graphcheck.check(_pool(["N", 2, 2**40 + 5], kernel_shape=[3], strides=[2**40]))
    shape = rep.analysis.facts["y"].shape
    assert shape is not None and shape[2].const_value() == 2  # floor((2**40 + 5 - 3) / 2**40) + 1
    rep = graphcheck.check(_pool(["N", 2, "L"], kernel_shape=[2**40]))
    assert rep.exact and rep.valid.startswith("L >= 1099511627776")
    assert rep.accepts({"N": 1, "L": 2**40}) is True and rep.accepts({"N": 1, "L": 2**40 - 1}) is False
    rep = graphcheck.check(_pool(["N", 2, "L"], kernel_shape=[3], pads=[2, 2**62], strides=[2**62]))
    assert rep.exact and rep.accepts({"N": 1, "L": 1}) is True
    assert rep.at({"N": 1, "L": 2**62}).outputs["y"] == (1, 2, 2)  # floor((2**62 + 2 + 2**62 - 3) / 2**62) + 1


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"name": "c1", "k": 3, "s": 0}, "node 'c1' (Conv): strides must be >= 1, got [0]"),
        ({"name": "c2", "k": 3, "pads": [1, -1]}, "node 'c2' (Conv): pads must be >= 0, got [1, -1]"),
        ({"name": "c3", "k": 3, "d": -2}, "node 'c3' (Conv): dilations must be >= 1, got [-2]"),
        ({"name": "c4", "k": 3, "auto_pad": "SAME"}, "node 'c4' (Conv): auto_pad must be one of"),
    ],
)
def test_malformed_window_attributes_are_one_line_naming_the_node(layer: dict, message: str, tmp_path: Path) -> None:
    from tests.models import conv_stack

    m = conv_stack([layer])
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        graphcheck.check(m)
    path = tmp_path / "bad.onnx"
    onnx.save(m, path)
    res = subprocess.run([sys.executable, "-m", "graphcheck", "check", str(path)], capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and message in res.stderr and "Traceback" not in res.stderr


def test_names_and_op_types_that_are_not_utf8_are_text() -> None:
    """onnx's parser hands invalid UTF-8 over as bytes; the report shows replacement characters."""
    node = helper.make_node("MaxPool", ["x"], ["y"], name="/a/PLACEHOLDERSCOPE/MaxPool", kernel_shape=[3])
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "L"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    bad = b"\xc3" * 16
    data = helper.make_model(g, producer_name="pytorch").SerializeToString().replace(b"PLACEHOLDERSCOPE", bad)
    raw = onnx.NodeProto.FromString(node.SerializeToString().replace(b"PLACEHOLDERSCOPE", bad))
    assert isinstance(raw.name, bytes)  # the hazard: what layers.py and the JSON report choked on
    rep = graphcheck.check(data)
    (finding,) = [d for d in rep.diagnostics if d.code == "GC001"]
    assert finding.node == "/a/" + "\ufffd" * 16 + "/MaxPool" and finding.layer == "a." + "\ufffd" * 16
    assert rep.to_dict()["diagnostics"] and rep.explain({"N": 1, "L": 2})


def _chain(n: int, style: str) -> Graph:
    names = {
        "torch": lambda i: f"/blocks/blocks.{i // 2}/{'Conv' if i % 2 == 0 else 'Relu'}",
        "keras": lambda i: f"model_1/conv{i // 2}_1/op{i}",
        "deep": lambda i: "/" + "/".join(f"b{j}" for j in range(i % 60)) + f"/Op{i}",
    }[style]
    nodes = [Node(i, names(i), "Conv" if i % 2 == 0 else "Relu", "", (f"t{i}",), (f"t{i + 1}",), {}) for i in range(n)]
    producer = {"torch": "pytorch", "keras": "tf2onnx", "deep": "pytorch"}[style]
    g = Graph("g", [ValueInfo("t0", 1, (1, 2, 8))], [ValueInfo(f"t{n}", 1, None)], {}, nodes, {"": 17})
    g.producer = producer
    return g


@pytest.mark.parametrize("style", ["torch", "keras", "deep"])
def test_layer_map_is_linear(style: str) -> None:
    """``at`` on a 100,000-node chain spent its time mapping nodes to layers (quadratic); now 4x the
    nodes cost about 4x the time (asserted below 8x, best of three)."""

    def cost(n: int) -> float:
        g = _chain(n, style)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            lm = layer_map(g)
            best = min(best, time.perf_counter() - t0)
        assert len(lm.by_node) == n
        return best

    small, large = cost(5_000), cost(20_000)
    assert large < 8 * small + 0.05, (small, large)


def test_a_path_that_is_not_a_regular_file_is_one_line(tmp_path: Path) -> None:
    """A FIFO blocked the open forever (a hang without any input); a directory or a missing file
    is one line too."""
    import os

    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    for path, says in (
        (fifo, "not a regular file"),
        (tmp_path, "is a directory"),
        (tmp_path / "no.onnx", "no such file"),
    ):
        res = subprocess.run(
            [sys.executable, "-m", "graphcheck", "check", str(path)], capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and says in res.stderr, res.stderr
