"""Writing every tensor's shape into a model: graphcheck annotate side by side with onnxruntime's
symbolic shape inference (``auto_merge``) and onnx-shape-inference, over the fixtures and the
committed zoo, in one run.

    python bench/annotate.py                       # every model, 6 valid probes each
    python bench/annotate.py --only whisper_encoder bert_legacy -v
    python bench/annotate.py --speed               # + resnet152 and gpt2_48 (bench/models.py): time against a copy
    python bench/annotate.py --json bench/out/annotate.json

Needs the `bench` extra (`pip install -e ".[test,bench]"`: onnx-shape-inference, sympy, onnxruntime).

Each tool writes an annotated copy of the model, in a fresh subprocess (its time is taken around
load, inference and save, after its imports), as a user would run it:

* graphcheck: ``graphcheck.check(path).annotate(out)`` (``graphcheck annotate MODEL -o OUT``);
* ORT: ``symbolic_shape_infer.py``'s ``SymbolicShapeInference.infer_shapes(onnx.load(path),
  auto_merge=True)`` then ``onnx.save`` (``python -m onnxruntime.tools.symbolic_shape_infer
  --auto_merge``);
* onnx-shape-inference: ``infer_symbolic_shapes(onnx_ir.load(path))`` then ``onnx_ir.save``
  (``onnx-shape-inference MODEL -o OUT``).

Measured on every value a node of the main graph produces:

* **coverage**: values whose declared shape is full (every dim an integer or a name);
* **made-up**: dims written as a name that is neither an input's dim name nor an expression over
  those names (graphcheck's grammar, or sympy's for the peers), nor a size graphcheck proves
  data-dependent (its ``data_*`` names, documented in the file's metadata);
* **wrong**: dims that differ from what onnxruntime produces at a valid size, the model run with
  every node output exposed and its optimizations off (integers and expressions are evaluated at
  the probe's sizes; a made-up name is wrong where dims sharing it differ from each other);
* **time**: the tool's load + inference + save.

Probes: the zoo's truth sizes that are valid by the spec and ran in onnxruntime, the fixtures'
from their exact reports (each size's first valid values and the ends of its valid runs), up to
``--probes`` per model, spread. The script always exits 0: it is a report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

TOOLS = ("graphcheck", "ort", "osi")
TITLES = {"graphcheck": "graphcheck", "ort": "ORT symbolic (auto_merge)", "osi": "onnx-shape-inference"}


# ---------------------------------------------------------------------------
# worker side: one tool, one model, a fresh process


def worker(tool: str, src: str, out: str) -> dict[str, Any]:
    perf = time.perf_counter
    res: dict[str, Any] = {"tool": tool, "ok": True}
    try:
        if tool == "graphcheck":
            import graphcheck.api
            import graphcheck.report.annotate  # noqa: F401

            t0 = perf()
            a = graphcheck.api.check(src).annotate(out)
            res["seconds"] = perf() - t0
            res["write_s"] = a.seconds
        elif tool == "ort":
            import onnx
            from run import _ort_module

            mod, _ = _ort_module()
            t0 = perf()
            m = mod.SymbolicShapeInference.infer_shapes(onnx.load(src), auto_merge=True, guess_output_rank=False)
            onnx.save(m, out)
            res["seconds"] = perf() - t0
        elif tool == "osi":
            import onnx_ir as ir
            from onnx_shape_inference import infer_symbolic_shapes

            t0 = perf()
            model = ir.load(src)
            infer_symbolic_shapes(model)
            ir.save(model, out)
            res["seconds"] = perf() - t0
        elif tool == "copy":
            t0 = perf()
            shutil.copyfile(src, out)
            res["seconds"] = perf() - t0
        else:
            raise SystemExit(f"unknown tool {tool}")
    except Exception as exc:  # noqa: BLE001 -- a tool that fails on a model is a result
        res.update(ok=False, error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300])
    return res


def run_tool(tool: str, src: Path, out: Path, cwd: str, timeout: float = 600) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, str(src), str(out)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "ok": False, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            res: dict[str, Any] = json.loads(line)
            if res.get("ok") and not out.exists():
                res.update(ok=False, error="wrote nothing")
            return res
    tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
    return {"tool": tool, "ok": False, "error": f"exit {p.returncode}: {tail}"[:300]}


# ---------------------------------------------------------------------------
# reading what a tool wrote


class Classifier:
    """What a written ``dim_param`` is: an input's name, an expression over the inputs' names (then
    how to evaluate it), a documented data-dependent name, or a made-up name."""

    def __init__(self, inputs: set[str], data: set[str]) -> None:
        self.inputs = inputs
        self.data = data
        self.cache: dict[str, tuple[str, Any]] = {}

    def __call__(self, text: str) -> tuple[str, Any]:
        hit = self.cache.get(text)
        if hit is None:
            hit = self.cache[text] = self._classify(text)
        return hit

    def _classify(self, text: str) -> tuple[str, Any]:
        from graphcheck.symbolic.dimtext import DimSyntaxError, names, parse

        if text in self.inputs:
            return "input", None
        try:
            used = names(text)
            if used <= self.inputs:
                return "expr", parse(text)
            if used <= self.inputs | self.data:
                return "data", None
        except DimSyntaxError:
            pass
        return self._sympy(text)

    def _sympy(self, text: str) -> tuple[str, Any]:
        if not re.fullmatch(r"[A-Za-z0-9_ +\-*/%(),.]+", text):
            return "made-up", None
        import sympy

        syms = {n: sympy.Symbol(n, integer=True, positive=True) for n in self.inputs if n.isidentifier()}
        funcs = {"floor": sympy.floor, "ceiling": sympy.ceiling, "ceil": sympy.ceiling, "Min": sympy.Min,
                 "Max": sympy.Max, "min": sympy.Min, "max": sympy.Max, "Mod": sympy.Mod}  # fmt: skip
        try:
            e = sympy.sympify(text, locals={**syms, **funcs})
        except Exception:  # noqa: BLE001 -- not an expression at all
            return "made-up", None
        free = {str(s) for s in getattr(e, "free_symbols", set())}
        if free <= set(syms):
            return "expr", e
        return "made-up", None


def evaluate(kind: str, how: Any, text: str, sizes: dict[str, int]) -> int | None:
    if kind == "input":
        return sizes.get(text)
    if kind != "expr":
        return None
    try:
        if hasattr(how, "evaluate") and not hasattr(how, "free_symbols"):
            return int(how.evaluate(sizes))
        import sympy

        v = how.subs({sympy.Symbol(k, integer=True, positive=True): n for k, n in sizes.items()})
        return int(v) if v.is_number and v == int(v) else None
    except (KeyError, ZeroDivisionError, TypeError, ValueError):
        return None


def declared(path: Path) -> dict[str, list[tuple[str, Any]] | None]:
    """Each value's declared shape in a written model (value_info, then graph outputs): per dim
    ("int", n), ("param", text) or ("unset", None); None when the rank is not given."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    out: dict[str, list[tuple[str, Any]] | None] = {}
    for vi in list(m.graph.value_info) + list(m.graph.output):
        t = vi.type
        if t.WhichOneof("value") != "tensor_type" or not t.tensor_type.HasField("shape"):
            out.setdefault(vi.name, None)
            continue
        dims: list[tuple[str, Any]] = []
        for d in t.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(("int", d.dim_value))
            elif d.HasField("dim_param") and d.dim_param:
                dims.append(("param", d.dim_param))
            else:
                dims.append(("unset", None))
        out[vi.name] = dims
    return out


