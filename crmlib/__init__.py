"""crm-workbook: the helper package every lesson imports.

Four CRM models (IDIC, QCi, Buttle's CRM value chain, Payne & Frow) over
shared layers: :mod:`crmlib.schema` (the column vocabulary), :mod:`crmlib.io`
(client folders), :mod:`crmlib.summary` (one row per customer) and the model
modules named after each model.
"""

import warnings

__version__ = "0.1.0"

# pandera imports pyspark.pandas whenever pyspark (the optional Spark engine) is
# installed, and pyspark warns about pandas 3 at that import: the workbook does
# not use pyspark.pandas, so the warning says nothing about its results.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)


def choose_model(profile):
    """Recommend a CRM model for a client profile; see :func:`crmlib.foundations.choose_model`."""
    from crmlib.foundations import choose_model as _choose

    return _choose(profile)
