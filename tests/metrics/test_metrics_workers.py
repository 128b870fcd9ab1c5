"""`--workers 2`: /metrics sums every worker's counters (prometheus-client's multiprocess mode, set up by the
supervisor), and the optional metrics listener answers without a token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import audit_events, free_port, run_drawbridge, run_module_server
from tests.support.mcp_http import call_tool, open_session

pytestmark = pytest.mark.e2e
CALLS = 16  # each on a new connection: both workers serve some (the chance one gets all is 2 in 65,536)


def calls_counted(text: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "drawbridge_decisions_total" and s.labels.get("method") == "tools/call"
               and s.labels.get("direction") == "to_server")


def test_metrics_cover_every_worker(tmp_path: Path) -> None:
    metrics_port = free_port()
    with run_module_server("proxy.demo.server") as demo, \
            run_drawbridge(tmp_path, {"default": demo}, admin=True, extra={
                "identity": IDENTITY, "workers": 2, "admin": {"metrics_listen": f"127.0.0.1:{metrics_port}"}}) as proxy:
        url = proxy.mcp_url()
        session = open_session(url, AUTH)
        for n in range(CALLS):
            assert "result" in call_tool(url, session, "get_weather", {"city": f"c{n}"})
        served_by = {e["replica_id"] for path in (proxy.audit_path, proxy.audit_path.with_name(
            f"{proxy.audit_path.stem}.worker-1{proxy.audit_path.suffix}")) for e in audit_events(path)
            if e["tool"] == "get_weather" and e["direction"] == "to_server"}
        assert len(served_by) == 2  # both workers served calls …
        answer = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)  # no token on this listener
        assert answer.status_code == 200
        assert calls_counted(answer.text) == CALLS  # … and /metrics counts them all
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/v1/status", timeout=10).status_code == 404
