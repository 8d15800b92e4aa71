"""Speed benchmark: graphcheck's full analysis side by side with ORT's symbolic shape inference
and onnx.shape_inference, on large generated models, in one run.

    python bench/run.py                      # all models (generated on demand into bench/models/)
    python bench/run.py --quick              # smoke test: the 1000-layer Conv1d stack only
    python bench/run.py --models resnet152 gpt2_48 --reps 5
    python bench/run.py --json bench/out/run.json

Every tool run is its own fresh subprocess (``run.py --worker TOOL PATH``), so memory and
caches do not leak between runs; the time is taken inside the subprocess around the tool's
work, after its imports (import times are reported separately). Best of ``--reps`` (3) runs,
interleaved across tools, a tool's later runs skipped when one run takes over 10 s. Peak RSS
is the subprocess's ``ru_maxrss`` (for graphcheck it includes the file-backed pages of its
memory map of the model, which are page cache, not copies). This script always exits 0:
it is a report; missed targets are printed as ``MISSED``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

STACKS = ("conv1d_stack_1000", "conv1d_stack_4000")
UNPADDED = ("conv1d_valid_1000", "conv1d_valid_4000")  # every layer a finding
HEAVY = ("resnet152", "gpt2_48")
CHAINS = ("conv_chain_500", "conv_chain_5000")  # the whole report, 500 and 5,000 findings
TOOLS = ("read", "graphcheck", "ort", "onnx")  # "read": reading the file once, the floor for a verdict
CHAIN_TOOLS = ("graphcheck", "report")
TARGET_STACK = 10.0  # ORT symbolic / graphcheck on the Conv1d stacks, padded or not
TARGET_HEAVY = 3.0  # ORT symbolic / graphcheck on the weight-heavy models
TARGET_LEGACY = 8.0  # ORT symbolic / graphcheck on the 11k-node legacy-exported GPT-2 (a third Constant nodes)
TARGET_FINDINGS = 12.0  # the 5,000-finding report's time over the 500-finding one's (10x the findings)
GOALS = {**dict.fromkeys(STACKS + UNPADDED, TARGET_STACK), **dict.fromkeys(HEAVY, TARGET_HEAVY)}
GOALS["gpt2_legacy_48"] = TARGET_LEGACY
TARGET_MEM_EXTRA_MB = 200.0  # graphcheck peak RSS <= file size + this
LINEAR_SLACK = 1.25  # time ratio 4000/1000 stack may exceed the node-count ratio by this factor
SLOW_RUN_S = 10.0
MODEL_NAMES = [
    "conv1d_stack_1000",
    "conv1d_stack_4000",
    "conv1d_valid_1000",
    "conv1d_valid_4000",
    "resnet152",
    "gpt2_48",
    "conv_chain_500",
    "conv_chain_5000",
    "gpt2_legacy_48",
]  # = models.ALL


# ---------------------------------------------------------------------------
# worker side: one tool, one model, one fresh process


def _maxrss_mb() -> float:
    """This process's peak resident size. ``VmHWM`` is the high-water mark of the process's own
    memory map; ``ru_maxrss`` would also carry the parent's peak across fork and exec (a parent
    that had just built the 369 MB GPT model made every worker report 1.2 GB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _ort_module():
    """ORT's symbolic_shape_infer.py loaded by file: onnxruntime.tools' __init__ imports torch when present."""
    import importlib.util

    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        raise RuntimeError("onnxruntime is not installed")
    src = Path(spec.origin).parent / "tools" / "symbolic_shape_infer.py"
    if not src.exists():
        raise RuntimeError(f"{src} not found in the installed onnxruntime")
    mspec = importlib.util.spec_from_file_location("_ort_symbolic_shape_infer", src)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    return mod, src


def _out_shape(model) -> str:
    outs = []
    for o in model.graph.output:
        t = o.type.tensor_type
        if not t.HasField("shape"):
            outs.append(f"{o.name}: ?")
            continue
        dims = [
            d.dim_param if d.HasField("dim_param") else (str(d.dim_value) if d.HasField("dim_value") else "?")
            for d in t.shape.dim
        ]
        outs.append(f"{o.name}: [{', '.join(dims)}]")
    return "; ".join(outs)


