"""The four CRM models and the foundations lesson: one package per model; models never import
each other (a formula two models need lives in :mod:`crmlib.analytics`)."""
