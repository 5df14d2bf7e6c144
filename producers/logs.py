"""Reading event logs: `.jsonl` or `.jsonl.gz`, one event per line, streamed.

A line is handed over byte for byte: only its `\\n` terminator is removed (a `\\r` before it, an
invalid UTF-8 sequence, a stray NUL: all kept, because the worker must see what the producer
wrote). Lines that are empty or only ASCII whitespace are not events and are skipped. Files are
read in the order given, through a buffered reader, so memory stays constant whatever their size.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from producers.exceptions import EventLogError

StrPath = str | os.PathLike[str]

_READ_BUFFER = 1 << 20  # 1 MiB: few syscalls on multi-GB logs, still constant memory
_GZIP_MAGIC = b"\x1f\x8b"

if TYPE_CHECKING:
    _RawFile: TypeAlias = io.BufferedReader[io.FileIO]
else:
    _RawFile = io.BufferedReader


class LogLine(NamedTuple):
    """One non-blank line of an event log, with where it came from."""

    path: str
    lineno: int  # 1-based, counting blank lines too: what an editor shows
    raw: bytes  # the line without its `\n`


def is_gzip_path(path: StrPath) -> bool:
    return os.fspath(path).endswith(".gz")


def _open_into(stack: ExitStack, name: str) -> tuple[_RawFile, io.BufferedIOBase]:
    """Open one log on `stack`: the file itself and the stream of its lines (gzip or not)."""
    try:
        raw = stack.enter_context(io.BufferedReader(io.FileIO(name, "rb"), _READ_BUFFER))
        magic = raw.peek(2)[:2] if is_gzip_path(name) else b""
    except OSError as exc:
        raise EventLogError(f"cannot read event log {name}: {exc.strerror or exc}") from exc
    if not is_gzip_path(name):
        return raw, raw
    if magic and magic != _GZIP_MAGIC:
        raise EventLogError(f"event log {name} is named .gz but is not a gzip file")
    return raw, stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))


@contextmanager
def open_log(path: StrPath) -> Iterator[io.BufferedIOBase]:
    """Open one log for binary reading; a name ending in `.gz` is read through gzip."""
    with ExitStack() as stack:
        yield _open_into(stack, os.fspath(path))[1]


def check_readable(paths: Iterable[StrPath]) -> list[str]:
    """Fail fast, before anything is sent, when one of the logs cannot be opened at all.

    Returns the paths as strings. Corruption further inside a gzip stream is only found when
    the reading reaches it.
    """
    names = [os.fspath(p) for p in paths]
    if not names:
        raise EventLogError("no event log given")
    for name in names:
        with open_log(name):
            pass
    return names


class EventLogReader:
    """Iterates the non-blank lines of several logs, in file order then line order.

    Iterating raises `EventLogError` naming the file (and the last line read) when a file is
    missing or unreadable, or when a gzip stream is corrupt or truncated. `bytes_read` and
    `total_bytes` (sizes on disk, compressed for `.gz`) let a progress bar show how far it is.
    """

    def __init__(self, paths: Iterable[StrPath]) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self._done_bytes = 0
        self._current: _RawFile | None = None

    @property
    def total_bytes(self) -> int:
        total = 0
        for name in self.paths:
            try:
                total += os.stat(name).st_size
            except OSError:
                continue  # reported by the iteration itself, with its reason
        return total

    @property
    def bytes_read(self) -> int:
        current = self._current
        if current is None or current.closed:
            return self._done_bytes
        return self._done_bytes + current.tell()

    def __iter__(self) -> Iterator[LogLine]:
        for name in self.paths:
            lineno = 0
            with ExitStack() as stack:
                self._current, stream = _open_into(stack, name)
                try:
                    for line in stream:
                        lineno += 1
                        if line.endswith(b"\n"):
                            line = line[:-1]
                        if not line or line.isspace():
                            continue
                        yield LogLine(name, lineno, line)
                except (OSError, EOFError, zlib.error) as exc:
                    what = (
                        "corrupt or truncated gzip stream" if is_gzip_path(name) else "read error"
                    )
                    raise EventLogError(
                        f"event log {name}: {what} after line {lineno}: {exc}"
                    ) from exc
                self._done_bytes += self._current.tell()
            self._current = None


def iter_log_lines(paths: Iterable[StrPath]) -> Iterator[LogLine]:
    """Every non-blank line of the logs with its position; see `EventLogReader`."""
    return iter(EventLogReader(paths))


def iter_raw_lines(paths: Iterable[StrPath]) -> Iterator[bytes]:
    """The raw bytes of every non-blank line, as `iter_log_lines` without the positions."""
    for line in iter_log_lines(paths):
        yield line.raw
