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

Measured on every value a node produces, in the main graph and inside every If/Loop/Scan body
(nested ones too; a body value counts once, however many times its body runs):

* **coverage**: values whose declared shape is full (every dim an integer or a name);
* **made-up**: dims written as a name that is neither an input's dim name nor an expression over
  those names (graphcheck's grammar, or sympy's for the peers), nor a size graphcheck proves
  data-dependent (its ``data_*`` names, documented in the file's metadata);
* **wrong**: dims that differ from what onnxruntime produces at a valid size, the model run with
  every node output exposed and its optimizations off (integers and expressions are evaluated at
  the probe's sizes; a made-up name is wrong where dims sharing it differ from each other); a body
  value's shape at every run of its body (each branch taken, each iteration), from a copy of the
  model whose bodies give them as an extra output (``tests/annotate_probe.py``'s instrumentation);
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
            res["by_case"] = _by_case(a)
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


BY_CASE = "differs by mode or control-flow case"


def _by_case(a: Any) -> list[str]:
    """The values graphcheck leaves without a full shape because they differ by mode or
    control-flow case (a dim unset, or the rank), as :func:`measure` keys them."""
    out = [v.name for v in a.values if any(BY_CASE in w for w in v.why)]
    out += [n for n, why in a.left.items() if BY_CASE in why]
    for b in a.bodies:
        path = [(k[0], k[1]) for k in b.path]
        out += [body_key(path, v.name) for v in b.values if any(BY_CASE in w for w in v.why)]
        out += [body_key(path, n) for n, why in b.left.items() if BY_CASE in why]
    return out


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


def body_key(path: Any, name: str) -> str:
    """A body value's key among the measured values: its body's path from the main graph, its name."""
    return "/".join(f"{p}.{attr}" for p, attr in path) + "::" + name


def declared(path: Path) -> dict[str, list[tuple[str, Any]] | None]:
    """Each value's declared shape in a written model (value_info, then graph outputs, of the main
    graph and, by :func:`body_key`, of every body): per dim ("int", n), ("param", text) or
    ("unset", None); None when the rank is not given."""
    import onnx

    from tests.annotate_probe import body_declared

    m = onnx.load(str(path), load_external_data=False)
    out: dict[str, list[tuple[str, Any]] | None] = {}
    for (bpath, name), dims in body_declared(m).items():
        out[body_key(bpath, name)] = (
            None
            if dims is None
            else [("int", d) if isinstance(d, int) else ("param", d) if d else ("unset", None) for d in dims]
        )
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
    probes: list[tuple[dict[str, int], dict[str, list[list[int]]] | None]],
    data_spots: set[tuple[str, int]],
    before: dict[str, list[tuple[str, Any]] | None],
) -> dict[str, Any]:
    """Coverage, made-up names and wrong dims of one written model (see the module's docstring); a
    name the source model already had at the same place (the exporter's) is not counted as made up."""
    covered = made_up = in_bodies = 0
    wrong: set[tuple[str, int]] = set()
    made: Counter[str] = Counter()
    for v in values:
        dims = decl.get(v)
        if dims is None:
            continue
        if all(k != "unset" for k, _ in dims):
            covered += 1
            in_bodies += "::" in v
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
            if dims is None:
                continue
            for got in actual.get(v, []):  # one shape per run of the value's graph
                _compare(v, dims, got, classify, sizes, wrong, by_name)
        for spots in by_name.values():
            common = Counter(n for _, n in spots).most_common(1)[0][0]
            wrong.update(s for s, n in spots if n != common)
    return {
        "values": len(values),
        "covered": covered,
        "body_values": sum("::" in v for v in values),
        "body_covered": in_bodies,
        "made_up": made_up,
        "made_up_names": len(made),
        "wrong": len(wrong),
        "wrong_examples": sorted(wrong)[:5],
        "made_up_examples": [n for n, _ in made.most_common(5)],
    }


def _compare(
    v: str,
    dims: list[tuple[str, Any]],
    got: list[int],
    classify: Classifier,
    sizes: dict[str, int],
    wrong: set[tuple[str, int]],
    by_name: dict[str, list[tuple[tuple[str, int], int]]],
) -> None:
    """One value's declared dims against one shape onnxruntime produced (see :func:`measure`)."""
    if len(dims) != len(got):
        wrong.update((v, a) for a in range(len(dims)))
        return
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
            else:  # a name: every dim carrying it, in every run, must be the same size here
                by_name.setdefault(x, []).append(((v, axis), n))


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
    in_bodies = _body_values(model)
    values += [body_key(p, n) for p, n in in_bodies]
    report = graphcheck.check(src)
    row: dict[str, Any] = {"model": subject.name, "exact": report.exact, "values": len(values), "tools": {}}
    row["body_values"] = len(in_bodies)
    exposed = tmp / f"{safe}.exposed.onnx"
    names = expose(src, exposed)
    actual = run_exposed([(exposed, names, subject.probes)])[0]
    seen: list[dict[str, list[list[int]]] | None] = [
        None if got is None else {k: [v] for k, v in got.items()} for got in actual
    ]
    if in_bodies:
        for got, runs in zip(seen, _body_runs(src, tmp / f"{safe}.bodies.onnx", in_bodies, subject.probes)):
            if got is not None and runs is not None:
                got.update(runs)
    probes = [(sizes_by_name(model, shapes), got) for (shapes, _), got in zip(subject.probes, seen)]
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


def _body_values(model: Any) -> list[tuple[Any, str]]:
    """The tensor values the nodes of every body produce (a sequence or optional, as onnx's shape
    inference types it, has no shape to measure)."""
    import onnx

    from tests.annotate_probe import body_nodes_outputs

    values = body_nodes_outputs(model)
    if not values:
        return []
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 -- without onnx's types, every value is taken as a tensor
        return values
    others: set[tuple[Any, str]] = set()

    def visit(g: Any, path: tuple) -> None:
        for vi in list(g.value_info) + list(g.output):
            if path and vi.type.WhichOneof("value") not in (None, "tensor_type"):
                others.add((path, vi.name))
        for p, n in enumerate(g.node):
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    visit(a.g, (*path, (p, a.name)))

    visit(inferred.graph, ())
    return [k for k in values if k not in others]


def _body_runs(
    src: Path, dst: Path, in_bodies: list[tuple[Any, str]], probes: Any
) -> list[dict[str, list[list[int]]] | None]:
    """Per probe, each body value's shape at every run of its body, by onnxruntime."""
    from tests.annotate_probe import body_shapes, expose_bodies, run_bodies

    ids = expose_bodies(src, dst, set(in_bodies))
    (runs,) = run_bodies([(dst, probes)])
    out: list[dict[str, list[list[int]]] | None] = []
    for rows in runs:
        out.append(None if rows is None else {body_key(p, n): s for (p, n), s in body_shapes(rows, ids).items()})
    return out


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
    inside = []
    for t in TOOLS:
        ok = [r["tools"][t] for r in rows if r["tools"][t].get("ok")]
        inside.append(f"{TITLES[t]} {sum(x['body_covered'] for x in ok)}/{sum(x['body_values'] for x in ok)}")
    n_bodies = sum(1 for r in rows if r.get("body_values"))
    lines.append("")
    lines.append(
        f"inside If/Loop/Scan bodies ({n_bodies} models; values with a full shape, where the tool ran): "
        + ", ".join(inside)
    )
    return "\n".join(lines)


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's bar: 100% where graphcheck is exact, 0 made-up, 0 wrong, at least the peers' coverage
    (the values graphcheck leaves unset because they differ by mode or control-flow case, saying
    so, are not counted against it: a single shape there would be wrong in some mode)."""
    out = []
    for r in rows:
        g = r["tools"]["graphcheck"]
        if not g.get("ok"):
            out.append(f"{r['model']}: graphcheck failed: {g.get('error')}")
            continue
        by_case = len(g.get("by_case", ()))  # unset saying they differ by mode or case: never merged
        if r["exact"] and g["covered"] + by_case != g["values"]:
            out.append(f"{r['model']}: exact, but {g['values'] - g['covered'] - by_case} values without a full shape")
        if g["made_up"] or g["wrong"]:
            out.append(f"{r['model']}: {g['made_up']} made-up, {g['wrong']} wrong {g['wrong_examples']}")
        for t in TOOLS[1:]:
            p = r["tools"][t]
            if p.get("ok") and p["covered"] > g["covered"] + by_case:
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
