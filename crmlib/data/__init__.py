"""The data layer: the column vocabulary (:mod:`~crmlib.data.schema`), client folders
(:mod:`~crmlib.data.io`; out of core on DuckDB: :mod:`~crmlib.data.outofcore`), loaders
(:mod:`~crmlib.data.datasets`), snapshots and privacy."""

import warnings

# pandera imports pyspark.pandas whenever pyspark (the optional Spark engine) is installed,
# and pyspark warns about pandas 3 at that import. The workbook does not use pyspark.pandas,
# so that one warning is silenced here, for these imports only (no global filter): pandera
# itself, and its pandas checks, which it would otherwise import on the first validation.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    import pandera.backends.pandas.builtin_checks  # noqa: F401
    import pandera.pandas  # noqa: F401
