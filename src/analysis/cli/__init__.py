"""Command-line interface: ``python -m analysis COMMAND [options]``.

Every command has ``--help``. Bad input prints one line per problem
(``file:row:column: value — expected …``) on standard error and exits with status 2;
nothing is written in that case.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import DataError, OutputError
from .args import EXIT_DATA_ERROR
from .commands import (
    cmd_check_pages,
    cmd_data,
    cmd_fetch,
    cmd_ingest,
    cmd_prepare,
    cmd_report,
    cmd_timing,
    cmd_validate,
)
from .parser import build_parser

__all__ = [
    "EXIT_DATA_ERROR",
    "build_parser",
    "cmd_check_pages",
    "cmd_data",
    "cmd_fetch",
    "cmd_ingest",
    "cmd_prepare",
    "cmd_report",
    "cmd_timing",
    "cmd_validate",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as err:
        for line in err.lines():
            print(line, file=sys.stderr)
        n = len(err.failures)
        print(f"{n} problem{'s' if n != 1 else ''} found; nothing was written.", file=sys.stderr)
        return EXIT_DATA_ERROR
    except OutputError as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except OSError as err:  # a folder or file that cannot be written (read-only, full, busy)
        where = err.filename or ""
        print(
            f"{args.command}: cannot write {where}: {err.strerror or err}; files already "
            "finished are kept whole",
            file=sys.stderr,
        )
        return EXIT_DATA_ERROR
    except KeyboardInterrupt as exc:
        terminated = type(exc).__name__ == "BatchTerminated"
        print(
            f"{args.command}: {'terminated' if terminated else 'interrupted'}; files already "
            "finished are kept whole, unfinished ones were not written",
            file=sys.stderr,
        )
        return 143 if terminated else 130
