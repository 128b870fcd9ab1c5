"""`/metrics` on the admin listener of a real proxy: parses as Prometheus text, moves with traffic."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import ADMIN_TOKEN, Drawbridge, run_drawbridge, run_module_server
from tests.support.sdk import sdk_client

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    tmp = tmp_path_factory.mktemp("metrics")
    with run_module_server("proxy.demo.server") as demo_server, \
            run_drawbridge(tmp, {"notes": demo_server}, extra={"identity": IDENTITY}, admin=True) as running:
        yield running


def scrape(proxy: Drawbridge) -> Samples:
    assert proxy.admin_url is not None
    answer = httpx.get(f"{proxy.admin_url}/metrics", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def total(samples: Samples, name: str, **match: str) -> float:
    """The sum of a metric's samples whose labels include `match`."""
    want = set(match.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and want <= lbls)


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(lbls)[label] for (n, lbls), _ in samples.items() if n == name and label in dict(lbls)}


async def test_counters_move_with_traffic(proxy: Drawbridge) -> None:
    before = scrape(proxy)
    async with sdk_client(proxy.mcp_url("notes"), mode="legacy", headers=AUTH) as client:
        for city in ("Oslo", "Lima", "Pune"):
            await client.call_tool("get_weather", {"city": city})
        with pytest.raises(MCPError, match="content inspection refused"):
            await client.call_tool("search_notes", {"query": "vendor"})  # a note carrying an injection
        during = scrape(proxy)
    after = scrape(proxy)

    calls = {"method": "tools/call", "upstream": "notes"}
    assert total(after, "drawbridge_decisions_total", direction="to_server", **calls) \
        - total(before, "drawbridge_decisions_total", direction="to_server", **calls) == 4
    assert total(after, "drawbridge_decisions_total", direction="to_client", verdict="deny", **calls) \
        - total(before, "drawbridge_decisions_total", direction="to_client", verdict="deny", **calls) == 1
    assert total(after, "drawbridge_upstream_duration_seconds_count", upstream="notes") \
        - total(before, "drawbridge_upstream_duration_seconds_count", upstream="notes") >= 4
    hops = "drawbridge_hop_duration_seconds_count"
    assert total(after, hops) > total(before, hops)
    assert total(after, "drawbridge_findings_total") > total(before, "drawbridge_findings_total")
    assert any(d.startswith("injection") for d in label_values(after, "drawbridge_findings_total", "detector"))
    assert total(after, "drawbridge_audit_sink_events_total", outcome="delivered") \
        > total(before, "drawbridge_audit_sink_events_total", outcome="delivered")
    assert total(after, "drawbridge_audit_sink_events_total", outcome="dropped") == 0
    assert total(after, "drawbridge_store_up") == 1
    assert total(during, "drawbridge_sessions", upstream="notes") >= 1
    assert label_values(after, "drawbridge_policy_info", "version")
    assert total(after, "process_cpu_seconds_total") > 0


def test_labels_stay_bounded(proxy: Drawbridge) -> None:
    """Client-chosen strings (methods, session ids, principals) never become label values."""
    for n in range(3):
        httpx.post(proxy.mcp_url("notes"), headers={**AUTH, "accept": "application/json, text/event-stream",
                                                    "content-type": "application/json"},
                   json={"jsonrpc": "2.0", "id": n, "method": f"x-made-up/{n}", "params": {}}, timeout=10)
    samples = scrape(proxy)
    methods = label_values(samples, "drawbridge_decisions_total", "method")
    assert not any(m.startswith("x-made-up") for m in methods)
    assert "other" in methods
    names = {lbl for (_, lbls) in samples for lbl, _ in lbls}
    assert not names & {"session", "session_id", "principal", "agent", "client_key", "arguments"}
    assert "alice" not in {v for (_, lbls) in samples for _, v in lbls}


def test_needs_the_admin_token(proxy: Drawbridge) -> None:
    assert proxy.admin_url is not None
    assert httpx.get(f"{proxy.admin_url}/metrics", timeout=10).status_code == 401