def worker(tool: str, path: str) -> dict:
    res: dict = {"tool": tool, "ok": True}
    perf = time.perf_counter
    t0 = perf()
    if tool == "read":
        buf = bytearray(8 << 20)
        t1 = perf()
        n = 0
        with open(path, "rb", buffering=0) as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                n += k
        res.update(import_s=t1 - t0, work_s=perf() - t1, verdict=f"{n} bytes")
    elif tool == "graphcheck":
        # import what the analysis uses (the op rules, the loader) here, so its cost is not timed as work
        import graphcheck.api
        import graphcheck.model.load  # noqa: F401

        t1 = perf()
        res.update(import_s=t1 - t0, api="graphcheck.check(path).valid")
        try:
            r = graphcheck.api.check(path)
            res["verdict"] = r.valid
            res["work_s"] = perf() - t1
            res["complete"] = bool(r.complete)
            res["exact"] = bool(r.exact)
        except Exception as exc:  # noqa: BLE001
            res.update(ok=False, work_s=perf() - t1, error=f"{type(exc).__name__}: {exc}"[:500])
    elif tool == "report":  # the whole text of `graphcheck check`: the verdict and every finding
        import graphcheck.api
        import graphcheck.model.load  # noqa: F401
        import graphcheck.render.text  # noqa: F401

        t1 = perf()
        c1 = time.process_time()
        res.update(import_s=t1 - t0, api="str(graphcheck.check(path)), every finding made")
        try:
            r = graphcheck.api.check(path)
            text = str(r)
            res["work_s"] = perf() - t1
            res["cpu_s"] = time.process_time() - c1  # (what the findings target compares: the machine is shared)
            res["verdict"] = f"{len(r.diagnostics)} findings, {len(text.splitlines())} lines; {r.valid}"
            res["complete"] = bool(r.complete)
        except Exception as exc:  # noqa: BLE001
            res.update(ok=False, work_s=perf() - t1, error=f"{type(exc).__name__}: {exc}"[:500])
    elif tool == "phases":  # graphcheck's own stages (for --phases)
        from graphcheck.infer.engine import analyze
        from graphcheck.model.load import load
        from graphcheck.report.report import Report

        t1 = perf()
        res["import_s"] = t1 - t0
        try:
            g = load(path)
            t2 = perf()
            a = analyze(g)
            t3 = perf()
            res["verdict"] = Report(a, path).valid
            t4 = perf()
            res.update(work_s=t4 - t1, load_s=t2 - t1, infer_s=t3 - t2, solve_s=t4 - t3, nodes=len(g.nodes))
        except Exception as exc:  # noqa: BLE001
            res.update(ok=False, work_s=None, error=f"{type(exc).__name__}: {exc}"[:500])
    elif tool == "ort":
        import inspect

        import onnx

        mod, src = _ort_module()
        infer = mod.SymbolicShapeInference.infer_shapes
        params = inspect.signature(infer).parameters
        kwargs = {k: v for k, v in (("auto_merge", True), ("guess_output_rank", False)) if k in params}
        t1 = perf()
        res.update(import_s=t1 - t0, api=f"{src.name}: infer_shapes(model, {kwargs})")
        model = onnx.load(path)
        t2 = perf()
        res["load_s"] = t2 - t1
        try:
            out = infer(model, **kwargs)
            res["work_s"] = perf() - t1
            res["verdict"] = _out_shape(out) if out is not None else "returned None"
        except Exception as exc:  # noqa: BLE001 -- "Incomplete symbolic shape inference" and the like
            res.update(ok=False, work_s=perf() - t1, error=f"{type(exc).__name__}: {exc}"[:500])
    elif tool == "onnx":
        import onnx
        import onnx.shape_inference

        t1 = perf()
        res["import_s"] = t1 - t0
        model = onnx.load(path)
        t2 = perf()
        res["load_s"] = t2 - t1
        try:
            out = onnx.shape_inference.infer_shapes(model)
            res["work_s"] = perf() - t1
            res["verdict"] = _out_shape(out)
        except Exception as exc:  # noqa: BLE001
            res.update(ok=False, work_s=perf() - t1, error=f"{type(exc).__name__}: {exc}"[:500])
    else:
        raise SystemExit(f"unknown tool {tool}")
    res["maxrss_mb"] = _maxrss_mb()
    return res


