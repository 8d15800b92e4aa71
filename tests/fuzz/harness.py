"""Run fuzz inputs through graphcheck in a worker subprocess, with a time and memory bound.

The worker (``python -m tests.fuzz.harness --worker``) reads one job per line (a model file and
a seed), does what a user would with it, and answers one line: the outcome, the time taken and
the peak resident memory of that input (the kernel's high-water mark, reset before each input
through ``/proc/self/clear_refs``). Its address space is capped (``RLIMIT_AS``), so a runaway
allocation fails inside it instead of taking the machine down. The parent kills a worker that
does not answer within the per-input timeout (a **hang**) and starts a fresh one; a worker that
dies is a **crash**.

What the worker does with each input, from its seed:

* ``graphcheck.check(path)``, the text and the JSON of the report (every finding rendered);
* at random sizes (1, small, 2**40, the smallest valid): ``report.at`` and ``report.explain``
  (which runs the verified fix search when the size fails);
* sometimes ``graphcheck.check(path, semantics="ort")``;
* sometimes the command line itself (``check``/``explain`` with ``--at``, ``--format json``,
  ``--nodes``), whose exit code must be 0, 1 or 2, and 2 only with one line on stderr that is not
  an internal error.

Outcomes: ``report`` (a report), ``error`` (a clean :class:`GraphcheckError`: one line, exit 2),
``traceback`` (any other exception, or the CLI's "internal error"), ``hang``, ``crash``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import select
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

TIMEOUT = 20  # seconds per input before it counts as a hang (the measure)
MEMORY_LIMIT = 2 << 30  # the worker's address-space cap (RLIMIT_AS), bytes
SIZES = (1, 2, 3, 5, 8, 31, 64, 1000, 2**40)


@dataclass(frozen=True)
class Outcome:
    seed: int
    family: str
    kind: str  # report, error, traceback, hang, crash
    seconds: float
    peak_mb: float  # peak resident memory while this input ran (MB); 0 when unknown (hang, crash)
    detail: str = ""  # the error line or the traceback


@dataclass
class Stats:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes)

    @property
    def defects(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind in ("traceback", "hang", "crash")]

    @property
    def peak_mb(self) -> float:
        return max((o.peak_mb for o in self.outcomes), default=0.0)

    @property
    def slowest(self) -> Outcome | None:
        done = [o for o in self.outcomes if o.kind in ("report", "error")]
        return max(done, key=lambda o: o.seconds, default=None)

    def summary(self) -> str:
        c = self.counts
        slow = self.slowest
        return (
            f"{len(self.outcomes)} inputs: {c['report']} reports, {c['error']} clean errors, "
            f"{c['traceback']} tracebacks, {c['hang']} hangs, {c['crash']} crashes; "
            f"peak memory {self.peak_mb:.0f} MB; slowest {slow.seconds if slow else 0:.2f} s"
            + (f" (seed {slow.seed})" if slow else "")
        )


# --------------------------------------------------------------------------------- the worker


def _peak_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cli(argv: list[str]) -> tuple[int, str]:
    """The command line, in this process: its exit code and stderr."""
    from graphcheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, err.getvalue()


class CliDefect(Exception):
    pass


def exercise(path: str, seed: int, at: dict[str, int] | None = None) -> str:
    """Everything a user might do with the model; returns "report" or raises. With ``at``, ``at``
    and ``explain`` (the fix search) always run at those sizes, and the CLI's ``explain`` too."""
    import graphcheck
    from graphcheck.errors import GraphcheckError

    rnd = random.Random(seed ^ 0x5EED)
    try:
        rep = graphcheck.check(path)
    except GraphcheckError:
        if rnd.random() < 0.3:  # the CLI must say it in one line, exit 2
            code, err = _cli(["check", path])
            if code != 2 or len(err.strip().splitlines()) != 1 or "internal error" in err:
                raise CliDefect(f"CLI exit {code}: {err.strip()[:300]}") from None
        raise
    str(rep)
    json.dumps(rep.to_dict())
    names = rep.symbols
    sizes: dict[str, int] = dict(at or {})
    if at or (names and rnd.random() < 0.7):
        small = rep.smallest() if rnd.random() < 0.3 and not at else None
        sizes = dict(small) if small else sizes or {n: rnd.choice(SIZES) for n in names}
        try:
            ev = rep.at(sizes)
            ev.first_failure  # noqa: B018
            rep.explain(sizes, nodes=rnd.random() < 0.3)
        except GraphcheckError:
            pass
    if rnd.random() < 0.3:
        ort = graphcheck.check(path, semantics="ort")
        ort.valid  # noqa: B018
        str(ort)
    if at or rnd.random() < 0.25:
        argv = ["check", path] if rnd.random() < 0.6 and not at else ["explain", path]
        for k, v in sizes.items():
            argv += ["--at", f"{k}={v}"]
        if argv[0] == "explain" and not sizes:
            argv += ["--at", f"{names[0]}=5"] if names else []
        argv += rnd.choice(([], ["--format", "json"], ["--all"] if argv[0] == "check" else ["--nodes"]))
        code, err = _cli(argv)
        if code not in (0, 1, 2) or (code == 2 and (len(err.strip().splitlines()) != 1 or "internal error" in err)):
            raise CliDefect(f"CLI {' '.join(argv[:1] + argv[2:])} exit {code}: {err.strip()[:300]}")
    return "report"


def worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    limit = int(os.environ.get("GRAPHCHECK_FUZZ_MEMORY", MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(10_000)
    answer = os.fdopen(os.dup(1), "w")  # the protocol's channel; stray prints go to /dev/null
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    import graphcheck  # noqa: F401  (imported before the first input: not counted in its time)
    from graphcheck.errors import GraphcheckError

    for line in sys.stdin:
        job = json.loads(line)
        _peak_reset()
        t0 = time.perf_counter()
        kind, detail = "report", ""
        try:
            kind = exercise(job["path"], job["seed"], job.get("at"))
        except GraphcheckError as exc:
            kind, detail = "error", str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        except BaseException:  # noqa: BLE001 - MemoryError and RecursionError count too
            kind, detail = "traceback", traceback.format_exc()[-3000:]
        res = {"kind": kind, "seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "detail": detail}
        answer.write(json.dumps(res) + "\n")
        answer.flush()


# --------------------------------------------------------------------------------- the parent


class _Worker:
    def __init__(self, memory: int) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", GRAPHCHECK_FUZZ_MEMORY=str(memory))
        env.pop("GRAPHCHECK_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.harness", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,
        )

    def run(self, path: str, seed: int, timeout: float, at: dict[str, int] | None = None) -> dict[str, object]:
        """The worker's answer: its outcome, or a hang or crash ("kind" says which)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"path": path, "seed": seed, "at": at}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"kind": "crash", "detail": f"worker gone (exit {self.proc.poll()})"}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return {"kind": "hang", "detail": f"no answer within {timeout:.0f} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return {"kind": "crash", "detail": f"worker died (exit {code})"}
        result: dict[str, object] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)  # the worker's own session: it and nothing else
            except ProcessLookupError:
                pass
        self.proc.wait()


def run_inputs(
    inputs: Iterable[tuple[int, str, bytes]],
    timeout: float = TIMEOUT,
    memory: int = MEMORY_LIMIT,
    keep: Path | None = None,
    progress: bool = False,
    at: Mapping[int, dict[str, int]] | None = None,
) -> Stats:
    """Run each (seed, family, bytes) in a worker; a hung or crashed worker is replaced. ``at``:
    sizes to explain the input of a seed at (always, with the fix search)."""
    stats = Stats()
    worker_ = _Worker(memory)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for i, (seed, family, data) in enumerate(inputs, 1):
                path = os.path.join(tmp, f"in{seed}.onnx")
                Path(path).write_bytes(data)
                t0 = time.perf_counter()
                res = worker_.run(path, seed, timeout, (at or {}).get(seed))
                kind = str(res["kind"])
                if kind in ("hang", "crash"):
                    worker_.close()
                    worker_ = _Worker(memory)
                seconds = float(res.get("seconds", time.perf_counter() - t0))  # type: ignore[arg-type]
                out = Outcome(seed, family, kind, seconds, float(res.get("peak_mb", 0.0)), str(res.get("detail", "")))  # type: ignore[arg-type]
                stats.outcomes.append(out)
                if keep is not None and out.kind in ("traceback", "hang", "crash"):
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / f"{kind}-{seed}.onnx").write_bytes(data)
                    (keep / f"{kind}-{seed}.txt").write_text(out.detail)
                if progress and (i % 100 == 0 or out.kind in ("traceback", "hang", "crash")):
                    extra = (
                        f"  {out.kind} seed {seed} ({family}): {out.detail.strip().splitlines()[-1:]}"
                        if (out.kind not in ("report", "error"))
                        else ""
                    )
                    print(f"[{i}] {stats.summary()}{extra}", file=sys.stderr, flush=True)
                os.unlink(path)
        finally:
            worker_.close()
    return stats


def campaign(
    seeds: range | list[int],
    timeout: float = TIMEOUT,
    memory: int = MEMORY_LIMIT,
    keep: Path | None = None,
    progress: bool = False,
) -> Stats:
    from tests.fuzz.corpus import make_input

    inputs = ((s, *make_input(s)) for s in seeds)
    return run_inputs(inputs, timeout, memory, keep, progress)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
