"""crm-workbook: the helper package every lesson imports.

Layers, each importing only those below it (the contracts in ``.importlinter``):

- :mod:`crmlib.cli` — the ``crm`` command;
- :mod:`crmlib.report`, :mod:`crmlib.grading`, :mod:`crmlib.pipeline` — reports, grading, jobs;
- :mod:`crmlib.results` — what a lesson hands the report;
- :mod:`crmlib.widgets`, :mod:`crmlib.plots` — explorers and charts;
- :mod:`crmlib.models` — one package per CRM model (they never import each other);
- :mod:`crmlib.analytics` — one definition per shared concept;
- :mod:`crmlib.engines` — pandas, DuckDB and Spark for transaction-level steps;
- :mod:`crmlib.synth`, :mod:`crmlib.data` — synthetic data; the data contract and loaders;
- :mod:`crmlib.errors` — every user-facing error and warning.
"""

__version__ = "0.1.0"
