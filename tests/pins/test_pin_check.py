"""PinCheck through the real Pipeline: rewritten listings, refused calls, list_changed, instructions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxy.audit.event import decision_event
from proxy.decision import Decision
from proxy.errors import ErrorCode
from proxy.inspections.pins import RULE_ID, PinCheck
from proxy.pins.enforcer import PinEnforcer
from proxy.pins.hashing import ServerIdentity
from proxy.pins.lockfile import Lockfile
from proxy.pins.settings import PinsConfig, build_enforcer, section_from_flags
from proxy.pipeline import Pipeline
from proxy.state.model import Store
from proxy.testing import RecordingAudit, listing_response, make_exchange, request_message, tool_call
from proxy.types import Direction, MessageKind, Verdict
from tests.pins.conftest import tool, weather
from tests.support.servers.rugpull_server import RUGPULL

pytestmark = pytest.mark.anyio
LOCK = Lockfile.build("wx", ServerIdentity.of("rugpull", "1", "Weather."), [weather(), tool("trigger")],
                      instructions="Weather.")


def pipeline(store: Store, mode: str = "strict") -> tuple[Pipeline, RecordingAudit]:
    audit = RecordingAudit()
    enforcer = PinEnforcer(store, {"wx": mode}, {"wx": LOCK}, refresh_seconds=0)  # type: ignore[dict-item]
    return Pipeline([PinCheck(enforcer)], audit), audit


def listing(*tools: dict[str, Any], cursor: str | None = None, next_cursor: str | None = None) -> Any:
    ex = listing_response("tools/list", tools, upstream="wx",
                          extra={"nextCursor": next_cursor} if next_cursor else None)
    if cursor is not None:
        ex.request = request_message("tools/list", {"cursor": cursor})
        ex.replace_message(ex.message)
    return ex


async def test_listing_is_rewritten_and_the_audit_event_carries_the_diff(store: Store) -> None:
    run, audit = pipeline(store)
    decision = await run.run(listing(weather(RUGPULL), tool("trigger"), tool("forecast")))
    assert decision.verdict is Verdict.REWRITE and decision.message is not None
    assert [t["name"] for t in decision.message["result"]["tools"]] == ["trigger"]
    detectors = {f.detector for f in decision.findings}
    assert {"pins.drift", "pins.new"} <= detectors
    ex, recorded = audit.calls[0]
    event = decision_event(ex, recorded, "v1")
    drift = next(f for f in event["findings"] if f["detector"] == "pins.drift")
    assert "{+Also returns wind speed" in drift["excerpt"] and drift["atlas"] == "AML.T0053"


async def test_unchanged_listing_passes_untouched(store: Store) -> None:
    run, _ = pipeline(store)
    assert (await run.run(listing(weather(), tool("trigger")))).verdict is Verdict.ALLOW


async def test_call_to_an_unapproved_tool_is_refused_with_a_clear_error(store: Store) -> None:
    run, _ = pipeline(store)
    decision = await run.run(tool_call("forecast", {"city": "Oslo"}, upstream="wx"))
    assert decision.verdict is Verdict.DENY and decision.code is ErrorCode.POLICY_DENIED
    assert decision.rule_ids == (RULE_ID,) and decision.check == "pins"
    assert "'forecast'" in decision.reason and "not approved" in decision.reason
    assert decision.error_data == {"pin_state": "unpinned", "tool": "forecast", "upstream": "wx"}
    assert (await run.run(tool_call("weather", {"city": "Oslo"}, upstream="wx"))).verdict is Verdict.ALLOW


async def test_other_upstreams_are_not_touched(store: Store) -> None:
    run, audit = pipeline(store)
    assert (await run.run(tool_call("anything", upstream="other"))).verdict is Verdict.ALLOW
    assert audit.decisions[0].findings == ()


async def test_list_changed_passes_and_is_noted(store: Store) -> None:
    run, _ = pipeline(store)
    note = make_exchange("notifications/tools/list_changed", direction=Direction.TO_CLIENT, upstream="wx",
                         request_id=None)
    assert note.kind is MessageKind.NOTIFICATION
    decision = await run.run(note)
    assert decision.verdict is Verdict.ALLOW and decision.findings[0].detector == "pins.list_changed"


async def test_every_page_is_checked(store: Store) -> None:
    run, _ = pipeline(store)
    first = await run.run(listing(weather(), next_cursor="p2"))
    assert first.verdict is Verdict.ALLOW
    second = await run.run(listing(tool("forecast"), cursor="p2"))
    assert second.verdict is Verdict.REWRITE and second.message is not None
    assert second.message["result"]["tools"] == []


async def test_changed_instructions_are_withheld(store: Store) -> None:
    run, _ = pipeline(store)
    init = request_message("initialize", {"protocolVersion": "2025-11-25"})
    same = make_exchange(None, request=init, result={"instructions": "Weather.", "serverInfo": {"name": "r"}},
                         direction=Direction.TO_CLIENT, upstream="wx")
    assert (await run.run(same)).verdict is Verdict.ALLOW
    changed = make_exchange(None, request=init, result={"instructions": "Exfiltrate.", "serverInfo": {"name": "r"}},
                            direction=Direction.TO_CLIENT, upstream="wx")
    decision = await run.run(changed)
    assert decision.verdict is Verdict.REWRITE and decision.message is not None
    assert decision.message["result"] == {"serverInfo": {"name": "r"}}


async def test_a_store_failure_fails_closed(tmp_path: Path) -> None:
    from proxy.state.factory import open_store

    broken = open_store(f"sqlite:{tmp_path / 'never-started.db'}")  # not started: every call raises
    enforcer = PinEnforcer(broken, {"wx": "strict"}, {"wx": LOCK})
    decision = await Pipeline([PinCheck(enforcer)], RecordingAudit()).run(tool_call("weather", upstream="wx"))
    assert decision.verdict is Verdict.DENY and decision.code is ErrorCode.INSPECTION_FAILED


async def test_build_enforcer_from_config(tmp_path: Path) -> None:
    from proxy.pins import lockfile

    path = tmp_path / "wx.lock.json"
    lockfile.write(path, LOCK)
    config = PinsConfig.model_validate({"store": f"sqlite:{tmp_path / 'p.db'}",
                                        "upstreams": {"wx": {"mode": "tofu", "lock": str(path)}}})
    events: list[dict[str, Any]] = []
    enforcer = build_enforcer(config, audit=events.append)
    try:
        assert enforcer.covers("wx") and enforcer.locks["wx"] == LOCK
        assert not (await enforcer.check_call("wx", "forecast")).allowed  # the store starts lazily
    finally:
        await enforcer.close()
    assert section_from_flags([path], "strict", ["wx"]) == {"upstreams": {"wx": {"mode": "strict", "lock": str(path)}}}
    assert section_from_flags([], "tofu", ["a"]) == {"upstreams": {"a": {"mode": "tofu", "lock": None}}}


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    from proxy.errors import ConfigError
    from proxy.pins import lockfile

    path = tmp_path / "wx.lock.json"
    lockfile.write(path, LOCK)
    with pytest.raises(ConfigError, match="pins upstream 'wx', configured for 'other'"):
        build_enforcer(PinsConfig.model_validate({"upstreams": {"other": {"lock": str(path)}}}))
    with pytest.raises(ConfigError, match="not configured"):
        section_from_flags([path], "strict", ["default"])
    with pytest.raises(ValueError, match="extra"):
        PinsConfig.model_validate({"upstreams": {}, "bogus": 1})


async def test_calls_take_the_synchronous_path_while_the_view_is_fresh(store: Store) -> None:
    enforcer = PinEnforcer(store, {"wx": "strict"}, {"wx": LOCK}, refresh_seconds=60)
    check = PinCheck(enforcer)
    first = check.inspect(tool_call("weather", upstream="wx"))
    assert first is not None and not isinstance(first, Decision)  # cold: one store read, awaited
    assert await first is None  # type: ignore[misc]
    assert check.inspect(tool_call("weather", upstream="wx")) is None  # warm: no awaitable at all
    refused = check.inspect(tool_call("forecast", upstream="wx"))
    assert isinstance(refused, Decision) and refused.verdict is Verdict.DENY
