"""Model files as users have them, recognized by their content: ONNX, or converted to ONNX first.

=====================  ============================================  =====================  =========
format                 recognized by                                 converted with         extra
=====================  ============================================  =====================  =========
ONNX                   anything else (the ONNX loader decides)       (read as it is)        (none)
Keras 3 ``.keras``     a zip with ``config.json`` and                ``keras.saving.load_   ``keras``
                       ``metadata.json``/``model.weights.h5``        model``, then the
                                                                     Keras front end
Keras ``.h5``          the HDF5 signature                            the same               ``keras``
TF SavedModel          a directory with ``saved_model.pb``           tf2onnx (the serving   ``keras``
                       (or that file itself)                         signature)
TFLite ``.tflite``     the flatbuffer identifier ``TFL3``            tf2onnx's TFLite path  ``keras``
torch.export ``.pt2``  a zip with ``archive_format`` = ``pt2``       ``torch.export.load``, ``torch``
                                                                     then the dynamo
                                                                     exporter
=====================  ============================================  =====================  =========

The extension plays no part in recognizing a file (a ``.bin`` holding a ``.keras`` archive is a Keras
model); it only selects the candidates of a directory scan (:func:`model_files`).

**Converting.** Each conversion runs in a worker process (``python -m graphcheck.frontends.convert``)
under a time limit per file (``GRAPHCHECK_CONVERT_TIMEOUT`` seconds, default 300): a file that
hangs or crashes the framework's loader is a one-line error, never a hung or crashed gate. One worker
converts every file of a framework family in turn (TensorFlow is imported once for a directory of
``.keras`` files); one that hangs or crashes is named and a new worker takes the files after it.

**Cache.** A converted file is kept by the SHA-256 of its content (a directory's: every file's path
and content), the axes asked dynamic, and the versions of the converter (the framework's packages
and graphcheck's conversion code): a registry re-checked in CI converts each file once. The cache
is ``$GRAPHCHECK_CACHE_DIR``, else the user's cache directory (``$XDG_CACHE_HOME/graphcheck`` or
``~/.cache/graphcheck``; ``~/Library/Caches/graphcheck`` on macOS, ``%LOCALAPPDATA%\\graphcheck\\Cache``
on Windows), under ``converted/``. A file the converter rejects is remembered as its error too (not a
timeout or a crash: those may be the machine's load). When the cache cannot be written, conversions
go to a temporary directory for the process.

Importing this module imports the standard library only (``graphcheck check model.onnx`` pays
nothing for it); the analysis and the front ends are imported when used.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError, ModelLoadError, UsageError

if TYPE_CHECKING:
    from graphcheck.api import Report
    from graphcheck.frontends.contract import Converted

__all__ = [
    "Format",
    "FORMATS",
    "MODEL_SUFFIXES",
    "detect",
    "model_files",
    "converted",
    "prepare",
    "check_file",
    "cache_dir",
    "CACHE_ENV",
    "TIMEOUT_ENV",
    "DEFAULT_TIMEOUT",
]

CACHE_ENV = "GRAPHCHECK_CACHE_DIR"
TIMEOUT_ENV = "GRAPHCHECK_CONVERT_TIMEOUT"
DEFAULT_TIMEOUT = 300  # seconds per file, the framework's import included for the first one
CACHE_VERSION = 1
WORKER = "graphcheck.frontends.convert"


@dataclass(frozen=True)
class Format:
    """A model format converted to ONNX before the analysis."""

    key: str  # "keras", "h5", "savedmodel", "tflite", "pt2"
    what: str  # "Keras 3 model": how the one-line errors name it
    extra: str  # graphcheck's extra that installs the converter ("keras", "torch")
    modules: tuple[str, ...]  # what the conversion imports
    family: str  # "tf" or "torch": the formats one worker process converts
    dists: tuple[str, ...]  # the distributions whose versions key the cache


_TF_DISTS = ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx")
KERAS = Format("keras", "Keras 3 model", "keras", ("tensorflow", "keras", "tf2onnx"), "tf", _TF_DISTS)
H5 = Format("h5", "Keras .h5 model", "keras", ("tensorflow", "keras", "tf2onnx", "h5py"), "tf", _TF_DISTS)
SAVEDMODEL = Format("savedmodel", "TensorFlow SavedModel", "keras", ("tensorflow", "tf2onnx"), "tf", _TF_DISTS)
TFLITE = Format("tflite", "TensorFlow Lite model", "keras", ("tensorflow", "tf2onnx"), "tf", _TF_DISTS)
PT2 = Format("pt2", "torch.export program", "torch", ("torch", "onnxscript"), "torch", ("torch", "onnxscript", "onnx"))
FORMATS = {f.key: f for f in (KERAS, H5, SAVEDMODEL, TFLITE, PT2)}

# a directory scan's candidates (each then recognized by its content); SavedModel directories too
MODEL_SUFFIXES = (".onnx", ".keras", ".h5", ".hdf5", ".tflite", ".pt2")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = b"PK\x03\x04"


# --------------------------------------------------------------------------- recognizing a file


def _is_saved_model_dir(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, name)) for name in _SAVED_MODEL_FILES)


def _zip_format(path: str) -> Format | None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            top = {n for n in names if "/" not in n}
            if "config.json" in top and ({"metadata.json", "model.weights.h5"} & top):
                return KERAS
            # torch.export.save: <archive name>/archive_format holding "pt2"
            marker = next((n for n in names if n.rsplit("/", 1)[-1] == "archive_format"), None)
            if marker is not None and z.getinfo(marker).file_size <= 64:
                if z.read(marker).strip() == b"pt2":
                    return PT2
    except Exception:  # a damaged zip: not one of these (the ONNX loader gives today's error)
        return None
    return None


def detect(path: str | os.PathLike[str]) -> tuple[Format, str] | None:
    """The format of a model file or directory and the path to convert, by content; ``None`` for
    ONNX and for anything not recognized (the ONNX loader reads it, or says in one line why not)."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return (SAVEDMODEL, p) if _is_saved_model_dir(p) else None
    if not stat.S_ISREG(st.st_mode):
        return None
    if os.path.basename(p) in _SAVED_MODEL_FILES:  # the SavedModel's own graph file: its directory
        return SAVEDMODEL, os.path.dirname(os.path.abspath(p))
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(_HDF5):
        return H5, p
    if len(head) == 8 and head[4:8] == b"TFL3":  # a flatbuffer's file identifier, after the root offset
        return TFLITE, p
    if head.startswith(_ZIP):
        fmt = _zip_format(p)
        return (fmt, p) if fmt is not None else None
    return None


