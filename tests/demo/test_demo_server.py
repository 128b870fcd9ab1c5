"""The demo server as a real process, driven by the official SDK client over Streamable HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_types import TextContent

from proxy.config import load_config
from proxy.demo.run import child, find_policy, free_ports, wait_until_up, write_config
from proxy.demo.server import NOTES, build_server, forecast, matching_notes
from proxy.identity.apikeys import generate_api_key, hash_api_key

pytestmark = pytest.mark.anyio
WAIT = 30.0


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `python -m proxy.demo.server` on a free loopback port; stopped after the module."""
    (port,) = free_ports(1)
    log = tmp_path_factory.mktemp("demo-server") / "server.log"
    with child([sys.executable, "-m", "proxy.demo.server", "--port", str(port)], log) as proc:
        wait_until_up("the demo server", proc, port, log)
        yield f"http://127.0.0.1:{port}/mcp"


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[Client]:
    """The SDK client, with the whole session (connect included) bounded by WAIT."""
    with anyio.fail_after(WAIT):
        async with Client(url, read_timeout_seconds=WAIT) as client:
            yield client


def _text(blocks: Sequence[object]) -> str:
    return " ".join(block.text for block in blocks if isinstance(block, TextContent))


@pytest.mark.e2e
async def test_lists_the_four_tools_with_their_annotations(server_url: str) -> None:
    async with connect(server_url) as client:
        info = client.server_info
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"get_weather", "search_notes", "delete_note", "send_email"}
    hints = {
        name: (t.annotations.read_only_hint, t.annotations.destructive_hint, t.annotations.open_world_hint)
        for name, t in tools.items()
        if t.annotations is not None
    }
    assert hints == {
        "get_weather": (True, False, False),
        "search_notes": (True, False, False),
        "delete_note": (False, True, False),
        "send_email": (False, False, True),
    }
    assert tools["send_email"].input_schema["required"] == ["to", "subject", "body"]
    assert info is not None and info.name == "drawbridge-demo"


@pytest.mark.e2e
async def test_get_weather_answers_deterministically(server_url: str) -> None:
    async with connect(server_url) as client:
        first = await client.call_tool("get_weather", {"city": "Paris"})
        second = await client.call_tool("get_weather", {"city": "Paris"})
    assert not first.is_error
    assert _text(first.content) == _text(second.content) == forecast("Paris")
    assert "Paris" in _text(first.content)


@pytest.mark.e2e
async def test_search_notes_finds_a_note(server_url: str) -> None:
    async with connect(server_url) as client:
        result = await client.call_tool("search_notes", {"query": "paris"})
        nothing = await client.call_tool("search_notes", {"query": "no such words"})
    assert not result.is_error
    assert result.structured_content == {"result": ["Team offsite in Paris: travel plan"]}
    assert nothing.structured_content == {"result": []}


@pytest.mark.e2e
def test_agent_against_the_server_directly(server_url: str) -> None:
    """Without Drawbridge nothing is refused: the agent's --expect-direct run passes."""
    done = subprocess.run(
        [sys.executable, "-m", "proxy.demo.agent", server_url, "--expect-direct", "--timeout", "10"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ demo passed" in done.stdout
    assert "\033[" not in done.stdout  # no colour when stdout is not a terminal


async def test_risky_tools_in_process() -> None:
    """delete_note and send_email behave (in-process, no network); the shared notes are restored."""
    saved = dict(NOTES)
    try:
        with anyio.fail_after(WAIT):
            async with Client(build_server()) as direct:
                deleted = await direct.call_tool("delete_note", {"note_id": 1})
                missing = await direct.call_tool("delete_note", {"note_id": 1})
                email = await direct.call_tool("send_email", {"to": "a@example.test", "subject": "hi", "body": "x"})
    finally:
        NOTES.clear()
        NOTES.update(saved)
    assert _text(deleted.content).startswith("deleted note 1")
    assert _text(missing.content) == "no note with id 1"
    assert "nothing was sent" in _text(email.content)


def test_matching_notes_needs_every_word() -> None:
    assert matching_notes("PASSWORD runbook") == ["Production database password rotation runbook"]
    assert matching_notes("password paris") == []


def test_default_policy_is_found() -> None:
    policy, _origin = find_policy()
    assert any(Path(policy).glob("*.yaml"))


def test_demo_config_is_valid_drawbridge_config(tmp_path: Path) -> None:
    """The config run.py writes loads with the real Config model; only the key's hash is stored."""
    key = generate_api_key()
    path = tmp_path / "drawbridge.yaml"
    policy, _origin = find_policy()
    write_config(path, key_sha256=hash_api_key(key), policy=policy, audit=tmp_path / "audit.jsonl",
                 upstream_port=4100, port=4101)
    config = load_config(path)
    assert key not in path.read_text()
    assert config.listen == "127.0.0.1:4101"
    assert [(u.name, u.url) for u in config.upstreams] == [("default", "http://127.0.0.1:4100/mcp")]
    entry = config.identity.api_keys[0]
    assert (entry.sha256, entry.principal, entry.agent) == (hash_api_key(key), "demo-user", "demo-agent")
    assert config.audit.file == tmp_path / "audit.jsonl"
    assert config.policy == policy
