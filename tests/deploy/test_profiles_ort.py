"""Every emitted profile runs in onnxruntime: for each fixture with a dynamic input (fixtures/ and the
model zoo), each profile's corners and its opt point (a sample inside) are run, every intermediate
tensor exposed; each must run with no empty tensor. The boxes are also checked against the exact
membership (``Report.accepts``) at every probed point."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import onnx
import pytest

import graphcheck
from graphcheck.report.deploy import DeployPlan, Profile
from tests.ortprobe import expose_all, probe_many

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "fixtures").glob("*.onnx")) + sorted((ROOT / "fixtures" / "zoo" / "models").glob("*.onnx"))
PROFILES_PROBED = 8  # per model: every profile (at most 8 are emitted)


def _bounds(report: graphcheck.Report) -> dict[str, int]:
    """Tops that keep the probed tensors small: batch-like sizes 2, the others a little past their minimum."""
    out: dict[str, int] = {}
    for s in report.symbols:
        values = report.valid_set(s)
        if values is not None and values.is_full():
            out[s] = 2 if s in {x.name for x in report.solution.free} else 40
        elif values is not None and not values.unbounded() and (values.max() or 0) <= 4096:
            out[s] = values.max() or 1
        elif values is not None:
            lo = values.min() or 1
            out[s] = max(lo + 40, 48)
        else:
            out[s] = 64
    return out


def _points(p: Profile) -> list[dict[str, int]]:
    names = [r.name for r in p.ranges]
    if len(names) <= 3:
        corners = [dict(zip(names, c)) for c in product(*[(r.min, r.max) for r in p.ranges])]
    else:
        corners = [p.point("min"), p.point("max")]
    return [*corners, p.point("opt")]


def _plans() -> list[tuple[Path, DeployPlan, graphcheck.Report]]:
    out = []
    for path in MODELS:
        report = graphcheck.check(str(path))
        if not report.symbols:
            continue
        plan = report.deploy_plan(max=_bounds(report))
        out.append((path, plan, report))
    return out


PLANS = _plans()


def test_every_dynamic_fixture_gets_profiles_or_a_reason() -> None:
    without = {p.name: plan.problem for p, plan, _ in PLANS if not plan.profiles}
    # those without a proven box: no valid size (nasnet), no size valid in every mode (the VAD model
    # takes no size at an unsupported sample rate), and a valid set the solver leaves as conditions
    # coupling H and W (GC105: the CRNN's Reshape before its GRU loop)
    assert set(without) == {"nasnet.onnx", "keras_crnn_gru.onnx", "vad_sample_rate.onnx"}, without
    assert "no size is valid" in without["nasnet.onnx"]
    assert "with sr = 16000: 192 <= L <= 703" in without["vad_sample_rate.onnx"]
    assert "no box" in without["keras_crnn_gru.onnx"] and "% 8 == 0" in without["keras_crnn_gru.onnx"]
    assert len(PLANS) - len(without) >= 45


def _fill(path: Path) -> dict[str, int]:
    """The values a zoo model's integer inputs need (an attention mask of ones: zeros are no valid mask)."""
    import sys

    sys.path.insert(0, str(ROOT / "fixtures" / "zoo"))
    import zoo

    entry = zoo.ZOO.get(path.stem)
    return dict(entry.int_fill) if entry is not None and path.parent.name == "models" else {}


def test_profiles_run_in_onnxruntime() -> None:
    jobs = []
    meta = []
    fills = []
    for path, plan, report in PLANS:
        if not plan.profiles:
            continue
        model = expose_all(onnx.load(str(path)))
        shapes = []
        for prof in plan.profiles[:PROFILES_PROBED]:
            for point in _points(prof):
                assert report.accepts(point) is True, (path.name, point)
                full = prof.point("min") | point
                shapes.append(
                    {t.name: tuple(d if isinstance(d, int) else full[d] for d in t.dims or ()) for t in plan.inputs}
                )
        jobs.append((model, shapes))
        meta.append((path.name, shapes))
        fills.append(_fill(path))
    results = probe_many(jobs, fills)
    bad = [
        (name, shape, r.error or "empty tensor")
        for (name, shapes), rs in zip(meta, results)
        for shape, r in zip(shapes, rs)
        if not r.nonempty
    ]
    total = sum(len(s) for _, s in meta)
    assert total >= 300
    assert not bad, bad[:10]


@pytest.mark.parametrize("name", ["unet.onnx", "whisper_encoder.onnx", "swin.onnx"])
def test_boxes_are_runs_of_the_set_and_the_notes_name_what_fails_inside(name: str) -> None:
    path, _, report = next(x for x in PLANS if x[0].name == name)
    plan = report.deploy_plan()
    sym = {"unet.onnx": "height", "whisper_encoder.onnx": "frames", "swin.onnx": "H"}[name]
    values = report.valid_set(sym)
    assert values is not None
    for prof in plan.profiles:
        r = prof.get(sym)
        assert all(v in values for v in range(r.min, r.max + 1))
        assert r.min - 1 not in values and r.max + 1 not in values  # maximal runs
    note = next(n for n in plan.notes if n.startswith(f"{sym}: inside"))
    first = int(note.rsplit("= ", 1)[1].rstrip(")"))
    assert first not in values and report.accepts({**report.smallest(), sym: first}) is False
