"""Renderers: the report and gate results as text for people and as JSON, SARIF 2.1.0 and
GitHub annotations for tools.

:mod:`.text` and :mod:`.json` render a report (and an evaluation at sizes, with its fixes),
:mod:`.annotate` what ``graphcheck annotate`` wrote;
:mod:`.gatetext`, :mod:`.sarif` and :mod:`.github` render gate results, given as the plain
dicts of ``graphcheck.gate.decision.result_dict``, with what they share in :mod:`._gatecommon`.

May import: :mod:`graphcheck.report` and lower. Renderers import the report, never the reverse.
"""
