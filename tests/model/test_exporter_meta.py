"""torch.export's declared ranges (dynamo exporter metadata) against the exact valid sets."""

from __future__ import annotations

from pathlib import Path

import graphcheck
from graphcheck.model.exporter_meta import match_symbols, torch_ranges

FIX = Path(__file__).resolve().parents[2] / "fixtures"


def test_parse_range_constraints() -> None:
    meta = {"pkg.torch.export.ExportedProgram.range_constraints": "{s77: VR[0, int_oo], s53: VR[9, 4096]}"}
    assert torch_ranges(meta) == {"s77": (0, None), "s53": (9, 4096)}
    assert torch_ranges({}) == {}


def test_symbols_match_by_name_or_the_single_leftover() -> None:
    assert match_symbols({"s53": (9, None)}, ["N", "s53"]) == {"s53": "s53"}
    assert match_symbols({"s53": (5, 4096)}, ["L"]) == {"s53": "L"}
    assert match_symbols({"s1": (1, None), "s2": (1, None)}, ["A", "B"]) == {}


def test_matching_range_gives_no_finding() -> None:
    rep = graphcheck.check(FIX / "torch_conv1d_dynamo.onnx")  # torch: s53 in [9, inf); exact: s53 >= 9
    assert not [d for d in rep.diagnostics if d.code == "GC107"]


def test_declared_range_admitting_failing_sizes_is_reported() -> None:
    rep = graphcheck.check(FIX / "transformer_mha_dynamo.onnx")  # torch: seq in [0, inf); positions stop at 64
    found = [d for d in rep.diagnostics if d.code == "GC107"]
    assert len(found) == 1
    assert found[0].symbols == ("input_ids_len",)  # torch.export's s70, named as graphcheck.torch names it
    assert "input_ids_len (torch's s70)" in found[0].message
    assert "input_ids_len >= 65" in found[0].message and "fail" in found[0].message
