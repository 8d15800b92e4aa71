"""graphcheck.torch on the most common PyTorch model there is, through both exporters and every spec
form (issue 12): the dynamo exporter specializes its length, and the check must not fail.

The model: ``features = Sequential(Conv1d(1, 8, 11), ReLU, MaxPool1d(4), Conv1d(8, 8, 7, stride=3))``,
then ``AdaptiveAvgPool1d(1)``, ``Flatten``, ``Linear(8, 2)``. By PyTorch's (and ONNX's) formula
``out = floor((in + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``:

* ``features.0`` (k 11): ``L - 10 >= 1``;
* ``features.2`` (k 4, stride 4): ``floor((L - 10 - 4) / 4) + 1 = floor((L - 10) / 4) >= 1``;
* ``features.3`` (k 7, stride 3): ``floor((floor((L - 10) / 4) - 7) / 3) + 1 >= 1`` <=>
  ``floor((L - 10) / 4) >= 7`` <=> ``L - 10 >= 28`` <=> ``L >= 38``.

At ``L = 37``: 27, then 6, then ``floor(-1 / 3) + 1 = 0``: ``features.3`` fails. Each claim is checked
against eager PyTorch and, on the exported graphs, in onnxruntime.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from tests.frontends._shared import assert_membership, findings, layers_with, ort

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from torch import nn  # noqa: E402
from torch.export import Dim  # noqa: E402

import graphcheck.torch as gt  # noqa: E402
from graphcheck.frontends.contract import FrontendReport  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(1, 8, 11), nn.ReLU(), nn.MaxPool1d(4), nn.Conv1d(8, 8, 7, stride=3))
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 2)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.features(signal))))


def derived(n: int) -> bool:
    return n >= 38


# the user's spec, in each form the issue names; every one names the length "L" and the batch "N"
SPECS: dict[str, dict[str, Any]] = {
    "dynamic_axes": {"dynamic_axes": {"signal": {0: "N", 2: "L"}}},
    "dynamic_shapes_dims": {"dynamic_shapes": ({0: Dim("N"), 2: Dim("L", min=1)},)},
    "dynamic_shapes_names": {"dynamic_shapes": {"signal": (Dim("N"), None, "L")}},
}
CASES = [(spec, exporter) for spec in SPECS for exporter in ("dynamo", "legacy")]


@functools.cache
def net() -> nn.Module:
    torch.manual_seed(12)
    return Net().eval()


@functools.cache
def checked(spec: str, exporter: str, fallback: bool = True) -> FrontendReport:
    """``graphcheck.torch.check`` as a user calls it (each export once per test session)."""
    return gt.check(net(), (torch.randn(2, 1, 64),), exporter=exporter, fallback=fallback, **SPECS[spec])


def eager_ok(mod: nn.Module, *args: torch.Tensor) -> bool:
    try:
        with torch.no_grad():
            mod(*args)
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("spec, exporter", CASES, ids=[f"{s}-{e}" for s, e in CASES])
def test_the_common_cnn_gives_L_ge_38_and_names_features_3(spec: str, exporter: str) -> None:
    rep = checked(spec, exporter)
    assert [(i.name, i.dims) for i in rep.inputs] == [("signal", ("N", "1", "L"))]
    assert rep.valid == "L >= 38   (N: any >= 1)"
    assert_membership(rep, "L", derived, 200, N=1)
    assert layers_with(rep, "GC001") == [
        ("features.0", "Conv1d"),
        ("features.2", "MaxPool1d"),
        ("features.3", "Conv1d"),
    ]
    assert {d.layer: d.fails_for for d in findings(rep, "GC001")}["features.3"] == "L <= 37"
    assert rep.accepts({"L": 37, "N": 1}) is False
    ev = rep.at({"L": 37, "N": 1})
    assert ev.first_failure is not None
    assert rep.layers.of(ev.first_failure.node).name == "features.3"  # type: ignore[union-attr]
    text = rep.explain({"L": 37, "N": 1})
    assert "FAILS at features.3 (Conv1d)" in text and "feed L = 38" in text
    # which exporter produced the graph: the legacy one either way (torch.export specializes L)
    assert rep.exporter.startswith("torch.onnx legacy (TorchScript), torch 2.13")
    assert f"exported by {rep.exporter}" in str(rep)
    data = rep.to_dict()  # the JSON says it too, with every exporter tried
    assert data["exporter"] == rep.exporter and data["producer"].startswith("pytorch 2.13")
    assert [a["exporter"] for a in data["attempts"]] == [a.exporter for a in rep.attempts]
    assert any(a["outcome"] == "used" for a in data["attempts"])
    if exporter == "dynamo":
        (spec_finding,) = findings(rep, "GC108")
        assert spec_finding.symbols == ("L",)
        assert "torch.export fixed L (signal:2, asked dynamic) to 64" in spec_finding.message
        assert "guard Eq(L - 10, 54) at tests/frontends/test_torch_fallbacks.py:" in spec_finding.message
        assert (spec_finding.layer, spec_finding.layer_type) == ("features.2", "MaxPool1d")
        assert "GC108 exporter-specialized  features.2 (MaxPool1d)  torch.export fixed L" in str(rep)
        assert "the analysed graph is torch.onnx legacy (TorchScript)'s" in spec_finding.message
        assert rep.attempts[-1].outcome == "used"
    else:
        assert not findings(rep, "GC108") and [a.outcome for a in rep.attempts] == ["used"]


def test_the_dynamo_graph_itself_gives_L_ge_38() -> None:
    # fallback=False keeps to the dynamo exporter: Dim.AUTO keeps the ONNX length symbolic while
    # torch.export declares [64, 64] (GC107), and the module names come from the dynamo metadata
    rep = checked("dynamic_axes", "dynamo", False)
    assert rep.exporter.startswith("torch.onnx dynamo (torch.export, Dim.AUTO), torch 2.13")
    assert rep.valid == "L >= 38   (N: any >= 1)"
    assert_membership(rep, "L", derived, 200, N=1)
    assert layers_with(rep, "GC001")[-1] == ("features.3", "Conv1d")
    assert any(d.code == "GC107" and "[64, 64]" in d.message for d in rep.diagnostics)
    assert [d.code for d in findings(rep, "GC108")] == ["GC108"]


def test_both_exported_graphs_agree_with_onnxruntime_and_pytorch() -> None:
    mod = net()
    assert [eager_ok(mod, torch.randn(1, 1, n)) for n in (37, 38)] == [False, True]
    sizes = (11, 37, 38, 39, 100, 1000)
    shapes = [{"signal": (1, 1, n)} for n in sizes] + [{"signal": (3, 1, 38)}]
    graphs = [
        checked("dynamic_axes", "legacy").exported,
        checked("dynamic_axes", "dynamo").exported,  # the fallback: the legacy exporter's graph
        checked("dynamic_axes", "dynamo", False).exported,  # the dynamo exporter's (Dim.AUTO) graph
    ]
    results = ort([(e.proto, shapes) for e in graphs if e is not None])
    expected = [derived(n) for n in sizes] + [True]
    for e, res in zip(graphs, results):
        assert [r.nonempty for r in res] == expected, e.exporter if e is not None else ""


class Pinned(nn.Module):
    """A length the code itself pins: a branch on ``x.shape[2]``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] == 64:
            x = x * 2
        return self.conv(x)


