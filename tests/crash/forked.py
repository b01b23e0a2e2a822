"""Run a function in a forked child process that has its own database connection.

A fresh interpreter spends seconds importing Django and the apps before it does anything
(about 5 s on a shared CI machine), and the crash tests start a process for every step of
every operation. A fork starts in milliseconds with the parent's settings (the test
database's name, the test's storage folders) and then opens its own database session, so
what it commits is seen by the parent and what it leaves half done is left half done.

The child never touches the connection it inherited (the parent's socket) and always
leaves with `os._exit`: no atexit handlers, no finalisers, no flush of anything the
parent owns, exactly like a process killed with SIGKILL at that point.
"""

import os
import pickle
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

# Connections inherited from the parent, kept referenced so no finaliser closes their
# socket from the child (which would end the parent's session).
_inherited: list = []


@dataclass(frozen=True)
class ChildResult:
    exit_code: int | None  # None: still running at the timeout, then killed
    ok: bool = False  # the function returned (exit code 0)
    value: object = None
    error: str = ""  # "Type: message" of the exception the function raised
    error_type: str = ""
    traceback: str = ""

    @property
    def crashed(self) -> bool:
        from archive.faults import CRASH_EXIT_CODE

        return self.exit_code == CRASH_EXIT_CODE


def connections_detach() -> None:
    """Make every connection of this (forked) process open its own database session."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited.append(conn.connection)
            conn.connection = None
        conn.in_atomic_block = False
        conn.savepoint_ids = []
        conn.run_on_commit = []
        conn.needs_rollback = False


def _child(fn: Callable[[], object], env: dict[str, str], write_fd: int) -> None:
    code = 0
    try:
        connections_detach()
        os.environ.update(env)
        try:
            payload = {"ok": True, "value": fn()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "error_type": type(exc).__name__,
                "traceback": traceback.format_exc(),
            }
        try:
            data = pickle.dumps(payload)
        except Exception as exc:  # noqa: BLE001 - an unpicklable return value
            data = pickle.dumps({"ok": False, "error": f"unpicklable result: {exc}"})
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0 if payload["ok"] else 1
    finally:
        os._exit(code)


class Child:
    """A forked child running a function; `join` waits for it and returns its result."""

    def __init__(self, fn: Callable[[], object], env: dict[str, str] | None = None):
        for conn in connections.all(initialized_only=True):
            if conn.in_atomic_block:
                raise RuntimeError(
                    "Fork outside transactions (transactional tests): the child could not "
                    "see uncommitted rows and would block on their locks."
                )
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(fn, env or {}, write_fd)
        os.close(write_fd)
        self.pid, self.read_fd = pid, read_fd

    def join(self, timeout: float = 60) -> ChildResult:
        chunks, deadline, killed = [], time.monotonic() + timeout, False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    os.kill(self.pid, signal.SIGKILL)
                    killed = True
                    break
                ready, _, _ = select.select([self.read_fd], [], [], remaining)
                if ready:
                    chunk = os.read(self.read_fd, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            os.close(self.read_fd)
        _, status = os.waitpid(self.pid, 0)
        if killed:
            return ChildResult(exit_code=None, error=f"still running after {timeout} s; killed")
        exit_code = os.waitstatus_to_exitcode(status)
        if not chunks:
            return ChildResult(exit_code=exit_code)
        payload = pickle.loads(b"".join(chunks))  # noqa: S301 - written by our own child
        return ChildResult(
            exit_code=exit_code,
            ok=payload["ok"],
            value=payload.get("value"),
            error=payload.get("error", ""),
            error_type=payload.get("error_type", ""),
            traceback=payload.get("traceback", ""),
        )


def run_forked(
    fn: Callable[[], object], *, env: dict[str, str] | None = None, timeout: float = 60
) -> ChildResult:
    """Run fn() in a forked child with extra environment env; wait at most timeout seconds."""
    return Child(fn, env).join(timeout)
