"""What control flow costs: a body of N nodes inside an If or a Loop against the same N nodes in
the main graph, side by side in one run (issue 18: "a 550-node branch costs what 550 nodes cost").

    python bench/control.py [--layers 275] [--reps 3]

Models (generated here with onnx.helper, kept in bench/models/, gitignored), each a stack of
``layers`` Conv1d + Relu pairs (2 * layers nodes), 'same' padding but for a few unpadded convs:

* ``plain``, ``plain2``: the stack in the main graph, and one of twice its layers;
* ``mode``: an If on a boolean graph input (optimum's merged decoders) whose two branches are each
  such a stack: analysed once per mode, so its cost is compared with ``plain`` twice;
* ``split``: the same If on ``L % 2 == 0`` (a condition on the sizes): two cases, the same;
* ``loop``: a Loop over the time steps whose body reads ``x[t]`` and runs the stack on it, the
  scan output stacked (the body is walked twice: a side walk finding counters, then the walk).

Every run is a fresh subprocess timing ``graphcheck.check(path).valid`` (best of ``--reps``), next
to onnxruntime's symbolic shape inference on the same file. Printed: seconds, and graphcheck's time
over its time on the main-graph stack it walks as many nodes of (``plain2``: two walks of a body
of N nodes, as a mode per branch, a case per branch or a loop's side walk and walk make): 1.0 means
a body node costs what a main-graph node costs. Always exits 0: it is a report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"


def _stack(prefix: str, x: str, layers: int, seed: int, padded: bool = False) -> tuple[list, list, str]:
    import numpy as np
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    cur = x
    for i in range(layers):
        k = 3
        pad = 0 if i % 50 == 49 and not padded else 1
        w = f"{prefix}w{i}"
        inits.append(numpy_helper.from_array(rng.standard_normal((8, 8, k)).astype(np.float32) * 0.1, w))
        nodes.append(helper.make_node("Conv", [cur, w], [f"{prefix}c{i}"], pads=[pad, pad], name=f"{prefix}conv{i}"))
        nodes.append(helper.make_node("Relu", [f"{prefix}c{i}"], [f"{prefix}r{i}"], name=f"{prefix}relu{i}"))
        cur = f"{prefix}r{i}"
    return nodes, inits, cur


def build(kind: str, layers: int) -> Path:
    import onnx
    from onnx import TensorProto, helper

    path = MODELS / f"control_{kind}_{layers}.onnx"
    if path.exists():
        return path
    MODELS.mkdir(exist_ok=True)
    F = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", F, ["N", 8, "L"])
    out = helper.make_tensor_value_info("y", F, None)
    inputs = [x]
    if kind in ("plain", "plain2"):
        nodes, inits, last = _stack("", "x", layers * (2 if kind == "plain2" else 1), 0)
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    elif kind in ("mode", "split"):

        def branch(tag: str, seed: int) -> onnx.GraphProto:
            n, i, last = _stack(f"{tag}_", "x", layers, seed)
            n.append(helper.make_node("Identity", [last], [f"{tag}_y"]))
            return helper.make_graph(n, tag, [], [helper.make_tensor_value_info(f"{tag}_y", F, None)], i)

        inits = []
        if kind == "mode":
            inputs.append(helper.make_tensor_value_info("flag", TensorProto.BOOL, []))
            nodes = []
            cond = "flag"
        else:
            import numpy as np
            from onnx import numpy_helper

            inits = [
                numpy_helper.from_array(np.array(2, np.int64), "axis2"),
                numpy_helper.from_array(np.array(2, np.int64), "two"),
                numpy_helper.from_array(np.array(0, np.int64), "zero"),
            ]
            nodes = [
                helper.make_node("Shape", ["x"], ["shape"]),
                helper.make_node("Gather", ["shape", "axis2"], ["L"], axis=0),
                helper.make_node("Mod", ["L", "two"], ["r"]),
                helper.make_node("Equal", ["r", "zero"], ["even"]),
            ]
            cond = "even"
        if_node = helper.make_node("If", [cond], ["y"], then_branch=branch("then", 1), else_branch=branch("else", 2))
        nodes.append(if_node)
    else:  # loop: x[N, 8, L] -> per time step t: x[:, :, t:t+1] through the stack
        import numpy as np
        from onnx import numpy_helper

        body_nodes, body_inits, last = _stack("b_", "xt", layers, 3, padded=True)  # on one step: 'same' only
        body_nodes = [  # x[:, :, t] as tf2onnx's RNN loops read it (a Gather at the counter), kept 3-D
            helper.make_node("Identity", ["c_in"], ["c_out"]),
            helper.make_node("Gather", ["x", "t"], ["xg"], axis=2),
            helper.make_node("Unsqueeze", ["xg", "ax2"], ["xt"]),
            *body_nodes,
            helper.make_node("Identity", [last], ["y_t"]),
        ]
        body_inits += [numpy_helper.from_array(np.array([2], np.int64), "ax2")]
        body = helper.make_graph(
            body_nodes,
            "body",
            [
                helper.make_tensor_value_info("t", TensorProto.INT64, []),
                helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
            ],
            [
                helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
                helper.make_tensor_value_info("y_t", F, None),
            ],
            body_inits,
        )
        inits = [numpy_helper.from_array(np.array(2, np.int64), "axis2")]
        nodes = [
            helper.make_node("Shape", ["x"], ["shape"]),
            helper.make_node("Gather", ["shape", "axis2"], ["T"], axis=0),
            helper.make_node(
                "Loop",
                [
                    "T",
                    "",
                ],
                ["y"],
                body=body,
            ),
        ]
    g = helper.make_graph(nodes, f"control_{kind}", inputs, [out], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(m, str(path))
    return path


WORKER = r"""
import sys, time, json, importlib.util
from pathlib import Path
tool, path = sys.argv[1], sys.argv[2]
if tool == "graphcheck":
    import graphcheck.api, graphcheck.model.load  # imports are not the work timed
    t = time.perf_counter(); r = graphcheck.api.check(path); v = r.valid; dt = time.perf_counter() - t
    print(json.dumps({"s": dt, "valid": v, "exact": r.exact}))
