"""The report: what a finished analysis means for the user's sizes.

:mod:`.report` solves the collected conditions into the exact valid set and answers per size;
:mod:`.evaluate` evaluates an analysis at concrete sizes (every node's shapes, the first
failure); :mod:`.diagnostics` turns conditions and notes into findings with the stable codes of
:mod:`.codes`; :mod:`.fixes` searches for verified model changes, re-inferring only downstream of
the node it changes; :mod:`.annotate` writes every value's shape into a copy of the model (through
:mod:`graphcheck.model.serde`).

May import: :mod:`graphcheck.infer`, :mod:`graphcheck.model`, :mod:`graphcheck.symbolic`,
:mod:`graphcheck.errors`. Never a renderer: renderers import the report.
"""
