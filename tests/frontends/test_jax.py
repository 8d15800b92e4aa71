"""graphcheck.jax on a Flax NNX conv stack exported by jax2onnx: the same report object, findings in
module paths, every claim checked in onnxruntime and against JAX itself.

The model (channels last, as Flax is): ``conv_a = Conv(1, 8, (11,), VALID)``, ``relu``,
``max_pool((4,), strides (4,))``, ``block.conv = Conv(8, 8, (7,), strides (3,), VALID)`` inside a
``Block`` module, mean over the steps, ``head = Linear(8, 2)``. By the formula
``out = floor((in - dilation*(kernel - 1) - 1) / stride) + 1``: ``conv_a`` gives ``L - 10``, the pool
``floor((L - 10) / 4)``, ``block.conv`` ``floor((floor((L - 10) / 4) - 7) / 3) + 1 >= 1`` <=> ``L >= 38``
(the arithmetic of issue 12's PyTorch model). At ``L = 37`` ``block.conv`` gives 0 steps.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

import pytest

from tests.frontends._shared import assert_membership, findings, layers_with, ort, symbolic

jax = pytest.importorskip("jax")
nnx = pytest.importorskip("flax.nnx")
pytest.importorskip("jax2onnx")

import jax.numpy as jnp  # noqa: E402
import onnx  # noqa: E402

import graphcheck  # noqa: E402
import graphcheck.jax as gj  # noqa: E402
from graphcheck._frontend import FrontendReport  # noqa: E402


class Block(nnx.Module):  # type: ignore[misc]
    def __init__(self, rngs: Any) -> None:
        self.conv = nnx.Conv(8, 8, kernel_size=(7,), strides=(3,), padding="VALID", rngs=rngs)

    def __call__(self, x: Any) -> Any:
        return nnx.relu(self.conv(x))


class CNN(nnx.Module):  # type: ignore[misc]
    def __init__(self, rngs: Any) -> None:
        self.conv_a = nnx.Conv(1, 8, kernel_size=(11,), padding="VALID", rngs=rngs)
        self.block = Block(rngs)
        self.head = nnx.Linear(8, 2, rngs=rngs)

    def features(self, signal: Any) -> Any:
        x = nnx.relu(self.conv_a(signal))
        x = nnx.max_pool(x, window_shape=(4,), strides=(4,), padding="VALID")
        return self.block(x)

    def __call__(self, signal: Any) -> Any:
        return self.head(self.features(signal).mean(axis=1))


def derived(n: int) -> bool:
    return n >= 38


@functools.cache
def cnn() -> CNN:
    return CNN(nnx.Rngs(0))


@functools.cache
def checked() -> FrontendReport:
    """``graphcheck.jax.check`` as a user calls it (one export for the module's tests)."""
    return gj.check(cnn(), (jnp.zeros((1, 64, 1)),))


def test_a_flax_conv_stack_gives_its_valid_lengths_in_module_paths() -> None:
    rep = checked()
    assert [(i.name, i.dims) for i in rep.inputs] == [("signal", ("batch", "signal_len", "1"))]
    assert rep.exporter.startswith("jax2onnx (symbolic sizes), jax2onnx 0.17")
    assert rep.valid == "signal_len >= 38   (batch: any >= 1)"
    assert_membership(rep, "signal_len", derived, 200)
    # the pool is a function (nnx.max_pool), not a module: it keeps its ONNX node name
    assert [(d.layer, d.layer_type) for d in findings(rep, "GC001")] == [
        ("conv_a", "Conv"),
        ("", ""),
        ("block.conv", "Conv"),
    ]
    assert {d.what for d in findings(rep, "GC001")} == {"length"}  # not the ONNX NCW axis 2
    assert rep.framework is not None and rep.framework.layers["block.conv"].config["strides"] == (3,)
    ev = rep.at({"signal_len": 37})
    assert ev.first_failure is not None and rep.layers.of(ev.first_failure.node).name == "block.conv"  # type: ignore[union-attr]
    text = rep.explain({"signal_len": 37})
    assert "FAILS at block.conv (Conv)" in text and "head" in text and "block  " in text


def test_jax_itself_and_onnxruntime_agree() -> None:
    model = cnn()
    steps = [jax.eval_shape(model.features, jax.ShapeDtypeStruct((1, n, 1), jnp.float32)).shape[1] for n in (37, 38)]
    assert steps == [0, 1]  # JAX gives an empty tensor at 37; ONNX's Conv rejects it
    rep = checked()
    assert rep.exported is not None
    sizes = (11, 37, 38, 39, 500)
    res = ort([(rep.exported.proto, [{"signal": (1, n, 1)} for n in sizes] + [{"signal": (4, 38, 1)}])])[0]
    assert [r.nonempty for r in res] == [derived(n) for n in sizes] + [True]


def test_dynamic_names_and_a_function_around_the_module() -> None:
    model = cnn()
    rep = gj.check(lambda x: model(x), (jnp.zeros((2, 64, 1)),), dynamic={1: "L"}, module=model)
    assert [(i.name, i.dims) for i in rep.inputs] == [("x", ("2", "L", "1"))]
    assert rep.valid == "L >= 38"
    assert layers_with(rep, "GC001")[-1] == ("block.conv", "Conv")


def test_the_saved_file_keeps_the_module_paths(tmp_path: Path) -> None:
    rep = checked()
    assert rep.exported is not None
    path = tmp_path / "cnn.onnx"
    onnx.save(rep.exported.proto, str(path))
    from_file = graphcheck.check(str(path))
    assert from_file.layers.framework == "jax"
    assert from_file.valid == rep.valid
    assert [d.layer for d in findings(from_file, "GC001")] == ["conv_a", "", "block.conv"]


def test_a_size_jax_cannot_keep_symbolic_is_analysed_all_the_same() -> None:
    # jax's shape polymorphism cannot decide `L > 32`: the export at the example's size is
    # analysed with the length made symbolic again (GC108), and the conv still needs L >= 11
    model = cnn()

    def even_only(signal: Any) -> Any:
        if signal.shape[1] > 32:
            signal = signal * 2.0
        return model.conv_a(signal)

    rep = gj.check(even_only, (jnp.zeros((1, 64, 1)),), module=model)
    assert [a.outcome.split(":")[0] for a in rep.attempts] == ["failed", "used"]
    by_symbol = {d.symbols: d for d in findings(rep, "GC108")}
    assert sorted(by_symbol) == [("batch",), ("signal_len",)]  # both asked axes were fixed
    spec = by_symbol[("signal_len",)]
    line = inspect.getsourcelines(even_only)[1] + 1
    assert "jax2onnx fixed signal_len (signal:1, asked dynamic) to 64 (guard " in spec.message
    assert f"tests/frontends/test_jax.py:{line} in even_only: if signal.shape[1] > 32:" in spec.message
    assert rep.valid == "signal_len >= 11   (batch: any >= 1)"
    assert rep.exported is not None
    relaxed = symbolic(symbolic(rep.exported.proto, "signal", 1, "L"), "signal", 0, "N")
    res = ort([(relaxed, [{"signal": (1, n, 1)} for n in (10, 11, 99)])])[0]
    assert [r.nonempty for r in res] == [False, True, True]
