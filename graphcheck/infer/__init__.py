"""Inference: a topological walk that applies one rule per op.

:mod:`.engine` runs the walk (and resumes it from a changed node, for the fix search);
:mod:`.registry` holds the rule table and the context a rule sees; :mod:`.facts` is what is
known of each tensor and the conditions collected; :mod:`.bounds` carries element bounds of
index tensors; :mod:`.ops` has the rules, one family per file, each a pure function from input
facts to output facts and conditions.

May import: :mod:`graphcheck.model` (the IR, never onnx), :mod:`graphcheck.symbolic`,
:mod:`graphcheck.errors`.
"""
