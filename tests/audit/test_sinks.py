"""`audit:` configuration to running sinks, and what an agent sees through the real proxy when a sink
fails: required sinks refuse calls with a clear JSON-RPC error, best-effort sinks let them through."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError

from proxy.audit.sinks import build_outlets, sink_configs, sink_name
from proxy.audit.verify import verify
from proxy.config import AuditConfig, Config
from proxy.errors import ConfigError
from proxy.runtime import Runtime
from tests.audit.listeners import SyslogListener, free_port
from tests.support.drawbridge import PERMIT_ALL
from tests.support.inprocess import ACCEPT, InProcessProxy, RecordingUpstream, inprocess_proxy, serve_asgi

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
REFUSED = {"code": -32603, "message": "audit unavailable; refused (fail closed)"}


def rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines()]


# -- configuration -------------------------------------------------------------------------------
def test_the_existing_keys_still_work_as_shorthands(tmp_path: Path) -> None:
    audit = AuditConfig(file=tmp_path / "a.jsonl", stdout=True, fsync=True,
                        otlp={"endpoint": "http://collector:4318/v1/logs"})
    entries = sink_configs(audit)
    assert [(sink_name(e), e.mode or audit.mode) for e in entries] == [
        (f"file:{tmp_path / 'a.jsonl'}", "required"), ("otlp:collector:4318", "best_effort"), ("stdout", "required")]
    assert entries[0].fsync is True  # type: ignore[union-attr]
    assert [sink_name(e) for e in sink_configs(AuditConfig())] == ["stdout"]  # never nowhere


def test_a_sinks_list_with_modes_and_formats_loads_from_yaml(tmp_path: Path) -> None:
    config = Config.model_validate({"audit": {"mode": "best_effort", "chain_key": {"env": "CHAIN_KEY"},
                                              "checkpoint_every": 50, "sinks": [
        {"type": "file", "path": str(tmp_path / "ocsf.jsonl"), "format": "ocsf", "max_bytes": 1048576,
         "max_age_seconds": 86400},
        {"type": "syslog", "host": "siem.example", "port": 6514, "tls": True, "mode": "required"},
        {"type": "hec", "name": "splunk", "url": "https://splunk.example:8088", "token": {"env": "HEC_TOKEN"}},
    ]}})
    audit = config.audit
    assert [(sink_name(e), e.mode or audit.mode, e.format) for e in sink_configs(audit)] == [
        (f"file:{tmp_path / 'ocsf.jsonl'}", "best_effort", "ocsf"), ("syslog:siem.example:6514", "required", "native"),
        ("splunk", "best_effort", "native")]
    for bad in ({"type": "kafka"}, {"type": "syslog", "host": "h", "sd_id": "has space"},
                {"type": "hec", "url": "https://splunk/services/collector", "token": {"env": "X"}}):
        with pytest.raises(ValidationError):
            AuditConfig.model_validate({"sinks": [bad]})


def test_two_sinks_with_one_name_are_refused(tmp_path: Path) -> None:
    audit = AuditConfig(sinks=[{"type": "file", "path": tmp_path / "a", "name": "x"},
                               {"type": "file", "path": tmp_path / "b", "name": "x"}])
    with pytest.raises(ConfigError, match="two sinks are named 'x'"):
        build_outlets(audit, stdout_is_protocol=False, host="h", replica_id="r")
    assert (tmp_path / "a").exists() and rows(tmp_path / "a")[-1]["reason"] == "close"  # the first one was closed


def test_a_missing_chain_key_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_CHAIN_KEY", raising=False)
    audit = AuditConfig(file=tmp_path / "a.jsonl", chain_key={"env": "NO_SUCH_CHAIN_KEY"})
    with pytest.raises(ConfigError, match=r"audit\.chain_key"):
        build_outlets(audit, stdout_is_protocol=False, host="h", replica_id="r")


# -- the runtime ---------------------------------------------------------------------------------
def test_every_event_names_its_host_and_replica_and_close_writes_proxy_stopped_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAIN_KEY", "k-1")
    path = tmp_path / "audit.jsonl"
    runtime = Runtime.build(Config(audit={"file": path, "chain_key": {"env": "CHAIN_KEY"}}, store="sqlite::memory:"))
    runtime.auditor.emit({"event_type": "test", "host": "egress.example"})  # an event's own host is kept
    runtime.close(listen="127.0.0.1:1")
    runtime.close(listen="127.0.0.1:1")
    events = rows(path)
    assert [e["event_type"] for e in events] == ["test", "proxy_stopped", "audit_checkpoint"]
    assert {e["replica_id"] for e in events} == {runtime.replicas.replica_id}
    assert {e["host"] for e in events} == {socket.gethostname()}
    assert events[0]["event_host"] == "egress.example" and events[1]["listen"] == "127.0.0.1:1"
    assert events[2]["reason"] == "close" and events[2]["hmac_sha256"]
    assert b"k-1" not in path.read_bytes()
    assert verify([path], b"k-1")[1] is None


# -- through the proxy ---------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def proxied(tmp_path: Path, audit: dict[str, Any]) -> AsyncIterator[tuple[InProcessProxy, RecordingUpstream]]:
    upstream = RecordingUpstream()
    async with serve_asgi(upstream.app) as base, \
            inprocess_proxy(tmp_path, f"{base}/mcp", extra={"audit": audit}) as proxy:
        yield proxy, upstream


async def wait_for(predicate: Any) -> None:
    """Poll until `predicate()` is true, for at most 15 s."""
    async with asyncio.timeout(15):
        while not predicate():  # noqa: ASYNC110 (state that other threads change)
            await asyncio.sleep(0.05)


@pytest.mark.anyio
async def test_a_required_syslog_sink_that_is_down_refuses_calls(tmp_path: Path) -> None:
    port = free_port()
    name = f"syslog:127.0.0.1:{port}"
    audit = {"sinks": [{"type": "syslog", "host": "127.0.0.1", "port": port, "close_timeout_seconds": 1}]}
    async with proxied(tmp_path, audit) as (proxy, upstream), httpx.AsyncClient(timeout=10) as http:
        await wait_for(lambda: proxy.runtime.auditor.stats()[name]["down"])
        answer = (await http.post(proxy.mcp_url(), json=INITIALIZE, headers=ACCEPT)).json()
        assert answer["id"] == 0 and {k: answer["error"][k] for k in ("code", "message")} == REFUSED
        assert upstream.messages() == []  # nothing passed unaudited
        assert proxy.runtime.auditor.stats()[name]["refused"] >= 1


@pytest.mark.anyio
async def test_a_required_file_sink_that_cannot_write_refuses_calls(tmp_path: Path) -> None:
    async with proxied(tmp_path, {"sinks": [{"type": "file", "path": "/dev/full", "name": "full"}]}) as (
            proxy, upstream), httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(proxy.mcp_url(), json=INITIALIZE, headers=ACCEPT)
        assert {k: answer.json()["error"][k] for k in ("code", "message")} == REFUSED
        assert upstream.messages() == []
        assert proxy.runtime.auditor.stats()["full"]["failed"] >= 1


@pytest.mark.anyio
async def test_a_best_effort_sink_that_is_down_lets_calls_through_and_reports_the_gap(tmp_path: Path) -> None:
    port = free_port()
    name = f"syslog:127.0.0.1:{port}"
    audit = {"sinks": [{"type": "syslog", "host": "127.0.0.1", "port": port, "mode": "best_effort",
                        "queue_size": 1, "linger_seconds": 0}]}
    listener = SyslogListener(port=port)
    async with proxied(tmp_path, audit) as (proxy, upstream), httpx.AsyncClient(timeout=10) as http:
        await wait_for(lambda: proxy.runtime.auditor.stats()[name]["down"])
        answer = await http.post(proxy.mcp_url(), json=INITIALIZE, headers=ACCEPT)
        assert "result" in answer.json()
        await http.post(proxy.mcp_url(), json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=ACCEPT)
        assert [m["method"] for m in upstream.messages()] == ["initialize", "ping"]
        assert proxy.runtime.auditor.stats()[name]["dropped"] >= 3  # queue of 1: the rest were dropped
        listener.start()
        try:
            await wait_for(lambda: any(e["event_type"] == "audit_gap" for e in proxy.events(None)))
            await wait_for(lambda: any(e["event_type"] == "audit_gap" for e in listener.events()))
        finally:
            listener.stop()
    [gap] = [e for e in proxy.events(None) if e["event_type"] == "audit_gap"]
    assert gap["sink"] == name and gap["lost"] >= 3 and gap["first_seq"] == 2


@pytest.mark.anyio
async def test_sigusr1_reopens_the_audit_file_for_logrotate(tmp_path: Path) -> None:
    async with proxied(tmp_path, {}) as (proxy, _), httpx.AsyncClient(timeout=10) as http:
        path = proxy.audit_path
        await http.post(proxy.mcp_url(), json=INITIALIZE, headers=ACCEPT)
        moved = path.with_name(path.name + ".1")
        os.rename(path, moved)
        os.kill(os.getpid(), signal.SIGUSR1)
        await wait_for(path.exists)
        await http.post(proxy.mcp_url(), json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=ACCEPT)
    assert rows(moved)[-1]["reason"] == "reopen"
    assert [e["event_type"] for e in rows(path)][-2:] == ["proxy_stopped", "audit_checkpoint"]
    assert verify([moved, path])[1] is None


ECHO_SERVER = [sys.executable, "-c", "import json, sys\nfor line in sys.stdin:\n    m = json.loads(line)\n"
               "    if 'id' in m: print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': {}}), flush=True)"]


@pytest.mark.anyio
async def test_drawbridge_stdio_reopens_its_audit_file_on_sigusr1(tmp_path: Path) -> None:
    path, moved = tmp_path / "audit.jsonl", tmp_path / "audit.jsonl.1"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "stdio", "--policy", str(PERMIT_ALL), "--audit-file", str(path), "--",
        *ECHO_SERVER, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")})
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            for request_id in (1, 2):
                proc.stdin.write(orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"}) + b"\n")
                assert orjson.loads(await proc.stdout.readline())["id"] == request_id
                if request_id == 1:
                    os.rename(path, moved)
                    proc.send_signal(signal.SIGUSR1)
                    await wait_for(path.exists)
            proc.stdin.close()
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert rows(moved)[-1]["reason"] == "reopen"
    assert [e["event_type"] for e in rows(path)][-3:] == ["stdio_exit", "proxy_stopped", "audit_checkpoint"]
    assert verify([moved, path])[1] is None
