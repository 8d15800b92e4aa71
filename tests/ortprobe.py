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
from typing import TYPE_CHECKING

import onnx

if TYPE_CHECKING:
    from graphcheck.report.report import Report

WORKER = r"""
import json, sys, os
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import onnxruntime as ort
so = ort.SessionOptions()
so.log_severity_level = 4
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
sessions = {}
NP = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
      "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
      "tensor(uint8)": np.uint8,
      "tensor(bool)": np.bool_}
rng = np.random.default_rng(0)
for line in sys.stdin:
    job = json.loads(line)
    path, req = job["model"], job["shapes"]
    fill = job.get("fill") or {}
    try:
        if path not in sessions:
            sessions.clear()
            sessions[path] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        sess = sessions[path]
    except Exception as e:
        sys.stdout.write(json.dumps({"ok": False, "error": "session: " + str(e).splitlines()[0][:300]}) + "\n")
        sys.stdout.flush()
        continue
    types = {i.name: i.type for i in sess.get_inputs()}
    feeds = {}
    for name, shape in req.items():
        dt = NP.get(types.get(name, "tensor(float)"), np.float32)
        if np.issubdtype(dt, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dt)
        else:
            feeds[name] = np.full(shape, fill.get(name, 0), dtype=dt)
    try:
        outs = sess.run(None, feeds)
        res = {"ok": True, "shapes": [list(np.shape(o)) for o in outs],
               "shape_like": [bool(np.ndim(o) <= 1 and getattr(o, "dtype", None) in (np.int64, np.int32))
                              for o in outs]}
    except Exception as e:
        msg = str(e).split("Status Message:")[-1].strip().splitlines()[0][:300]
        res = {"ok": False, "error": msg}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
"""


PROBES = {"runs": 0, "models": 0}  # counted for the test-suite summary


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    shapes: tuple[tuple[int, ...], ...] = ()
    error: str = ""
    crashed: bool = False
    shape_like: tuple[bool, ...] = ()  # 0-D/1-D int tensors: shapes and index lists, allowed to be empty

    @property
    def nonempty(self) -> bool:
        """Ran and produced no empty data tensor (every size >= 1; shape-like tensors excepted)."""
        like = self.shape_like or (False,) * len(self.shapes)
        return self.ok and all(sl or all(d >= 1 for d in s) for s, sl in zip(self.shapes, like))


def last_change(report: Report) -> int:
    """A size past which the report's valid sets change no more: each run's ends plus two periods
    (1 when nothing is known); the random stacks probe every size up to it."""
    from graphcheck.symbolic.intset import MAXDIM

    last = 1
    for name in report.symbols:
        vs = report.valid_set(name)
        if vs is not None:
            for ivs in vs.classes.values():
                for lo, hi in ivs:
                    last = max(last, lo + 2 * vs.period)
                    if hi < MAXDIM - vs.period:
                        last = max(last, hi + 2 * vs.period)
    return last


def expose_all(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose graph outputs are its outputs followed by every node output.

    ``ProbeResult.nonempty`` on it then also sees empty *intermediate* tensors, which some
    onnxruntime kernels pass along silently (a Concat of an empty and a non-empty input).
    """
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for o in node.output:
            if o and o not in have:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                have.add(o)
    return m


def probe(model: onnx.ModelProto | str | Path, shapes: list[dict[str, tuple[int, ...]]]) -> list[ProbeResult]:
    """Run ``model`` at each input-shape assignment."""
    return probe_many([(model, shapes)])[0]


Fill = dict[str, int]  # values of integer/boolean inputs (default 0): a mode such as use_cache_branch


def probe_many(
    jobs: list[tuple[onnx.ModelProto | str | Path, list[dict[str, tuple[int, ...]]]]],
    fills: list[list[Fill] | Fill] | None = None,
) -> list[list[ProbeResult]]:
    """Several models in one worker process (a fresh worker after a crash). Integer and boolean
    inputs are fed zeros, or the values ``fills[j]`` gives for job ``j``: one dict for every probe of
    the model (an attention mask of ones), or a list with one per probe (a mode such as
    use_cache_branch)."""
    with tempfile.TemporaryDirectory() as tmp:
        lines: list[tuple[int, str, dict[str, tuple[int, ...]], Fill]] = []
        for j, (model, shapes) in enumerate(jobs):
            if isinstance(model, onnx.ModelProto):
                path = os.path.join(tmp, f"model{j}.onnx")
                onnx.save(model, path)
            else:
                path = str(model)
            given = fills[j] if fills is not None else {}
            per = given if isinstance(given, list) else [given] * len(shapes)
            lines.extend((j, path, s, f) for s, f in zip(shapes, per))
        PROBES["runs"] += len(lines)
        PROBES["models"] += len(jobs)
        results: list[ProbeResult] = []
        pending = lines
        while pending:
            got = _run_worker(pending)
            results.extend(got)
            if len(got) < len(pending):
                results.append(ProbeResult(False, error="onnxruntime crashed", crashed=True))
                pending = pending[len(got) + 1 :]
            else:
                pending = []
        out: list[list[ProbeResult]] = [[] for _ in jobs]
        for (j, _, _, _), r in zip(lines, results):
            out[j].append(r)
        return out


def _run_worker(lines: list[tuple[int, str, dict[str, tuple[int, ...]], Fill]]) -> list[ProbeResult]:
    payload = "".join(
        json.dumps({"model": p, "shapes": {k: list(v) for k, v in s.items()}, "fill": f}) + "\n" for _, p, s, f in lines
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", WORKER],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    out: list[ProbeResult] = []
    for line in proc.stdout.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            break
        if r["ok"]:
            out.append(ProbeResult(True, tuple(tuple(s) for s in r["shapes"]), shape_like=tuple(r["shape_like"])))
        else:
            out.append(ProbeResult(False, error=r["error"]))
    return out
