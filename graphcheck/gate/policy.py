"""Gate policy files: ``[tool.graphcheck]`` in pyproject.toml, or a ``graphcheck.toml``.

::

    [tool.graphcheck]                 # graphcheck.toml may leave this header out
    require = ["N in 1..64"]          # for every model
    fail-on = "never"                 # findings (other than conditions) that block: error|warning|info|never
    allow-unknown = false
    severity = { GC107 = "error" }    # per-code severity overrides

    [[tool.graphcheck.model]]
    path = "models/asr*.onnx"         # a glob, relative to the policy file (or name = "asr" for a registry model)
    require = ["L in 8000..480000"]
    dims = ["N=1"]
    fail-on = "warning"

Settings of every matching ``model`` entry are added to (requirements, dims, severity) or
override (fail-on, allow-unknown) the top-level ones.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from graphcheck.errors import UsageError
from graphcheck.gate.require import parse_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FAIL_ON = ("error", "warning", "info", "never")
_TOP_KEYS = {"require", "dims", "fail-on", "allow-unknown", "severity", "model"}
_MODEL_KEYS = {"path", "name", "require", "dims", "fail-on", "allow-unknown", "severity"}


@dataclass(frozen=True)
class Settings:
    """The effective gate settings for one model."""

    require: tuple[str, ...] = ()
    dims: tuple[str, ...] = ()
    fail_on: str = "never"
    allow_unknown: bool = False
    severity: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelRule:
    path: str | None
    name: str | None
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Policy:
    source: Path | None
    base: Mapping[str, Any]
    models: tuple[ModelRule, ...] = ()

    def settings_for(self, model: str) -> Settings:
        req = list(self.base.get("require", []))
        dims = list(self.base.get("dims", []))
        sev = dict(self.base.get("severity", {}))
        fail_on = self.base.get("fail-on", "never")
        allow = self.base.get("allow-unknown", False)
        for rule in self.models:
            if self._matches(rule, model):
                s = rule.settings
                req += s.get("require", [])
                dims += s.get("dims", [])
                sev.update(s.get("severity", {}))
                fail_on = s.get("fail-on", fail_on)
                allow = s.get("allow-unknown", allow)
        return Settings(tuple(req), tuple(dims), fail_on, bool(allow), sev)

    def _matches(self, rule: ModelRule, model: str) -> bool:
        if model.startswith("models:/"):
            name = model[len("models:/") :].split("/")[0].split("@")[0]
            return rule.name is not None and fnmatch.fnmatchcase(name, rule.name)
        if rule.path is None:
            return False
        root = self.source.parent if self.source is not None else Path.cwd()
        try:
            rel = Path(model).resolve().relative_to(root.resolve())
        except ValueError:
            rel = Path(model)
        return PurePosixPath(rel.as_posix()).match(rule.path) or fnmatch.fnmatchcase(rel.as_posix(), rule.path)


def _check_table(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    for key in ("require", "dims"):
        v = table.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise UsageError(f"{where}: {key} must be a list of strings")
    for r in table.get("require", []):
        parse_requirement(r)
    fo = table.get("fail-on")
    if fo is not None and fo not in FAIL_ON:
        raise UsageError(f"{where}: fail-on must be one of {', '.join(FAIL_ON)}, got {fo!r}")
    if "allow-unknown" in table and not isinstance(table["allow-unknown"], bool):
        raise UsageError(f"{where}: allow-unknown must be true or false")
    sev = table.get("severity", {})
    if not isinstance(sev, dict) or not all(v in ("error", "warning", "info", "note") for v in sev.values()):
        raise UsageError(f"{where}: severity maps codes to error, warning or info")


def load_policy(path: str | Path | None = None, start: Path | None = None) -> Policy:
    """Read a policy file; without a path, look for graphcheck.toml or pyproject.toml upwards from ``start``."""
    if path is None:
        found = _discover(start or Path.cwd())
        if found is None:
            return Policy(None, {})
        path = found
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"{p}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{p}: cannot read policy ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p}: invalid TOML ({exc})") from None
    table = data.get("tool", {}).get("graphcheck")
    if table is None:
        if p.name == "pyproject.toml":
            return Policy(p, {})
        table = data
    where = f"{p} [tool.graphcheck]" if "tool" in data else str(p)
    _check_table(table, _TOP_KEYS, where)
    models = []
    for i, m in enumerate(table.get("model", [])):
        _check_table(m, _MODEL_KEYS, f"{where} model #{i + 1}")
        if "path" not in m and "name" not in m:
            raise UsageError(f"{where} model #{i + 1}: needs a path (glob) or a name (registry model)")
        models.append(ModelRule(m.get("path"), m.get("name"), m))
    base = {k: v for k, v in table.items() if k != "model"}
    return Policy(p, base, tuple(models))


def _discover(start: Path) -> Path | None:
    for d in [start, *start.resolve().parents]:
        cand = d / "graphcheck.toml"
        if cand.is_file():
            return cand
        py = d / "pyproject.toml"
        if py.is_file():
            try:
                if "graphcheck" in tomllib.loads(py.read_text()).get("tool", {}):
                    return py
            except (OSError, tomllib.TOMLDecodeError):
                return None
        if (d / ".git").exists():
            break
    return None
