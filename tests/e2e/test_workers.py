"""`drawbridge serve --workers 2`: two processes on one listener share sessions and containment through the
store (SQLite in WAL mode, and a real Redis), and each writes its own hash-chained audit file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.audit.verify import verify
from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import Drawbridge, audit_events, run_drawbridge
from tests.support.mcp_http import call_tool, error_code, open_session, rpc
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
QUARANTINED = -32053
CALLS = 16  # each on a new connection: the chance that one worker gets them all is 2 in 65,536


@pytest.fixture(params=["sqlite", "redis"])
def workers(request: pytest.FixtureRequest, demo_server: str, tmp_path: Path) -> Iterator[Drawbridge]:
    store = f"sqlite:{tmp_path}/state.db" if request.param == "sqlite" else request.getfixturevalue("own_redis").url
    with run_drawbridge(tmp_path, {"default": demo_server}, admin=True,
                        extra={"identity": IDENTITY, "store": store, "workers": 2}) as proxy:
        yield proxy


def worker_files(proxy: Drawbridge) -> list[Path]:
    base = proxy.audit_path
    return [base, base.with_name(f"{base.stem}.worker-1{base.suffix}")]


def events(proxy: Drawbridge) -> list[dict[str, object]]:
    return [e for path in worker_files(proxy) for e in audit_events(path)]


def test_a_session_continues_on_either_worker_and_a_quarantine_holds_on_both(workers: Drawbridge) -> None:
    url = workers.mcp_url()
    session = open_session(url, AUTH)
    rpc(url, session, "tools/list")  # the catalog (which tools are read-only) is learned once, for every worker
    for n in range(CALLS):
        assert "result" in call_tool(url, session, "get_weather", {"city": f"city-{n}"})
    served = {e["replica_id"] for e in events(workers) if e["tool"] == "get_weather" and e["direction"] == "to_server"
              and e["session_id"] == session["mcp-session-id"]}
    assert len(served) == 2  # both workers served the one session
    done = workers.cli("quarantine", "principal", "alice", "--mode", "read-only", "--reason", "IR", "--ticket", "IR-12")
    assert done.returncode == 0, done.stderr
    assert eventually(lambda: error_code(call_tool(url, session, "delete_note", {"note_id": 1})) == QUARANTINED, 10)
    codes = [error_code(call_tool(url, session, "delete_note", {"note_id": n})) for n in range(CALLS)]
    assert codes == [QUARANTINED] * CALLS
    assert "result" in call_tool(url, session, "get_weather", {"city": "still read-only"})
    refused_by = {e["replica_id"] for e in events(workers) if e["rule_ids"] == ["containment-quarantine"]}
    assert len(refused_by) == 2  # refused on whichever worker the call landed


def test_each_worker_writes_its_own_intact_chain(workers: Drawbridge) -> None:
    url = workers.mcp_url()
    session = open_session(url, AUTH)
    for n in range(CALLS):
        call_tool(url, session, "get_weather", {"city": f"city-{n}"})
    for path in worker_files(workers):
        _, found = verify([path])
        assert found is None or (found.kind == "truncated" and found.path == path), found  # the live tail
