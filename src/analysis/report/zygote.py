"""Kernels forked from a process that has already imported the heavy modules.

A warm kernel (:mod:`analysis.report.warm`) hides the wait for a kernel's imports, but
the imports still cost every run about two seconds of CPU, and a batch on two cores is
CPU-bound. So a batch starts one *template* process (``python -m
analysis.report.zygote``) that imports what the notebooks import — numpy, pandas, scipy,
statsmodels, matplotlib, IPython and ipykernel, the package — and then forks a new kernel
for every run: the child shares the imported modules copy-on-write and only has to read
its connection file and open its sockets. Each run still gets a process of its own,
never used before.

The batch starts the template as soon as it knows it will run something
(:func:`batch_template`), so its imports overlap the batch's own work (checking the
study, planning, starting the workers); every worker connects to it. A worker that finds
no template of its batch (another start method, or the template is gone) starts one of
its own.

How it is kept safe:

- Only the plain IPython kernel of this interpreter is forked (a kernel spec whose
  command is ``<this python> -m ipykernel_launcher -f <connection file>``); any other
  kernel spec, or a template that does not answer, starts kernels the usual way.
- The template imports modules but creates no ZeroMQ context, thread pool of its own or
  event loop, and the child resets every signal handler it changed before the kernel
  starts. The child's environment is the one jupyter_client prepared for the kernel.
- Workers reach the template through sockets that exist only in the batch's processes
  (a socket pair the batch made, inherited by its workers; each worker passes the
  template one end of a pair of its own), never through a name on disk or in the
  abstract namespace that another user's process could open.
- Lifetimes are chained with Linux's parent-death signal: a kernel dies with its
  template and the template with the process that started it (the batch, or a worker);
  a kernel whose worker ends is killed by the template when that worker's connection
  closes (the template holds a pidfd of each kernel, so no other process can be hit).
- Children are reaped by the kernel (``SIGCHLD`` ignored in the template), so none is
  left as a zombie; the worker sees a child end when its pid is gone.
- A kernel's output goes to a file the worker opened and passed over a Unix socket
  (``SCM_RIGHTS``), so nothing is left on disk if a worker is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

__all__ = [
    "ForkedKernelManager",
    "Template",
    "Zygote",
    "batch_template",
    "forkable",
    "start_shared",
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
    """A connection to a template: asks it for kernels."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._file = sock.makefile("r", encoding="utf-8")
        self.broken = False

    def spawn(self, connection_file: str, cwd: str, env: dict[str, str], log_fd: int) -> int:
        """Fork a kernel for ``connection_file`` in ``cwd`` with ``env``; its output goes
        to ``log_fd``. Returns its pid; raises ``OSError`` when the template is gone."""
        # as jupyter_client's launcher says who started the kernel
        env = {**env, "JPY_PARENT_PID": str(os.getpid())}
        request = json.dumps({"connection_file": connection_file, "cwd": cwd, "env": env})
        try:
            socket.send_fds(self._sock, [request.encode() + b"\n"], [log_fd])
            line = self._file.readline()
        except OSError:
            self.broken = True
            raise
        if not line:
            self.broken = True
            raise OSError("the kernel template process ended")
        answer = json.loads(line)
        if "pid" not in answer:
            raise OSError(f"the kernel template could not fork: {answer.get('error')}")
        return int(answer["pid"])

    def close(self) -> None:
        """Close the connection (the template then ends the kernels it forked for it)."""
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()


