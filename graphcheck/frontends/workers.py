"""The conversion worker processes: model files converted to ONNX in ``python -m
graphcheck.frontends.convert``, each file under a time limit.

A worker converts a list of files of one framework family in turn (TensorFlow is imported once for
a directory of ``.keras`` files) and reports ``done <i>`` after each. A file with no report within
the time limit (``GRAPHCHECK_CONVERT_TIMEOUT`` seconds, default :data:`DEFAULT_TIMEOUT`; the
framework's import counts toward a worker's first file) is killed with its worker, a worker that
dies names the file it was on; either way that file is one error line and a new worker takes the
files after it: a file that hangs or crashes the framework's loader never hangs or crashes the gate.
The standard library only.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphcheck.errors import GraphcheckError
from graphcheck.frontends.formats import Format

__all__ = ["Job", "run", "timeout", "worker_command", "TIMEOUT_ENV", "DEFAULT_TIMEOUT", "WORKER"]

TIMEOUT_ENV = "GRAPHCHECK_CONVERT_TIMEOUT"
DEFAULT_TIMEOUT = 300  # seconds per file, the framework's import included for a worker's first one
WORKER = "graphcheck.frontends.convert"


@dataclass(frozen=True)
class Job:
    """One file to convert."""

    fmt: Format
    source: str  # the user's path (for messages)
    target: str  # what the converter reads (a SavedModel's directory)
    key: str  # where the result goes in the cache
    dynamic: tuple[str, ...] = ()  # input axes exported dynamic (a Keras model's fixed ones named by --dim)
    opset: int | None = None


def timeout() -> float:
    """The time limit per file, in seconds."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise GraphcheckError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds") from None
    return value if value > 0 else float(DEFAULT_TIMEOUT)


def worker_command(jobs_file: str, indices: Sequence[int]) -> list[str]:
    return [sys.executable, "-m", WORKER, jobs_file, *map(str, indices)]


def _worker_env() -> dict[str, str]:
    """The worker imports this graphcheck: its directory goes first on PYTHONPATH, unless it is the
    interpreter's own site-packages (which must not come before the standard library)."""
    import sysconfig

    env = dict(os.environ)
    root = os.path.realpath(Path(__file__).resolve().parent.parent.parent)
    site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if root not in site:
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass
    proc.wait()


def _crash(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the converter crashed on this file ({name})"
    return f"the converter exited with status {code} on this file"


def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
    """The worker's report lines into ``lines``, then ``None`` at its end."""
    for raw in stream:
        lines.put(raw.decode("utf-8", "replace").strip())
    lines.put(None)


def run(jobs: Sequence[Job], work: Path, limit: float) -> dict[int, str]:
    """Convert ``jobs`` in worker processes; the errors of those that hung or crashed, by index.

    Each job's result is the worker's ``<i>.json`` (and ``<i>.onnx``) in ``work``; a worker reports
    ``done <i>`` after each. A job with no report within ``limit`` seconds of the one before it (of
    the start, for the first) is killed with its worker; a new worker takes the jobs after it.
    """
    spec = [
        {
            "format": j.fmt.key,
            "source": j.target,
            "onnx": str(work / f"{i}.onnx"),
            "meta": str(work / f"{i}.json"),
            "dynamic": list(j.dynamic),
            "opset": j.opset,
        }
        for i, j in enumerate(jobs)
    ]
    jobs_file = work / "jobs.json"
    jobs_file.write_text(json.dumps(spec))
    errors: dict[int, str] = {}
    remaining = list(range(len(jobs)))
    while remaining:
        with open(work / "stderr.log", "wb") as err:
            proc = subprocess.Popen(
                worker_command(str(jobs_file), remaining),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=_worker_env(),
                start_new_session=os.name == "posix",
            )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        stopped = None
        for pos, i in enumerate(remaining):
            try:
                while True:
                    line = lines.get(timeout=limit)
                    if line is None or line == f"done {i}":
                        break
            except queue.Empty:
                _kill(proc)
                errors[i] = f"the conversion did not finish within {limit:g} s ({TIMEOUT_ENV})"
                stopped = pos
                break
            if line is None:  # the worker died before reporting this job
                errors[i] = _crash(proc.wait())
                stopped = pos
                break
        if stopped is None:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            break
        if proc.stdout is not None:
            proc.stdout.close()
        remaining = remaining[stopped + 1 :]
    return errors
