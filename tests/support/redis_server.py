"""A real `redis-server` on a free loopback port, in its own data dir (AOF on, no RDB).

Plain code (no pytest import) so fixtures, benchmarks and a REPL can all use it:

    with RedisServer.running() as server:   # RedisNotInstalled if there is no redis-server
        url = server.url                    # redis://127.0.0.1:PORT/0
        server.kill()                       # abrupt loss (SIGKILL)
        server.start()                      # same port, same data dir: the AOF is replayed

`RedisServer(dir, password=...)` requires a password, `tls=(cert, key)` serves TLS only (rediss://), and
`SentinelSetup` runs a master, a replica and Sentinels (`redis-sentinel`, else `redis-server --sentinel`):

    with SentinelSetup.running(tmp, password="pw") as ha:
        ha.nodes                            # ["127.0.0.1:PORT", ...]: the Sentinels
        ha.failover()                       # SENTINEL FAILOVER; returns the promoted server
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import redis

HOST = "127.0.0.1"
MASTER_NAME = "mymaster"


class RedisNotInstalled(RuntimeError):
    """No `redis-server` on PATH."""


class RedisServer:
    """One redis-server process; `start`, `stop`, `kill` and `restart` keep the port and data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, binary: str | None = None, *,
                 password: str | None = None, tls: tuple[Path, Path] | None = None, args: Sequence[str] = ()) -> None:
        """`password`: requirepass (and masterauth, for replicas); `tls`: (certificate, key) PEM files, the
        certificate also being the CA clients trust; the port then speaks TLS only. `args` are appended."""
        found = binary or shutil.which("redis-server")
        if found is None:
            raise RedisNotInstalled("redis-server is not installed (apt-get install redis-server)")
        self.binary = found
        self.data_dir = data_dir
        self.port = port or free_port()
        self.password, self.tls, self.args = password, tls, tuple(args)
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
        """The URL without credentials (rediss:// when the server speaks TLS)."""
        return f"{'rediss' if self.tls else 'redis'}://{HOST}:{self.port}/0"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def client(self) -> redis.Redis:
        """A synchronous redis-py client for this server (authenticated, TLS as served); close it after use."""
        return redis.Redis(host=HOST, port=self.port, password=self.password, socket_timeout=2, ssl=bool(self.tls),
                           ssl_ca_certs=str(self.tls[0]) if self.tls else None)

    def role(self) -> str:
        """`master` or `slave`, as INFO replication reports it."""
        with contextlib.closing(self.client()) as client:
            return str(client.info("replication")["role"])

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        args = [self.binary, "--port", "0" if self.tls else str(self.port), "--bind", HOST, "--save", "",
                "--appendonly", "yes", "--dir", str(self.data_dir), "--logfile", str(self.log_path)]
        if self.tls:
            cert, key = (str(path) for path in self.tls)
            args += ["--tls-port", str(self.port), "--tls-cert-file", cert, "--tls-key-file", key,
                     "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        args += self.args
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
            with socket.create_connection((HOST, self.port), timeout=0.5) as raw:
                sock = raw
                if self.tls:
                    sock = ssl.create_default_context(cafile=str(self.tls[0])).wrap_socket(raw, server_hostname=HOST)
                if self.password:
                    sock.sendall(_command("AUTH", self.password))
                    if not sock.recv(64).startswith(b"+OK"):
                        return False
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


class SentinelServer:
    """One Sentinel (`redis-sentinel` from Debian's package; `redis-server --sentinel` is the same program)
    watching one master, with a fast failure detection for tests."""

    def __init__(self, data_dir: Path, master_port: int, *, auth_pass: str | None = None,
                 password: str | None = None, down_after_ms: int = 1000, failover_timeout_ms: int = 3000) -> None:
        """`auth_pass`: the data nodes' password; `password`: this Sentinel's own (requirepass)."""
        sentinel, server = shutil.which("redis-sentinel"), shutil.which("redis-server")
        if sentinel is None and server is None:
            raise RedisNotInstalled("redis-server is not installed (apt-get install redis-server redis-sentinel)")
        self.command = [sentinel] if sentinel else [str(server), "--sentinel"]
        self.data_dir, self.port, self.password = data_dir, free_port(), password
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"port {self.port}", f"bind {HOST}", f"dir {data_dir}", f"logfile {data_dir / 'sentinel.log'}",
                 f"sentinel monitor {MASTER_NAME} {HOST} {master_port} 1",
                 f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}",
                 f"sentinel failover-timeout {MASTER_NAME} {failover_timeout_ms}"]
        if auth_pass:
            lines.append(f"sentinel auth-pass {MASTER_NAME} {auth_pass}")
        if password:
            lines.append(f"requirepass {password}")
        self.config = data_dir / "sentinel.conf"  # Sentinel rewrites it: each Sentinel has its own
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, password=self.password, socket_timeout=2, decode_responses=True)

    def master_port(self) -> int | None:
        """The port of the master this Sentinel names now (None while it names none)."""
        with contextlib.closing(self.client()) as client:
            found = client.sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(found[1]) if isinstance(found, tuple) else None

    def start(self, timeout: float = 10.0) -> None:
        args = [*self.command[:1], str(self.config), *self.command[1:]]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sentinel exited with {self.proc.returncode}: {self._tail()}")
            with contextlib.suppress(redis.RedisError), contextlib.closing(self.client()) as client:
                if client.ping():
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sentinel did not answer PING on port {self.port} in {timeout}s: {self._tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _tail(self, limit: int = 2000) -> str:
        try:
            return (self.data_dir / "sentinel.log").read_text(errors="replace")[-limit:]
        except OSError:
            return "(no log)"


class SentinelSetup:
    """A master, a replica and `sentinels` Sentinels watching them as `mymaster`, on free loopback ports."""

    def __init__(self, root: Path, *, password: str | None = None, sentinel_password: str | None = None,
                 sentinels: int = 1) -> None:
        # a replica syncs at once (the default waits 5 s); a stop does not wait for replicas to catch up
        quick = ["--repl-diskless-sync-delay", "0", "--shutdown-on-sigterm", "now"]
        first = RedisServer(_mkdir(root / "redis-a"), password=password, args=quick)
        second = RedisServer(_mkdir(root / "redis-b"), password=password,
                             args=[*quick, "--replicaof", HOST, str(first.port)])
        self.servers = [first, second]
        self.sentinels = [SentinelServer(root / f"sentinel-{i}", first.port, auth_pass=password,
                                         password=sentinel_password) for i in range(sentinels)]

    @classmethod
    @contextlib.contextmanager
    def running(cls, root: Path, **options: str | int | None) -> Iterator[SentinelSetup]:
        setup = cls(root, **options)  # type: ignore[arg-type]
        try:
            setup.start()
            yield setup
        finally:
            setup.stop()

    @property
    def nodes(self) -> list[str]:
        """The Sentinels' HOST:PORT, as `redis.sentinel.nodes` takes them."""
        return [s.address for s in self.sentinels]

    def master(self) -> RedisServer:
        """The server the (first) Sentinel names master now."""
        port = self.sentinels[0].master_port()
        return next(s for s in self.servers if s.port == port)

    def start(self, timeout: float = 15.0) -> None:
        """Start both servers, wait for the replication link, then the Sentinels, until they know the replica."""
        for server in self.servers:
            server.start()
        replica = self.servers[1]
        _until(lambda: _info(replica).get("master_link_status") == "up", timeout, "replication link up")
        for sentinel in self.sentinels:
            sentinel.start()
        _until(lambda: all(self._replica_known(s) for s in self.sentinels), timeout, "Sentinels know the replica")

    def failover(self, timeout: float = 15.0) -> RedisServer:
        """Force a failover (SENTINEL FAILOVER) and wait until the Sentinels name the promoted server, and it
        reports itself master; return it. The old master is demoted by the Sentinels later (about 10 s)."""
        old = self.master()
        with contextlib.closing(self.sentinels[0].client()) as client:
            client.sentinel_failover(MASTER_NAME)
        return self.wait_for_new_master(old, timeout)

    def wait_for_new_master(self, old: RedisServer, timeout: float = 15.0) -> RedisServer:
        """Wait until every Sentinel names another master than `old`, and that one reports role master."""
        new = next(s for s in self.servers if s is not old)
        _until(lambda: all(s.master_port() == new.port for s in self.sentinels), timeout, "Sentinels switch master")
        _until(lambda: new.role() == "master", timeout, "promoted server reports master")
        return new

    def stop(self) -> None:
        for sentinel in self.sentinels:  # first: no failover while the servers stop
            sentinel.stop()
        for server in self.servers:
            server.stop()

    def _replica_known(self, sentinel: SentinelServer) -> bool:
        with contextlib.closing(sentinel.client()) as client:
            replicas = client.sentinel_slaves(MASTER_NAME)
        return any(r.get("is_slave") and not r.get("is_sdown") and r.get("master-link-status") == "ok"
                   for r in replicas)


def _info(server: RedisServer) -> dict[str, object]:
    try:
        with contextlib.closing(server.client()) as client:
            return dict(client.info("replication"))
    except redis.RedisError:
        return {}


def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _command(*parts: str) -> bytes:
    """One command in RESP (safe for any argument, unlike an inline command)."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)
