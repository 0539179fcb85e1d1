"""Errors and warnings raised on bad input.

A :class:`DataError` lists *every* problem found in the input at once, one line per
problem, in the form ``file:row:column: value — expected …`` (``file: value — expected
…`` for a whole file or a command-line option). Row numbers count as a spreadsheet user
does: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DataError",
    "DataWarning",
    "Failure",
    "InsufficientData",
    "OutputError",
    "did_you_mean",
    "require",
]


@dataclass(frozen=True)
class Failure:
    """One problem in one cell (or one row, or one file) of the input.

    Attributes
    ----------
    file : str
        The file (or folder) that holds the bad value.
    row : int or None
        Spreadsheet row number (header = 1, first data row = 2); ``None`` for a
        problem with the whole file or a whole column.
    column : str or None
        The column name, or ``None`` for a problem with the whole file or row.
    value : str
        The offending value as the user wrote it (shortened when very long).
    expected : str
        What was expected instead, in plain words.
    """

    file: str
    row: int | None
    column: str | None
    value: str
    expected: str

    def __str__(self) -> str:
        value = _short(self.value)
        if self.row is None and not self.column:  # a whole file, or a command-line option
            return f"{self.file}: {value} — expected {self.expected}"
        row = "" if self.row is None else str(self.row)
        return f"{self.file}:{row}:{self.column or ''}: {value} — expected {self.expected}"


def _short(value: object, limit: int = 80) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DataError(ValueError):
    """Input data break the data contract.

    ``str(error)`` is one line per failure; ``error.failures`` holds them as
    :class:`Failure` records so that tools can show them as a table.
    """

    def __init__(self, failures: Iterable[Failure]):
        self.failures: list[Failure] = sorted(
            set(failures),
            key=lambda f: (f.file, f.row if f.row is not None else 0, f.column or "", f.value),
        )
        if not self.failures:
            raise ValueError("DataError needs at least one failure")
        super().__init__("\n".join(str(f) for f in self.failures))

    def lines(self) -> list[str]:
        """Return the failures as printable lines, one per failure."""
        return [str(f) for f in self.failures]


class InsufficientData(ValueError):
    """A valid study holds too little for this estimate (too few rows, cases or events).

    ``str(error)`` says what is missing in plain words; notebooks show it in place of the
    estimate instead of failing, since a small study is not an error.
    """


def require(enough: bool, what: str) -> None:
    """Raise :class:`InsufficientData` with ``what`` (plain words) unless ``enough``."""
    if not enough:
        raise InsufficientData(what)


class DataWarning(UserWarning):
    """Data that are valid but deserve a look (gaps, events outside a series, …)."""


class OutputError(Exception):
    """An output location the project must not or cannot write to (nothing was written).

    ``str(error)`` is one line for the user: which option, which path, what to do.
    """


def did_you_mean(value: str, known: list[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``known`` to a mistyped ``value``,
    or ``""`` when none is close (difflib's ratio ≥ 0.6)."""
    import difflib

    close = difflib.get_close_matches(value, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
