"""Op rules, one module per family; importing this package registers them all."""

from __future__ import annotations

import importlib
import pkgutil


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_load_all()
