"""Kernels forked from a process that has already imported the heavy modules.

A warm kernel (:mod:`analysis.report.warm`) hides the wait for a kernel's imports, but
the imports still cost every run about two seconds of CPU, and a batch on two cores is
CPU-bound. So each worker starts one *template* process (``python -m
analysis.report.zygote``) that imports what the notebooks import — numpy, pandas, scipy,
statsmodels, matplotlib, IPython and ipykernel, the package — and then forks a new kernel
for every run: the child shares the imported modules copy-on-write and only has to read
its connection file and open its sockets. Each run still gets a process of its own,
never used before.

How it is kept safe:

- Only the plain IPython kernel of this interpreter is forked (a kernel spec whose
  command is ``<this python> -m ipykernel_launcher -f <connection file>``); any other
  kernel spec, or a template that does not answer, starts kernels the usual way.
- The template imports modules but creates no ZeroMQ context, thread pool of its own or
  event loop, and the child resets every signal handler it changed before the kernel
  starts. The child's environment is the one jupyter_client prepared for the kernel.
- Lifetimes are chained with Linux's parent-death signal: a kernel dies with its
  template, the template with its worker, the worker with the batch.
- Children are reaped by the kernel (``SIGCHLD`` ignored in the template), so none is
  left as a zombie; the worker sees a child end when its pid is gone.
- A kernel's output goes to a file the worker opened and passed over a Unix socket
  (``SCM_RIGHTS``), so nothing is left on disk if a worker is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, cast

__all__ = [
    "ForkedKernelManager",
    "Zygote",
    "forkable",
]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Be killed (SIGKILL) when the parent process ends (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def forkable(kernel_cmd: list[str]) -> str | None:
    """The connection file of a plain IPython kernel command of this interpreter, or
    ``None`` when the command is anything else (it is then launched the usual way)."""
    if (
        len(kernel_cmd) == 5
        and os.path.realpath(kernel_cmd[0]) == os.path.realpath(sys.executable)
        and kernel_cmd[1:3] == ["-m", "ipykernel_launcher"]
        and kernel_cmd[3] == "-f"
    ):
        return kernel_cmd[4]
    return None


class _Child:
    """A forked kernel as jupyter_client's local provisioner sees a ``Popen``."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0  # ended (the kernel's exit status is not ours to see)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0.0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The worker's side: the template process and the socket it is asked through."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = ours
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "analysis.report.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()
        self._file = ours.makefile("r", encoding="utf-8")

    def spawn(self, connection_file: str, cwd: str, env: dict[str, str], log_fd: int) -> int:
        """Fork a kernel for ``connection_file`` in ``cwd`` with ``env``; its output goes
        to ``log_fd``. Returns its pid; raises ``OSError`` when the template is gone."""
        request = json.dumps({"connection_file": connection_file, "cwd": cwd, "env": env})
        socket.send_fds(self._sock, [request.encode() + b"\n"], [log_fd])
        line = self._file.readline()
        if not line:
            raise OSError("the kernel template process ended")
        answer = json.loads(line)
        if "pid" not in answer:
            raise OSError(f"the kernel template could not fork: {answer.get('error')}")
        return int(answer["pid"])

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            self._proc.kill()
            self._proc.wait(timeout=5)


_zygote: Zygote | None = None


def _shared() -> Zygote:
    global _zygote
    if _zygote is None or not _zygote.alive:
        _zygote = Zygote()
    return _zygote


def close_shared() -> None:
    """End this process's template (at worker exit)."""
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


def _manager_class() -> type:
    from jupyter_client.manager import KernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class _Forked(KernelManager):
        """A ``KernelManager`` whose plain IPython kernels are forked from the template."""

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            connection_file = forkable(kernel_cmd)
            provisioner: Any = self.provisioner
            if connection_file is None or not isinstance(provisioner, LocalProvisioner):
                await super()._async_launch_kernel(kernel_cmd, **kw)
                return
            out = kw.get("stderr") or kw.get("stdout")
            log_fd = out.fileno() if out is not None else os.open(os.devnull, os.O_WRONLY)
            try:
                pid = _shared().spawn(
                    connection_file,
                    str(kw.get("cwd") or os.getcwd()),
                    dict(kw.get("env") or os.environ),
                    log_fd,
                )
            except OSError:  # no template: the usual launch
                await super()._async_launch_kernel(kernel_cmd, **kw)
                return
            finally:
                if out is None:
                    os.close(log_fd)
            provisioner.process = cast(Any, _Child(pid))  # Popen as the provisioner uses it
            provisioner.pid = pid
            provisioner.pgid = None  # signals go to the kernel itself
            provisioner.cwd = kw.get("cwd")
            self._reconcile_connection_info(provisioner.connection_info)

    return _Forked


def ForkedKernelManager(**kwargs: Any) -> Any:
    """A jupyter_client ``KernelManager`` that forks plain IPython kernels from this
    process's template (started on first use), and launches any other kernel as usual."""
    return _manager_class()(**kwargs)


# --------------------------------------------------------------------------- template


def _serve(fd: int) -> None:
    """The template: import, then fork one kernel per request until the socket closes."""
    _die_with_parent()
    import importlib

    from .warm import WARM_IMPORTS

    for name in (*WARM_IMPORTS, "ipykernel.kernelapp"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    sock = socket.socket(fileno=fd)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    buffer = b""
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 4)
        except OSError:
            return
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            log_fd = fds.pop(0) if fds else os.open(os.devnull, os.O_WRONLY)
            try:
                request = json.loads(line)
                pid = os.fork()
            except Exception as exc:  # an unreadable request or no fork: say so, go on
                os.close(log_fd)
                sock.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
                continue
            if pid == 0:
                sock.close()
                signal.signal(signal.SIGCHLD, previous)
                _kernel(request, log_fd)  # never returns
            os.close(log_fd)
            sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _kernel(request: dict[str, Any], log_fd: int) -> None:
    """In the forked child: become the kernel of ``request``."""
    code = 1
    try:
        _die_with_parent()
        os.setsid()
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=["-f", request["connection_file"]])
        code = 0
    except BaseException:  # the kernel's own errors went to its log
        import traceback

        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
