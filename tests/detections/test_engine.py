"""The detections over a real store (SQLite in memory): each fires on the behaviour it names, once, and not
on ordinary use. Observations are built as `DetectionEngine.observe` builds them from decided messages."""

from __future__ import annotations

import asyncio
import base64
import gzip
import time
from dataclasses import replace
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from proxy.detections.engine import DetectionEngine
from proxy.detections.model import Alert, Observation
from proxy.detections.settings import DetectionSettings
from proxy.state.model import Store
from proxy.types import Severity

pytestmark = pytest.mark.anyio
FILE = "\n".join(f"customer {n:04d}: Jane Roe, 12 Long Street, account DE89 3704 0044 0532 {n:04d} 00"
                 for n in range(20))
_ids = count(1)


@pytest.fixture
def store(memory_store: Store) -> Store:
    return memory_store


class Run:
    def __init__(self, store: Store, settings: DetectionSettings) -> None:
        self.settings = settings
        self.engine = DetectionEngine(store, lambda: self.settings, lambda a: None, lambda u, t: True,
                                      settle_seconds=0)

    async def __call__(self, *observations: Observation) -> list[Alert]:
        return await self.engine.process(list(observations))


def call(tool: str, *, session: str = "s1", principal: str = "alice", agent: str | None = "bot",
         verdict: str = "allow", hosts: tuple[tuple[str, bool], ...] = (), arguments: Any = None,
         **extra: Any) -> Observation:
    return Observation(time.time(), f"ev-{next(_ids)}", None, True, "tools/call", verdict, principal, agent, None,
                       session, "default", tool, hosts=hosts, arguments=arguments, **extra)


def result(tool: str, value: Any, *, session: str = "s1", agent: str | None = "bot", size: int = 100,
           findings: tuple[tuple[str, Severity], ...] = ()) -> Observation:
    return Observation(time.time(), f"ev-{next(_ids)}", None, False, "tools/call", "allow", "alice", agent, None,
                       session, "default", tool, result=value, result_bytes=size, findings=findings)


def detections(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.detection, a.scope) for a in alerts]


async def test_a_sensitive_tool_alerts_once_per_session_principal_and_agent(store: Store) -> None:
    run = Run(store, DetectionSettings())
    assert await run(call("search"), call("read_file")) == []
    first = await run(call("fs.delete"))
    assert detections(first) == [("sensitive_first_use", "session"), ("sensitive_first_use", "principal"),
                                 ("sensitive_first_use", "agent")]
    assert first[0].severity is Severity.SEV2 and first[0].event_ids and first[0].window["window_seconds"] == 86400
    assert await run(call("fs.delete")) == []
    assert detections(await run(call("fs.delete", session="s2"))) == [("sensitive_first_use", "session")]


async def test_velocity_fires_when_the_minute_goes_over_the_limit_and_only_then(store: Store) -> None:
    run = Run(store, DetectionSettings(velocity_per_minute=5))
    alerts = await run(*(call("search") for _ in range(12)))
    assert detections(alerts) == [("velocity", "session")]
    assert alerts[0].window == {"calls": 6, "limit": 5, "window_seconds": 60}
    bulk = Run(store, DetectionSettings(result_bytes_per_minute=4096))
    alerts = await bulk(*(result("read_file", "x", size=1500) for _ in range(4)))
    assert [(a.detection, a.technique) for a in alerts] == [("velocity", "AML.T0025")]


async def test_a_new_destination_alerts_once_and_an_unlisted_one_is_worse(store: Store) -> None:
    run = Run(store, DetectionSettings())
    [allowed] = await run(call("fetch", hosts=(("docs.example.com", True),)))
    assert (allowed.detection, allowed.severity, allowed.window["destination"]) == (
        "new_egress_destination", Severity.SEV3, "docs.example.com")
    assert await run(call("fetch", hosts=(("docs.example.com", True),))) == []
    [unlisted] = await run(call("upload", hosts=(("evil.example", False),), verdict="deny"))
    assert unlisted.severity is Severity.SEV2 and unlisted.window["allowlisted"] is False
    assert await run(call("fetch", agent="other", hosts=(("docs.example.com", True),))) != []  # per agent