def test_a_length_the_code_pins_is_a_finding_with_its_source_line() -> None:
    rep = gt.check(Pinned().eval(), (torch.randn(1, 1, 64),))
    line = inspect.getsourcelines(Pinned.forward)[1] + 1
    (spec,) = findings(rep, "GC108")
    assert f"tests/frontends/test_torch_fallbacks.py:{line} in forward: if x.shape[2] == 64:" in spec.message
    assert "guard Eq(x_len, 64)" in spec.message and "another path" in spec.fix
    # the analysed graph (the legacy exporter's trace of the 64 path) takes every length >= 3
    assert rep.valid == "x_len >= 3   (batch: any >= 1)"
    assert [r.nonempty for r in ort([(rep.exported.proto, [{"x": (1, 1, n)} for n in (2, 3, 100)])])[0]] == [  # type: ignore[union-attr]
        False,
        True,
        True,
    ]


class DataDependent(nn.Module):
    """torch.export cannot branch on a value (``x.sum() > 0``); the TorchScript tracer records one path."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            x = x + 1
        return self.conv(x)


def test_an_exporter_that_fails_is_a_finding_and_the_next_one_is_used() -> None:
    rep = gt.check(DataDependent().eval(), (torch.ones(1, 1, 32),))
    assert rep.exporter.startswith("torch.onnx legacy")
    assert [a.outcome.split(":")[0] for a in rep.attempts] == ["failed", "failed", "used"]
    (fallback,) = findings(rep, "GC109")
    assert fallback.severity == "info" and "torch.onnx dynamo (torch.export, Dim.DYNAMIC) failed" in fallback.message
    assert rep.valid == "x_len >= 5   (batch: any >= 1)"
    assert [r.nonempty for r in ort([(rep.exported.proto, [{"x": (1, 1, n)} for n in (4, 5)])])[0]] == [False, True]  # type: ignore[union-attr]
    assert layers_with(rep, "GC001") == [("conv", "Conv1d")]


def test_dynamic_shapes_by_parameter_name_with_other_input_names() -> None:
    # dynamic_shapes keyed by forward's parameter ("signal") while the ONNX input is called "audio"
    rep = gt.check(
        net(),
        (torch.randn(2, 1, 64),),
        exporter="legacy",
        input_names=["audio"],
        dynamic_shapes={"signal": {2: "L"}},
    )
    assert [(i.name, i.dims) for i in rep.inputs] == [("audio", ("2", "1", "L"))]
    assert rep.valid == "L >= 38"
