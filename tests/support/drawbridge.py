"""Run the real `drawbridge serve` CLI as a subprocess for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.audit_schema import assert_events_fit

REPO = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = REPO / "policies" / "default"
PERMIT_ALL = REPO / "policies" / "examples" / "permit-all"
ADMIN_TOKEN = "db-admin-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")



def audit_events(path: Path, event_type: str | None = "decision") -> list[dict[str, Any]]:
    """Parsed audit lines of one type (all of them with `event_type=None`), oldest first. Every line must fit
    its published schema (`proxy/audit/schemas/`): one that does not fails the test."""
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines]
    assert_events_fit(rows, str(path), "line", lines)
    return [r for r in rows if event_type is None or r["event_type"] == event_type]

@dataclass
class Drawbridge:
    """A running proxy: its base URL, audit file and process."""

    url: str
    port: int
    audit_path: Path
    config_path: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_url: str | None = None
    env: dict[str, str] | None = None

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `drawbridge ARGS…` (python -m proxy) against this proxy's admin API."""
        assert self.admin_url is not None, "started without admin=True"
        env = {**os.environ, "DRAWBRIDGE_ADMIN_URL": self.admin_url, "DRAWBRIDGE_ADMIN_TOKEN": ADMIN_TOKEN}
        return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True, text=True,
                              timeout=timeout, env=env, check=False)

    def mcp_url(self, upstream: str | None = None) -> str:
        return f"{self.url}/mcp" if upstream in (None, "default") else f"{self.url}/{upstream}/mcp"

    def events(self, event_type: str | None = "decision") -> list[dict[str, Any]]:
        return audit_events(self.audit_path, event_type)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def restart(self) -> None:
        """Stop the process (SIGTERM) and start a new one on the same config, ports and store: a rolling
        update or a crashed pod coming back."""
        _stop(self.process)
        self.process = _start(self.config_path, self.log_path, self.env, append=True)
        wait_port(self.port, proc=self.process)
        if self.admin_url is not None:
            wait_port(int(self.admin_url.rsplit(":", 1)[1]), proc=self.process)


@contextlib.contextmanager
def run_drawbridge(
    tmp: Path,
    upstreams: dict[str, str],
    *,
    policy: Path = PERMIT_ALL,
    extra: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    admin: bool = False,
) -> Iterator[Drawbridge]:
    """Start `python -m proxy serve --config FILE` on a free port; stop it (SIGTERM, then kill) after.

    With `admin`, the admin API listens on another free port with token ADMIN_TOKEN (see `Drawbridge.cli`).
    """
    port = free_port()
    audit = tmp / f"audit-{port}.jsonl"
    config: dict[str, Any] = {
        "listen": f"127.0.0.1:{port}",
        "policy": str(policy),
        "upstreams": [{"name": name, "url": url} for name, url in upstreams.items()],
        "audit": {"file": str(audit)},
        "policy_reload": {"watch": True, "interval_seconds": 0.2},
        "store": f"sqlite:{tmp}/state-{port}.db",
        "log_level": "warning",
    }
    admin_port = free_port() if admin else None
    if admin_port is not None:
        config["admin"] = {"listen": f"127.0.0.1:{admin_port}", "evidence_dir": str(tmp / f"evidence-{port}")}
        env = {**(env or {}), "DRAWBRIDGE_ADMIN_TOKEN": ADMIN_TOKEN}
    for key, value in (extra or {}).items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    config_path = tmp / f"drawbridge-{port}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp / f"drawbridge-{port}.log"
    proc = _start(config_path, log_path, env)
    try:
        try:
            wait_port(port, proc=proc)
            if admin_port is not None:
                wait_port(admin_port, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n--- drawbridge log ---\n{log_path.read_text(errors='replace')}") from None
        admin_url = f"http://127.0.0.1:{admin_port}" if admin_port is not None else None
        proxy = Drawbridge(f"http://127.0.0.1:{port}", port, audit, config_path, proc, log_path, admin_url, env)
        yield proxy
    finally:
        _stop(proxy.process if "proxy" in locals() else proc)


def _start(config_path: Path, log_path: Path, env: dict[str, str] | None, append: bool = False
           ) -> subprocess.Popen[bytes]:
    with log_path.open("ab" if append else "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--config", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def run_module_server(module: str, *args: str, port: int | None = None) -> Iterator[str]:
    """Start a Python MCP server module (`python -m MODULE --port N …`) and yield its /mcp URL."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        try:
            wait_port(port, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr and proc.poll() is not None else ""
            raise RuntimeError(f"{module}: {exc}\n{err}") from None
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_group(proc, 10)


def stop_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM a process started with `start_new_session=True` and its children; SIGKILL after `grace` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
