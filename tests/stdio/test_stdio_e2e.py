"""End to end: the official SDK v2 client speaks stdio to `drawbridge stdio`, which runs a real server."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from proxy.errors import ErrorCode

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

REPO = Path(__file__).resolve().parents[2]
DEMO_SERVER = REPO / "tests" / "support" / "servers" / "stdio_demo_server.py"
TIMEOUT = 30.0
SECRET = "DRAWBRIDGE_TEST_SECRET"

POLICY = """\
version: 1
settings:
  anonymous: false
  unknown_methods: deny
rules:
  - id: protocol
    effect: permit
    methods: [initialize, server/discover, ping, "notifications/*", tools/list]
  - id: server-notifications
    effect: permit
    direction: to_client
    methods: ["notifications/*", ping]
  - id: safe-tools
    effect: permit
    methods: [tools/call]
    names: [echo, env, get_current_time, delete_everything, convert_time]
  - id: no-destruction
    effect: forbid
    methods: [tools/call]
    names: [delete_everything]
  - id: no-time-travel
    effect: forbid
    methods: [tools/call]
    names: [convert_time]
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "policy"
    directory.mkdir()
    (directory / "policy.yaml").write_text(POLICY)
    return directory


def through_drawbridge(policy_dir: Path, audit: Path, server: list[str]) -> StdioServerParameters:
    """Parameters that launch the server behind Drawbridge, with a secret in Drawbridge's environment."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "proxy", "stdio", "--policy", str(policy_dir), "--audit-file", str(audit), "--", *server],
        env={SECRET: "hunter2"},
        cwd=str(REPO),
    )


def decisions(audit: Path) -> list[dict[str, object]]:
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    return [e for e in events if e["event_type"] == "decision"]


async def test_demo_server_through_drawbridge(policy_dir: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    params = through_drawbridge(policy_dir, audit, [sys.executable, str(DEMO_SERVER)])
    with anyio.fail_after(TIMEOUT):
        async with Client(params) as client:
            listed = await client.list_tools()
            assert sorted(t.name for t in listed.tools) == ["echo", "env"]  # ask_model unlisted, delete forbidden

            echoed = await client.call_tool("echo", {"text": "over stdio"})
            assert echoed.structured_content == {"result": "echo: over stdio"}

            with pytest.raises(MCPError) as refused:
                await client.call_tool("delete_everything", {})
            assert refused.value.code == ErrorCode.POLICY_DENIED
            assert "no-destruction" in refused.value.error.message

            names = (await client.call_tool("env", {})).structured_content
            assert names is not None
            assert "PATH" in names["result"]
            assert SECRET not in names["result"]
    refusals = [e for e in decisions(audit) if e["verdict"] == "deny"]
    assert [(e["tool"], e["rule_ids"]) for e in refusals] == [("delete_everything", ["no-destruction"])]


async def test_reference_time_server_through_drawbridge(policy_dir: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("mcp_server_time") is None:
        pytest.skip("mcp-server-time is not installed (pip install mcp-server-time; .ci/run installs it)")
    audit = tmp_path / "audit.jsonl"
    params = through_drawbridge(policy_dir, audit, [sys.executable, "-m", "mcp_server_time",
                                                    "--local-timezone", "UTC"])
    with anyio.fail_after(TIMEOUT):
        async with Client(params) as client:
            listed = await client.list_tools()
            assert [t.name for t in listed.tools] == ["get_current_time"]

            now = await client.call_tool("get_current_time", {"timezone": "Europe/Paris"})
            assert not now.is_error
            assert now.structured_content is not None
            assert now.structured_content["timezone"] == "Europe/Paris"

            with pytest.raises(MCPError) as refused:
                await client.call_tool("convert_time", {"source_timezone": "UTC", "time": "12:00",
                                                        "target_timezone": "Asia/Tokyo"})
            assert "no-time-travel" in refused.value.error.message
    assert any(e["tool"] == "get_current_time" and e["verdict"] == "allow" for e in decisions(audit))
