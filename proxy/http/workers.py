"""`drawbridge serve --workers N`: N data-plane processes on one listener (pre-fork), one admin listener.

The parent binds the data-plane socket once, then forks the workers before it starts any thread or event
loop; the kernel hands each new connection to one of them. Every worker builds its own runtime on the same
store, exactly as replicas do: sessions, containment, catalogs, pins and detection windows are shared
through it (SQLite in WAL mode for one pod, Redis for several), so a session opened on one worker goes on
on another and a quarantine holds on all. Worker 0 also serves the admin API. Each worker writes its own
audit files (worker i > 0 writes `NAME.worker-i.EXT`), so every file is one hash chain; `drawbridge
incident timeline` reads them all. A worker that dies is started again (at most `RESTARTS` a minute); on
SIGTERM or SIGINT the parent passes SIGTERM on to every worker, which drains (`server.py`), and waits for them:
the drain timeout and `STOP_GRACE` seconds more (its audit sinks' flush), then kills what is left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from proxy.config import Config, FileSinkConfig, split_listen
from proxy.metrics.workers import cleanup, prepare_workers

log = logging.getLogger("drawbridge")
RESTARTS = 5  # per worker per minute; beyond that the pod is failing and the parent exits
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_GRACE = 10.0  # after the drain timeout: lifespan shutdown, proxy_stopped, the sinks' flush


def worker_count(value: int | str) -> int:
    """`auto`: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if value == "auto" else int(value)


def worker_file(path: Path, index: int) -> Path:
    return path if index == 0 else path.with_name(f"{path.stem}.worker-{index}{path.suffix}")


def worker_config(config: Config, index: int) -> Config:
    """Worker 0 runs the configuration as given; the others without the admin API and with their own files."""
    if index == 0:
        return config
    audit = config.audit
    sinks = tuple(s.model_copy(update={"path": worker_file(s.path, index)}) if isinstance(s, FileSinkConfig) else s
                  for s in audit.sinks)
    audit = audit.model_copy(update={"file": worker_file(audit.file, index) if audit.file else None, "sinks": sinks})
    return config.model_copy(update={"audit": audit, "admin": None})


def listening_socket(config: Config) -> socket.socket:
    host, port = split_listen(config.listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=4096)
    sock.set_inheritable(True)
    return sock


Serve = Callable[[Config, socket.socket], int]


class Supervisor:
    """Forks the workers, restarts one that dies, stops them all on a signal."""

    def __init__(self, config: Config, count: int, serve: Serve) -> None:
        self.config, self.count, self.serve = config, count, serve
        self.children: dict[int, int] = {}  # pid → worker index
        self.started: dict[int, list[float]] = {i: [] for i in range(count)}
        self.stopping = False

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in STOP_SIGNALS}  # before the port answers
        metrics_dir = prepare_workers()  # every worker's counters, summed by the one serving /metrics
        try:
            return self._supervise(listening_socket(self.config))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            cleanup(metrics_dir)

    def _supervise(self, sock: socket.socket) -> int:
        for worker in range(self.count):
            if not self.stopping:
                self._fork(worker, sock)
        log.info("%d workers serving %s", self.count, self.config.listen)
        code = 0
        try:
            while self.children:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                except InterruptedError:
                    continue
                index = self.children.pop(pid, -1)
                if index < 0 or self.stopping:
                    continue
                log.error("worker %d (pid %d) exited with status %d", index, pid, os.waitstatus_to_exitcode(status))
                if not self._fork(index, sock):
                    code = 1
                    self._stop(signal.SIGTERM, None)
        finally:
            sock.close()
        return code

    def _fork(self, index: int, sock: socket.socket) -> bool:
        now = time.monotonic()
        recent = [t for t in self.started[index] if now - t < 60] + [now]
        self.started[index] = recent
        if len(recent) > RESTARTS:
            log.error("worker %d restarted %d times in a minute; stopping the pod", index, RESTARTS)
            return False
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # until the worker's own handlers are set
        pid = os.fork()
        if pid == 0:  # the worker: default signal handling, then serve until told to stop
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = self.serve(worker_config(self.config, index), sock)
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                os._exit(code)
        self.children[pid] = index  # before a signal held meanwhile runs `_stop`, which must see it
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return True

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.drain_timeout_seconds + STOP_GRACE
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            self.children.pop(pid, None)
        for pid in list(self.children):
            log.error("worker %d (pid %d) still running after the drain timeout; killing it", self.children[pid], pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
