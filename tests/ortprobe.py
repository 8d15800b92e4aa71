"""Run a model in onnxruntime at many input shapes, in a subprocess.

onnxruntime can abort the whole process on some invalid sizes, so every probe runs in
a worker process; when the worker dies, the probe it was running is recorded as a
crash and a fresh worker continues with the next one.

``probe(model, shapes)`` takes a list of ``{input_name: shape tuple}`` and returns, for
each, ``ProbeResult(ok, output_shapes, error)``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

WORKER = r"""
import json, sys, os
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import onnxruntime as ort
so = ort.SessionOptions()
so.log_severity_level = 4
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
path = sys.argv[1]
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
types = {i.name: i.type for i in sess.get_inputs()}
NP = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
      "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
      "tensor(bool)": np.bool_}
rng = np.random.default_rng(0)
for line in sys.stdin:
    req = json.loads(line)
    feeds = {}
    for name, shape in req.items():
        dt = NP.get(types.get(name, "tensor(float)"), np.float32)
        if np.issubdtype(dt, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dt)
        else:
            feeds[name] = np.zeros(shape, dtype=dt)
    try:
        outs = sess.run(None, feeds)
        res = {"ok": True, "shapes": [list(np.shape(o)) for o in outs]}
    except Exception as e:
        msg = str(e).split("Status Message:")[-1].strip().splitlines()[0][:300]
        res = {"ok": False, "error": msg}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
"""


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    shapes: tuple[tuple[int, ...], ...] = ()
    error: str = ""
    crashed: bool = False

    @property
    def nonempty(self) -> bool:
        """Ran and produced no empty output tensor (every output size >= 1)."""
        return self.ok and all(all(d >= 1 for d in s) for s in self.shapes)


def probe(model: onnx.ModelProto | str | Path, shapes: list[dict[str, tuple[int, ...]]]) -> list[ProbeResult]:
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(model, onnx.ModelProto):
            path = os.path.join(tmp, "model.onnx")
            onnx.save(model, path)
        else:
            path = str(model)
        results: list[ProbeResult] = []
        pending = list(shapes)
        while pending:
            got = _run_worker(path, pending)
            results.extend(got)
            if len(got) < len(pending):
                # the worker died on pending[len(got)]
                results.append(ProbeResult(False, error="onnxruntime crashed", crashed=True))
                pending = pending[len(got) + 1 :]
            else:
                pending = []
        return results


def _run_worker(path: str, shapes: list[dict[str, tuple[int, ...]]]) -> list[ProbeResult]:
    payload = "".join(json.dumps({k: list(v) for k, v in s.items()}) + "\n" for s in shapes)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, path],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    out: list[ProbeResult] = []
    for line in proc.stdout.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            break
        if r["ok"]:
            out.append(ProbeResult(True, tuple(tuple(s) for s in r["shapes"])))
        else:
            out.append(ProbeResult(False, error=r["error"]))
    return out
