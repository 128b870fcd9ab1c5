"""The detection engine: observations in, alerts out, every window in the Store.

`observe` runs on the hot path after a decision's audit event is written: it takes the few fields the
detections need and appends them to a bounded queue (no I/O, no awaiting). A worker drains the queue in
batches and updates the windows with `Store.rec_upsert_many` (one round trip per phase of a batch), so
every replica and worker shares one history and a restart forgets nothing. Alerts therefore follow the
decision that caused them by a few milliseconds; they never hold a message. Every window is a record with
a time to live (see README, "Behavioural detections"), so state cannot grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from proxy.decision import Decision
from proxy.detections import fingerprint as fp
from proxy.detections.model import ATLAS_BULK_READ, Alert, Observation
from proxy.detections.settings import DetectionSettings
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.inspections.egress import HOSTS_NOTE
from proxy.state.model import Store, Upsert
from proxy.types import Direction, MessageKind, Origin, Severity

log = logging.getLogger("drawbridge.detections")
MAX_PENDING = 10_000
BATCH = 256
RESULT_DETECTORS = ("injection.", "unicode.", "encoded.")
FINGERPRINT_SLOTS = 16
SESSION_MEMORY = 3600  # how long a session's previous tool is remembered for its next transition
REPEAT_SECONDS = 600  # an alert about the same thing is not repeated within this time

Settings = Callable[[], DetectionSettings]
AlertSink = Callable[[Alert], None]


def _host_of(address: str | None) -> str | None:
    """The client's host without its port (`HOST:PORT` as transports record it): every connection has its own."""
    if address is None:
        return None
    host, colon, port = address.rpartition(":")
    return host if colon and port.isdigit() else address


def _worst(findings: tuple[tuple[str, Severity], ...]) -> Severity:
    return min((s for _, s in findings), default=Severity.SEV3)