def measure(
    decl: dict[str, list[tuple[str, Any]] | None],
    values: list[str],
    classify: Classifier,
    probes: list[tuple[dict[str, int], dict[str, list[int]] | None]],
    data_spots: set[tuple[str, int]],
    before: dict[str, list[tuple[str, Any]] | None],
) -> dict[str, Any]:
    """Coverage, made-up names and wrong dims of one written model (see the module's docstring); a
    name the source model already had at the same place (the exporter's) is not counted as made up."""
    covered = made_up = 0
    wrong: set[tuple[str, int]] = set()
    made: Counter[str] = Counter()
    for v in values:
        dims = decl.get(v)
        if dims is None:
            continue
        if all(k != "unset" for k, _ in dims):
            covered += 1
        for axis, (k, x) in enumerate(dims):
            if k == "param":
                kind, _ = classify(x)
                old = before.get(v)
                kept = old is not None and axis < len(old) and old[axis] == (k, x)
                if kind == "made-up" and (v, axis) not in data_spots and not kept:
                    made_up += 1
                    made[x] += 1
    for sizes, actual in probes:
        if actual is None:
            continue
        by_name: dict[str, list[tuple[tuple[str, int], int]]] = {}
        for v in values:
            dims = decl.get(v)
            got = actual.get(v)
            if dims is None or got is None:
                continue
            if len(dims) != len(got):
                wrong.update((v, a) for a in range(len(dims)))
                continue
            for axis, ((k, x), n) in enumerate(zip(dims, got)):
                if k == "int":
                    if x != n:
                        wrong.add((v, axis))
                elif k == "param":
                    kind, how = classify(x)
                    val = evaluate(kind, how, x, sizes)
                    if val is not None:
                        if val != n:
                            wrong.add((v, axis))
                    else:  # a name: every dim carrying it must be the same size here
                        by_name.setdefault(x, []).append(((v, axis), n))
        for spots in by_name.values():
            common = Counter(n for _, n in spots).most_common(1)[0][0]
            wrong.update(s for s, n in spots if n != common)
    return {
        "values": len(values),
        "covered": covered,
        "made_up": made_up,
        "made_up_names": len(made),
        "wrong": len(wrong),
        "wrong_examples": sorted(wrong)[:5],
        "made_up_examples": [n for n, _ in made.most_common(5)],
    }


