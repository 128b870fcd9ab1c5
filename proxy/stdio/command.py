"""`drawbridge stdio -- CMD ARGS…`: run the server as a child and relay its stdio through the pipeline.

Stdout is the protocol channel: only JSON-RPC lines are ever written to it; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from proxy.audit import system_event
from proxy.config import Config, StdioConfig
from proxy.errors import ConfigError, DrawbridgeError
from proxy.runtime import Runtime
from proxy.state.codec import StoreUnavailable
from proxy.stdio.lines import LineReader, StreamSink, TooLong, open_stdin_reader, open_stdout_sink
from proxy.stdio.relay import Relay

log = logging.getLogger("drawbridge.stdio")

T = TypeVar("T")
GRACE_SECONDS = 5.0  # after the child's stdin closes, before SIGTERM
KILL_AFTER_SECONDS = 2.0  # after SIGTERM, before SIGKILL
DRAIN_SECONDS = 2.0  # for the child's last lines to reach the agent once it has exited
STDERR_LINE_BYTES = 64 * 1024


def child_environment(settings: StdioConfig, source: dict[str, str] | None = None) -> dict[str, str]:
    """The child's explicit environment: the inherited names that are set, then the configured values."""
    environ = dict(os.environ) if source is None else source
    return {name: environ[name] for name in settings.inherit_env if name in environ} | settings.env


def user_state_dir() -> Path:
    """Where the stdio mode keeps its embedded state by default (XDG_STATE_HOME, else ~/.local/state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "drawbridge"


def run_stdio_command(config: Config, command: list[str]) -> int:
    """Run `command` behind the relay; return its exit code (1 if it cannot be started)."""
    logging.getLogger("drawbridge").setLevel(config.log_level.upper())
    if "store" not in config.model_fields_set:  # a desktop agent's working directory is arbitrary
        config = config.model_copy(update={"store": f"sqlite:{user_state_dir() / 'state.db'}"})
    try:
        runtime = Runtime.build(config, stdout_is_protocol=True)
    except OSError as exc:
        raise ConfigError(f"cannot open the audit file {config.audit.file}: {exc.strerror or exc}") from None
    try:
        with contextlib.redirect_stdout(sys.stderr):  # a stray print() must never reach the protocol channel
            return _run(_serve(runtime, command))
    finally:
        runtime.close(transport="stdio")  # writes proxy_stopped, then flushes every audit sink


def _run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _serve(runtime: Runtime, command: list[str]) -> int:
    try:
        await runtime.start()
    except StoreUnavailable as exc:
        print(f"drawbridge: state store {runtime.config.store.split(':', 1)[0]} unavailable: {exc}", file=sys.stderr)
        return 2
    try:
        return await _serve_started(runtime, command)
    finally:
        await runtime.aclose()


async def _serve_started(runtime: Runtime, command: list[str]) -> int:
    settings = runtime.config.stdio
    limit = runtime.config.limits.max_stdio_line_bytes
    agent_out = await open_stdout_sink()
    agent_in = LineReader(await open_stdin_reader(), limit)
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=child_environment(settings), start_new_session=True)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"drawbridge: cannot start the server command {command[0]!r}: {reason}", file=sys.stderr)
        await agent_out.close()
        return 1
    _audit_system(runtime, "stdio_start", upstream=settings.upstream_name, principal=settings.principal,
                  executable=os.path.basename(command[0]), argument_count=len(command) - 1, pid=proc.pid)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None  # opened as PIPEs
    child_in = StreamSink(proc.stdin)
    relay = Relay(runtime, settings, agent_out, child_in)
    child_out = LineReader(proc.stdout.read, limit)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, runtime.auditor.reopen)  # logrotate: reopen the audit files
    tasks = {
        "agent": asyncio.create_task(_pump(agent_in, relay.from_agent, "agent")),
        "child": asyncio.create_task(_pump(child_out, relay.from_child, "server")),
        "exit": asyncio.create_task(_exited(proc)),
        "signal": asyncio.create_task(stop.wait()),
    }
    stderr_task = asyncio.create_task(_relay_stderr(proc.stderr, f"[{settings.upstream_name}] "))
    watcher = None
    if runtime.config.policy_reload.watch:
        watcher = asyncio.create_task(runtime.holder.watch(runtime.config.policy_reload.interval_seconds))
    try:
        await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        if tasks["signal"].done():
            log.info("signal received; stopping the server")
        tasks["agent"].cancel()  # agent EOF already ended it; on child exit or a signal, stop reading
        await relay.finish_slow(DRAIN_SECONDS)  # held tool calls: decided (and audited) or given up
        await child_in.close()
        code = await _stop_child(proc)
        await _bounded(tasks["child"], DRAIN_SECONDS)  # let the child's last answers through
        await _bounded(stderr_task, DRAIN_SECONDS)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            loop.remove_signal_handler(signum)
        for task in (*tasks.values(), stderr_task, *([watcher] if watcher else [])):
            task.cancel()
        await asyncio.gather(*tasks.values(), stderr_task, *([watcher] if watcher else []), return_exceptions=True)
        await agent_out.close()
    _audit_system(runtime, "stdio_exit", upstream=settings.upstream_name, pid=proc.pid, exit_code=code)
    return code


async def _pump(reader: LineReader, handle: Callable[[bytes | TooLong], Awaitable[None]], name: str) -> None:
    """Feed lines to the relay until end of input or a broken pipe."""
    try:
        while (line := await reader.next()) is not None:
            await handle(line)
    except (OSError, RuntimeError) as exc:  # a closed pipe on either side ends this direction
        log.debug("relay from the %s stopped: %r", name, exc)
    except Exception:
        log.exception("relay from the %s failed; shutting down", name)


async def _exited(proc: asyncio.subprocess.Process) -> int:
    """The child's return code once it has exited (polled: `wait()` also waits for pipe EOF)."""
    while proc.returncode is None:  # noqa: ASYNC110 (no exit event without a custom protocol)
        await asyncio.sleep(0.02)
    return proc.returncode


async def _stop_child(proc: asyncio.subprocess.Process) -> int:
    """Wait for the child to exit on its own, then SIGTERM its process group, then SIGKILL it."""
    for signum, wait in ((None, GRACE_SECONDS), (signal.SIGTERM, KILL_AFTER_SECONDS), (signal.SIGKILL, 5.0)):
        if signum is not None and proc.returncode is None:
            log.info("server did not exit; sending %s", signum.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signum)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_exited(proc), wait)
        if proc.returncode is not None:
            break
    code = proc.returncode
    if code is None:
        log.error("server process %d survived SIGKILL; abandoning it", proc.pid)
        return 1
    return 128 - code if code < 0 else code


async def _bounded(task: asyncio.Task[Any], seconds: float) -> None:
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), seconds)


async def _relay_stderr(stream: asyncio.StreamReader, prefix: str) -> None:
    """Copy the child's stderr to ours, line by line, prefixed."""
    reader = LineReader(stream.read, STDERR_LINE_BYTES)
    while (line := await reader.next()) is not None:
        text = f"({line.size} bytes omitted)" if isinstance(line, TooLong) else line.decode("utf-8", "replace")
        with contextlib.suppress(OSError):
            sys.stderr.write(prefix + text + "\n")
            sys.stderr.flush()


def _audit_system(runtime: Runtime, event_type: str, **fields: Any) -> None:
    try:
        runtime.auditor.emit(system_event(event_type, transport="stdio", **fields))
    except DrawbridgeError as exc:
        log.error("audit unavailable: %s", exc)