@pytest.mark.parametrize("encode", [
    lambda text: text,
    lambda text: base64.b64encode(text.encode()).decode(),
    lambda text: base64.urlsafe_b64encode(gzip.compress(text.encode())).decode(),
    lambda text: text.encode().hex(),
    lambda text: "".join(f"%{b:02X}" for b in text.encode()),
], ids=["plain", "base64", "gzip-base64url", "hex", "percent"])
async def test_a_result_leaving_in_a_later_call_is_exfiltration(store: Store, encode: Any) -> None:
    run = Run(store, DetectionSettings())
    assert await run(result("read_file", {"content": [{"type": "text", "text": FILE}]})) == []
    body = {"url": "https://docs.example.com/upload", "body": f"notes: {encode(FILE)}"}
    [alert] = [a for a in await run(call("http_post", arguments=body)) if a.detection == "result_exfiltration"]
    assert alert.severity is Severity.SEV1 and alert.technique == "AML.T0086"
    assert alert.window["source_tool"] == "read_file" and alert.window["shared_lines"] >= 2
    assert len(alert.event_ids) == 2


async def test_unrelated_data_leaving_is_not_exfiltration(store: Store) -> None:
    run = Run(store, DetectionSettings())
    await run(result("read_file", {"content": [{"type": "text", "text": FILE}]}))
    other = "\n".join(f"weekly status line {n}: all services green, no incidents reported" for n in range(20))
    alerts = await run(call("http_post", arguments={"body": base64.b64encode(other.encode()).decode()}))
    assert [a for a in alerts if a.detection == "result_exfiltration"] == []
    elsewhere = await run(call("http_post", agent="another-agent", arguments={"body": FILE}))
    assert [a for a in elsewhere if a.detection == "result_exfiltration"] == []  # fingerprints are per agent


async def test_a_result_written_after_the_call_arrived_is_found_once_the_call_settles(store: Store) -> None:
    """Another replica may write a result's fingerprint after this one saw the call that carries it away."""
    engine = DetectionEngine(store, DetectionSettings, lambda a: None, lambda u, t: True)
    earlier = result("read_file", {"content": [{"type": "text", "text": FILE}]})
    leaving = call("http_post", arguments={"body": FILE})
    assert [a for a in await engine.evaluate([leaving]) if a.detection == "result_exfiltration"] == []
    await engine.evaluate([earlier])
    [alert] = [a for a in await engine.evaluate([], [leaving]) if a.detection == "result_exfiltration"]
    assert alert.window["source_event_id"] == earlier.event_id


async def test_the_calls_own_answer_echoing_it_is_no_exfiltration(store: Store) -> None:
    """A server that echoes what it was sent does not make the call a leak."""
    engine = DetectionEngine(store, DetectionSettings, lambda a: None, lambda u, t: True)
    sent = replace(call("http_post", arguments={"body": FILE}), call_id="c-1")
    echoed = replace(result("http_post", {"content": [{"type": "text", "text": FILE}]}), call_id="c-1")
    await engine.evaluate([sent])
    await engine.evaluate([echoed])
    assert [a for a in await engine.evaluate([], [sent]) if a.detection == "result_exfiltration"] == []


async def test_injection_in_a_result_alerts_whatever_the_action(store: Store) -> None:
    run = Run(store, DetectionSettings())
    poisoned = result("read_file", "x", findings=(("injection.override", Severity.SEV2),
                                                  ("unicode.tag_chars", Severity.SEV3)))
    [alert] = await run(poisoned)
    assert (alert.detection, alert.severity, alert.technique) == ("result_injection", Severity.SEV2, "AML.T0051.001")
    assert alert.window["detectors"] == ["injection.override", "unicode.tag_chars"]
    assert await run(replace(poisoned, event_id="again")) == []  # not repeated within ten minutes


async def test_credential_used_from_two_places(store: Store) -> None:
    run = Run(store, DetectionSettings())
    here = {"credential_hash": "c" * 64, "client_address": "10.0.0.1", "user_agent": "agent/1"}
    assert await run(call("search", **here), call("search", **here)) == []
    [alert] = await run(call("search", **{**here, "client_address": "203.0.113.9"}))
    assert (alert.detection, alert.scope, alert.window["changed"]) == ("credential_misuse", "credential", ["address"])
    assert alert.window["previous"]["address"] == "10.0.0.1" and len(alert.event_ids) == 2


