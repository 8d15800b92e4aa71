"""graphcheck beside onnxruntime's own symbolic shape inference on what onnxruntime's tools make.

    python bench/ort_tools.py [--only NAME ...] [--json FILE]

For every zoo model of an onnxruntime tool chain (fixtures/zoo/zoo_ort_tools.py: the transformer
optimizer, the quantizers, offline ORT_ENABLE_ALL, onnxruntime-genai's model builder), both tools
run in one fresh subprocess each, side by side:

* graphcheck: ``graphcheck.check(path, dims=...)``: the valid set, whether it is exact, and whether it
  agrees with the onnxruntime probes recorded in the truth file at every size (spec and ort answers);
* onnxruntime's ``symbolic_shape_infer.py`` (loaded from its file, so torch is not imported;
  ``auto_merge=True``): whether it finishes, and the first output's inferred shape (it has no notion
  of valid sizes: a shape or an exception is all it gives).

The time is the tool's work inside its subprocess (imports excluded). Always exits 0: a report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ZOO_DIR = ROOT / "fixtures" / "zoo"
sys.path.insert(0, str(HERE))  # run.py (bench/zoo.py is shadowed by the zoo below)
sys.path.insert(0, str(ZOO_DIR))  # the zoo's registry, fixtures/zoo/zoo.py

TOOL_CHAINS = ("ort-optimizer", "ort-quant-dynamic", "ort-quant-static", "ort-offline", "genai-builder")


def _graphcheck(name: str, path: str) -> dict[str, Any]:
    import graphcheck

    truth = json.loads((ZOO_DIR / "truth" / f"{name}.json").read_text())
    t0 = time.perf_counter()
    r = graphcheck.check(path, dims=truth["dims"])
    valid = r.valid
    work = time.perf_counter() - t0
    wrong = undecided = 0
    for rec in truth["probes"]:
        sizes = dict(zip(truth["sizes"], rec["at"]))
        if "B" in truth["dims"].values():
            sizes["B"] = truth["batch"]
        for got, want in ((r.accepts(sizes), rec["spec"]), (r.ort_accepts(sizes), rec["ok"])):
            undecided += got is None
            wrong += got is not None and got != want
    verdict = "unsound" if wrong else ("exact" if r.exact and not undecided else "unknown")
    return {"ok": True, "valid": valid, "verdict": verdict, "probes": len(truth["probes"]), "work_s": work}


def _ort(path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:  # it writes temporary models and their data into the cwd
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            return _ort_in_cwd(path)
        finally:
            os.chdir(cwd)


def _ort_in_cwd(path: str) -> dict[str, Any]:
    import onnx
    from run import _ort_module, _out_shape

    mod, _ = _ort_module()
    model = onnx.load(path)
    t0 = time.perf_counter()
    try:
        out = mod.SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception as exc:  # noqa: BLE001 -- "Incomplete symbolic shape inference", unknown ops, ...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"ok": False, "error": f"{type(exc).__name__}: {msg}"[:160], "work_s": time.perf_counter() - t0}
    work = time.perf_counter() - t0
    if out is None:
        return {"ok": False, "error": "returned None", "work_s": work}
    return {"ok": True, "shape": _out_shape(out), "work_s": work}


def _run(tool: str, name: str, path: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, name, path]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        return {"ok": False, "error": f"crashed: {tail}"[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        tool, name, path = args.worker
        res = _graphcheck(name, path) if tool == "graphcheck" else _ort(path)
        print(json.dumps(res))
        return 0
    import zoo

    names = args.only or [e.name for e in zoo.ZOO.values() if e.exporter in TOOL_CHAINS]
    rows = []
    print(f"{'model':<18} {'tool chain':<18} {'graphcheck':<56} {'onnxruntime symbolic_shape_infer'}")
    for name in names:
        e = zoo.ZOO[name]
        path = ZOO_DIR / ("out" if e.large else "models") / f"{name}.onnx"
        if not path.exists():
            print(f"{name:<18} {e.exporter:<18} skip: {path.relative_to(ROOT)} missing (run fixtures/zoo/make_zoo.py)")
            continue
        gc, ort = _run("graphcheck", name, str(path)), _run("ort", name, str(path))
        if gc.get("ok"):
            g = f"{gc['verdict']} ({gc['work_s']:.2f} s): {gc['valid'].split('   (')[0]}"
        else:
            g = f"failed: {gc.get('error', '')}"
        o = f"{'ok' if ort.get('ok') else 'FAILS'} ({ort.get('work_s', 0.0):.2f} s): "
        o += ort.get("shape", "") if ort.get("ok") else ort.get("error", "")
        print(f"{name:<18} {e.exporter:<18} {g[:56]:<56} {o}")
        rows.append({"name": name, "tool_chain": e.exporter, "graphcheck": gc, "ort_symbolic": ort})
    gc_exact = sum(r["graphcheck"].get("verdict") == "exact" for r in rows)
    ort_ok = sum(bool(r["ort_symbolic"].get("ok")) for r in rows)
    print(
        f"tool chains: graphcheck exact on {gc_exact}/{len(rows)} (valid sets checked against the onnxruntime probes); "
        f"onnxruntime's symbolic shape inference finishes on {ort_ok}/{len(rows)} (shapes only, no valid sizes)"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
