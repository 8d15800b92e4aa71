"""Cold start: `graphcheck check` on the 10-node toy model against `import onnx` alone.

    python bench/coldstart.py              # 15 interleaved pairs
    python bench/coldstart.py --runs 30 -v # more pairs; -v also prints where the import time goes

Each run is a fresh process timed from outside (start to exit), so the interpreter's start-up,
every import and the work are all in it. The two commands run in turn (A B A B ...) and the
difference A - B is taken pair by pair, which keeps it meaningful on a noisy machine; the
median difference is compared with the target, `graphcheck check` within `import onnx` + 0.3 s.

The package's bytecode is compiled first (`compileall`), as `pip install` does: a checkout run
with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every run and time the
compiler. Commands that need no model (`graphcheck --version`, `graphcheck rule GC001`) are
timed too, and checked not to import onnx at all.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.3


def _graphcheck() -> list[str]:
    exe = shutil.which("graphcheck")
    return [exe] if exe else [sys.executable, "-m", "graphcheck"]


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def _import_profile(args: list[str]) -> tuple[Counter[str], bool]:
    """Self import time per top-level package (``python -X importtime``), and whether onnx was imported."""
    code = f"import sys; sys.argv = ['graphcheck', *{args!r}]\nfrom graphcheck.cli import main\nmain()"
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    per: Counter[str] = Counter()
    onnx = False
    for line in res.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            name = m.group(2)
            per[name.split(".")[0]] += int(m.group(1))
            onnx = onnx or name == "onnx"
    return per, onnx


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="pairs of runs (default 15)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the import time per package")
    args = ap.parse_args(argv)
    compileall.compile_dir(str(ROOT / "graphcheck"), quiet=1)
    gc_cmd = [*_graphcheck(), "check", "fixtures/toy.onnx"]
    onnx_cmd = [sys.executable, "-c", "import onnx"]
    for cmd in (gc_cmd, onnx_cmd):  # warm the page cache
        _time(cmd)
    a_times, b_times, diffs = [], [], []
    for _ in range(args.runs):
        a, b = _time(gc_cmd), _time(onnx_cmd)
        a_times.append(a)
        b_times.append(b)
        diffs.append(a - b)
    med_a, med_b, med_d = statistics.median(a_times), statistics.median(b_times), statistics.median(diffs)
    print(f"cold start, {args.runs} interleaved pairs, whole processes (median [min, max]):")
    print(f"  graphcheck check fixtures/toy.onnx   {med_a:.3f} s  [{min(a_times):.3f}, {max(a_times):.3f}]")
    print(f"  python -c 'import onnx'              {med_b:.3f} s  [{min(b_times):.3f}, {max(b_times):.3f}]")
    print(f"  difference, pair by pair             {med_d:+.3f} s  [{min(diffs):+.3f}, {max(diffs):+.3f}]")
    print(f"  ratio of medians                     {med_a / med_b:.2f}x")
    verdict = "met" if med_d <= TARGET_S else "MISSED"
    print(f"  target: within import onnx + {TARGET_S} s: {verdict} ({med_d:+.3f} s)")
    for extra in (["--version"], ["rule", "GC001"]):
        t = statistics.median(_time([*_graphcheck(), *extra]) for _ in range(5))
        _, imported = _import_profile(extra)
        print(f"  graphcheck {' '.join(extra):<28}{t:.3f} s  (imports onnx: {'yes' if imported else 'no'})")
    per, _ = _import_profile(["check", "fixtures/toy.onnx"])
    if args.verbose:
        print("import time by package, graphcheck check (python -X importtime, self times):")
        for name, us in per.most_common(12):
            print(f"  {name:<24}{us / 1e6:.3f} s")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())