def model_files(directory: str | os.PathLike[str]) -> list[str]:
    """A directory scan's models, sorted: files with a model suffix and SavedModel directories (not
    descended into), below ``directory``."""
    out: list[str] = []
    root = os.fspath(directory)
    if _is_saved_model_dir(root):
        return [root]
    for dirpath, dirnames, filenames in os.walk(root):
        keep = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if _is_saved_model_dir(full):
                out.append(full)
            else:
                keep.append(d)
        dirnames[:] = keep
        out.extend(os.path.join(dirpath, f) for f in filenames if f.lower().endswith(MODEL_SUFFIXES))
    return sorted(out)


# --------------------------------------------------------------------------- the cache


def cache_dir() -> Path:
    """``$GRAPHCHECK_CACHE_DIR``, else the platform's user cache directory (see the module doc)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return Path(base) / "graphcheck" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "graphcheck"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphcheck"


_writable: set[Path] = set()  # cache directories found writable in this process


def _store() -> Path:
    """The directory converted files go to (created): the cache's ``converted/``; when it cannot be
    written, a temporary cache for this process and the processes it starts (the gate's ``-j``)."""
    target = cache_dir() / "converted"
    if target in _writable:
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, prefix=".probe-"):
            pass
        _writable.add(target)
        return target
    except OSError:
        tmp = tempfile.mkdtemp(prefix="graphcheck-cache-")
        atexit.register(shutil.rmtree, tmp, True)
        os.environ[CACHE_ENV] = tmp
        target = Path(tmp) / "converted"
        target.mkdir()
        return target


def _hash_file(h: Any, path: str) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


_hashed: dict[tuple[str, int, int], str] = {}  # a file's hash by (path, mtime, size): the gate hashes twice


def _content_hash(path: str) -> str:
    """SHA-256 of a file, or of a directory's files (relative paths and contents, in sorted order)."""
    if not os.path.isdir(path):
        st = os.stat(path)
        memo = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
        if memo not in _hashed:
            h = hashlib.sha256()
            _hash_file(h, path)
            _hashed[memo] = h.hexdigest()
        return _hashed[memo]
    h = hashlib.sha256()  # a directory (a SavedModel)
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            h.update(f"{len(rel)}:{rel}:{os.path.getsize(full)}:".encode())
            _hash_file(h, full)
    return h.hexdigest()


@functools.cache
def _versions(fmt: Format) -> dict[str, str]:
    from importlib import metadata

    out: dict[str, str] = {}
    for dist in fmt.dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


