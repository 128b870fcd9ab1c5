"""The processes a benchmark runs: the bench upstream and the targets in front of it.

Each process is started in its own session (so its process group is its PID) with output to a log
file, and stopped by that process group: SIGTERM, then SIGKILL after a grace period. `Procs` is a
context manager that stops everything it started, also on Ctrl-C or error. CPU time is read from
/proc/PID/stat (utime + stime of the process and its descendants), resident memory from /proc/PID/status.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGETS = ("direct", "bare-tcp", "drawbridge-permit-all", "drawbridge-guarded", "drawbridge-guarded-workers")
PERMIT_ALL = REPO / "policies" / "examples" / "permit-all"
GUARDED = REPO / "bench" / "policy"
PRINCIPAL, AGENT = "bench-agent", "bench-load"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in task.read_text().split():
                pids.extend(_tree(int(child)))
    return pids


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds used so far by `pid` and its live descendants."""
    user = system = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime: fields 14, 15
    return user / CLK_TCK, system / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident memory (VmRSS) in bytes of `pid` and its live descendants; vanished processes count 0."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024  # kB
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its live descendants."""
    return sum(cpu_times(pid))


class Procs:
    """Processes started by one run, stopped newest first on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, argv: list[str], port: int, timeout: float = 30.0,
              cwd: Path = REPO) -> subprocess.Popen[bytes]:
        """Start `argv` in `cwd` and wait until it accepts connections on 127.0.0.1:`port`."""
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.started.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
                return proc
            time.sleep(0.05)
        self.stop(proc)
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"{name} did not start listening on {HOST}:{port}:\n" + "\n".join(tail))

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        """Stop one started process and its process group (SIGTERM, then SIGKILL)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(grace)
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.started)):
            self.stop(proc)


@dataclass
class Target:
    """A running target: the URL to load, the PID whose CPU is the hop's, extra headers to send."""

    name: str
    url: str
    pid: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def start_upstream(procs: Procs, sse: bool = False, workers: int = 1) -> Target:
    """The bench upstream: one stateful process (JSON answers, or SSE with `sse`), or `workers` stateless
    uvicorn workers (JSON) so that the upstream is not the bottleneck. Its CPU counts every worker."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.upstream", str(port), *(["--sse"] if sse else [])]
    if workers > 1:
        argv = [sys.executable, "-m", "uvicorn", "bench.upstream_app:app", "--host", HOST, "--port", str(port),
                "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--http", "httptools",
                "--loop", "uvloop"]
    proc = procs.start("upstream", argv, port)
    return Target("upstream", f"http://{HOST}:{port}/mcp", proc.pid, proc=proc)


def start_target(procs: Procs, name: str, upstream: Target, work: Path,
                 launcher: tuple[str, ...] = ("-m", "proxy"), proxy_workers: int = 2) -> Target:
    """Start target `name` (one of TARGETS) in front of `upstream`; `work` holds its config and audit file.

    `launcher` is how Python runs the drawbridge CLI (e.g. through bench/cpuprof.py).
    """
    if name == "direct":
        return Target(name, upstream.url)
    port = free_port()
    up_port = upstream.url.split(":")[2].split("/")[0]
    headers: tuple[tuple[str, str], ...] = ()
    cwd = REPO
    if name == "bare-tcp":
        argv = [sys.executable, "-m", "bench.passthrough", str(port), up_port]
    elif name in ("drawbridge-permit-all", "drawbridge-guarded", "drawbridge-guarded-workers"):
        cwd = work / name  # Drawbridge's relative state paths (var/...) land here, not in the repo
        cwd.mkdir(exist_ok=True)
        argv = [sys.executable, *launcher, "serve", "--listen", f"{HOST}:{port}", "--upstream", upstream.url,
                "--audit-file", str(cwd / "audit.jsonl")]
        if name == "drawbridge-permit-all":
            argv += ["--policy", str(PERMIT_ALL)]
        else:
            key = "dbk_bench_" + secrets.token_urlsafe(24)
            config = cwd / "guarded.yaml"
            config.write_text(yaml.safe_dump({"identity": {"api_keys": [{
                "sha256": hashlib.sha256(key.encode()).hexdigest(), "principal": PRINCIPAL, "agent": AGENT}]}}))
            argv += ["--config", str(config), "--policy", str(GUARDED)]
            if name == "drawbridge-guarded-workers":  # N workers on one listener, sharing the SQLite store
                argv += ["--workers", str(proxy_workers)]
            headers = (("x-api-key", key),)
    else:
        raise ValueError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    proc = procs.start(name, argv, port, cwd=cwd)
    return Target(name, f"http://{HOST}:{port}/mcp", proc.pid, headers, proc)
