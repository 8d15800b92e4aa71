"""Model files as users have them: what ``graphcheck check``, ``explain`` and ``gate`` analyse.

A file is recognized by its content (:mod:`graphcheck.frontends.formats`): ONNX is analysed as it
is; a ``.keras``, ``.h5``, SavedModel, ``.tflite`` or ``.pt2`` file is converted to ONNX first, in a
worker process under a time limit (:mod:`graphcheck.frontends.workers`, :mod:`graphcheck.frontends.convert`),
and its report names the framework's layers and the converter (``report.exporter``).

:func:`check_file` gives the report; :func:`converted` the converted ONNX file and its layer names
(for a command that needs the graph itself); :func:`prepare` converts many files at once (the gate's
scans: one worker per framework for all of them).

**Cache.** A converted file is kept by the SHA-256 of its content (a directory's: every file's path
and content), the axes asked dynamic, and the versions of the converter (the framework's packages
and graphcheck's conversion code): a registry re-checked in CI converts each file once. The cache
is ``$GRAPHCHECK_CACHE_DIR``, else the user's cache directory (``$XDG_CACHE_HOME/graphcheck`` or
``~/.cache/graphcheck``; ``~/Library/Caches/graphcheck`` on macOS, ``%LOCALAPPDATA%\\graphcheck\\Cache``
on Windows), under ``converted/``. A file the converter rejects is remembered as its error too (not a
timeout or a crash: those may be the machine's load). When the cache cannot be written, a temporary
one serves the process and those it starts.

Importing this module imports the standard library only (``graphcheck check model.onnx`` pays
nothing for it); the analysis, the workers and the front ends are imported when used.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphcheck.errors import GraphcheckError, ModelLoadError, UsageError
from graphcheck.frontends.formats import FORMATS, H5, KERAS, Format, detect, model_files

if TYPE_CHECKING:
    from graphcheck.api import Report
    from graphcheck.frontends.contract import Converted
    from graphcheck.frontends.workers import Job

__all__ = [
    "check_file",
    "converted",
    "prepare",
    "cache_dir",
    "detect",
    "model_files",
    "Format",
    "FORMATS",
    "CACHE_ENV",
]

CACHE_ENV = "GRAPHCHECK_CACHE_DIR"
CACHE_VERSION = 1


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
    for name in ("contract.py", "convert.py", "keras.py", "torch.py", "workers.py"):
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


def _convert(jobs: Sequence[Job]) -> dict[str, str]:
    """Convert jobs into the cache, one worker per framework family at a time in parallel; the errors
    of those that failed, by cache key (a converter's own error is cached, a hang or a crash not)."""
    from graphcheck.frontends import workers

    store = _store()
    limit = workers.timeout()
    families: dict[str, list[Job]] = {}
    for j in jobs:
        families.setdefault(j.fmt.family, []).append(j)
    errors: dict[str, str] = {}

    def family(group: list[Job]) -> None:
        try:
            _family(group)
        except Exception as exc:  # the machinery itself (a full disk): every file of the group says so
            for j in group:
                errors.setdefault(j.key, f"the conversion failed ({type(exc).__name__}: {exc})")

    def _family(group: list[Job]) -> None:
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=store))
        try:
            failed = workers.run(group, work, limit)
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


def _job(path: str, fmt: Format, target: str, dynamic: Sequence[str] = (), opset: int | None = None) -> Job:
    from graphcheck.frontends.workers import Job

    return Job(fmt, path, target, _key(fmt, target, dynamic, opset), tuple(sorted(dynamic)), opset)


def prepare(paths: Iterable[str], opset: int | None = None) -> dict[str, str]:
    """Convert every not yet cached file among ``paths`` in as few worker processes as possible (the
    gate's scans: one TensorFlow import for a directory of ``.keras`` files); returns the one-line
    errors by path. ONNX files and unrecognized paths are left to the analysis."""
    jobs: list[Job] = []
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


def _get(job: Job) -> tuple[Path, dict[str, Any]]:
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