@functools.lru_cache(maxsize=1)
def _code_hash() -> str:
    """graphcheck's conversion code (a changed converter never reuses an older conversion)."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in ("contract.py", "convert.py", "keras.py", "torch.py"):
        _hash_file(h, str(here / name))
    return h.hexdigest()


def _key(fmt: Format, target: str, dynamic: Sequence[str], opset: int | None) -> str:
    from graphcheck.version import __version__

    setup = {
        "cache": CACHE_VERSION,
        "graphcheck": __version__,
        "code": _code_hash(),
        "format": fmt.key,
        "dynamic": sorted(dynamic),
        "opset": opset,
        "versions": _versions(fmt),
    }
    h = hashlib.sha256(json.dumps(setup, sort_keys=True).encode())
    h.update(_content_hash(target).encode())
    return h.hexdigest()


def _lookup(key: str) -> tuple[Path, dict[str, Any]] | None:
    store = _store()
    meta_path = store / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    onnx_path = store / f"{key}.onnx"
    if "error" not in meta and not onnx_path.is_file():
        return None
    return onnx_path, meta


# --------------------------------------------------------------------------- converting


@dataclass(frozen=True)
class _Job:
    fmt: Format
    source: str  # the user's path (for messages)
    target: str  # what the converter reads (a SavedModel's directory)
    key: str
    dynamic: tuple[str, ...] = ()
    opset: int | None = None


def _installed(fmt: Format, source: str) -> None:
    """The one-line error naming the extra when the format's converter is not installed."""
    from importlib.util import find_spec

    for mod in fmt.modules:
        try:
            found = find_spec(mod) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise GraphcheckError(f"{source}: this is a {fmt.what}: pip install 'graphcheck[{fmt.extra}]'")


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise GraphcheckError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds") from None
    return value if value > 0 else float(DEFAULT_TIMEOUT)


def _worker_command(jobs_file: str, indices: Sequence[int]) -> list[str]:
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


