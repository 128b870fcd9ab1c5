"""The stdio relay: raw JSON-RPC lines through `python -m proxy stdio`, and the Relay driven in-process."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proxy.config import AuditConfig, Config, StdioConfig
from proxy.errors import ErrorCode
from proxy.runtime import Runtime
from proxy.stdio.command import child_environment
from proxy.stdio.lines import LineReader, TooLong
from proxy.stdio.relay import BATCH_REFUSED, Relay
from proxy.stdio.salvage import salvage
from proxy.types import Era
from tests.support.drawbridge import audit_events

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
DEMO_SERVER = [sys.executable, str(REPO / "tests" / "support" / "servers" / "stdio_demo_server.py")]
TIMEOUT = 15.0
INIT_PARAMS = {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}},
               "clientInfo": {"name": "raw-test", "version": "0"}}
DEMO_TOOLS = """\
version: 1
rules:
  - id: demo-tools
    effect: permit
    methods: [tools/call]
    names: [echo, ask_model]
"""
SAMPLING = """\
version: 1
rules:
  - id: sampling-ok
    effect: permit
    direction: to_client
    methods: [sampling/createMessage]
"""
# A fast stand-in server (no SDK import): answers every request with what it was asked.
ECHO_SERVER = [sys.executable, "-c", r"""
import json, sys
print("echo server ready", file=sys.stderr, flush=True)
for line in sys.stdin:
    msg = json.loads(line)
    if "id" in msg:
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"asked": msg}}), flush=True)
"""]
# A server that writes log lines and broken answers to stdout, as badly behaved servers do.
GARBAGE_SERVER = r"""
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    print("INFO starting the flux capacitor", flush=True)
    answer = {"jsonrpc": "2.0", "id": msg["id"], "result": {}}
    if msg["method"] == "tools/list":
        answer["error"] = {"code": 1, "message": "both result and error"}
    print(json.dumps(answer), flush=True)
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """policies/default plus a permit for the demo server's harmless tools."""
    directory = tmp_path / "policy"
    directory.mkdir()
    for source in (REPO / "policies" / "default").glob("*.yaml"):
        if not source.name.endswith(".test.yaml"):
            shutil.copy(source, directory / source.name)
    (directory / "20-demo.yaml").write_text(DEMO_TOOLS)
    return directory