class Template:
    """A template process, seen from the process that started it (its *owner*).

    Other processes reach it through :meth:`connect`: the owner's workers inherit the
    control socket when they are forked.
    """

    def __init__(self, env: dict[str, str] | None = None) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        self._owner = os.getpid()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "analysis.report.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,  # what its kernels import is set up by it: the figure backend, threads
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()

    def connect(self) -> Zygote:
        """A connection of this process to the template; ``OSError`` when it is gone."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self._control, [b"connect"], [theirs.fileno()])
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        return Zygote(ours)

    def close(self) -> None:
        """End the template, and with it every kernel it forked (in the owner; in any
        other process this only lets go of the inherited socket)."""
        with contextlib.suppress(OSError):
            self._control.close()
        if os.getpid() == self._owner:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(timeout=5)


_batch: Template | None = None  # the batch's template (inherited by forked workers)
_own: Template | None = None  # a worker's own template, when it can reach no batch's
_client: Zygote | None = None  # this process's connection


@contextlib.contextmanager
def batch_template(env: dict[str, str] | None = None) -> Iterator[None]:
    """Start a template (with the environment ``env``) for the workers this process will
    fork, and end it on leaving; inside another ``batch_template``, use that one."""
    global _batch
    if _batch is not None:
        yield
        return
    _batch = Template(env)
    try:
        yield
    finally:
        template, _batch = _batch, None
        template.close()


def _connection() -> Zygote:
    """This process's connection to a template: the batch's when it answers, else one of
    its own (started on first use)."""
    global _client, _own
    if _client is not None and not _client.broken:
        return _client
    if _client is not None:
        _client.close()
    _client = None
    if _batch is not None and _own is None:
        with contextlib.suppress(OSError):
            _client = _batch.connect()
    if _client is None:
        if _own is None:
            _own = Template()
        _client = _own.connect()
    return _client


def start_shared() -> None:
    """Connect to a template now (starting this process's own when there is no batch
    template), so that it imports while the caller goes on."""
    with contextlib.suppress(OSError):
        _connection()


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
                pid = _connection().spawn(
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
    """The template: import, then fork kernels for every connected process until the
    control socket and every connection are closed."""
    _die_with_parent()
    import importlib

    from .warm import WARM_IMPORTS

    for name in (*WARM_IMPORTS, "ipykernel.kernelapp"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    control = socket.socket(fileno=fd)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, None)
    clients: dict[socket.socket, _Client] = {}
    while True:
        for key, _events in selector.select():
            if key.data is None:  # the control socket: a new connection, or closed
                if not _accept(control, selector, clients):
                    selector.unregister(control)
                    control.close()
            elif isinstance(key.data, _Client):
                _answer(key.data, selector, clients, previous)
            else:  # a kernel's pidfd: the kernel ended
                client, pidfd = key.data
                selector.unregister(pidfd)
                os.close(pidfd)
                client.kernels.discard(pidfd)
        if not selector.get_map():
            return


class _Client:
    """One connected process, as the template sees it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []
        self.kernels: set[int] = set()  # pidfds of the kernels forked for it


def _accept(
    control: socket.socket, selector: selectors.BaseSelector, clients: dict[socket.socket, _Client]
) -> bool:
    """Take the connections sent over the control socket; ``False`` when it closed."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(control, 64, 8)
    except OSError:
        return False
    for fd in fds:
        sock = socket.socket(fileno=fd)
        clients[sock] = _Client(sock)
        selector.register(sock, selectors.EVENT_READ, clients[sock])
    return bool(data)


def _answer(
    client: _Client,
    selector: selectors.BaseSelector,
    clients: dict[socket.socket, _Client],
    previous: Any,
) -> None:
    """Serve what ``client`` sent; when it has gone, kill the kernels forked for it."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(client.sock, 1 << 16, 4)
    except OSError:
        data, fds = b"", []
    client.fds += fds
    if not data:
        selector.unregister(client.sock)
        del clients[client.sock]
        for pidfd in client.kernels:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            selector.unregister(pidfd)
            os.close(pidfd)
        for fd in client.fds:
            os.close(fd)
        client.sock.close()
        return
    client.buffer += data
    while b"\n" in client.buffer:
        line, client.buffer = client.buffer.split(b"\n", 1)
        log_fd = client.fds.pop(0) if client.fds else os.open(os.devnull, os.O_WRONLY)
        try:
            request = json.loads(line)
            pid = os.fork()
        except Exception as exc:  # an unreadable request or no fork: say so, go on
            os.close(log_fd)
            _reply(client, {"error": str(exc)})
            continue
        if pid == 0:  # the kernel keeps none of the template's sockets and pidfds
            for key in list(selector.get_map().values()):
                with contextlib.suppress(OSError):
                    if isinstance(key.fileobj, socket.socket):
                        key.fileobj.close()
                    else:
                        os.close(key.fd)
            selector.close()
            signal.signal(signal.SIGCHLD, previous)
            _kernel(request, log_fd)  # never returns
        os.close(log_fd)
        with contextlib.suppress(OSError, AttributeError):  # no pidfds: it dies with us
            pidfd = os.pidfd_open(pid)
            client.kernels.add(pidfd)
            selector.register(pidfd, selectors.EVENT_READ, (client, pidfd))
        _reply(client, {"pid": pid})


def _reply(client: _Client, answer: dict[str, Any]) -> None:
    """Answer a request; a client gone meanwhile is dealt with when its end is read."""
    with contextlib.suppress(OSError):
        client.sock.sendall(json.dumps(answer).encode() + b"\n")


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
