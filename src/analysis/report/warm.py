"""Warm kernels: each worker keeps its next kernel started, with the heavy modules imported.

A report run pays for a new Jupyter kernel and for importing numpy, pandas, scipy,
statsmodels, matplotlib and the package — about three seconds — before its first cell
computes anything. A worker process therefore starts the kernel of its *next* run as soon
as it can (when the pool starts it, and after each run) and sends it one silent cell that
imports those modules; the kernel does that while the worker renders the finished run's
page. The next run then takes the kernel: it waits for the imports to finish, moves the
kernel into the run's folder, and hands it to papermill.

Each run still gets a kernel of its own, started fresh and shut down after it; nothing
the notebook defines survives into another run. The warm-up cell is silent and stores no
history, so execution counts and outputs are exactly those of a cold kernel. A kernel
that fails to start or to import is discarded and the run starts its own, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "WARM_IMPORTS",
    "discard",
    "start_next",
    "take",
]

#: What a warm kernel imports: what the project's notebooks import, and what they pull in.
WARM_IMPORTS: tuple[str, ...] = (
    "numpy",
    "pandas",
    "pandas.io.formats.style",  # every table is shown through a Styler (0.1 s on first use)
    "scipy.stats",
    "matplotlib.pyplot",
    "IPython.display",
    "statsmodels.regression.linear_model",
    "statsmodels.tsa.statespace.structural",
    "analysis.narrative",
    "analysis.plots",
    "analysis.timing",
    "analysis.its",
    "analysis.event_study",
    "analysis.causality",
    "analysis.outcomes",
    "wildboottest.wildboottest",
    "arch.bootstrap",
)

_WARM_CODE = (
    "import importlib as _pp_importlib\n"
    f"for _pp_module in {WARM_IMPORTS!r}:\n"
    "    try:\n"
    "        _pp_importlib.import_module(_pp_module)\n"
    "    except Exception:\n"
    "        pass\n"
    "del _pp_importlib, _pp_module\n"
)


@dataclass
class _Warm:
    name: str
    km: Any  # jupyter_client.KernelManager
    kc: Any  # its client, open until the run takes the kernel
    msg_id: str  # the warm-up cell's request
    log: Any  # the kernel's output: an unnamed temporary file (nothing left if killed)


_next: _Warm | None = None


def start_next(kernel_name: str) -> None:
    """Start this process's next kernel and send it the imports (without waiting)."""
    global _next
    if _next is not None:
        return
    from .zygote import ForkedKernelManager

    # already unlinked: a killed worker leaves no file; closed when its run ends
    log = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        km = ForkedKernelManager(kernel_name=kernel_name)
        km.start_kernel(stdout=log, stderr=log, cwd=tempfile.gettempdir())
        kc = km.client()
        kc.start_channels()
        msg_id = kc.execute(_WARM_CODE, silent=True, store_history=False)
    except Exception:  # no warm kernel: the next run starts its own, as before
        log.close()
        return
    _next = _Warm(kernel_name, km, kc, msg_id, log)


def take(kernel_name: str, cwd: Path, timeout: float = 60.0) -> tuple[Any, Any] | None:
    """The warm kernel (its manager and the file of what it writes), moved to
    ``cwd``, once its imports are done; ``None`` when there is none for this kernel name
    or it did not come up (then the run starts its own kernel)."""
    global _next
    warm, _next = _next, None
    if warm is None:
        return None
    if warm.name != kernel_name:
        _shutdown(warm)
        return None
    try:
        _wait_reply(warm.kc, warm.msg_id, timeout)
        chdir = f"import os as _pp_os\n_pp_os.chdir({str(cwd)!r})\ndel _pp_os\n"
        _wait_reply(warm.kc, warm.kc.execute(chdir, silent=True, store_history=False), timeout)
    except Exception:
        _shutdown(warm)
        return None
    warm.kc.stop_channels()
    return warm.km, warm.log


def _wait_reply(kc: Any, msg_id: str, timeout: float) -> None:
    """Wait for the reply to ``msg_id``; raise unless the cell ran."""
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            if reply["content"].get("status") != "ok":
                raise RuntimeError("the warm kernel could not run its set-up cell")
            return


def _shutdown(warm: _Warm) -> None:
    with contextlib.suppress(Exception):
        warm.kc.stop_channels()
    with contextlib.suppress(Exception):
        warm.km.shutdown_kernel(now=True)
    warm.log.close()


def discard() -> None:
    """Shut down this process's warm kernel, if any (at exit, or when runs are over)."""
    global _next
    warm, _next = _next, None
    if warm is not None:
        _shutdown(warm)


atexit.register(discard)