async def test_credential_outside_declared_hours(store: Store) -> None:
    now = time.gmtime()
    closed = f"{(now.tm_hour + 2) % 24:02d}:00-{(now.tm_hour + 3) % 24:02d}:00"
    run = Run(store, DetectionSettings(principal_hours={"alice": closed}))
    [alert] = await run(call("search", credential_hash="c" * 64))
    assert alert.window["reason"] == "outside_hours"


async def test_a_declared_baseline_flags_an_unseen_transition(store: Store) -> None:
    settings = DetectionSettings.model_validate({"baselines": {"bot*": [["search", "summarize"]]}})
    run = Run(store, settings)
    assert await run(call("search"), call("summarize")) == []
    [alert] = await run(call("upload"))
    assert (alert.detection, alert.window["previous_tool"], alert.window["tool"]) == (
        "sequence_deviation", "summarize", "upload")
    assert alert.window["baseline"] == "declared" and len(alert.event_ids) == 2


async def test_a_learned_baseline_flags_transitions_after_the_learning_period(store: Store) -> None:
    learning = Run(store, DetectionSettings(learning="1h"))
    assert await learning(call("search"), call("summarize"), call("search")) == []
    learned = Run(store, DetectionSettings(learning="1s"))  # the same agent, its learning period over
    await asyncio.sleep(1.1)
    assert await learned(call("summarize"), call("search")) == []  # transitions it learned
    [alert] = await learned(call("read_file"))
    assert (alert.window["previous_tool"], alert.window["baseline"]) == ("search", "learned")


async def test_detections_can_be_turned_off(store: Store) -> None:
    run = Run(store, DetectionSettings(disabled=("sensitive_first_use", "new_egress_destination")))
    assert await run(call("fs.delete", hosts=(("evil.example", False),))) == []


def test_settings_refuse_bad_values() -> None:
    for bad in ({"disabled": ["nope"]}, {"principal_hours": {"a": "9-5"}}, {"baselines": {"*": [["a"]]}},
                {"first_use_window": "soon"}):
        with pytest.raises(ValueError):
            DetectionSettings.model_validate(bad)


def test_a_policy_file_turns_detections_off_and_tunes_them(tmp_path: Path) -> None:
    from proxy.policy.loader import load_policy
    from proxy.testing import write_policy

    write_policy(tmp_path, """\
        settings:
          detections:
            disabled: [velocity, new_egress_destination]
            sensitive_tools: ["*delete*", "payments.*"]
            baselines: {"support-bot-*": [[search, summarize]]}
            principal_hours: {batch-agent: "01:00-05:00"}
        rules:
          - {id: all, effect: permit, methods: ["*"]}
        """)
    settings = load_policy(tmp_path).policy.settings.detections
    assert not settings.on("velocity") and settings.on("sensitive_first_use")
    assert settings.sensitive_tools == ("*delete*", "payments.*")
    assert settings.within_hours("batch-agent", 3 * 60) is True and settings.within_hours("batch-agent", 600) is False


async def test_a_sessions_calls_served_by_two_replicas_are_ordered_by_time(store: Store) -> None:
    """Replica A gathers calls 1 and 3 of a session, replica B calls 2 and 4 (alternating, within one batch
    window): once settled, each call is judged against the call before it in the session's history, whichever
    replica served it, not against its own replica's previous call."""
    settings = DetectionSettings.model_validate({"baselines": {"bot": [["search", "summarize"],
                                                                       ["summarize", "search"]]}})

    def replica() -> DetectionEngine:
        return DetectionEngine(store, lambda: settings, lambda x: None, lambda u, t: True, settle_seconds=0.3)

    a, b = replica(), replica()
    calls = [call(tool) for tool in ("search", "summarize", "search", "summarize")]
    assert await a.process([calls[0], calls[2]]) == [] and await b.process([calls[1], calls[3]]) == []
    await asyncio.sleep(0.35)
    assert await a.process([]) == [] and await b.process([]) == []  # search, summarize, search, summarize
    assert await a.process([call("upload")]) == []  # not settled yet
    await asyncio.sleep(0.35)
    [alert] = await a.process([])
    assert (alert.window["previous_tool"], alert.window["tool"]) == ("summarize", "upload")
