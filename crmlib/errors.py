"""Errors a user can cause, and how they are told.

A :class:`CRMError` is a user error (bad data, a bad file, a bad option): the
``crm`` command prints its message and exits non-zero without a traceback.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CRMError(Exception):
    """A user error with a message that says what is wrong and what to do."""


class DataError(CRMError):
    """Input data that cannot be used: names the file, row, column and reason.

    With ``row``, the message is the reason alone and the error says where first:
    ``str(error)`` is ``"transactions.csv, row 3, column revenue: not a number"``
    (:attr:`location`, then the reason), in the ``crm`` command, a notebook and a
    log alike. Without ``row``, the message is said as given (by convention it
    starts with the file: ``"transactions.csv: the file is empty"``).

    Parameters
    ----------
    message : str
        What is wrong and what to do.
    file : str, optional
        The file's name or the table (e.g. ``transactions.csv``, ``customers``).
    row : int, list of int or str, optional
        The line(s) of the file (header = 1) or row label(s) at fault: one
        number, a short list, or a short text such as ``"3, 7, ..."``. Never a
        value from the row: personal data stays out of errors.
    column : str, optional
        The column at fault.

    Attributes
    ----------
    reason : str
        ``message`` as given, without the location.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | list[int] | str | None = None,
        column: str | None = None,
    ):
        self.reason = message
        self.file = file
        self.row = row
        self.column = column
        where = self.location
        super().__init__(f"{where}: {message}" if row is not None and where else message)

    @property
    def location(self) -> str:
        """``"file, row 3, column revenue"``: the parts that are known ("" when none)."""
        parts = [str(self.file)] if self.file else []
        rows = self.row
        if isinstance(rows, (list, tuple)):
            rows = ", ".join(str(r) for r in rows) if rows else None
        if rows is not None:
            parts.append(f"{'rows' if ',' in str(rows) else 'row'} {rows}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


class NotFittedError(CRMError, AttributeError):
    """An estimator was asked for a prediction or a fitted value before ``fit``.

    Also an :class:`AttributeError`, so that ``hasattr(model, "summary_")`` is
    False on an unfitted model, as for any fitted attribute.
    """


class PseudonymKeyError(CRMError):
    """The pseudonym key cannot be read or is not kept private."""


# --- warnings --------------------------------------------------------------------------------


class ConvergenceWarning(UserWarning):
    """The likelihood maximisation stopped before converging."""


class CorrelationWarning(UserWarning):
    """Spend and purchase frequency are correlated, against the Gamma-Gamma assumption."""
