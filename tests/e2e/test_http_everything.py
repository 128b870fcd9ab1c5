"""server-everything (the MCP team's reference server) through Drawbridge: SDK client, Inspector CLI,
long-running calls with progress, and cancellation when the agent goes away."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.sdk import sdk_client

pytestmark = [pytest.mark.e2e, pytest.mark.node]
rig = pytest.importorskip("tests.support.rig")


@pytest.fixture(scope="module")
def everything() -> Iterator[str]:
    rig.ensure_rig()
    with rig.start_everything(rig.free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(everything: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    with run_drawbridge(tmp_path_factory.mktemp("everything"), {"default": everything}) as running:
        yield running


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sdk_client_through_drawbridge(proxy: Drawbridge, mode: str) -> None:
    async with sdk_client(proxy.mcp_url(), mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        echoed = await client.call_tool("echo", {"message": "drawbridge"})
        total = await client.call_tool("get-sum", {"a": 2, "b": 40})
    assert {"echo", "get-sum", "trigger-long-running-operation"} <= tools
    assert "drawbridge" in echoed.content[0].text  # type: ignore[union-attr]
    assert "42" in total.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("era", ["legacy", "auto"])  # server-everything does not speak the modern era
def test_inspector_cli_through_drawbridge(proxy: Drawbridge, era: str) -> None:
    code, listed, err = rig.run_inspector(proxy.mcp_url(), "tools/list", era=era)
    assert code == 0, err
    assert "echo" in {t["name"] for t in listed["result"]["tools"]}
    code, called, err = rig.run_inspector(proxy.mcp_url(), "tools/call", era=era, tool="echo",
                                          tool_args={"message": "via inspector"})
    assert code == 0, err
    assert "via inspector" in called["result"]["content"][0]["text"]


@pytest.mark.anyio
async def test_progress_streams_while_the_call_runs(proxy: Drawbridge) -> None:
    seen: list[float] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(time.monotonic())

    async with sdk_client(proxy.mcp_url(), mode="legacy") as client:
        start = time.monotonic()
        result = await client.call_tool("trigger-long-running-operation", {"duration": 2, "steps": 4},
                                        progress_callback=progress)
        end = time.monotonic()
    assert not result.is_error
    assert len(seen) >= 3
    assert seen[0] - start < (end - start) * 0.75  # progress arrived during the call, not buffered to the end
    progress_events = [e for e in proxy.events() if e["jsonrpc"]["method"] == "notifications/progress"]
    assert len(progress_events) >= 3


def test_audit_never_contains_the_environment_secret(proxy: Drawbridge) -> None:
    code, called, err = rig.run_inspector(proxy.mcp_url(), "tools/call", tool="get-env", tool_args={})
    assert code == 0, err
    assert "PATH" in rig.tool_text(called)  # the result really carried the environment through the proxy
    text = proxy.audit_path.read_text()
    assert "PATH=" not in text and '"PATH"' not in text
