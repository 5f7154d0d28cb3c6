"""Errors a user can cause, and how they are told.

A :class:`CRMError` is a user error (bad data, a bad file, a bad option): the
``crm`` command prints its message and exits non-zero without a traceback.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CRMError(Exception):
    """A user error with a message that says what is wrong and what to do."""


class DataError(CRMError):
    """Input data that cannot be used: names the file, row, column and reason."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None):
        super().__init__(message)
        self.file = file
        self.column = column


class NotFittedError(CRMError, AttributeError):
    """An estimator was asked for a prediction or a fitted value before ``fit``.

    Also an :class:`AttributeError`, so that ``hasattr(model, "summary_")`` is
    False on an unfitted model, as for any fitted attribute.
    """


# --- warnings --------------------------------------------------------------------------------


class ConvergenceWarning(UserWarning):
    """The likelihood maximisation stopped before converging."""


class CorrelationWarning(UserWarning):
    """Spend and purchase frequency are correlated, against the Gamma-Gamma assumption."""
