"""Build the API reference from the package's docstrings with pdoc: docs/api/index.html.

``make docs`` runs it. The package imports its public names on first use (so that
``import analysis`` and the command line stay fast); they are resolved here first so
that pdoc sees them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pdoc

import analysis

OUT = Path(__file__).resolve().parent / "api"


def main(out: Path = OUT) -> Path:
    """Write the reference into ``out`` and return its index page."""
    for name in analysis.__all__:
        setattr(analysis, name, getattr(analysis, name))  # resolve the lazy exports
    pdoc.render.configure(docformat="numpy", search=True, show_source=False)
    exported = {m for m, attr in analysis._EXPORTS.values() if attr is None}  # via __all__
    modules = ["analysis"] + [
        f"analysis.{m}" for m in sorted(analysis._EXPORTS_MODULES) if m not in exported
    ]
    pdoc.pdoc(*modules, output_directory=out)
    return out / "index.html"


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
