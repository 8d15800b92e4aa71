"""``graphcheck annotate`` against onnxruntime, over the fixtures and the committed zoo: the written
model passes ``onnx.checker.check_model`` (with its shape inference), loads and runs in
onnxruntime, and at valid sizes every written dim equals what onnxruntime produces, each node
output exposed (symbolic dims evaluated by the grammar's own evaluator); with ``at``, every dim is
that integer. Where graphcheck's answer is exact, every value gets a full shape.

The values inside If/Loop/Scan bodies cannot be graph outputs: each body is instrumented to give
every value's shape at every run of the body (each branch taken, each iteration) as an extra
output (tests/annotate_probe.py), and every dim written inside a body is compared with each."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

import graphcheck
from graphcheck.symbolic.dimtext import evaluate
from tests.annotate_probe import (
    body_declared,
    body_mismatches,
    body_nodes_outputs,
    body_shapes,
    expose,
    expose_bodies,
    node_outputs,
    run_bodies,
    run_exposed,
    sizes_by_name,
    subjects,
)

SUBJECTS = subjects(3)


def _declared(m: onnx.ModelProto) -> dict[str, list[int | str | None]]:
    out = {}
    for vi in list(m.graph.value_info) + list(m.graph.output):
        if vi.type.tensor_type.HasField("shape"):
            out[vi.name] = [
                d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim
            ]
    return out


def _mismatches(decl: dict[str, list[int | str | None]], got: dict[str, list[int]], sizes: dict[str, int]) -> list:
    bad = []
    for name, dims in decl.items():
        actual = got.get(name)
        if actual is None:
            continue
        if len(actual) != len(dims):
            bad.append((name, dims, actual))
            continue
        for d, n in zip(dims, actual):
            if d is not None and (d if isinstance(d, int) else evaluate(d, sizes)) != n:
                bad.append((name, dims, actual))
                break
    return bad


def _check(m: onnx.ModelProto, source: Path) -> None:
    """onnx's checker on the written model. onnxruntime's tools write ops onnx has no schema for
    (SimplifiedLayerNormalization in the default domain): where the source fails the checker for
    that too, so may the written model, for nothing else."""
    try:
        onnx.checker.check_model(m, full_check=True)
    except onnx.checker.ValidationError as exc:
        if "No Op registered" not in str(exc):
            raise
        with pytest.raises(onnx.checker.ValidationError, match="No Op registered"):
            onnx.checker.check_model(onnx.load(str(source)), full_check=True)


def test_annotated_models_agree_with_onnxruntime(tmp_path: Path) -> None:
    jobs = []
    plans = []
    for s in SUBJECTS:
        report = graphcheck.check(s.path)
        out = tmp_path / f"{s.path.parent.name}_{s.path.stem}.onnx"
        a = report.annotate(out)
        m = onnx.load(str(out))
        _check(m, s.path)
        mine = {v.name for v in a.values}  # what graphcheck wrote (a value it does not know keeps the file's entry)
        decl = {n: d for n, d in _declared(m).items() if n in mine}
        if report.exact:
            # every dim written but those that differ by mode or control-flow case (unset, saying so)
            by_case = {v.name for v in a.values if any("differs by mode or control-flow case" in w for w in v.why)}
            by_case |= {n for n, why in a.left.items() if "it differs by mode or control-flow case" in why}
            full = [v for v in a.values if v.name not in by_case]
            assert all(v.full for v in full), (s.name, [v for v in full if not v.full][:3])
            assert all(None not in decl.get(v, [None]) for v in node_outputs(m) if v not in by_case), s.name
        sizes = [sizes_by_name(m, shapes) for shapes, _ in s.probes]
        # the source and the annotated model, every node output exposed; then, at its first
        # valid size, the model annotated with integers there
        src_x, out_x = tmp_path / f"{out.stem}.src.onnx", tmp_path / f"{out.stem}.x.onnx"
        jobs.append((src_x, expose(s.path, src_x), s.probes))
        jobs.append((out_x, expose(out, out_x), s.probes))
        at_decl = None
        if s.probes:
            at_out, at_x = tmp_path / f"{out.stem}.at.onnx", tmp_path / f"{out.stem}.atx.onnx"
            modes = {k: v for k, v in s.probes[0][1].items() if k in report.mode_inputs}  # at its mode
            at_mine = {v.name for v in report.annotate(at_out, at={**sizes[0], **modes}).values}
            at_decl = {n: d for n, d in _declared(onnx.load(str(at_out))).items() if n in at_mine}
            assert all(isinstance(d, int) for dims in at_decl.values() for d in dims if d is not None), s.name
            jobs.append((at_x, expose(at_out, at_x), s.probes[:1]))
        plans.append((s, decl, sizes, at_decl))
    results = iter(run_exposed(jobs))
    probed = checked = 0
    for s, decl, sizes, at_decl in plans:
        src_runs, out_runs = next(results), next(results)
        for size, src, got in zip(sizes, src_runs, out_runs):
            assert src is not None, f"{s.name}: onnxruntime fails at a valid size {size}"
            assert got == src, f"{s.name}: the annotated model runs otherwise than the source at {size}"
            bad = _mismatches(decl, got, size)
            assert not bad, f"{s.name} at {size}: written dims differ from onnxruntime's: {bad[:3]}"
            probed += 1
            checked += sum(len(d) for n, d in decl.items() if n in got)
        if at_decl is not None:
            (at_run,) = next(results)
            assert at_run is not None and at_run == src_runs[0], s.name
            assert not _mismatches(at_decl, at_run, sizes[0]), s.name
    assert probed >= 100 and checked >= 40_000, (probed, checked)


@pytest.mark.parametrize("name", ["fixtures/whisper_encoder", "zoo/gpt2_kv_legacy"])
def test_written_file_keeps_everything_else(name: str, tmp_path: Path) -> None:
    """Nodes, initializers, inputs and the file's other fields are the source's, byte for byte."""
    s = next(x for x in SUBJECTS if x.name == name)
    out = tmp_path / "out.onnx"
    graphcheck.check(s.path).annotate(out)
    a, b = onnx.load(str(s.path)), onnx.load(str(out))
    assert [n.SerializeToString() for n in a.graph.node] == [n.SerializeToString() for n in b.graph.node]
    assert [t.SerializeToString() for t in a.graph.initializer] == [t.SerializeToString() for t in b.graph.initializer]
    assert [i.SerializeToString() for i in a.graph.input] == [i.SerializeToString() for i in b.graph.input]
    assert (a.ir_version, a.producer_name, list(a.opset_import)) == (
        b.ir_version,
        b.producer_name,
        list(b.opset_import),
    )


CONTROL = (  # the zoo models with control flow (fixtures/zoo/zoo_control.py) and keras_crnn_gru's GRU loops
    "optimum_whisper_merged",
    "optimum_t5_merged",
    "torch_cond_size",
    "torch_cond_flag",
    "keras_gru",
    "keras_bilstm",
    "vad_sample_rate",
    "squeeze_if",
    "scan_rnn",
    "keras_crnn_gru",
)
BY_CASE = "differs by mode or control-flow case"


def test_body_values_agree_with_onnxruntime(tmp_path: Path) -> None:
    """Inside every followed body: a full shape on every value where the answer is exact (but the
    dims that differ by mode or case, unset saying so), and at the probed sizes every written dim
    equals what onnxruntime gives that value at every run of its body."""
    subs = [s for s in SUBJECTS if s.name.split("/")[-1] in CONTROL]
    assert len(subs) == len(CONTROL)
    jobs, plans = [], []
    for s in subs:
        report = graphcheck.check(s.path)
        out = tmp_path / f"{s.path.stem}.onnx"
        a = report.annotate(out)
        m = onnx.load(str(out))
        decl = body_declared(m)
        mine = {(tuple(k[:2] for k in b.path), v.name) for b in a.bodies for v in b.values}
        assert mine <= set(decl), s.name
        if report.exact:
            for b in a.bodies:
                short = [v for v in b.values if not v.full and not any(BY_CASE in w for w in v.why)]
                assert not short, (s.name, b.where, short[:3])
                assert all(BY_CASE in why for why in b.left.values()), (s.name, b.where, b.left)
            left = {(tuple(k[:2] for k in b.path), n) for b in a.bodies for n in b.left}
            short_decl = [
                k for k in body_nodes_outputs(m) if k not in left and (decl.get(k) is None or None in decl[k])
            ]
            by_case = {(tuple(k[:2] for k in b.path), v.name) for b in a.bodies for v in b.values if not v.full}
            assert all(k in by_case for k in short_decl), (s.name, short_decl[:3])
        if not a.bodies:
            continue
        x = tmp_path / f"{s.path.stem}.bx.onnx"
        ids = expose_bodies(out, x, {k for k in mine if decl[k] is not None})
        jobs.append((x, s.probes))
        plans.append((s, decl, ids, m))
    observed = checked = 0
    for (s, decl, ids, m), runs in zip(plans, run_bodies(jobs)):
        seen: set = set()
        for (shapes, _), rows in zip(s.probes, runs):
            assert rows is not None, f"{s.name}: onnxruntime fails at a valid size {shapes}"
            got = body_shapes(rows, ids)
            seen |= set(got)
            bad, n = body_mismatches(decl, got, sizes_by_name(m, shapes))
            assert not bad, f"{s.name} at {shapes}: written dims inside bodies differ from onnxruntime's: {bad[:3]}"
            checked += n
        assert seen, s.name
        observed += len(seen)
    assert observed >= 1300 and checked >= 4000, (observed, checked)
