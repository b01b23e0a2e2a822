"""Reading an ingest tree safely: regular files only, symlinks refused, names printable.

An ingest tree is input like any other. A FIFO or a device (or a symlink to /dev/zero)
would block or never end; a symlink could point anywhere on the machine; a file name
need not be valid UTF-8. `tree_walk` lists what it finds with a verdict for each entry,
`regular_file_open` opens without following links and refuses anything but a regular
file, and `time_limit` bounds the time one file may take to read and decode.
"""

import os
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path names something other than a regular file; it is never read."""


@dataclass(frozen=True)
class Found:
    path: str  # as the operating system names it (may carry undecodable bytes)
    problem: str = ""  # why it is refused without being read; empty: ingest it

    @property
    def shown(self) -> str:
        return printable_path(self.path)


def printable_path(path: str) -> str:
    """The path as text that any database and terminal accept (bad bytes as \\xNN)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _inside(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _verdict(path: str, *, roots: list[str], follow_symlinks: bool) -> Found:
    try:
        info = os.lstat(path)
    except OSError as exc:
        return Found(path, f"unreadable: {exc.strerror or exc}")
    if stat.S_ISLNK(info.st_mode):
        if not follow_symlinks:
            return Found(path, "symbolic link not followed (use --follow-symlinks)")
        target = os.path.realpath(path)
        if not _inside(target, roots):
            return Found(path, "symbolic link pointing outside the ingest folder; not read")
        try:
            info = os.stat(target)
        except OSError as exc:
            return Found(path, f"broken symbolic link: {exc.strerror or exc}")
        if not stat.S_ISREG(info.st_mode):
            return Found(path, f"symbolic link to {_kind(info.st_mode)}; not read")
        return Found(target)
    if not stat.S_ISREG(info.st_mode):
        return Found(path, f"{_kind(info.st_mode)}, not a regular file; not read")
    return Found(path)


def tree_walk(paths: list[str], *, follow_symlinks: bool = False) -> tuple[list[Found], int]:
    """Every entry under the given paths (sorted) with its verdict; hidden entries counted."""
    found, hidden = [], 0
    for given in paths:
        roots = [os.path.realpath(given if os.path.isdir(given) else os.path.dirname(given))]
        if os.path.islink(given) or not os.path.isdir(given):
            found.append(_verdict(given, roots=roots, follow_symlinks=follow_symlinks))
            continue
        for folder, subfolders, names in os.walk(given):
            # Symlinked folders are never walked into; they are reported like files.
            entries = sorted(subfolders + names)
            subfolders[:] = sorted(
                d
                for d in subfolders
                if not d.startswith(".") and not os.path.islink(os.path.join(folder, d))
            )
            for name in entries:
                full = os.path.join(folder, name)
                if name.startswith("."):
                    hidden += 1
                elif name in subfolders:
                    continue
                else:
                    found.append(_verdict(full, roots=roots, follow_symlinks=follow_symlinks))
    return found, hidden


def regular_file_open(path: str) -> BinaryIO:
    """Open path for reading only if it is a regular file, never following a final link.

    O_NONBLOCK keeps a FIFO swapped in after the walk from blocking the open; the check
    after opening (fstat) is on the very file that will be read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{_kind(mode)}, not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError if the block runs longer than seconds (main thread only)."""
    usable = seconds > 0 and hasattr(signal, "setitimer")
    try:
        usable = usable and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
    except ValueError:
        usable = False
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"reading took longer than {seconds:g} s; skipped")

    try:
        signal.signal(signal.SIGALRM, expired)
    except ValueError:  # not the main thread: no limit can be set here
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