def _run_worker(jobs: Sequence[_Job], work: Path, timeout: float) -> dict[int, str]:
    """Convert ``jobs`` in worker processes; the errors of those that hung or crashed, by index.

    Each job's result is the worker's ``<i>.json`` (and ``<i>.onnx``) in ``work``; a worker reports
    ``done <i>`` after each. A job with no report within ``timeout`` seconds of the one before it (of
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
                _worker_command(str(jobs_file), remaining),
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
                    line = lines.get(timeout=timeout)
                    if line is None or line == f"done {i}":
                        break
            except queue.Empty:
                _kill(proc)
                errors[i] = f"the conversion did not finish within {timeout:g} s ({TIMEOUT_ENV})"
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


def _convert(jobs: Sequence[_Job]) -> dict[str, str]:
    """Convert jobs into the cache, one worker per framework family at a time in parallel; the errors
    of those that failed, by cache key (a converter's own error is cached, a hang or a crash not)."""
    store = _store()
    timeout = _timeout()
    families: dict[str, list[_Job]] = {}
    for j in jobs:
        families.setdefault(j.fmt.family, []).append(j)
    errors: dict[str, str] = {}

    def family(group: list[_Job]) -> None:
        try:
            _family(group)
        except Exception as exc:  # the machinery itself (a full disk): every file of the group says so
            for j in group:
                errors.setdefault(j.key, f"the conversion failed ({type(exc).__name__}: {exc})")

    def _family(group: list[_Job]) -> None:
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=store))
        try:
            failed = _run_worker(group, work, timeout)
            for i, j in enumerate(group):
                if i in failed:
                    errors[j.key] = failed[i]
                    continue
                try:
                    meta = json.loads((work / f"{i}.json").read_text())
                except (OSError, ValueError):
                    errors[j.key] = "the converter gave no result for this file"
                    continue
                if "error" in meta:
                    errors[j.key] = str(meta["error"])
                    if not meta.get("cache", True):
                        continue
                else:
                    os.replace(work / f"{i}.onnx", store / f"{j.key}.onnx")
                os.replace(work / f"{i}.json", store / f"{j.key}.json")  # last: it marks the entry done
        finally:
            shutil.rmtree(work, ignore_errors=True)

    threads = [threading.Thread(target=family, args=(g,)) for g in families.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _job(path: str, fmt: Format, target: str, dynamic: Sequence[str] = (), opset: int | None = None) -> _Job:
    return _Job(fmt, path, target, _key(fmt, target, dynamic, opset), tuple(sorted(dynamic)), opset)


def prepare(paths: Iterable[str], opset: int | None = None) -> dict[str, str]:
    """Convert every not yet cached file among ``paths`` in as few worker processes as possible (the
    gate's scans: one TensorFlow import for a directory of ``.keras`` files); returns the one-line
    errors by path. ONNX files and unrecognized paths are left to the analysis."""
    jobs: list[_Job] = []
    errors: dict[str, str] = {}
    for p in paths:
        found = detect(p)
        if found is None:
            continue
        fmt, target = found
        try:
            job = _job(p, fmt, target, opset=opset)
            if _lookup(job.key) is None:
                _installed(fmt, p)
                jobs.append(job)
        except GraphcheckError as exc:
            errors[p] = str(exc)
        except OSError as exc:
            errors[p] = f"{p}: cannot read ({exc.strerror or exc})"
    if jobs:
        failed = _convert(jobs)
        for j in jobs:
            if j.key in failed:
                errors[j.source] = f"{j.source}: {failed[j.key]}"
    return errors


def _get(job: _Job) -> tuple[Path, dict[str, Any]]:
    """The job's converted file and meta data, from the cache or converted now; its error raised."""
    hit = _lookup(job.key)
    if hit is None:
        _installed(job.fmt, job.source)
        failed = _convert([job])
        if job.key in failed:
            raise ModelLoadError(f"{job.source}: {failed[job.key]}")
        hit = _lookup(job.key)
        if hit is None:
            raise ModelLoadError(f"{job.source}: the converted model was not kept (is {cache_dir()} writable?)")
    if "error" in hit[1]:
        raise ModelLoadError(f"{job.source}: {hit[1]['error']}")
    return hit


def _fixed_axes(onnx_path: Path, axes: Sequence[str]) -> list[str]:
    """Those of the ``input:axis`` addresses that are fixed sizes in the converted graph."""
    from graphcheck.model.load import load

    shapes = {vi.name: vi.shape for vi in load(onnx_path).inputs}
    out = []
    for address in axes:
        name, _, axis = address.rpartition(":")
        shape = shapes.get(name)
        if shape is not None and int(axis) < len(shape) and isinstance(shape[int(axis)], int):
            out.append(address)
    return out


def converted(
    path: str | os.PathLike[str],
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    opset: int | None = None,
) -> Converted | None:
    """The ONNX conversion of a model file of another framework (from the cache, or converted now),
    or ``None`` when ``path`` is read as ONNX. What ``check``, ``explain``, ``gate`` (and any command
    taking a model file) share: the converted ``.path`` is an ONNX file, ``.info`` the layer names.

    A Keras model's axis saved fixed (``keras.Input((64, 1))``) that ``dims`` makes symbolic
    (``{"signal:1": "L"}``) is exported dynamic, as ``graphcheck.keras.check`` does (one more
    conversion, cached too): which lengths would the model accept?
    """
    p = os.fspath(path)
    found = detect(p)
    if found is None:
        return None
    from graphcheck.frontends.contract import converted_from_dict, normalize_dims, symbolic_axes

    fmt, target = found
    try:
        onnx_path, meta = _get(_job(p, fmt, target, opset=opset))
        wanted = symbolic_axes(normalize_dims(dims)) if fmt in (KERAS, H5) else []
        fixed = _fixed_axes(onnx_path, wanted) if wanted else []
        if fixed:
            onnx_path, meta = _get(_job(p, fmt, target, fixed, opset))
    except OSError as exc:
        raise ModelLoadError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        return converted_from_dict(meta, str(onnx_path), p, fmt.what)
    except (KeyError, TypeError, ValueError):
        raise ModelLoadError(f"{p}: the conversion cache entry {onnx_path.with_suffix('.json')} is damaged") from None


def check_file(
    path: str | os.PathLike[str],
    dims: Mapping[str, int | str] | Sequence[str] | None = None,
    *,
    semantics: str = "spec",
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Analyse a model file of any of the formats (the module doc): what ``graphcheck check``,
    ``explain`` and ``gate`` run. A converted file's report names the framework's layers and says
    which converter produced the analysed graph (``report.exporter``)."""
    if semantics not in ("spec", "ort"):
        raise UsageError(f"semantics must be 'spec' or 'ort', got {semantics!r}")
    conv = converted(path, dims)
    if conv is None:
        from graphcheck.api import check

        return check(path, dims, semantics=semantics, progress=progress)
    from graphcheck.frontends.contract import file_report

    return file_report(conv, dims, semantics=semantics, progress=progress)
