"""``python -m analysis``: the command-line interface (see :mod:`analysis.cli`)."""

from .cli import main

raise SystemExit(main())
