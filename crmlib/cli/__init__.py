"""The ``crm`` command: :mod:`crmlib.cli.main` (validate, report, synth, aggregate, …) and
:mod:`crmlib.cli.grading` (the instructor's commands)."""

from crmlib.cli.main import cli, main

__all__ = ["cli", "main"]
