"""Newline-delimited framing for stdio: a bounded line reader and serialised line writers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import threading
from collections.abc import Awaitable, Callable
from typing import Protocol

ReadChunk = Callable[[int], Awaitable[bytes]]
CHUNK_BYTES = 64 * 1024
CLOSE_FLUSH_SECONDS = 2.0


class TooLong:
    """Marks a line that exceeded the bound; its bytes were discarded up to the newline but its head."""

    __slots__ = ("head", "size")

    def __init__(self, size: int, head: bytes = b"") -> None:
        self.size = size
        self.head = head

    def __repr__(self) -> str:
        return f"TooLong({self.size})"


class LineReader:
    """Yields lines without their terminator; never buffers more than `max_bytes` of one line."""

    def __init__(self, read: ReadChunk, max_bytes: int, head_bytes: int = 512) -> None:
        self._read = read
        self._max = max_bytes
        self._head_bytes = head_bytes
        self._buffer = bytearray()
        self._eof = False

    async def next(self) -> bytes | TooLong | None:
        """The next line, a `TooLong` marker, or None at end of input."""
        discarded, head = 0, b""  # discarded > 0 while skipping the rest of an over-long line
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[:newline + 1]
                size = discarded + len(line)
                if discarded or size > self._max:
                    return TooLong(size, head or line[:self._head_bytes])
                return line.removesuffix(b"\r")
            if len(self._buffer) > self._max:
                head = head or bytes(self._buffer[:self._head_bytes])
                discarded += len(self._buffer)
                self._buffer.clear()
            if self._eof:
                if discarded:
                    return TooLong(discarded + len(self._buffer), head)
                if self._buffer:  # a last line without its newline still counts
                    line = bytes(self._buffer).removesuffix(b"\r")
                    self._buffer.clear()
                    return line
                return None
            chunk = await self._read(CHUNK_BYTES)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


class LineSink(Protocol):
    """Where whole lines go; implementations never interleave two lines."""

    async def write_line(self, line: bytes) -> None: ...
    async def close(self) -> None: ...


class StreamSink:
    """Writes lines to an asyncio StreamWriter (a pipe), draining after each one."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()

    async def write_line(self, line: bytes) -> None:
        async with self._lock:
            self._writer.write(line if line.endswith(b"\n") else line + b"\n")
            await self._writer.drain()

    async def close(self) -> None:
        """Flush what is buffered (bounded: the reader may have stopped reading), then close."""
        if self._writer.is_closing():
            return
        with contextlib.suppress(OSError, TimeoutError):  # ConnectionError included: the reader is gone
            await asyncio.wait_for(self._writer.drain(), CLOSE_FLUSH_SECONDS)
        self._writer.close()


class FdSink:
    """Writes lines to a blocking descriptor (a file or terminal) in one uninterrupted loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def write_line(self, line: bytes) -> None:
        view = memoryview(line if line.endswith(b"\n") else line + b"\n")
        while view:
            view = view[os.write(self._fd, view):]

    async def close(self) -> None:
        return None


def _is_pipe(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def open_stdout_sink(fd: int = 1) -> LineSink:
    """Stdout as a line sink: asynchronous for pipes; files and terminals are written directly
    (making a terminal non-blocking would also break stderr, which shares its file description)."""
    if not _is_pipe(fd):
        return FdSink(fd)
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(os.dup(fd), "wb", buffering=0)
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(), loop=loop), pipe)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return StreamSink(writer)


async def open_stdin_reader(fd: int = 0) -> ReadChunk:
    """Stdin as a chunk source: asynchronous for pipes, a daemon thread for files and terminals."""
    loop = asyncio.get_running_loop()
    if _is_pipe(fd):
        reader = asyncio.StreamReader(limit=CHUNK_BYTES, loop=loop)
        pipe = os.fdopen(os.dup(fd), "rb", buffering=0)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
        return reader.read
    return _thread_reader(fd, loop)


def _thread_reader(fd: int, loop: asyncio.AbstractEventLoop) -> ReadChunk:
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, CHUNK_BYTES)
            except OSError:
                chunk = b""
            try:
                asyncio.run_coroutine_threadsafe(queue.put(chunk), loop).result()
            except (RuntimeError, asyncio.CancelledError):
                return  # the loop is gone
            if not chunk:
                return

    threading.Thread(target=pump, name="drawbridge-stdin", daemon=True).start()

    async def read(_size: int) -> bytes:
        return await queue.get()

    return read
