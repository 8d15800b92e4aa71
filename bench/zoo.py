"""graphcheck on the model zoo, compared with the truth at every probed size.

    python bench/zoo.py [--only NAME ...] [-v] [--json FILE] [--timeout S] [--no-build]

For every model of ``fixtures/zoo`` (the file regenerated first when it is missing and the
exporters are installed; otherwise a ``skip`` line), graphcheck runs in a subprocess (killed
after ``--timeout`` seconds, reported as ``unknown: timeout``) and answers ``accepts`` (spec
semantics) and ``ort_accepts`` at every size recorded in ``fixtures/zoo/truth/NAME.json``:

* spec answers are compared with the hand predicate (the recorded ``spec`` value),
* ort answers with what onnxruntime did (the recorded ``ok``).

Verdicts: ``unsound`` when any definite True/False contradicts the truth; ``exact`` when
``r.exact`` and every probed size agrees, or when every probed size agrees and the set is proven up
to a bound past which the analysis says unknown (float32 shape arithmetic, GC110; the bound is
printed); ``unknown`` otherwise (the node that stopped the
analysis, or what is undecided). The last line is
``zoo: N/M exact, U unsound, K unknown, statement length ratio R`` with R the median of
len(graphcheck statement) / len(hand statement) over the exact models (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ZOO_DIR = ROOT / "fixtures" / "zoo"
sys.path.insert(0, str(ZOO_DIR))

import zoo  # noqa: E402


def truth_of(name: str) -> dict[str, Any] | None:
    p = ZOO_DIR / "truth" / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def main_statement(valid: str) -> str:
    """graphcheck's statement without the free-size note ``   (B: any >= 1)`` and the
    incompleteness remark, for the length ratio."""
    return valid.split("   (")[0].split("   [")[0].strip()


def sizes_of(truth: dict[str, Any], at: list[int]) -> dict[str, int]:
    d = dict(zip(truth["sizes"], at))
    if "B" in truth["dims"].values():
        d["B"] = truth["batch"]
    return d


# ----------------------------------------------------------------------------- the worker


class _Alarm(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Alarm


def worker(name: str, path: str, deadline: float = 100.0) -> dict[str, Any]:
    """Run graphcheck on one model; answers at every probed size (runs in a subprocess)."""
    import graphcheck

    truth = truth_of(name)
    assert truth is not None
    t0 = time.perf_counter()
    r = graphcheck.check(path, dims=truth["dims"])
    valid = r.valid
    exact = r.exact
    # proven (and solved) everywhere but past a GC110 bound: the sizes left unknown, in words
    bounded = r.uncovered[0][1] if not exact and r.followed and r.solution.exact and r.uncovered else None
    t_check = time.perf_counter() - t0
    fu = r.first_unknown
    out: dict[str, Any] = {
        "valid": valid,
        "exact": exact,
        "unknown_for": bounded,
        "complete": r.complete,
        "symbols": r.symbols,
        "first_unknown": None if fu is None else {"node": fu.node, "op": fu.op, "code": fu.code, "message": fu.message},
        "check_s": t_check,
    }
    spec, ort = [], []
    errors: list[str] = []
    for rec in truth["probes"]:
        sizes = sizes_of(truth, rec["at"])
        for fn, acc in ((r.accepts, spec), (r.ort_accepts, ort)):
            try:
                acc.append(fn(sizes))
            except Exception as exc:  # a crash of graphcheck at one size is a finding, not the end
                acc.append(None)
                if len(errors) < 3:
                    errors.append(f"{fn.__name__}({sizes}): {type(exc).__name__}: {exc}")
    out["answers_s"] = time.perf_counter() - t0 - t_check
    # the findings (what `graphcheck check` prints) last, under their own alarm: they solve the
    # onnxruntime-semantics twin, which can take far longer than the answers
    t1 = time.perf_counter()
    left = int(max(1.0, deadline - (time.perf_counter() - t0)))
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(left)
    try:
        out["codes"] = sorted({d.code for d in r.diagnostics})
    except _Alarm:
        out["codes"] = None
        out["diagnostics_timeout"] = left
    finally:
        signal.alarm(0)
    out["diagnostics_s"] = time.perf_counter() - t1
    out.update(spec=spec, ort=ort, errors=errors, total_s=time.perf_counter() - t0)
    return out


def run_worker(name: str, path: Path, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, str(path), str(timeout * 0.8)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"failure": f"timeout after {timeout:.0f} s", "wall_s": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"failure": "graphcheck crashed: " + " | ".join(tail), "wall_s": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


# ----------------------------------------------------------------------------- judging


def judge(truth: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    if "failure" in res:
        return {"verdict": "unknown", "why": res["failure"], "bad": [], "undecided": 0}
    bad = []
    undecided = 0
    first_none: dict[str, list[int]] = {}
    n_none = {"spec": 0, "ort": 0}
    for rec, s, o in zip(truth["probes"], res["spec"], res["ort"]):
        for sem, v in (("spec", s), ("ort", o)):
            if v is None:
                n_none[sem] += 1
                first_none.setdefault(sem, rec["at"])
        if s is not None and s != rec["spec"]:
            bad.append({"at": rec["at"], "semantics": "spec", "graphcheck": s, "truth": rec["spec"]})
        if o is not None and o != rec["ok"]:
            bad.append(
                {
                    "at": rec["at"],
                    "semantics": "ort",
                    "graphcheck": o,
                    "truth": rec["ok"],
                    "onnxruntime": rec.get("error", "ran"),
                }
            )
        undecided += (s is None) + (o is None)
    if bad:
        return {"verdict": "unsound", "why": f"{len(bad)} contradiction(s)", "bad": bad, "undecided": undecided}
    if res["exact"] and not undecided:
        return {"verdict": "exact", "why": "", "bad": [], "undecided": 0}
    if res.get("unknown_for") and not undecided:
        return {"verdict": "exact", "why": f"proven; unknown for {res['unknown_for']}", "bad": [], "undecided": 0}
    fu = res["first_unknown"]
    if fu is not None:
        why = f"{fu['node']} ({fu['op']}) {fu['code']}: {fu['message']}"
    elif not res["complete"]:
        why = "incomplete: an undecidable condition"
    elif not res["exact"]:
        why = "solver-incomplete (GC105): the valid set is left as conditions"
    else:
        why = "r.exact, but some answers are None"
    if undecided:
        parts = [
            f"{n_none[sem]} {sem} answer(s) None (first at {dict(zip(truth['sizes'], first_none[sem]))})"
            for sem in ("spec", "ort")
            if n_none[sem]
        ]
        why += "; " + ", ".join(parts)
    if res.get("errors"):
        why += "; errors: " + " / ".join(res["errors"])
    return {"verdict": "unknown", "why": why, "bad": [], "undecided": undecided}


def ensure_model(e: zoo.Entry, build: bool) -> tuple[Path | None, str]:
    """The model's file, building it when missing and possible; else (None, reason)."""
    import importlib.util

    sys.path.insert(0, str(ZOO_DIR))
    import make_zoo

    path = make_zoo.model_path(e)
    if path.exists():
        return path, ""
    need = ["torch", "onnxscript"] + (["transformers"] if "transformers" in e.config else [])
    if e.exporter == "tf2onnx":
        need = ["tensorflow", "keras", "tf2onnx"]
    elif not e.exporter.startswith("torch"):  # another tool chain (zoo.OnnxExport): the packages it names
        need = [p.replace("-", "_") for p in e.packages]
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if not build or missing:
        why = "--no-build" if not build else f"exporters not installed ({', '.join(missing)}; pip install -e '.[zoo]')"
        return None, f"{'large model' if e.large else 'model'} {path.relative_to(ROOT)} missing and not built: {why}"
    print(f"   (building {e.name}: missing {path.relative_to(ROOT)})", flush=True)
    proc = subprocess.run(
        [sys.executable, str(ZOO_DIR / "make_zoo.py"), e.name, "--no-probe"], capture_output=True, text=True
    )
    if proc.returncode != 0 or not path.exists():
        return None, "build failed: " + " | ".join(proc.stdout.strip().splitlines()[-2:])
    return path, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="these models only")
    ap.add_argument("-v", "--verbose", action="store_true", help="first disagreeing sizes and the full statements")
    ap.add_argument("--json", type=Path, help="write every result to this file")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per model (default 120)")
    ap.add_argument("--no-build", action="store_true", help="do not regenerate missing models")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, path, deadline = args.worker
        print(json.dumps(worker(name, path, float(deadline))))
        return 0
    names = args.only or list(zoo.ZOO)
    unknown = [n for n in names if n not in zoo.ZOO]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(zoo.ZOO)}")
    rows: list[dict[str, Any]] = []
    width = max(len(n) for n in names)
    for name in names:
        e = zoo.ZOO[name]
        truth = truth_of(name)
        if truth is None:
            print(f"{name:<{width}}  {e.exporter:<12}  skip     no truth file (run fixtures/zoo/make_zoo.py {name})")
            rows.append({"name": name, "exporter": e.exporter, "verdict": "skip", "why": "no truth file"})
            continue
        path, why = ensure_model(e, not args.no_build)
        if path is None:
            print(f"{name:<{width}}  {e.exporter:<12}  skip     {why}")
            rows.append({"name": name, "exporter": e.exporter, "verdict": "skip", "why": why})
            continue
        res = run_worker(name, path, args.timeout)
        j = judge(truth, res)
        gc_stmt = main_statement(res.get("valid", "")) if "valid" in res else ""
        ratio = len(gc_stmt) / len(truth["statement"]) if gc_stmt else None
        t = res.get("total_s", res.get("wall_s", 0.0))
        row = {
            "name": name,
            "exporter": e.exporter,
            "verdict": j["verdict"],
            "why": j["why"],
            "graphcheck": res.get("valid"),
            "hand": truth["statement"],
            "ratio": ratio,
            "seconds": t,
            "check_seconds": res.get("check_s"),
            "probes": len(truth["probes"]),
            "undecided": j["undecided"],
            "contradictions": j["bad"],
            "first_unknown": res.get("first_unknown"),
            "codes": res.get("codes"),
            "answers_seconds": res.get("answers_s"),
            "diagnostics_seconds": res.get("diagnostics_s"),
            "diagnostics_timeout": res.get("diagnostics_timeout"),
        }
        rows.append(row)
        shown = gc_stmt if args.verbose or len(gc_stmt) <= 60 else gc_stmt[:57] + "..."
        rtxt = f"{ratio:.2f}" if ratio is not None else "-"
        line = (
            f"{name:<{width}}  {e.exporter:<12}  {j['verdict']:<7}  {t:6.2f} s  graphcheck: {shown or '-'}"
            f"  | hand: {truth['statement']}  | ratio {rtxt}"
        )
        if j["verdict"] != "exact" or j["why"]:
            line += f"\n{'':<{width}}    {j['verdict']}: {j['why']}"
        if res.get("diagnostics_timeout"):
            line += (
                f"\n{'':<{width}}    note: r.diagnostics (the findings `graphcheck check` prints) did not finish in "
                f"{res['diagnostics_timeout']} s"
            )
        print(line, flush=True)
        if args.verbose:
            for b in j["bad"][:8]:
                print(
                    f"{'':<{width}}    at {dict(zip(truth['sizes'], b['at']))} ({b['semantics']}): graphcheck "
                    f"{b['graphcheck']}, truth {b['truth']}"
                    + (f" [{b['onnxruntime']}]" if b.get("onnxruntime") else "")
                )
    judged = [r for r in rows if r["verdict"] != "skip"]
    exact = [r for r in judged if r["verdict"] == "exact"]
    unsound = [r for r in judged if r["verdict"] == "unsound"]
    unk = [r for r in judged if r["verdict"] == "unknown"]
    ratios = [r["ratio"] for r in exact if r["ratio"] is not None]
    med = f"{statistics.median(ratios):.2f}" if ratios else "n/a"
    skipped = len(rows) - len(judged)
    if skipped:
        print(f"({skipped} skipped)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(
        f"zoo: {len(exact)}/{len(judged)} exact, {len(unsound)} unsound, {len(unk)} unknown, "
        f"statement length ratio {med}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
