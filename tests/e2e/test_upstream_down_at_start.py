"""Issue 14, "start with a dependency down": an upstream nobody answers at start-up is a warning and a
not-ready route, probed again in the background; the other routes serve, and its own becomes ready (and
serves) once it appears. Real `drawbridge serve` processes, real SDK servers and the official SDK client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.drawbridge import Drawbridge, free_port, run_drawbridge, run_module_server
from tests.support.sdk import weather as sdk_weather
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
UNAVAILABLE = -32060
ACCEPT = {"accept": "application/json, text/event-stream"}
PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}


def readyz(proxy: Drawbridge, upstream: str | None = None) -> httpx.Response:
    return httpx.get(f"{proxy.url}/readyz" + (f"/{upstream}" if upstream else ""), timeout=5)


def weather(proxy: Drawbridge, upstream: str) -> str:
    return sdk_weather(proxy.mcp_url(upstream))


def test_one_upstream_down_at_start_the_others_serve_and_it_becomes_ready_when_it_appears(
        demo_server: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    missing = f"http://127.0.0.1:{port}/mcp"
    with run_drawbridge(tmp_path, {"default": demo_server, "notes": missing}) as proxy:
        whole = readyz(proxy)  # every upstream is probed once before the port opens
        assert whole.status_code == 200, "one upstream of two down must not take the pod out of its Service"
        assert whole.json()["status"] == "degraded" and whole.json()["store"] == "ok"
        assert whole.json()["upstreams"] == {"default": {"ready": True, "detail": "reachable"},
                                             "notes": {"ready": False, "detail": "connection refused"}}
        assert readyz(proxy, "default").status_code == 200
        alone = readyz(proxy, "notes")
        assert alone.status_code == 503
        assert alone.json() == {"status": "unready", "store": "ok", "upstream": "notes", "ready": False,
                                "detail": "connection refused"}
        assert readyz(proxy, "nope").status_code == 404
        assert "Oslo" in weather(proxy, "default")
        # a call to the route that is not ready: the usual upstream-unavailable error, audited once as ever
        refused = httpx.post(proxy.mcp_url("notes"), json=PING, headers=ACCEPT, timeout=10)
        assert refused.status_code == 502 and refused.json()["error"]["code"] == UNAVAILABLE
        assert refused.json()["id"] == 7
        failed = [e for e in proxy.events() if e["upstream"] == "notes" and e["error_code"] == UNAVAILABLE]
        assert len(failed) == 1 and failed[0]["origin"] == "proxy"
        warnings = [line for line in proxy.log().splitlines() if "is unreachable" in line]
        assert warnings == [f"drawbridge: WARNING upstream notes at {missing} is unreachable (connection refused): "
                            "its route is not ready; the other routes serve, and it is probed again in the "
                            "background"]
        with run_module_server("proxy.demo.server", port=port):
            # no call reaches it: the background probe alone finds it (backoff at most 30 s)
            assert eventually(lambda: readyz(proxy, "notes").status_code == 200, 40, 0.2), readyz(proxy).text
            assert readyz(proxy).json()["status"] == "ready"
            assert "Oslo" in weather(proxy, "notes")
            assert "is reachable again" in proxy.log()
        assert proxy.process.poll() is None


def _expect_unready(proxy: Drawbridge, name: str, url: str) -> dict[str, Any]:
    ready = readyz(proxy)
    assert ready.status_code == 503 and ready.json()["status"] == "unready"
    line = f"upstream {name} at {url} is unreachable (connection refused)"
    assert line in proxy.log() and "Traceback" not in proxy.log()
    answer = httpx.post(proxy.mcp_url(name), json=PING, headers=ACCEPT, timeout=10)
    assert answer.status_code == 502 and answer.json()["error"]["code"] == UNAVAILABLE
    body: dict[str, Any] = ready.json()
    return body


def test_every_upstream_down_still_starts_unready_naming_it(tmp_path: Path) -> None:
    """Pods start in any order: the proxy does not wait for (or crash-loop on) its upstream."""
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with run_drawbridge(tmp_path, {"files": url}) as proxy:
        body = _expect_unready(proxy, "files", url)
        assert body["upstreams"] == {"files": {"ready": False, "detail": "connection refused"}}
        assert readyz(proxy, "files").status_code == 503


def test_the_upstream_flag_names_the_route_in_the_warning(tmp_path: Path) -> None:
    """`serve --upstream NAME=URL` (no config file): the same warning, no traceback, and it serves."""
    import subprocess
    import sys

    port, url = free_port(), f"http://127.0.0.1:{free_port()}/mcp"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--listen", f"127.0.0.1:{port}",
                                 "--upstream", f"notes={url}", "--policy", "policies/default",
                                 "--audit-file", str(tmp_path / "audit.jsonl")],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proxy = Drawbridge(f"http://127.0.0.1:{port}", port, tmp_path / "audit.jsonl", tmp_path, proc, log_path)
        assert eventually(lambda: f"upstream notes at {url} is unreachable" in proxy.log(), 15)
        assert eventually(lambda: _status(proxy) == 503, 10), proxy.log()
        assert "Traceback" not in proxy.log()
    finally:
        proc.terminate()
        proc.wait(30)


def _status(proxy: Drawbridge) -> int | None:
    try:
        return readyz(proxy).status_code
    except httpx.HTTPError:
        return None