class DetectionEngine:
    """Turns observations into alerts (one worker task per process)."""

    def __init__(self, store: Store, settings: Settings, on_alert: AlertSink,
                 egress_tool: Callable[[str, str], bool]) -> None:
        self._store, self._settings, self._on_alert, self._egress_tool = store, settings, on_alert, egress_tool
        self._pending: deque[Observation] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0  # observations lost to a full queue or a store failure
        self.alerts = 0

    # -- the hot path -----------------------------------------------------------------------------
    def observe(self, ex: Exchange, decision: Decision, event_id: str) -> None:
        """Queue what the detections need of a decided message (cheap: no I/O)."""
        if self._task is None:
            return
        if ex.direction is Direction.TO_SERVER:
            if ex.kind is not MessageKind.REQUEST or ex.origin is not Origin.AGENT:
                return
            tool = ex.tool_name
            hosts = tuple(ex.notes.get(HOSTS_NOTE, ()))
            sends = tool is not None and (bool(hosts) or self._egress_tool(ex.upstream, tool))
            arguments = ex.arguments if sends else None
            observation = Observation(
                time.time(), event_id, ex.call_id, True, ex.method, decision.verdict, ex.principal, ex.agent,
                ex.session_id, ex.client_key, ex.upstream, tool, ex.credential_hash, _host_of(ex.client_address),
                ex.user_agent, hosts, arguments)
        elif ex.method == "tools/call" and ex.kind is MessageKind.RESPONSE and ex.origin is Origin.SERVER:
            tool = ex.request.get("params", {}).get("name") if isinstance(ex.request, dict) else None
            findings = tuple((f.detector, f.severity) for f in decision.findings
                             if f.detector.startswith(RESULT_DETECTORS))
            observation = Observation(
                time.time(), event_id, ex.call_id, False, ex.method, decision.verdict, ex.principal, ex.agent,
                ex.session_id, ex.client_key, ex.upstream, tool if isinstance(tool, str) else None,
                result=ex.result, result_bytes=ex.raw_size, findings=findings)
        else:
            return
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(observation)
        self._idle.clear()
        self._wake.set()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="detections")

    async def drain(self, grace_seconds: float = 5.0) -> None:
        """Wait until every queued observation has been handled (tests, shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._idle.wait()

    async def close(self) -> None:
        if self._task is not None:
            await self.drain(2.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                try:
                    for alert in await self.evaluate(batch):
                        self.alerts += 1
                        self._on_alert(alert)
                except Exception as exc:  # never silent: counted, logged, and the next batch goes on
                    self.dropped += len(batch)
                    log.warning("detections skipped %d observations: %s", len(batch), type(exc).__name__)
            self._idle.set()

    # -- the detections ---------------------------------------------------------------------------
    async def evaluate(self, batch: list[Observation]) -> list[Alert]:
        """Update the windows for a batch (in order) and return the alerts it raised (each at most once)."""
        detect = _Detect(self._settings(), time.time())
        for obs in batch:
            detect.first_phase(obs)
        alerts = await detect.first.run(self._store)
        alerts += await detect.second.run(self._store)
        for obs in detect.copies:
            alerts += await detect.copied(obs, await self._store.rec_get("det:fp", obs.actor))
        return await self._once(alerts)

    async def _once(self, alerts: list[Alert]) -> list[Alert]:
        """Drop alerts already raised about the same thing recently (on any replica)."""
        keyed = [a for a in alerts if "repeat_key" in a.window]
        if not keyed:
            return alerts
        seen = await self._store.rec_upsert_many([
            Upsert("det:alerted", str(a.window.pop("repeat_key")), {}, REPEAT_SECONDS, "keep") for a in keyed])
        repeated = {id(a) for a, s in zip(keyed, seen, strict=True) if s is not None}
        return [a for a in alerts if id(a) not in repeated]


Judge = Callable[[list[Any]], "Alert | None"]


class _Writes:
    """Upserts sent in one round trip, each group judged on the previous values of its own writes."""

    def __init__(self) -> None:
        self.upserts: list[Upsert] = []
        self.groups: list[tuple[int, Judge]] = []

    def add(self, upserts: list[Upsert], judge: Judge) -> None:
        self.upserts.extend(upserts)
        self.groups.append((len(upserts), judge))

    async def run(self, store: Store) -> list[Alert]:
        previous = await store.rec_upsert_many(self.upserts) if self.upserts else []
        alerts, at = [], 0
        for count, judge in self.groups:
            alert = judge(previous[at:at + count])
            at += count
            if alert is not None:
                alerts.append(alert)
        return alerts


def _crossed(prev: Any, field: str, amount: int, limit: int) -> bool:
    """True exactly once per window: when this write takes the total over `limit`."""
    before = int(prev.get(field, 0)) if isinstance(prev, dict) else 0
    return before <= limit < before + amount


class _Detect:
    """The detections over one batch: phase one writes what every observation changes (first uses, counters,
    the session's previous tool, destinations, credentials, fingerprint slots); phase two what depends on
    phase one (transitions against baselines, fingerprints in their slots); then copies of results leaving."""

    def __init__(self, settings: DetectionSettings, now: float) -> None:
        self.s, self.now = settings, now
        self.first, self.second = _Writes(), _Writes()
        self.copies: list[Observation] = []
        self._sensitive = cached_globs(settings.sensitive_tools)
        self._minute = int(now // 60)

    def first_phase(self, obs: Observation) -> None:
        if obs.request:
            if obs.tool is not None and obs.method == "tools/call":
                self._sensitive_first_use(obs)
                self._call_velocity(obs)
                self._sequence(obs)
                self._destinations(obs)
                if obs.arguments is not None and self.s.on("result_exfiltration"):
                    self.copies.append(obs)
            if obs.credential_hash and self.s.on("credential_misuse"):
                self._credential(obs)
        else:
            self._result_velocity(obs)
            self._result_injection(obs)
            self._fingerprint(obs)

    # -- first uses, bursts, destinations -----------------------------------------------------------
    def _sensitive_first_use(self, obs: Observation) -> None:
        tool = str(obs.tool)
        if not self.s.on("sensitive_first_use") or not self._sensitive.fullmatch(tool):
            return
        window = self.s.seconds("first_use_window")
        for scope, subject in (("session", obs.session), ("principal", obs.principal), ("agent", obs.agent)):
            if subject is None:
                continue

            def judge(prev: list[Any], scope: str = scope) -> Alert | None:
                if prev[0] is not None:
                    return None
                severity = Severity.SEV2 if obs.verdict in ("allow", "rewrite") else Severity.SEV3
                return Alert("sensitive_first_use", severity, f"{scope} called sensitive tool {tool} for the first "
                             f"time in {_span(window)}", scope, obs,
                             {"first_seen": self.now, "window_seconds": window, "verdict": obs.verdict},
                             (obs.event_id,))

            self.first.add([Upsert("det:first", f"{scope}|{subject}|{tool}", {"first_seen": self.now}, window,
                                   "keep")], judge)

    def _call_velocity(self, obs: Observation) -> None:
        if not self.s.on("velocity"):
            return
        limit = self.s.velocity_per_minute

        def judge(prev: list[Any]) -> Alert | None:
            if not _crossed(prev[0], "calls", 1, limit):
                return None
            return Alert("velocity", Severity.SEV3, f"more than {limit} tool calls in a minute", "session", obs,
                         {"calls": limit + 1, "limit": limit, "window_seconds": 60}, (obs.event_id,))

        self.first.add([Upsert("det:calls", f"{obs.session}|{self._minute}", {"calls": 1}, 120, "add")], judge)

    def _result_velocity(self, obs: Observation) -> None:
        if not self.s.on("velocity") or not obs.result_bytes:
            return
        limit = self.s.result_bytes_per_minute

        def judge(prev: list[Any]) -> Alert | None:
            if not _crossed(prev[0], "bytes", obs.result_bytes, limit):
                return None
            total = int((prev[0] or {}).get("bytes", 0)) + obs.result_bytes
            return Alert("velocity", Severity.SEV3, f"more than {limit} bytes of results in a minute", "session",
                         obs, {"result_bytes": total, "limit": limit, "window_seconds": 60}, (obs.event_id,),
                         ATLAS_BULK_READ)

        self.first.add([Upsert("det:bytes", f"{obs.session}|{self._minute}", {"bytes": obs.result_bytes}, 120,
                               "add")], judge)

    def _destinations(self, obs: Observation) -> None:
        if not self.s.on("new_egress_destination"):
            return
        memory = self.s.seconds("destination_memory")
        for host, allowed in obs.hosts:
            def judge(prev: list[Any], host: str = host, allowed: bool = allowed) -> Alert | None:
                if prev[0] is not None:
                    return None
                return Alert("new_egress_destination", Severity.SEV3 if allowed else Severity.SEV2,
                             f"{obs.actor} sent a call to {host} for the first time"
                             + ("" if allowed else " (not on the egress allowlist)"), "agent", obs,
                             {"destination": host, "allowlisted": allowed, "verdict": obs.verdict}, (obs.event_id,))

            self.first.add([Upsert("det:dest", f"{obs.actor}|{host}", {"first_seen": self.now}, memory, "keep")],
                           judge)

    # -- results: injections and fingerprints --------------------------------------------------------
    def _result_injection(self, obs: Observation) -> None:
        if not self.s.on("result_injection") or not obs.findings:
            return
        detectors = sorted({d for d, _ in obs.findings})
        alert = Alert("result_injection", _worst(obs.findings), f"the result of {obs.tool} carries "
                      f"{', '.join(detectors)}", "session", obs,
                      {"detectors": detectors, "verdict": obs.verdict,
                       "repeat_key": f"ri|{obs.session}|{obs.tool}|{'+'.join(detectors)}"}, (obs.event_id,))
        self.first.add([], lambda _prev: alert)

    def _fingerprint(self, obs: Observation) -> None:
        if not self.s.on("result_exfiltration") or obs.result is None:
            return
        kept = fp.fingerprint(obs.result)
        if not kept:
            return
        slot = str(zlib.crc32(obs.event_id.encode()) % FINGERPRINT_SLOTS)  # a new result replaces a random one
        entry = f"{self.now:.0f}|{obs.event_id}|{obs.tool}|{','.join(f'{h:x}' for h in kept)}"
        self.first.add([Upsert("det:fp", obs.actor, {slot: entry}, self.s.seconds("exfiltration_memory"), "merge")],
                       lambda _prev: None)

    async def copied(self, obs: Observation, kept: dict[str, Any] | None) -> list[Alert]:
        """Alerts for this agent's recent results that leave in a call's arguments."""
        if not kept:
            return []
        memory = self.s.seconds("exfiltration_memory")
        found = fp.argument_hashes(obs.arguments)
        alerts = []
        for entry in kept.values():
            at, source, tool, hashes = _entry(entry)
            shared = fp.copied(found, hashes) if self.now - at < memory else 0
            if not shared:
                continue
            alerts.append(Alert(
                "result_exfiltration", Severity.SEV1, f"data returned by {tool} leaves in the arguments of "
                f"{obs.tool}", "agent", obs,
                {"source_tool": tool, "source_event_id": source, "shared_lines": shared,
                 "fingerprint_lines": len(hashes), "destinations": [h for h, _ in obs.hosts], "verdict": obs.verdict,
                 "repeat_key": f"rx|{obs.actor}|{source}|{obs.tool}"},
                tuple(e for e in (source, obs.event_id) if e)))
        return alerts

    # -- sequences ---------------------------------------------------------------------------------
    def _sequence(self, obs: Observation) -> None:
        if not self.s.on("sequence_deviation"):
            return
        self.first.add([Upsert("det:last", obs.session, {"tool": obs.tool, "event_id": obs.event_id},
                               SESSION_MEMORY)], lambda prev: self._transition(obs, prev[0]))

    def _transition(self, obs: Observation, prev: Any) -> None:
        if not isinstance(prev, dict) or not isinstance(prev.get("tool"), str):
            return None
        before, tool = str(prev["tool"]), str(obs.tool)
        earlier = prev.get("event_id")
        figures = {"previous_tool": before, "tool": tool, "previous_event_id": earlier}
        ids = tuple(e for e in (earlier, obs.event_id) if isinstance(e, str))
        subject = obs.actor.removeprefix("principal:")
        declared = [pairs for glob, pairs in self.s.baselines.items() if cached_globs((glob,)).fullmatch(subject)]
        if declared:
            if not any((a, b) == (before, tool) for pairs in declared for a, b in pairs):
                alert = Alert("sequence_deviation", Severity.SEV3, f"{before} -> {tool} is not in the declared "
                              f"baseline of {subject}", "agent", obs,
                              {**figures, "baseline": "declared", "repeat_key": f"sd|{obs.actor}|{before}|{tool}"},
                              ids)
                self.second.add([], lambda _prev: alert)
            return None
        if self.s.learning is None:
            return None
        learning, retention = self.s.seconds("learning"), self.s.seconds("baseline_retention")

        def judge(previous: list[Any]) -> Alert | None:
            started, seen = previous
            since = float(started["since"]) if isinstance(started, dict) and "since" in started else self.now
            if seen is not None or self.now - since < learning:
                return None
            return Alert("sequence_deviation", Severity.SEV3, f"{before} -> {tool} never seen for {subject} since "
                         f"its baseline was learned", "agent", obs,
                         {**figures, "baseline": "learned", "learning_since": since}, ids)

        self.second.add([Upsert("det:learning", obs.actor, {"since": self.now}, retention, "keep"),
                         Upsert("det:seq", f"{obs.actor}|{before}|{tool}", {"first_seen": self.now}, retention,
                                "keep")], judge)
        return None

    # -- credentials -------------------------------------------------------------------------------
    def _credential(self, obs: Observation) -> None:
        window = self.s.seconds("credential_window")
        here = {"address": obs.client_address, "user_agent": obs.user_agent}

        def judge(prev: list[Any]) -> Alert | None:
            last = prev[0]
            if not isinstance(last, dict):
                return None
            changed = [k for k in ("address", "user_agent") if last.get(k) and here[k] and last.get(k) != here[k]]
            if not changed:
                return None
            pair = "|".join(sorted(f"{last.get(k)}>{here[k]}" for k in changed))
            return Alert("credential_misuse", Severity.SEV2, f"one credential used from two different "
                         f"{' and '.join(changed)} values within {_span(window)}", "credential", obs,
                         {"reason": "two_places", "changed": changed, "previous": {k: last.get(k) for k in here},
                          "current": here, "window_seconds": window,
                          "repeat_key": f"cm|{obs.credential_hash}|{pair}"},
                         tuple(e for e in (last.get("event_id"), obs.event_id) if isinstance(e, str)))

        self.first.add([Upsert("det:cred", str(obs.credential_hash),
                               {**here, "seen": self.now, "event_id": obs.event_id}, window)], judge)
        if self.s.within_hours(obs.principal, int(self.now // 60) % 1440) is False:
            hours = self.s.principal_hours[obs.principal]
            alert = Alert("credential_misuse", Severity.SEV3, f"{obs.principal} active outside its declared hours "
                          f"({hours} UTC)", "credential", obs,
                          {"reason": "outside_hours", "hours": hours,
                           "repeat_key": f"cm-hours|{obs.principal}|{int(self.now // 3600)}"}, (obs.event_id,))
            self.first.add([], lambda _prev: alert)


def _entry(value: Any) -> tuple[float, str, str, tuple[int, ...]]:
    """A kept fingerprint: (when, the result's event id, its tool, its hashes)."""
    at, source, tool, hashes = str(value).split("|", 3)
    return float(at), source, tool, tuple(int(h, 16) for h in hashes.split(",") if h)


def _span(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{max(1, seconds // 60)} min"
