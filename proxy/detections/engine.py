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
from functools import partial
from typing import Any

from cachetools import TTLCache

from proxy.decision import Decision
from proxy.detections import fingerprint as fp
from proxy.detections.model import ATLAS_BULK_READ, Alert, Observation
from proxy.detections.settings import DetectionSettings
from proxy.exchange import Exchange, client_host
from proxy.globs import cached_globs
from proxy.inspections.egress import HOSTS_NOTE
from proxy.state.model import Store, Upsert
from proxy.types import Direction, MessageKind, Origin, Severity

log = logging.getLogger("drawbridge.detections")
MAX_PENDING = 10_000
BATCH = 256
RESULT_DETECTORS = ("injection.", "unicode.", "encoded.")
FINGERPRINT_SLOTS = 16
SESSION_MEMORY = 3600  # how long a session's recent calls are remembered (its history, for transitions)
REPEAT_SECONDS = 600  # an alert about the same thing is not repeated within this time
GATHER_SECONDS = 0.01  # how long the worker lets observations gather before a batch (alerts wait this long)
KNOWN_KEYS, KNOWN_SECONDS = 50_000, 300.0  # far shorter than any window: a store record outlives its local mark
# A call's predecessor in its session is looked up this long after the call, in the session's history in the
# store: by then every replica has written the calls before it, whichever replica served them.
SETTLE_SECONDS = 0.5
HISTORY_KEEP = 32  # calls kept in a session's history once it passes twice that

Settings = Callable[[], DetectionSettings]
AlertSink = Callable[[Alert], None]


def _worst(findings: tuple[tuple[str, Severity], ...]) -> Severity:
    return min((s for _, s in findings), default=Severity.SEV3)


class DetectionEngine:
    """Turns observations into alerts (one worker task per process)."""

    def __init__(self, store: Store, settings: Settings, on_alert: AlertSink,
                 egress_tool: Callable[[str, str], bool], *, settle_seconds: float = SETTLE_SECONDS) -> None:
        self._store, self._settings, self._on_alert, self._egress_tool = store, settings, on_alert, egress_tool
        self._pending: deque[Observation] = deque()
        self._settling: deque[Observation] = deque()  # tool calls whose predecessor is decided once settled
        self._settle = settle_seconds
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        # keys this process wrote or read recently whose record the store holds ("keep" records: first uses,
        # destinations, learned transitions, learning starts): not written again while they are here
        self._known: TTLCache[str, float] = TTLCache(maxsize=KNOWN_KEYS, ttl=KNOWN_SECONDS)
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
                ex.session_id, ex.client_key, ex.upstream, tool, ex.credential_hash, client_host(ex.client_address),
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
            if not self._pending:
                wait = None if not self._settling else max(0.0, self._settling[0].at + self._settle - time.time())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            if self._pending:
                await asyncio.sleep(GATHER_SECONDS)  # let a batch gather: store round trips are paid per batch
            self._wake.clear()
            while self._pending or self._due_now():
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                try:
                    for alert in await self.process(batch):
                        self.alerts += 1
                        self._on_alert(alert)
                except Exception as exc:  # never silent: counted, logged, and the next batch goes on
                    self.dropped += len(batch)
                    log.warning("detections skipped %d observations: %s", len(batch), type(exc).__name__)
                if len(self._pending) < BATCH:
                    break  # what arrived meanwhile gathers into the next batch (not one batch per round trip)
            if not self._pending and not self._settling:
                self._idle.set()

    def _due_now(self) -> bool:
        return bool(self._settling) and self._settling[0].at + self._settle <= time.time()

    def _due(self) -> list[Observation]:
        due = []
        while self._due_now():
            due.append(self._settling.popleft())
        return due

    async def process(self, batch: list[Observation]) -> list[Alert]:
        """One step of the worker: a batch of new observations, and the tool calls whose time has settled."""
        alerts = await self.evaluate(batch, self._due())
        self._settling.extend(o for o in batch if o.request and o.tool is not None and o.method == "tools/call")
        if self._due_now():
            alerts += await self.evaluate([], self._due())
        return alerts

    # -- the detections ---------------------------------------------------------------------------
    async def evaluate(self, batch: list[Observation], settled: list[Observation] | None = None) -> list[Alert]:
        """Update the windows for a batch (in order), judge the settled calls' transitions, and return the alerts
        raised (each at most once)."""
        detect = _Detect(self._settings(), time.time(), self._known)
        for obs in batch:
            detect.first_phase(obs)
        detect.finish()
        detect.settled(settled or [])
        alerts = await detect.first.run(self._store)
        alerts += await detect.second.run(self._store)
        # a call is looked at when it arrives and again once settled: by then every replica has written the
        # results that came before it (an alert found twice is raised once, see `_once`)
        for obs in detect.copies + detect.settled_copies(settled or []):
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