# ---------------------------------------------------------------------------
# parent side


def bench_model(subject: Any, tmp: Path, verbose: bool) -> dict[str, Any]:
    import onnx

    import graphcheck
    from tests.annotate_probe import expose, run_exposed, sizes_by_name

    src = subject.path
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", subject.name)
    model = onnx.load(str(src), load_external_data=False)
    values = [o for n in model.graph.node for o in n.output if o]
    report = graphcheck.check(src)
    row: dict[str, Any] = {"model": subject.name, "exact": report.exact, "values": len(values), "tools": {}}
    exposed = tmp / f"{safe}.exposed.onnx"
    names = expose(src, exposed)
    actual = run_exposed([(exposed, names, subject.probes)])[0]
    probes = [(sizes_by_name(model, shapes), got) for (shapes, _), got in zip(subject.probes, actual)]
    row["probes"] = len(probes)
    row["probes_failed"] = sum(got is None for _, got in probes)
    inputs = set()
    for vi in model.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param:
                inputs.add(d.dim_param)
    outs: dict[str, Path] = {}
    for tool in TOOLS:
        out = tmp / f"{safe}.{tool}.onnx"
        with tempfile.TemporaryDirectory() as cwd:
            res = run_tool(tool, src, out, cwd)
        row["tools"][tool] = res
        if res.get("ok"):
            outs[tool] = out
    data: set[str] = set()
    data_spots: set[tuple[str, int]] = set()
    if "graphcheck" in outs:
        gdecl = declared(outs["graphcheck"])
        mdata = onnx.load(str(outs["graphcheck"]), load_external_data=False).metadata_props
        data = {p.key.removeprefix("graphcheck.data.") for p in mdata if p.key.startswith("graphcheck.data.")}
        for v, dims in gdecl.items():
            for axis, (k, x) in enumerate(dims or []):
                if k == "param" and any(re.search(rf"\b{re.escape(n)}\b", x) for n in data):
                    data_spots.add((v, axis))
    before = declared(src)
    for tool, out in outs.items():
        classify = Classifier(inputs, data if tool == "graphcheck" else set())
        m = measure(declared(out), values, classify, probes, data_spots, before)
        row["tools"][tool].update(m)
        if verbose and (m["wrong"] or m["made_up"]):
            print(
                f"    {subject.name} {tool}: wrong {m['wrong_examples']} made up {m['made_up_examples']}",
                file=sys.stderr,
            )
    return row


def _cell(res: dict[str, Any]) -> str:
    if not res.get("ok"):
        return "fails: " + res.get("error", "?")[:40]
    return f"{res['covered']}/{res['values']} · {res['made_up']} · {res['wrong']} · {res['seconds']:.2f} s"


