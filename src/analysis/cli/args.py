"""Argument types of the command line: each turns text into a checked value or says what
was expected.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import DataError

__all__ = [
    "EXIT_DATA_ERROR",
]


EXIT_DATA_ERROR = 2


def _bounded(kind: type, low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a finite number of ``kind`` in ``[low, high]``, else a clear error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not (low <= value <= high):  # also refuses nan
            lo, hi = (f"{low:,}", f"{high:,}") if kind is int else (f"{low:g}", f"{high:g}")
            raise argparse.ArgumentTypeError(f"{text} is outside {lo}…{hi}")
        return value

    return parse


def _day(text: str) -> str:
    """An argparse type: a calendar day written ``YYYY-MM-DD`` between 1900 and 2099."""
    import datetime as dt

    try:
        day = dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day that exists") from None
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD")
    if not 1900 <= day.year <= 2099:
        raise argparse.ArgumentTypeError(f"{text} is not between 1900-01-01 and 2099-12-31")
    return text


def _size(text: str) -> str:
    """An argparse type: a memory size such as ``300MB``, between 10MB and 1PB."""
    from ..ingest import memory_bytes

    try:
        memory_bytes(text, "--memory-limit")
    except DataError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {err.failures[0].expected}") from None
    return text


def _text(text: str) -> str:
    """An argparse type for every other option: text, not empty (an unset shell
    variable would otherwise mean "all posts" or "the current folder")."""
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError("is empty" if not text.strip() else "holds a NUL byte")
    return text


def _scheduler(text: str) -> str:
    """An argparse type: ``tcp://HOST:PORT`` of a Dask scheduler."""
    if not re.fullmatch(r"(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not tcp://HOST:PORT")
    return text


def _slug(text: str) -> str:
    """An argparse type: an id of the data contract (a slug)."""
    from ..schema import SLUG_EXPECTED, SLUG_RE

    if not SLUG_RE.match(text) or text.endswith("\n"):
        raise argparse.ArgumentTypeError(f"{text!r} is not {SLUG_EXPECTED}")
    return text


class _Parser(argparse.ArgumentParser):
    """Bad options get one line (the command, the option, what was wrong) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_DATA_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")
