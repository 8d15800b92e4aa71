"""The emitted ``dynamic_shapes`` are accepted by torch.export: each fixture's PyTorch module (from
fixtures/make_torch.py) is re-exported with them, at the first profile's opt sizes, and the ranges torch
records for its symbols are the ones emitted (a divisibility as ``8 * Dim``, not a plain range)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import graphcheck

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'graphcheck[torch]')")

ROOT = Path(__file__).resolve().parents[2]


def _make_torch() -> ModuleType:
    sys.path.insert(0, str(ROOT / "fixtures"))
    try:
        spec = importlib.util.spec_from_file_location("make_torch", ROOT / "fixtures" / "make_torch.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["make_torch"] = mod
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT / "fixtures"))


MAKE = _make_torch()
CASES = {  # fixture -> the bounds and opt asked, what torch must record for the dynamic sizes
    "unet": (
        {"batch": 4, "height": 512, "width": 256},
        {"height": 64, "width": 48},
        # torch records the multiplier of a derived dim from 2 (its 0/1 specialization): 16.., not 8..
        {"batch": (1, 4), "height": (16, 512), "width": (16, 256)},
    ),
    "transformer_posemb": ({"batch": 8}, {}, {"batch": (1, 8), "seq_len": (1, 64)}),
    "transformer_mha_dynamo": ({"batch": 8}, {}, {"batch": (1, 8), "seq_len": (1, 64)}),
}
# Not here: modules whose own code torch.export cannot keep dynamic over the proven range (torch 2.13):
# MaxPool1d specializes the length (torch_conv1d_*), and torch_cnn2d's broadcasts add guards that an
# intermediate size is not 1, which exclude valid widths 27..34.


def _recorded(ep: Any, dims: tuple[int | str, ...]) -> dict[str, tuple[int, int]]:
    """torch's range for each dynamic axis of the (one) user input, by the axis's ONNX symbol."""
    sig = ep.graph_signature
    node = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name in sig.user_inputs)
    out: dict[str, tuple[int, int]] = {}
    for axis, d in enumerate(dims):
        if isinstance(d, int):
            continue
        expr = node.meta["val"].shape[axis].node.expr
        (base,) = expr.free_symbols
        vr = ep.range_constraints[base]
        lo, hi = int(expr.subs(base, int(vr.lower))), int(expr.subs(base, int(vr.upper)))
        out[d] = (lo, hi)
    return out


def _param(module: Any) -> str:
    return next(iter(inspect.signature(module.forward).parameters))


@pytest.mark.parametrize("name", list(CASES))
def test_dynamic_shapes_are_accepted_by_torch_export(name: str) -> None:
    bounds, opt_asked, expected = CASES[name]
    fx = MAKE.FIXTURES[name]
    module, _ = MAKE._build(fx)
    names = {"s70": "seq_len", "s72": "batch"} if name.endswith("_dynamo") else None  # torch's names, renamed
    report = graphcheck.check(str(ROOT / "fixtures" / f"{name}.onnx"), names)
    text = report.emit("torch-dynamic-shapes", max=bounds, opt=opt_asked)
    scope: dict[str, Any] = {}
    exec(text, scope)
    plan = report.deploy_plan(max=bounds, opt=opt_asked)
    (inp,) = plan.inputs
    assert inp.dims is not None
    opt = plan.profiles[0].point("opt")
    sizes = {d: max(opt[d], 2) for d in inp.dims if isinstance(d, str)}  # torch specializes sizes 0 and 1
    assert report.accepts(sizes) is True
    shape = tuple(d if isinstance(d, int) else sizes[d] for d in inp.dims)
    example = torch.randn(shape) if inp.elem_type == 1 else torch.randint(0, 50, shape)
    ep = torch.export.export(module, (example,), dynamic_shapes={_param(module): scope["dynamic_shapes"][inp.name]})
    assert _recorded(ep, inp.dims) == expected, text
    for d, (lo, hi) in expected.items():  # what torch now admits is proven valid at its ends
        assert report.accepts({**sizes, d: lo}) is True and report.accepts({**sizes, d: hi}) is True
    if name == "unet":
        assert "height = 8 * height_k" in text and 'height_k = Dim("height_k", min=1, max=64)' in text


def test_a_plain_range_where_the_set_is_a_divisibility_is_refused_by_torch() -> None:
    """Why the emitted U-Net Dims are ``8 * Dim``: torch.export refuses the plain range over the same sizes."""
    fx = MAKE.FIXTURES["unet"]
    module, _ = MAKE._build(fx)
    height, width = torch.export.Dim("height", min=8, max=512), torch.export.Dim("width", min=8, max=256)
    shapes = {_param(module): {2: height, 3: width}}
    with pytest.raises(Exception, match="height|width"):
        torch.export.export(module, (torch.randn(2, 1, 64, 48),), dynamic_shapes=shapes)