def table(rows: list[dict[str, Any]]) -> str:
    head = "| model | values | " + " | ".join(TITLES[t] for t in TOOLS) + " |"
    lines = [
        "cells: values with a full shape / values · made-up names (dims) · wrong dims at the probed sizes · time",
        "",
        head,
        "|" + "---|" * (2 + len(TOOLS)),
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['values']} | " + " | ".join(_cell(r["tools"][t]) for t in TOOLS) + " |")
    tot = []
    for t in TOOLS:
        ok = [r["tools"][t] for r in rows if r["tools"][t].get("ok")]
        fails = len(rows) - len(ok)
        cov = sum(x["covered"] for x in ok)
        vals = sum(r["values"] for r in rows)
        cell = f"{cov}/{vals} ({100 * cov / max(vals, 1):.1f}%) · {sum(x['made_up'] for x in ok)} · "
        cell += f"{sum(x['wrong'] for x in ok)} · {sum(x['seconds'] for x in ok):.1f} s"
        if fails:
            cell += f" · fails on {fails}"
        tot.append(cell)
    lines.append(f"| **all {len(rows)} models** | {sum(r['values'] for r in rows)} | " + " | ".join(tot) + " |")
    return "\n".join(lines)


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's bar: 100% where graphcheck is exact, 0 made-up, 0 wrong, at least the peers' coverage."""
    out = []
    for r in rows:
        g = r["tools"]["graphcheck"]
        if not g.get("ok"):
            out.append(f"{r['model']}: graphcheck failed: {g.get('error')}")
            continue
        if r["exact"] and g["covered"] != g["values"]:
            out.append(f"{r['model']}: exact, but {g['values'] - g['covered']} values without a full shape")
        if g["made_up"] or g["wrong"]:
            out.append(f"{r['model']}: {g['made_up']} made-up, {g['wrong']} wrong {g['wrong_examples']}")
        for t in TOOLS[1:]:
            p = r["tools"][t]
            if p.get("ok") and p["covered"] > g["covered"]:
                out.append(f"{r['model']}: {TITLES[t]} covers {p['covered']} values, graphcheck {g['covered']}")
        if r["probes_failed"]:
            out.append(f"{r['model']}: onnxruntime failed at {r['probes_failed']} of {r['probes']} probes")
    return out


def speed(names: list[str], reps: int) -> list[dict[str, Any]]:
    """The time to write the annotated model against copying the file, on large models."""
    from models import ensure, model_path  # bench/models.py

    rows = []
    for name in names:
        ensure([name])
        src = model_path(name)
        best: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(dir=src.parent) as tmp:
            for _ in range(reps):
                for tool in ("copy", "graphcheck", "ort", "osi"):
                    if tool in best and best[tool].get("seconds", 0) > 20:
                        continue  # a slow tool runs once
                    out = Path(tmp) / f"{tool}.onnx"
                    res = run_tool(tool, src, out, tmp)
                    out.unlink(missing_ok=True)
                    if not res.get("ok"):
                        best[tool] = res
                    elif tool not in best or res["seconds"] < best[tool].get("seconds", 1e9):
                        best[tool] = res
        rows.append({"model": name, "mb": src.stat().st_size / 1e6, **best})
    return rows


def speed_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | file MB | copy s | graphcheck annotate s (of which writing) | ORT symbolic s "
        "| onnx-shape-inference s | graphcheck / copy |",
        "|---|---|---|---|---|---|---|",
    ]

    def s(res: dict[str, Any]) -> str:
        return f"{res['seconds']:.2f}" if res.get("ok") else "fails"

    for r in rows:
        g, c = r["graphcheck"], r["copy"]
        ratio = g["seconds"] / c["seconds"] if g.get("ok") and c.get("ok") else float("nan")
        gtext = f"{g['seconds']:.2f} ({g['write_s']:.2f})" if g.get("ok") else "fails"
        lines.append(
            f"| {r['model']} | {r['mb']:.0f} | {s(c)} | {gtext} | {s(r['ort'])} | {s(r['osi'])} | {ratio:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "SRC", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="*", help="models by name (a fixture's file stem or a zoo name)")
    ap.add_argument("--probes", type=int, default=6, help="valid sizes probed per model (default 6)")
    ap.add_argument("--speed", action="store_true", help="also time resnet152 and gpt2_48 against copying the file")
    ap.add_argument("--reps", type=int, default=3, help="runs per tool for --speed (best kept)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    from tests.annotate_probe import subjects

    subs = [s for s in subjects(args.probes) if not args.only or s.name.split("/")[-1] in args.only]
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(subs, 1):
            print(f"[{i}/{len(subs)}] {s.name}", file=sys.stderr)
            rows.append(bench_model(s, Path(tmp), args.verbose))
    print(table(rows))
    bad = verdict(rows)
    print()
    print("graphcheck against the bar (100% where exact, 0 made-up, 0 wrong, >= the peers' coverage):")
    print("  met on every model" if not bad else "\n".join(f"  MISSED {b}" for b in bad))
    speed_rows: list[dict[str, Any]] = []
    if args.speed:
        speed_rows = speed(["resnet152", "gpt2_48"], args.reps)
        print()
        print(speed_table(speed_rows))
    print(f"\n({time.time() - t0:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"models": rows, "speed": speed_rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
