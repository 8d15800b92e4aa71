"""Every onnxruntime contrib op with a CPU kernel (com.microsoft, com.microsoft.nchwc) has a rule or
is GC101 with a stated reason (graphcheck/infer/ops/msft_unruled.py): the list is onnxruntime's own
(``get_all_opkernel_def()``), so a new kernel in a new onnxruntime fails here until it has one."""

from __future__ import annotations

import onnx
from onnx import helper

import graphcheck
import graphcheck.infer.ops  # noqa: F401  (registers every rule and reason)
from graphcheck.infer.ops.msft_unruled import NO_CPU_KERNEL
from graphcheck.infer.registry import _NO_RULE, _RULES, why_no_rule
from tests.infer.ops._msft import F, model

DOMAINS = ("com.microsoft", "com.microsoft.nchwc")


def cpu_kernels() -> set[tuple[str, str]]:
    from onnxruntime.capi import onnxruntime_pybind11_state as C

    return {
        (k.domain, k.op_name)
        for k in C.get_all_opkernel_def()
        if k.provider == "CPUExecutionProvider" and k.domain in DOMAINS
    }


def test_every_cpu_kernel_has_a_rule_or_a_reason() -> None:
    kernels = cpu_kernels()
    assert len(kernels) >= 90
    neither = sorted(k for k in kernels if k not in _RULES and k not in _NO_RULE)
    assert not neither, f"contrib ops with a CPU kernel but neither a rule nor a GC101 reason: {neither}"
    both = sorted(k for k in _NO_RULE if k in _RULES)
    assert not both, f"ops with a rule and a GC101 reason: {both}"
    gpu_only = {k for k, why in _NO_RULE.items() if why == NO_CPU_KERNEL}
    stale = sorted(k for k in _NO_RULE if (k in kernels) == (k in gpu_only))
    assert not stale, f"GC101 reasons that do not match onnxruntime's CPU kernels: {stale}"
    from onnxruntime.capi import onnxruntime_pybind11_state as C

    schemas = {(s.domain, s.name) for s in C.get_all_operator_schema()}
    assert gpu_only <= schemas  # real contrib ops, only without a CPU kernel
    assert all(len(why) > 20 for why in _NO_RULE.values())


def test_the_reason_is_in_the_gc101_note() -> None:
    node = helper.make_node("Tokenizer", ["x"], ["y"], domain="com.microsoft", mark=1, pad_value="#", mincharnum=1)
    m: onnx.ModelProto = model([node], [("x", ["N"], onnx.TensorProto.STRING)], [("y", F)])
    r = graphcheck.check(m)
    note = next(n for n in r.analysis.notes if n.code == "GC101")
    assert "a tokenizer" in note.message and note.message == note.message.strip()
    assert why_no_rule("com.microsoft", "Tokenizer") in note.message
