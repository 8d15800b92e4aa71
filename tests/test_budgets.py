"""README's "Budgets and bounds" is the code's: every row's value is the constant's, and every budget
constant of the analyzer has a row (a new limit must be documented where users look for it)."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `([\w.]+)` \| `([\w/.]+)\.py` \| ([\d,]+) \| (.+) \|$")
BUDGET_NAME = re.compile(
    r"^(_?[A-Z][A-Z0-9_]*(?:LIMIT|WORK|STEPS|PERIOD|BITS|DEPTH|_MAX|CANDIDATES|_NODES))\s*[:=]", re.M
)
# constants that match the pattern but bound no work: how many values a set's wording lists, the
# size under which a declared-dynamic axis counts as pinned (GC007), a derived value, MLflow's tag size
NOT_BUDGETS = {"FINITE_LIST_LIMIT", "PINNED_LIMIT", "_COEF_MAX", "TAG_VALUE_LIMIT"}


def _rows() -> list[tuple[str, str, int, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("<!-- budgets:start -->")[1].split("<!-- budgets:end -->")[0]
    rows = []
    for line in section.strip().splitlines()[2:]:
        m = ROW.match(line)
        assert m is not None, f"a malformed budgets row: {line}"
        rows.append((m.group(1), m.group(2).replace("/", "."), int(m.group(3).replace(",", "")), m.group(4)))
    return rows


def _value(module: str, name: str) -> int:
    mod = importlib.import_module(module)
    if "." in name:  # a function's keyword default: two_products.limit
        fn, arg = name.split(".")
        default = inspect.signature(getattr(mod, fn)).parameters[arg].default
        assert isinstance(default, int)
        return default
    value = getattr(mod, name)
    assert isinstance(value, int)
    return value


def test_every_budget_row_is_the_code() -> None:
    rows = _rows()
    assert len(rows) >= 20
    for name, module, value, meaning in rows:
        assert _value(module, name) == value, f"README says {name} = {value} in {module}"
        assert len(meaning) > 20, name


def test_every_budget_constant_is_documented() -> None:
    documented = {(module, name) for name, module, _, _ in _rows()}
    missing = []
    for path in sorted((ROOT / "graphcheck").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for name in BUDGET_NAME.findall(path.read_text()):
            if name not in NOT_BUDGETS and (module, name) not in documented:
                missing.append(f"{module}.{name}")
    assert not missing, f"budgets missing from README's 'Budgets and bounds': {missing}"