# ---------------------------------------------------------------------------
# parent side


def run_worker(tool: str, path: Path, timeout: float, cwd: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, str(path)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "ok": False, "error": f"timed out after {timeout:.0f} s", "work_s": None}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {
        "tool": tool,
        "ok": False,
        "error": f"worker exited {p.returncode}: {' | '.join(tail)}"[:500],
        "work_s": None,
    }


def measure(path: Path, reps: int, timeout: float, cwd: str, log, tools: tuple[str, ...] = TOOLS) -> dict[str, dict]:
    """Best of ``reps`` fresh-process runs per tool, interleaved; a slow tool (> 10 s) runs once."""
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    for rep in range(reps):
        for tool in tools:
            prev = runs[tool]
            if prev and (prev[-1].get("work_s") is None or prev[-1]["work_s"] > SLOW_RUN_S):
                continue
            r = run_worker(tool, path, timeout, cwd)
            prev.append(r)
            w = r.get("work_s")
            shown = f"{w:.3f} s" if w is not None else "n/a"
            err = "" if r.get("ok") else "  ERROR " + r.get("error", "")[:150]
            log(f"    rep {rep + 1} {tool:10s} {shown:>9s}  rss {r.get('maxrss_mb', 0):7.1f} MB{err}")
    best: dict[str, dict] = {}
    for tool, rs in runs.items():
        timed = [r for r in rs if r.get("work_s") is not None]
        b = dict(min(timed, key=lambda r: r["work_s"])) if timed else dict(rs[0])
        b["runs"] = len(rs)
        b["all_s"] = [r.get("work_s") for r in rs]
        b["maxrss_mb"] = max((r.get("maxrss_mb") or 0.0) for r in rs)
        for k in ("load_s", "infer_s", "solve_s", "cpu_s"):
            if k in b:
                b[k] = min(r[k] for r in timed if k in r)
        best[tool] = b
    return best


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "graphcheck"], cwd=ROOT, capture_output=True, text=True
        ).stdout
        return rev.strip() + (" + uncommitted changes in graphcheck/" if dirty.strip() else "")
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="graphcheck vs ORT symbolic shape inference vs onnx.shape_inference")
    ap.add_argument("--models", nargs="+", choices=MODEL_NAMES, help="models to run (default: all)")
    ap.add_argument("--quick", action="store_true", help="smoke test: only conv1d_stack_1000")
    ap.add_argument("--reps", type=int, default=3, help="runs per tool and model, best is kept (default 3)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per tool run (default 900)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON (bench/out/ is gitignored)")
    ap.add_argument(
        "--phases",
        action="store_true",
        help="also time graphcheck's load / infer / solve stages separately (internal modules)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run")
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        tool, path = args.worker
        print(json.dumps(worker(tool, path)), flush=True)
        return 0

    import models  # (not in workers: it imports numpy and onnx, which would blur their import times and RSS)

    names = ["conv1d_stack_1000"] if args.quick else (args.models or models.ALL)
    log = (lambda s: print(s, flush=True)) if args.verbose else (lambda s: None)

    import onnx

    try:
        import onnxruntime

        ort_v = onnxruntime.__version__
    except ImportError:
        ort_v = "not installed"
    print("# graphcheck speed benchmark\n")
    print(
        f"python {platform.python_version()}, onnx {onnx.__version__}, onnxruntime {ort_v}, "
        f"{os.cpu_count()} cpus, graphcheck {_git_rev()}"
    )
    print(
        f"best of {args.reps} fresh-process runs per tool (1 when a run takes > {SLOW_RUN_S:.0f} s), "
        "times after imports\n"
    )

    t0 = time.perf_counter()
    paths = models.ensure(names, log=lambda s: print("  " + s, flush=True))
    print(f"models ready in {time.perf_counter() - t0:.1f} s\n", flush=True)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="gc-bench-") as cwd:  # ORT may write sym_shape_infer_temp.onnx
        for name in names:
            print(f"running {name} ...", flush=True)
            tools = CHAIN_TOOLS if name in CHAINS else TOOLS + (("phases",) if args.phases else ())
            results[name] = measure(paths[name], args.reps, args.timeout, cwd, log, tools)
            results[name]["_file_mb"] = paths[name].stat().st_size / 1e6
            results[name]["_nodes"] = models.node_count(name)

    gc_api = next((r["graphcheck"].get("api") for r in results.values() if r["graphcheck"].get("api")), "?")
    print(f"\ngraphcheck measured as: {gc_api}")
    if "fallback" in gc_api:
        print("NOTE: graphcheck.check() does not exist yet; timed load()+analyze() without solving.")
    print()
    hdr = [
        "model",
        "nodes",
        "file MB",
        "graphcheck s",
        "ORT symbolic s",
        "onnx infer s",
        "ORT/graphcheck",
        "onnx/graphcheck",
        "graphcheck peak MB",
    ]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" for _ in hdr) + "|")
    none: dict = {"ok": True, "runs": 0}  # a tool not run on that model (the finding chains: graphcheck only)
    for name, r in results.items():
        for t in ("read", "ort", "onnx", "report"):
            r.setdefault(t, none)
        g, o, x = r["graphcheck"].get("work_s"), r["ort"].get("work_s"), r["onnx"].get("work_s")
        print(
            "| "
            + " | ".join(
                [
                    name,
                    str(r["_nodes"] or "?"),
                    f"{r['_file_mb']:.1f}",
                    _fmt(g) + ("" if r["graphcheck"].get("ok") else " (error)"),
                    _fmt(o) + ("" if r["ort"].get("ok") else " (error)"),
                    _fmt(x) + ("" if r["onnx"].get("ok") else " (error)"),
                    _fmt(_ratio(o, g), ".1f") + "x",
                    _fmt(_ratio(x, g), ".1f") + "x",
                    f"{r['graphcheck'].get('maxrss_mb', 0):.0f}",
                ]
            )
            + " |"
        )

    print("\nDetails (onnx.load is part of the ORT and onnx columns; 'read' is reading the file once):\n")
    hdr2 = [
        "model",
        "read file s",
        "graphcheck/read",
        "ORT onnx.load s",
        "onnx onnx.load s",
        "ORT peak MB",
        "onnx peak MB",
        "imports s (gc / ORT / onnx)",
        "runs (gc / ORT / onnx)",
    ]
    print("| " + " | ".join(hdr2) + " |")
    print("|" + "|".join("---" for _ in hdr2) + "|")
    for name, r in results.items():
        rd, g = r["read"].get("work_s"), r["graphcheck"].get("work_s")
        print(
            "| "
            + " | ".join(
                [
                    name,
                    _fmt(rd),
                    _fmt(_ratio(g, rd), ".1f") + "x",
                    _fmt(r["ort"].get("load_s")),
                    _fmt(r["onnx"].get("load_s")),
                    f"{r['ort'].get('maxrss_mb', 0):.0f}",
                    f"{r['onnx'].get('maxrss_mb', 0):.0f}",
                    " / ".join(_fmt(r[t].get("import_s"), ".2f") for t in ("graphcheck", "ort", "onnx")),
                    " / ".join(str(r[t]["runs"]) for t in ("graphcheck", "ort", "onnx")),
                ]
            )
            + " |"
        )

    if args.phases:
        print("\ngraphcheck stages, each the best of its runs (load() / analyze() / Report.valid, i.e. solve):\n")
        print("| model | load s | infer s | solve s | total s | infer us/node |")
        print("|---|---|---|---|---|---|")
        for name, r in results.items():
            if "phases" not in r:
                continue
            ph = r["phases"]
            if not ph.get("ok"):
                print(f"| {name} | error: {ph.get('error', '')[:100]} | | | | |")
                continue
            per = (ph["infer_s"] / ph["nodes"] * 1e6) if ph.get("nodes") else None
            print(
                f"| {name} | {_fmt(ph.get('load_s'))} | {_fmt(ph.get('infer_s'))} | {_fmt(ph.get('solve_s'))} | "
                f"{_fmt(ph.get('work_s'))} | {_fmt(per, '.0f')} |"
            )

    print("\nVerdicts:")
    for name, r in results.items():
        gr = r["graphcheck"]
        if gr.get("ok"):
            tag = "complete" if gr.get("complete") else "INCOMPLETE"
            print(f"  {name}: graphcheck [{tag}] {gr.get('verdict')}")
        else:
            print(f"  {name}: graphcheck ERROR {gr.get('error')}")
        for t, label in (("ort", "ORT symbolic"), ("onnx", "onnx infer"), ("report", "report")):
            tr = r[t]
            if not tr.get("runs"):
                continue
            print(f"      {label}: " + (tr.get("verdict", "") if tr.get("ok") else "ERROR " + tr.get("error", "")))

    print("\nTargets:")
    missed = 0

    provisional = 0

    def target(ok: bool | None, text: str, complete: bool = True) -> None:
        nonlocal missed, provisional
        if ok is None:
            print(f"  n/a     {text}")
        elif ok and not complete:
            provisional += 1
            print(f"  met*    {text}")
        else:
            missed += not ok
            print(f"  {'met   ' if ok else 'MISSED'}  {text}")

    for name, r in results.items():
        gr = r["graphcheck"]
        g, o = gr.get("work_s"), r["ort"].get("work_s")
        ratio = _ratio(o, g)
        if not gr.get("ok"):
            target(False, f"{name}: graphcheck failed ({gr.get('error', '')[:120]})")
            continue
        done = bool(gr.get("complete"))
        goal = GOALS.get(name)
        if goal is not None:
            target(
                None if ratio is None else ratio >= goal,
                f"{name}: ORT/graphcheck = {_fmt(ratio, '.1f')}x (goal >= {goal:.0f}x)",
                done,
            )
        limit = r["_file_mb"] + TARGET_MEM_EXTRA_MB
        peak = gr.get("maxrss_mb")
        target(
            None if peak is None else peak <= limit,
            f"{name}: graphcheck peak RSS {_fmt(peak, '.0f')} MB (goal <= file {r['_file_mb']:.0f} MB + "
            f"{TARGET_MEM_EXTRA_MB:.0f} MB)",
        )
    if all(s in results for s in STACKS):
        a, b = (results[s]["graphcheck"].get("work_s") for s in STACKS)
        na, nb = (results[s]["_nodes"] for s in STACKS)
        nr = (nb / na) if na and nb else 4.0
        tr = _ratio(b, a)
        ort_r = _ratio(*(results[s]["ort"].get("work_s") for s in reversed(STACKS)))
        target(
            None if tr is None else tr <= nr * LINEAR_SLACK,
            f"linearity: graphcheck 4000-stack / 1000-stack = {_fmt(tr, '.2f')} for {nr:.2f}x the nodes "
            f"(goal <= {nr * LINEAR_SLACK:.2f}; ORT's ratio: {_fmt(ort_r, '.2f')})",
            all(results[s]["graphcheck"].get("complete") for s in STACKS),
        )
    else:
        print("  n/a     linearity: needs both conv1d stacks (run without --quick/--models)")
    if all(c in results for c in CHAINS):
        a, b = (results[c]["report"].get("cpu_s") for c in CHAINS)
        tr = _ratio(b, a)
        wa, wb = (results[c]["report"].get("work_s") for c in CHAINS)
        target(
            None if tr is None else tr <= TARGET_FINDINGS,
            f"findings: the 5,000-finding report / the 500-finding one = {_fmt(tr, '.2f')} in CPU time "
            f"({_fmt(_ratio(wb, wa), '.2f')} in wall time; goal <= {TARGET_FINDINGS:.0f}: linear in the findings)",
        )
    else:
        print("  n/a     findings: needs both finding chains (run without --quick/--models)")
    if provisional:
        print(
            f"  (* met only provisionally: graphcheck's analysis of that model is incomplete, so its time covers "
            f"only the part it followed: {provisional} such)"
        )
    print(f"\n{missed} target(s) MISSED." if missed else "\nno target missed.")

    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"graphcheck_rev": _git_rev(), "results": results}, indent=1, default=str))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help and usage errors keep their codes
        raise exc
    except Exception:  # noqa: BLE001 -- a report: show what broke, exit 0
        traceback.print_exc()
        print("benchmark aborted by the error above.")
        code = 0
    sys.exit(code)
