"""The gate in front of a model registry: are the sizes a team requires proven valid?

:mod:`.require` parses requirements (``L in 8000..480000``, ``H % 32 == 0``); :mod:`.policy`
reads them from ``graphcheck.toml`` / ``[tool.graphcheck]``; :mod:`.decision` decides each model
exactly from its valid set and runs batches; :mod:`.mlflow_registry` gates a registered MLflow
model version (MLflow imported only when used).

May import everything below the entry points: :mod:`graphcheck.api`, :mod:`graphcheck.render`,
:mod:`graphcheck.report` and lower.
"""