Judge = Callable[[list[Any]], "Alert | list[Alert] | None"]


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
        alerts: list[Alert] = []
        at = 0
        for count, judge in self.groups:
            found = judge(previous[at:at + count])
            at += count
            if isinstance(found, Alert):
                alerts.append(found)
            elif found:
                alerts.extend(found)
        return alerts


def _crossed(prev: Any, field: str, amount: int, limit: int) -> bool:
    """True exactly once per window: when this write takes the total over `limit`."""
    before = int(prev.get(field, 0)) if isinstance(prev, dict) else 0
    return before <= limit < before + amount


class _Detect:
    """The detections over one batch, in two round trips at most: the first writes what the batch changes (first
    uses not known locally, counters added up per window, each session's calls into its history, credentials,
    result fingerprints) and reads the histories of the settled calls; the second writes what depends on those
    (transitions against the learned baselines); then copies of results leaving are looked for."""

    def __init__(self, settings: DetectionSettings, now: float, known: TTLCache[str, float]) -> None:
        self.s, self.now, self.known = settings, now, known
        self.first, self.second = _Writes(), _Writes()
        self.copies: list[Observation] = []
        self._sensitive = cached_globs(settings.sensitive_tools)
        self._minute = int(now // 60)
        self._counts: dict[tuple[str, str], tuple[str, int, list[tuple[Observation, int]]]] = {}
        self._sessions: dict[str, list[Observation]] = {}
        self._credentials: dict[str, list[Observation]] = {}

    def _first_time(self, namespace: str, key: str, ttl: int, judge: Callable[[], Alert | None],
                    writes: _Writes | None = None) -> None:
        """A "keep" record whose absence means a first time: skipped while this process knows it exists."""
        mark = f"{namespace}|{key}"
        if mark in self.known:
            return
        self.known[mark] = self.now
        (writes or self.first).add([Upsert(namespace, key, {"first_seen": self.now}, ttl, "keep")],
                                   lambda prev: judge() if prev[0] is None else None)

    def finish(self) -> None:
        """The batch's aggregated writes: one per counter, per session's previous tool, per credential."""
        for (namespace, key), (field, limit, items) in self._counts.items():
            self.first.add([Upsert(namespace, key, {field: sum(n for _, n in items)}, 120, "add")],
                           partial(self._crossing, field, limit, items))
        for session, calls in self._sessions.items():  # every call into its session's history, by time
            self.first.add([Upsert("det:hist", session, {f"{c.at:.6f}|{c.event_id}": c.tool for c in calls},
                                   SESSION_MEMORY, "merge")], lambda _prev: None)
        window = self.s.seconds("credential_window")
        for credential, uses in self._credentials.items():
            last = uses[-1]
            here = {"address": last.client_address, "user_agent": last.user_agent, "seen": self.now,
                    "event_id": last.event_id}
            self.first.add([Upsert("det:cred", credential, here, window)],
                           partial(self._places, uses, window))

    def _count(self, namespace: str, field: str, limit: int, obs: Observation, amount: int) -> None:
        key = f"{obs.session}|{self._minute}"
        self._counts.setdefault((namespace, key), (field, limit, []))[2].append((obs, amount))

    def _crossing(self, field: str, limit: int, items: list[tuple[Observation, int]], prev: list[Any]) -> Alert | None:
        """The alert of the observation that took the window over its limit (once per window)."""
        total = int(prev[0].get(field, 0)) if isinstance(prev[0], dict) else 0
        for obs, amount in items:
            if _crossed({field: total}, field, amount, limit):
                if field == "calls":
                    return Alert("velocity", Severity.SEV3, f"more than {limit} tool calls in a minute", "session",
                                 obs, {"calls": total + amount, "limit": limit, "window_seconds": 60},
                                 (obs.event_id,))
                return Alert("velocity", Severity.SEV3, f"more than {limit} bytes of results in a minute",
                             "session", obs, {"result_bytes": total + amount, "limit": limit, "window_seconds": 60},
                             (obs.event_id,), ATLAS_BULK_READ)
            total += amount
        return None

    def settled_copies(self, calls: list[Observation]) -> list[Observation]:
        """The settled calls whose arguments are looked at again for results leaving."""
        if not self.s.on("result_exfiltration"):
            return []
        return [c for c in calls if c.arguments is not None]

    def settled(self, calls: list[Observation]) -> None:
        """Judge each settled call against the call before it in its session's history (any replica's)."""
        if not calls or not self.s.on("sequence_deviation"):
            return
        by_session: dict[str, list[Observation]] = {}
        for obs in calls:
            by_session.setdefault(obs.session, []).append(obs)
        for session, group in by_session.items():
            # a read in the batch's first round trip (TTL renewed): what this batch writes is newer than the
            # settled calls, so it never changes their predecessors
            self.first.add([Upsert("det:hist", session, {}, SESSION_MEMORY, "merge")],
                           partial(self._predecessors, session, group))

    def _predecessors(self, session: str, calls: list[Observation], previous: list[Any]) -> None:
        history = sorted((float(key.split("|", 1)[0]), key.split("|", 1)[1], str(tool))
                         for key, tool in (previous[0] or {}).items() if "|" in key)
        for obs in calls:
            before = [h for h in history if h[0] < obs.at and h[1] != obs.event_id]
            if before:
                self._transition(obs, {"tool": before[-1][2], "event_id": before[-1][1]})
        if len(history) > 2 * HISTORY_KEEP:  # keep the newest calls (a concurrent write may be lost: harmless)
            kept = {f"{at:.6f}|{event}": tool for at, event, tool in history[-HISTORY_KEEP:]}
            self.second.add([Upsert("det:hist", session, kept, SESSION_MEMORY)], lambda _prev: None)

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
        severity = Severity.SEV2 if obs.verdict in ("allow", "rewrite") else Severity.SEV3
        for scope, subject in (("session", obs.session), ("principal", obs.principal), ("agent", obs.agent)):
            if subject is not None:
                self._first_time("det:first", f"{scope}|{subject}|{tool}", window, partial(
                    Alert, "sensitive_first_use", severity, f"{scope} called sensitive tool {tool} for the first "
                    f"time in {_span(window)}", scope, obs,
                    {"first_seen": self.now, "window_seconds": window, "verdict": obs.verdict}, (obs.event_id,)))

    def _call_velocity(self, obs: Observation) -> None:
        if self.s.on("velocity"):
            self._count("det:calls", "calls", self.s.velocity_per_minute, obs, 1)

    def _result_velocity(self, obs: Observation) -> None:
        if self.s.on("velocity") and obs.result_bytes:
            self._count("det:bytes", "bytes", self.s.result_bytes_per_minute, obs, obs.result_bytes)

    def _destinations(self, obs: Observation) -> None:
        if not self.s.on("new_egress_destination"):
            return
        memory = self.s.seconds("destination_memory")
        for host, allowed in obs.hosts:
            self._first_time("det:dest", f"{obs.actor}|{host}", memory, partial(
                Alert, "new_egress_destination", Severity.SEV3 if allowed else Severity.SEV2,
                f"{obs.actor} sent a call to {host} for the first time"
                + ("" if allowed else " (not on the egress allowlist)"), "agent", obs,
                {"destination": host, "allowlisted": allowed, "verdict": obs.verdict}, (obs.event_id,)))

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
        hashes = ",".join(f"{h:x}" for h in kept)
        entry = f"{self.now:.0f}|{obs.event_id}|{obs.tool}|{hashes}|{obs.call_id or ''}"
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
            at, source, tool, hashes, call = _entry(entry)
            own = call is not None and call == obs.call_id  # the call's own answer (an echo) is not a leak
            shared = fp.copied(found, hashes) if not own and self.now - at < memory else 0
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
        if self.s.on("sequence_deviation"):
            self._sessions.setdefault(obs.session, []).append(obs)

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
        mark = f"det:seq|{obs.actor}|{before}|{tool}"
        if mark in self.known:
            return None  # a transition this process saw recently: learned, nothing to alert
        self.known[mark] = self.now
        started = self.known.get(f"det:learning|{obs.actor}")

        def judge(previous: list[Any]) -> Alert | None:
            seen = previous[-1]
            record = previous[0] if started is None else {"since": started}
            since = float(record["since"]) if isinstance(record, dict) and "since" in record else self.now
            self.known[f"det:learning|{obs.actor}"] = since
            if seen is not None or self.now - since < learning:
                return None
            return Alert("sequence_deviation", Severity.SEV3, f"{before} -> {tool} never seen for {subject} since "
                         f"its baseline was learned", "agent", obs,
                         {**figures, "baseline": "learned", "learning_since": since}, ids)

        writes = [Upsert("det:seq", f"{obs.actor}|{before}|{tool}", {"first_seen": self.now}, retention, "keep")]
        if started is None:
            writes.insert(0, Upsert("det:learning", obs.actor, {"since": self.now}, retention, "keep"))
        self.second.add(writes, judge)
        return None

    # -- credentials -------------------------------------------------------------------------------
    def _credential(self, obs: Observation) -> None:
        self._credentials.setdefault(str(obs.credential_hash), []).append(obs)
        if self.s.within_hours(obs.principal, int(self.now // 60) % 1440) is False:
            hours = self.s.principal_hours[obs.principal]
            alert = Alert("credential_misuse", Severity.SEV3, f"{obs.principal} active outside its declared hours "
                          f"({hours} UTC)", "credential", obs,
                          {"reason": "outside_hours", "hours": hours,
                           "repeat_key": f"cm-hours|{obs.principal}|{int(self.now // 3600)}"}, (obs.event_id,))
            self.first.add([], lambda _prev: alert)

    def _places(self, uses: list[Observation], window: int, previous: list[Any]) -> list[Alert]:
        """A credential seen from two hosts or user agents in a row within the window (store, then batch)."""
        alerts, last = [], previous[0]
        for obs in uses:
            here = {"address": obs.client_address, "user_agent": obs.user_agent}
            if isinstance(last, dict):
                changed = [k for k in ("address", "user_agent") if last.get(k) and here[k] and last.get(k) != here[k]]
                if changed:
                    pair = "|".join(sorted(f"{last.get(k)}>{here[k]}" for k in changed))
                    alerts.append(Alert(
                        "credential_misuse", Severity.SEV2, f"one credential used from two different "
                        f"{' and '.join(changed)} values within {_span(window)}", "credential", obs,
                        {"reason": "two_places", "changed": changed, "previous": {k: last.get(k) for k in here},
                         "current": here, "window_seconds": window, "repeat_key": f"cm|{obs.credential_hash}|{pair}"},
                        tuple(e for e in (last.get("event_id"), obs.event_id) if isinstance(e, str))))
            last = {**here, "event_id": obs.event_id}
        return alerts


def _entry(value: Any) -> tuple[float, str, str, tuple[int, ...], str | None]:
    """A kept fingerprint: (when, the result's event id, its tool, its hashes, the call it answered)."""
    at, source, rest = str(value).split("|", 2)
    tool, hashes, call = rest.rsplit("|", 2) if rest.count("|") >= 2 else (*rest.rsplit("|", 1), "")
    return float(at), source, tool, tuple(int(h, 16) for h in hashes.split(",") if h), call or None


def _span(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{max(1, seconds // 60)} min"
