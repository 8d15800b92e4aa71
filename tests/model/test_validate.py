"""model.validate's table of attributes an op has had in every version, against onnx's schemas."""

from __future__ import annotations

import onnx.defs

from graphcheck.model.validate import EVERY_OPSET


def test_every_opset_attributes_are_in_every_version_of_the_op() -> None:
    for op, names in EVERY_OPSET.items():
        versions = 0
        for opset in range(1, onnx.defs.onnx_opset_version() + 1):
            try:
                schema = onnx.defs.get_schema(op, opset, "")
            except onnx.defs.SchemaError:
                continue
            versions += 1
            missing = names - set(schema.attributes)
            assert not missing, (op, opset, sorted(missing))
        assert versions > 0, op


def test_an_attribute_outside_the_table_still_goes_to_the_schema() -> None:
    import pytest
    from onnx import TensorProto, helper

    import graphcheck
    from graphcheck.errors import ModelLoadError

    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3], dilations=[2])
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "L"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelLoadError, match="no attribute 'dilations' in opset 17"):
        graphcheck.check(m)
    m19 = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    assert graphcheck.check(m19).valid.startswith("L >= 5")
