"""A real `redis-server` on a free loopback port, in its own data dir (AOF on, no RDB).

Plain code (no pytest import) so fixtures, benchmarks and a REPL can all use it:

    with RedisServer.running() as server:   # RedisNotInstalled if there is no redis-server
        url = server.url                    # redis://127.0.0.1:PORT/0
        server.kill()                       # abrupt loss (SIGKILL)
        server.start()                      # same port, same data dir: the AOF is replayed
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"


class RedisNotInstalled(RuntimeError):
    """No `redis-server` on PATH."""


class RedisServer:
    """One redis-server process; `start`, `stop`, `kill` and `restart` keep the port and data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, binary: str | None = None) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise RedisNotInstalled("redis-server is not installed (apt-get install redis-server)")
        self.binary = found
        self.data_dir = data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[RedisServer]:
        """A started server in a fresh temp dir, stopped and removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="drawbridge-redis-") as tmp:
            server = cls(Path(tmp))
            server.start()
            try:
                yield server
            finally:
                server.stop()

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        args = [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "yes",
                "--dir", str(self.data_dir), "--logfile", str(self.log_path)]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {self._tail()}")
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING on port {self.port} in {timeout}s: {self._tail()}")

    def ping(self) -> bool:
        """True if the server answers PING with PONG (not while it is still loading the AOF)."""
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, grace: float = 5.0) -> None:
        """Graceful shutdown (SIGTERM), then SIGKILL if it lingers."""
        self._signal(signal.SIGTERM, grace)

    def kill(self) -> None:
        """Abrupt loss, as a crash or a network cut would look to clients."""
        self._signal(signal.SIGKILL, 5.0)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port with the same data dir."""
        self.stop()
        self.start()

    def _signal(self, sig: signal.Signals, grace: float) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _tail(self, limit: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