def request(request_id: int | str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def events(audit: Path, event_type: str = "decision") -> list[dict[str, Any]]:
    """The audit file's events of one type; every line must fit its published schema."""
    return audit_events(audit, event_type)


class Wire:
    """A `drawbridge stdio` process driven with raw lines; every wait is bounded."""

    def __init__(self, proc: asyncio.subprocess.Process, audit: Path, stderr: Path) -> None:
        self.proc, self.audit, self.stderr_path = proc, audit, stderr

    @classmethod
    async def start(cls, tmp_path: Path, policy_dir: Path, server: list[str], *flags: str) -> Wire:
        audit, stderr = tmp_path / "audit.jsonl", tmp_path / "stderr.txt"
        with stderr.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "proxy", "stdio", "--policy", str(policy_dir), "--audit-file", str(audit),
                *flags, "--", *server, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=err, cwd=REPO)
        return cls(proc, audit, stderr)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    async def send(self, message: dict[str, Any] | list[Any] | bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def recv(self) -> Any:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        assert line.endswith(b"\n"), f"no answer; stderr: {self.stderr}"
        return json.loads(line)

    async def call(self, request_id: int | str, method: str, params: dict[str, Any] | None = None) -> Any:
        await self.send(request(request_id, method, params))
        answer = await self.recv()
        assert answer["id"] == request_id
        return answer

    async def initialize(self) -> None:
        assert "result" in await self.call(0, "initialize", INIT_PARAMS)
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def finish(self) -> tuple[int, bytes]:
        """Close our end (agent EOF); return the exit code and anything still written to stdout."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        rest = await asyncio.wait_for(self.proc.stdout.read(), TIMEOUT)
        return await asyncio.wait_for(self.proc.wait(), TIMEOUT), rest


# -- the real command, raw lines ------------------------------------------------------------


async def test_permitted_call_is_forwarded_and_answered(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, DEMO_SERVER)
    await wire.initialize()
    answer = await wire.call("a-1", "tools/call", {"name": "echo", "arguments": {"text": "hi"}})
    assert answer["result"]["structuredContent"] == {"result": "echo: hi"}
    assert await wire.finish() == (0, b"")


async def test_denied_tool_call_is_answered_with_the_rule(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, DEMO_SERVER)
    await wire.initialize()
    for tool in ("delete_note", "delete_everything"):
        error = (await wire.call(tool, "tools/call", {"name": tool, "arguments": {}}))["error"]
        assert error["code"] == ErrorCode.POLICY_DENIED
        assert error["data"] == {"rule_ids": ["default-deny"]}
        assert f"tools/call {tool} is not permitted by policy" in error["message"]
    assert await wire.finish() == (0, b"")
    answered = {e["jsonrpc"]["id"] for e in events(wire.audit) if e["direction"] == "to_client"}
    assert answered == {0}  # the server never saw either call


async def test_malformed_lines_get_json_rpc_errors_and_the_relay_goes_on(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, ECHO_SERVER)
    await wire.initialize()
    await wire.send(b'{"jsonrpc": "2.0", "id": 5, "method": \n')
    assert (await wire.recv()) == {"jsonrpc": "2.0", "id": None,
                                   "error": {"code": -32700, "message": "parse error: body is not valid JSON"}}
    await wire.send({"jsonrpc": "1.0", "id": 6, "method": "ping"})
    invalid = await wire.recv()
    assert (invalid["id"], invalid["error"]["code"]) == (6, ErrorCode.INVALID_REQUEST)
    assert "result" in await wire.call(7, "ping")
    assert await wire.finish() == (0, b"")
    refused = [e for e in events(wire.audit) if e["verdict"] == "deny"]  # one event shape for every refusal
    assert [(e["check"], e["error_code"], e["jsonrpc"]["kind"], e["jsonrpc"]["id"]) for e in refused] == [
        ("jsonrpc", ErrorCode.PARSE_ERROR, "invalid", None), ("jsonrpc", ErrorCode.INVALID_REQUEST, "invalid", 6)]
    assert events(wire.audit, "message_refused") == []


async def test_over_long_line_gets_a_limit_error_and_the_next_line_works(tmp_path: Path, policy_dir: Path) -> None:
    config = tmp_path / "drawbridge.yaml"
    config.write_text("limits:\n  max_stdio_line_bytes: 1024\n")
    wire = await Wire.start(tmp_path, policy_dir, ECHO_SERVER, "--config", str(config))
    await wire.initialize()
    big = request(1, "tools/call", {"name": "echo", "arguments": {"text": "x" * 5000}})
    await wire.send(big)
    error = await wire.recv()
    assert (error["id"], error["error"]["code"]) == (1, ErrorCode.LIMIT_EXCEEDED)  # id read from the line's head
    await wire.send(b"y" * 3000 + b"\n")
    error = await wire.recv()
    assert (error["id"], error["error"]["code"]) == (None, ErrorCode.LIMIT_EXCEEDED)
    answer = await wire.call(2, "tools/call", {"name": "echo", "arguments": {"text": "short"}})
    assert answer["result"]["asked"]["params"] == {"name": "echo", "arguments": {"text": "short"}}
    assert await wire.finish() == (0, b"")
    refused = [e for e in events(wire.audit) if e["jsonrpc"]["kind"] == "invalid"]
    assert [(e["request_bytes"], e["error_code"], e["verdict"]) for e in refused] == [
        (len(json.dumps(big)), ErrorCode.LIMIT_EXCEEDED, "deny"), (3000, ErrorCode.LIMIT_EXCEEDED, "deny")]
    assert not [e for e in events(wire.audit) if e["jsonrpc"]["id"] == 1 and e["jsonrpc"]["kind"] != "invalid"]


async def test_unknown_method_is_refused(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, ECHO_SERVER)
    await wire.initialize()
    error = (await wire.call(3, "debug/dump_secrets"))["error"]
    assert error["code"] == ErrorCode.METHOD_NOT_FOUND
    assert error["data"] == {"rule_ids": ["unknown-method"]}
    assert await wire.finish() == (0, b"")
    assert "[stdio] echo server ready\n" in wire.stderr  # the child's stderr, prefixed


async def test_server_garbage_never_reaches_the_agent(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, [sys.executable, "-c", GARBAGE_SERVER])
    assert (await wire.call(1, "initialize", INIT_PARAMS))["result"] == {}
    broken = await wire.call(2, "tools/list")
    assert broken["error"]["code"] == ErrorCode.UPSTREAM_UNAVAILABLE
    assert (await wire.call(3, "ping"))["result"] == {}
    assert await wire.finish() == (0, b"")  # nothing else was ever written to stdout
    assert wire.stderr.count("refused a line from the server") == 3 + 1
    from_server = [e for e in events(wire.audit) if e["direction"] == "to_client"]
    refused = [e for e in from_server if e["jsonrpc"]["kind"] == "invalid"]
    assert len(refused) == 4 and all(e["verdict"] == "deny" and e["origin"] == "server" for e in refused)
    in_place = [e for e in from_server if e["origin"] == "proxy"]  # the error the agent got instead
    assert [(e["jsonrpc"]["id"], e["jsonrpc"]["kind"]) for e in in_place] == [(2, "error")]


async def test_refused_server_request_is_answered_to_the_server(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, DEMO_SERVER)
    await wire.initialize()
    answer = await wire.call(4, "tools/call", {"name": "ask_model", "arguments": {"question": "hi"}})
    text = answer["result"]["structuredContent"]["result"]
    assert text.startswith(f"sampling refused: {int(ErrorCode.POLICY_DENIED)} ")  # the agent never saw it
    assert await wire.finish() == (0, b"")
    sampling = [e for e in events(wire.audit) if e["jsonrpc"]["method"] == "sampling/createMessage"]
    assert [(e["direction"], e["verdict"], e["rule_ids"]) for e in sampling] == [
        ("to_client", "deny", ["default-deny"])]


async def test_audit_has_exactly_one_event_per_decision(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, DEMO_SERVER)
    await wire.initialize()
    await wire.call(1, "tools/list")
    await wire.call(2, "tools/call", {"name": "echo", "arguments": {"text": "one"}})
    await wire.call(3, "tools/call", {"name": "delete_everything", "arguments": {}})
    assert await wire.finish() == (0, b"")
    seen = [(e["direction"], e["jsonrpc"]["method"], e["jsonrpc"]["id"], e["verdict"]) for e in events(wire.audit)]
    assert seen == [
        ("to_server", "initialize", 0, "allow"), ("to_client", "initialize", 0, "allow"),
        ("to_server", "notifications/initialized", None, "allow"),
        ("to_server", "tools/list", 1, "allow"), ("to_client", "tools/list", 1, "rewrite"),
        ("to_server", "tools/call", 2, "allow"), ("to_client", "tools/call", 2, "allow"),
        ("to_server", "tools/call", 3, "deny"),
    ]
    assert {e["era"] for e in events(wire.audit)} == {"handshake"}
    assert [e["event_type"] for e in map(json.loads, wire.audit.read_text().splitlines())].count("stdio_exit") == 1


async def test_exit_code_of_the_child_is_returned(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, [sys.executable, "-c", "import sys; sys.exit(3)"])
    assert await asyncio.wait_for(wire.proc.wait(), TIMEOUT) == 3


async def test_command_that_cannot_start_is_one_line_and_exit_1(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, [str(tmp_path / "no-such-server")])
    code, out = await wire.finish()
    assert (code, out) == (1, b"")
    assert wire.stderr.splitlines() == [
        f"drawbridge: cannot start the server command '{tmp_path / 'no-such-server'}': No such file or directory"]


async def test_child_ignoring_stdin_eof_is_terminated(tmp_path: Path, policy_dir: Path) -> None:
    stubborn = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]
    wire = await Wire.start(tmp_path, policy_dir, stubborn)
    code, _ = await wire.finish()  # grace period (5 s), then SIGTERM
    assert code == 128 + signal.SIGTERM
    assert "sending SIGTERM" in wire.stderr


async def test_sigterm_shuts_down_in_order(tmp_path: Path, policy_dir: Path) -> None:
    wire = await Wire.start(tmp_path, policy_dir, ECHO_SERVER)
    await wire.initialize()
    wire.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(wire.proc.wait(), TIMEOUT) == 0  # the server exited on its closed stdin
    assert wire.proc.stdout is not None
    assert await wire.proc.stdout.read() == b""
    assert "signal received" in wire.stderr
    assert len(events(wire.audit, "stdio_exit")) == 1


def test_child_environment_is_explicit() -> None:
    settings = StdioConfig(inherit_env=("PATH", "LANG"), env={"TZ": "UTC"})
    source = {"PATH": "/bin", "HOME": "/root", "DRAWBRIDGE_TEST_SECRET": "x"}
    assert child_environment(settings, source) == {"PATH": "/bin", "TZ": "UTC"}


# -- the relay in-process --------------------------------------------------------------------


class Collect:
    """A line sink that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    async def write_line(self, line: bytes) -> None:
        self.lines.append(line)

    async def close(self) -> None:
        return None

    def messages(self) -> list[Any]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
async def relay(tmp_path: Path, policy_dir: Path) -> AsyncIterator[tuple[Relay, Collect, Collect, Path]]:
    (policy_dir / "30-sampling.yaml").write_text(SAMPLING)
    audit = tmp_path / "relay-audit.jsonl"
    runtime = Runtime.build(Config(policy=policy_dir, audit=AuditConfig(file=audit), store="sqlite::memory:"),
                            stdout_is_protocol=True)
    await runtime.store.start()
    agent, child = Collect(), Collect()
    yield Relay(runtime, runtime.config.stdio, agent, child), agent, child, audit
    await runtime.store.close()


def era_of(r: Relay) -> Era:
    return r.era


def line(message: Any) -> bytes:
    return json.dumps(message).encode()


async def test_batch_with_a_refused_member_is_refused_whole(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, audit = relay
    batch = [request(1, "tools/call", {"name": "echo", "arguments": {"text": "a"}}),
             request(2, "tools/call", {"name": "delete_everything"}),
             {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    await r.from_agent(line(batch))
    assert child.lines == []
    [answers] = agent.messages()
    assert [(a["id"], a["error"]["message"]) for a in answers] == [
        (1, BATCH_REFUSED),
        (2, "tools/call delete_everything is not permitted by policy (no permit rule matches: default-deny)")]
    assert [e["verdict"] for e in events(audit)] == ["deny", "deny", "deny"]
    assert r.to_server.outbound == {}


async def test_permitted_batch_is_forwarded_unchanged(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, _ = relay
    raw = line([request(1, "ping"), request("two", "tools/call", {"name": "echo", "arguments": {"text": "b"}})])
    await r.from_agent(raw)
    assert (agent.lines, child.lines) == ([], [raw])
    assert set(r.to_server.outbound) == {1, "two"}


async def test_answers_are_matched_and_strays_dropped(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, audit = relay
    await r.from_agent(line(request(9, "tools/list")))
    assert child.lines == [line(request(9, "tools/list"))]
    answer = {"jsonrpc": "2.0", "id": 9, "result": {"tools": [{"name": "echo"}, {"name": "delete_everything"}]}}
    await r.from_child(line(answer))
    await r.from_child(line(answer))  # a second answer to the same id matches nothing in flight
    assert agent.messages() == [{"jsonrpc": "2.0", "id": 9, "result": {"tools": [{"name": "echo"}]}}]
    assert [(e["jsonrpc"]["method"], e["verdict"]) for e in events(audit)] == [
        ("tools/list", "allow"), ("tools/list", "rewrite"), (None, "deny")]


async def test_server_request_and_the_agent_answer(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, audit = relay
    sampling = line(request(1, "sampling/createMessage", {"messages": [], "maxTokens": 1}))
    await r.from_child(sampling)
    assert agent.lines == [sampling]
    await r.from_agent(line({"jsonrpc": "2.0", "id": 1, "result": {"role": "assistant"}}))
    assert child.messages() == [{"jsonrpc": "2.0", "id": 1, "result": {"role": "assistant"}}]
    roots = line(request(2, "roots/list"))  # not permitted: the server gets the refusal, the agent nothing
    await r.from_child(roots)
    assert len(agent.lines) == 1
    assert child.messages()[1]["error"]["code"] == ErrorCode.POLICY_DENIED
    assert [(e["direction"], e["jsonrpc"]["method"], e["verdict"]) for e in events(audit)] == [
        ("to_client", "sampling/createMessage", "allow"), ("to_server", "sampling/createMessage", "allow"),
        ("to_client", "roots/list", "deny")]


async def test_refused_notification_is_dropped(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, audit = relay
    await r.from_agent(line({"jsonrpc": "2.0", "method": "notifications/made_up"}))
    assert (agent.lines, child.lines) == ([], [])
    assert [e["verdict"] for e in events(audit)] == ["deny"]


async def test_era_follows_the_agent(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, *_ = relay
    assert era_of(r) is Era.UNKNOWN
    await r.from_agent(line(request(1, "server/discover")))
    assert era_of(r) is Era.MODERN
    await r.from_agent(line(request(2, "initialize", INIT_PARAMS)))  # the SDK's fallback after -32601
    assert era_of(r) is Era.HANDSHAKE
    await r.from_agent(line(request(3, "ping", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}})))
    assert era_of(r) is Era.HANDSHAKE


async def test_over_long_answer_is_replaced_by_an_error(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, audit = relay
    await r.from_agent(line(request(9, "tools/call", {"name": "echo", "arguments": {"text": "big"}})))
    assert len(child.lines) == 1
    await r.from_child(TooLong(10_000_000, b'{"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"aaa'))
    [error] = agent.messages()
    assert (error["id"], error["error"]["code"]) == (9, ErrorCode.LIMIT_EXCEEDED)
    assert r.to_server.outbound == {}
    refused, in_place = [e for e in events(audit) if e["direction"] == "to_client"]
    assert (refused["jsonrpc"]["kind"], refused["result_bytes"], refused["verdict"]) == ("invalid", 10_000_000, "deny")
    assert (in_place["origin"], in_place["jsonrpc"]["id"], in_place["call_id"]) == ("proxy", 9, refused["call_id"])


async def test_unhashable_arguments_never_break_the_relay(relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, agent, child, _ = relay
    await r.from_agent(line(request(1, "tools/call", {"name": "echo", "arguments": {"n": 2**60}})))
    await r.from_agent(line(request(2, "ping")))
    assert len(agent.lines) + len(child.lines) == 2  # each request either forwarded or answered
    assert child.lines[-1] == line(request(2, "ping"))


def test_salvage_reads_only_the_top_level() -> None:
    assert salvage(b'{"jsonrpc":"2.0","id":"a\\"b","method":"tools/call","params":{"x') == ('a"b', True)
    assert salvage(b'{"jsonrpc":"2.0","result":{"id":5,"method":1},"id":7,"x') == (7, False)
    assert salvage(b'{"jsonrpc":"2.0","params":{"id":5}, "method":"x"') == (None, True)
    assert salvage(b'{"jsonrpc":"2.0","id":12') == (None, False)  # the id itself may be cut short
    assert salvage(b"not json at all") == (None, False)


# -- framing ---------------------------------------------------------------------------------


def chunks(*parts: bytes) -> Any:
    pending = list(parts)

    async def read(_size: int) -> bytes:
        return pending.pop(0) if pending else b""

    return read


async def test_line_reader_bounds_lines_and_keeps_going() -> None:
    reader = LineReader(chunks(b'{"a":', b'1}\r\nshort\n', b"x" * 700, b"y" * 700, b"\nok\nlast"), 1024)
    got = [await reader.next() for _ in range(6)]
    assert got[:2] == [b'{"a":1}', b"short"]
    assert isinstance(got[2], TooLong) and got[2].size == 1400
    assert got[3:] == [b"ok", b"last", None]


async def test_line_reader_reports_an_over_long_tail_at_eof() -> None:
    reader = LineReader(chunks(b"z" * 3000), 1024)
    tail = await reader.next()
    assert isinstance(tail, TooLong) and tail.size == 3000
    assert await reader.next() is None


async def test_read_only_quarantine_allows_the_tools_a_listing_showed_read_only(
        relay: tuple[Relay, Collect, Collect, Path]) -> None:
    """The catalog is learned by the runtime for stdio too (it used to refuse every call in this mode)."""
    from proxy.state.model import Quarantine

    r, agent, child, _ = relay
    await r.from_agent(line(request(1, "tools/list")))
    await r.from_child(line({"jsonrpc": "2.0", "id": 1, "result": {"tools": [
        {"name": "echo", "annotations": {"readOnlyHint": True}}, {"name": "ask_model"}]}}))
    await r.runtime.catalog.flush()
    await r.runtime.store.put_quarantine(Quarantine("principal", "local", "read-only", "triage", "test"))
    await r.from_agent(line(request(2, "tools/call", {"name": "echo", "arguments": {"text": "hi"}})))
    await r.from_agent(line(request(3, "tools/call", {"name": "ask_model", "arguments": {"question": "?"}})))
    assert [m["id"] for m in child.messages()] == [1, 2]
    refused = agent.messages()[-1]
    assert (refused["id"], refused["error"]["code"]) == (3, ErrorCode.QUARANTINED)


async def test_an_agent_answer_carrying_a_credential_is_refused_and_the_server_told(
        relay: tuple[Relay, Collect, Collect, Path]) -> None:
    r, _, child, audit = relay
    await r.from_child(line(request(7, "sampling/createMessage", {"messages": [], "maxTokens": 1})))
    leaked = "aws_access_key_id=AKIAZ3MXQ7R2ABCDTE6P aws_secret_access_key=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"
    await r.from_agent(line({"jsonrpc": "2.0", "id": 7, "result": {
        "role": "assistant", "model": "m", "content": {"type": "text", "text": leaked}}}))
    [in_place] = child.messages()
    assert in_place["id"] == 7 and in_place["error"]["code"] == ErrorCode.POLICY_DENIED
    assert "AKIA" not in json.dumps(child.messages())
    rows = [(e["direction"], e["origin"], e["jsonrpc"]["kind"], e["verdict"], e["check"]) for e in events(audit)]
    assert rows == [("to_client", "server", "request", "allow", None),
                    ("to_server", "agent", "response", "deny", "content"),
                    ("to_server", "proxy", "error", "allow", "proxy")]
    assert "AKIAZ3MXQ7R2ABCDTE6P" not in audit.read_text() and "q7Vb2Xk9" not in audit.read_text()


HELD_ECHO = """\
version: 1
rules:
  - id: demo-tools
    effect: permit
    methods: [tools/call]
    names: [echo]
    approval: required
"""


async def test_a_call_held_for_approval_does_not_hold_the_agents_next_messages(tmp_path: Path,
                                                                            policy_dir: Path) -> None:
    (policy_dir / "20-demo.yaml").write_text(HELD_ECHO)
    protocol = policy_dir / "00-protocol.yaml"
    waits = "settings:\n  approval: {timeout_seconds: 1.5}\n"
    protocol.write_text(protocol.read_text().replace("settings:\n", waits, 1))
    wire = await Wire.start(tmp_path, policy_dir, DEMO_SERVER)
    await wire.initialize()
    await wire.send(request("held", "tools/call", {"name": "echo", "arguments": {"text": "needs a human"}}))
    pong = await wire.call("ping-1", "ping")  # answered while the call waits for a decision
    assert pong["result"] == {}
    expired = await wire.recv()  # nobody decided: the held call fails with the approval named
    assert expired["id"] == "held" and expired["error"]["code"] == ErrorCode.APPROVAL_NOT_GRANTED
    assert "expired" in expired["error"]["message"]
    assert await wire.finish() == (0, b"")
    steps = [e["action"] for e in events(wire.audit, "approval")]
    assert steps == ["requested", "expired"]
    held = [e for e in events(wire.audit) if e["jsonrpc"]["id"] == "held"]
    assert [(e["verdict"], e["check"]) for e in held] == [("deny", "approval")]


async def test_a_candidate_policy_is_compared_on_stdio_too(tmp_path: Path, policy_dir: Path) -> None:
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    (candidate / "policy.yaml").write_text(DEMO_TOOLS.replace("names: [echo, ask_model]", "names: [echo_twice]"))
    wire = await Wire.start(tmp_path, policy_dir, DEMO_SERVER, "--shadow-policy", str(candidate))
    await wire.initialize()
    await wire.send(request("c-1", "tools/call", {"name": "echo_twice", "arguments": {"text": "hi"}}))
    assert (await wire.recv())["error"]["code"] == ErrorCode.POLICY_DENIED  # the policy in force decides
    assert await wire.finish() == (0, b"")
    [call] = [e for e in events(wire.audit) if e["jsonrpc"]["id"] == "c-1" and e["direction"] == "to_server"]
    assert call["shadow_policy"]["verdict"] == "allow" and call["shadow_policy"]["rule_ids"] == ["demo-tools"]