else:
    import onnx
    spec = importlib.util.find_spec("onnxruntime")
    src = Path(spec.origin).parent / "tools" / "symbolic_shape_infer.py"
    ms = importlib.util.spec_from_file_location("ssi", src)
    mod = importlib.util.module_from_spec(ms)
    ms.loader.exec_module(mod)
    t = time.perf_counter()  # onnx.load included, as bench/run.py times it
    try:
        mod.SymbolicShapeInference.infer_shapes(onnx.load(path), auto_merge=True, guess_output_rank=False)
        ok = True
    except Exception as e:
        ok = False
    print(json.dumps({"s": time.perf_counter() - t, "ok": ok}))
"""


def timed(tool: str, path: Path, reps: int) -> dict:
    best: dict = {}
    for _ in range(reps):
        p = subprocess.run([sys.executable, "-c", WORKER, tool, str(path)], capture_output=True, text=True, cwd="/tmp")
        try:
            r = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            return {"s": float("nan"), "error": p.stderr.strip().splitlines()[-1:]}
        if not best or r["s"] < best["s"]:
            best = r
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=275, help="Conv+Relu pairs per body (275: 550 nodes)")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = {}
    for kind in ("plain", "plain2", "mode", "split", "loop"):
        path = build(kind, args.layers)
        rows[kind] = (timed("graphcheck", path, args.reps), timed("ort", path, args.reps))
    # graphcheck walks: plain N nodes once; plain2 2N once; mode and split each branch (N) once per
    # mode or case, 2N in all; loop its body (N) twice (the side walk, then the walk): the same 2N
    same_work = {"plain": "plain", "plain2": "plain2", "mode": "plain2", "split": "plain2", "loop": "plain2"}
    n = 2 * args.layers
    print(
        f"bodies of {n} nodes; best of {args.reps}; graphcheck.check(path).valid vs ORT symbolic (onnx.load included)"
    )
    print(
        f"{'model':8} {'graphcheck s':>12} {'ORT s':>8} {'ORT/gc':>7} {'gc / same walks in the main graph':>34}  valid"
    )
    for kind, (gc, ort) in rows.items():
        ref = rows[same_work[kind]][0]["s"]
        ratio = gc["s"] / ref if ref else float("nan")
        ort_txt = f"{ort['s']:8.3f}" if ort.get("ok", True) else "  failed"
        print(
            f"{kind:8} {gc['s']:12.3f} {ort_txt} {ort['s'] / gc['s']:7.1f} {ratio:34.2f}  "
            f"{gc.get('valid', gc.get('error'))}{'' if gc.get('exact') else '  (not exact)'}"
        )
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
