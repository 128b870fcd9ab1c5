"""Issue 14, client identity behind proxies: the real `drawbridge serve` records the agent's address from
X-Forwarded-For (or Forwarded) only when the connection comes from a trusted proxy; here the test itself is
the load balancer, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.scripted_upstream import Script, scripted_upstream

pytestmark = pytest.mark.e2e
AGENT = "203.0.113.7"
ACCEPT = {"accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with scripted_upstream(Script()) as url:
        yield url


def recorded_address(proxy: Drawbridge, headers: dict[str, str], n: int) -> Any:
    """POST a ping with `headers`; the client address of its decision event."""
    answer = httpx.post(proxy.mcp_url(), json={"jsonrpc": "2.0", "id": n, "method": "ping"},
                        headers={**ACCEPT, **headers}, timeout=10)
    assert answer.status_code == 200, answer.text
    [event] = [e for e in proxy.events() if e["jsonrpc"]["id"] == n and e["direction"] == "to_server"]
    return event["client_address"]


def test_the_agent_is_named_from_x_forwarded_for_through_a_trusted_peer(upstream: str, tmp_path: Path) -> None:
    with run_drawbridge(tmp_path, {"default": upstream},
                        extra={"http": {"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]}}) as proxy:
        assert recorded_address(proxy, {"x-forwarded-for": AGENT}, 1) == AGENT
        # a second balancer (trusted) in between; what the agent wrote itself, on the left, is not believed
        assert recorded_address(proxy, {"x-forwarded-for": f"198.51.100.66, {AGENT}, 10.1.2.3"}, 2) == AGENT
        assert recorded_address(proxy, {"forwarded": f"for={AGENT}"}, 3).startswith("127.0.0.1:")  # not its header
        assert recorded_address(proxy, {}, 4).startswith("127.0.0.1:")
        assert recorded_address(proxy, {"x-forwarded-for": "x" * 20_000}, 5).startswith("127.0.0.1:")


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(upstream: str, tmp_path: Path) -> None:
    for extra in ({}, {"http": {"trusted_proxies": ["10.0.0.0/8"]}}):
        with run_drawbridge(tmp_path, {"default": upstream}, extra=extra) as proxy:
            address = recorded_address(proxy, {"x-forwarded-for": AGENT}, 1)
            assert address.startswith("127.0.0.1:") and address.rsplit(":", 1)[1].isdigit()


def test_forwarded_when_the_ingress_writes_it(upstream: str, tmp_path: Path) -> None:
    extra = {"http": {"trusted_proxies": ["127.0.0.1/32"], "forwarded_header": "forwarded"}}
    with run_drawbridge(tmp_path, {"default": upstream}, extra=extra) as proxy:
        assert recorded_address(proxy, {"forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https'}, 1) \
            == "[2001:db8:cafe::17]:4711"
        assert recorded_address(proxy, {"x-forwarded-for": AGENT}, 2).startswith("127.0.0.1:")
