"""`drawbridge replay`: an incident's recorded calls decided again by a fixed policy, to prove the fix.

Input: an incident bundle (`.tar.gz`), one evidence snapshot directory, or a directory holding `evidence/`
(an extracted bundle) or snapshots (`admin.evidence_dir`). Each recorded exchange that can be replayed runs,
in recorded order, through the pipeline the proxy runs, built from `--policy` (and `--pins`), as the recorded
principal and agent, on a fresh in-memory state store: no network, no upstream, none of the incident's
quarantines or denies (what the replay itself contains, e.g. by `auto_containment`, holds for later calls).
Behavioural detections are not replayed: they depend on timing.

Not replayable: withheld answers (refused: their content was never recorded), messages over 64 KiB
(recorded by size only), records without a JSON-RPC message, answers whose request is not in the evidence.
Masked credentials are replayed masked (flag `masked`); rewritten messages as rewritten (flag `rewritten`).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from proxy.errors import ConfigError
from proxy.evidence.snapshot import CONTEXT, EXCHANGES
from proxy.incident.bundle import rfc3339

if TYPE_CHECKING:
    from proxy.exchange import Exchange
    from proxy.pins.settings import PinsConfig
    from proxy.runtime import Runtime

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EVENTS = "audit/events.jsonl"
SEVERE, REFUSED = ("SEV-1", "SEV-2"), ("deny", "quarantine")
REPLAYED, NOT_REPLAYABLE, NOT_REACHED, NOT_IN_EVIDENCE = "replayed", "not replayable", "not reached", \
    "not in evidence"
_HEAD = re.compile(r'"(ts|direction|method|tool|call_id|verdict)":("(?:[^"\\]|\\.)*"|-?[0-9.eE+]+)')
Key = tuple[str | None, str | None]  # (call_id, direction)


@dataclass(slots=True)
class Call:
    """One recorded exchange and what the policy decides about it now."""

    ts: float
    session: str | None
    principal: str | None
    agent: str | None
    upstream: str
    direction: str | None
    method: str | None
    tool: str | None
    id: str | int | None
    call_id: str | None
    then: str | None
    severity: str | None = None  # the worst SEV-1/SEV-2 finding recorded
    alert: bool = False  # an alert in the bundle's audit events names it
    status: str = REPLAYED
    now: str | None = None
    check: str | None = None
    rule_ids: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    why: str | None = None
    entry: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def malicious(self) -> bool:
        return self.severity is not None or self.alert

    @property
    def refused_now(self) -> bool:
        return self.status == NOT_REACHED or (self.status == REPLAYED and self.now in REFUSED)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["entry"]
        return {"time": rfc3339(self.ts), **data, "malicious": self.malicious, "refused_now": self.refused_now}


# -- reading the evidence -------------------------------------------------------------------------
def _read_dir(path: Path) -> dict[str, bytes]:
    if (path / EXCHANGES).is_file():
        snapshots, audit = [path], None
    elif (path / "evidence").is_dir():
        snapshots, audit = sorted((path / "evidence").iterdir()), path / EVENTS
    else:
        snapshots, audit = sorted(path.iterdir()), None
    members = {f"evidence/{d.name}/{name}": (d / name).read_bytes()
               for d in snapshots for name in (EXCHANGES, CONTEXT) if (d / name).is_file()}
    if audit is not None and audit.is_file():
        members[EVENTS] = audit.read_bytes()
    return members


def read_source(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """The evidence (and audit events) of a bundle or directory, and the bundle's verification problems."""
    from proxy.incident.bundle import read_bundle, verify_bundle

    try:
        if path.is_file():
            return read_bundle(path), verify_bundle(path)
        if path.is_dir():
            return _read_dir(path), []
    except (OSError, ValueError, tarfile.TarError, EOFError) as exc:
        raise ConfigError(f"{path}: not a readable incident bundle or evidence directory "
                          f"({type(exc).__name__})") from None
    raise ConfigError(f"{path}: no such bundle or evidence directory")


def _lines(members: dict[str, bytes], name: str, *, strict: bool = True) -> list[dict[str, Any]]:
    """JSON lines; a damaged line is an error in sealed evidence, skipped in audit events (a torn last line)."""
    out = []
    for number, line in enumerate(members.get(name, b"").splitlines(), 1):
        try:
            row = orjson.loads(line) if line.strip() else None
        except orjson.JSONDecodeError:
            if not strict:
                continue
            raise ConfigError(f"{name}:{number}: not JSON") from None
        if isinstance(row, dict):
            out.append(row)
    return out


def _stub(stub: dict[str, Any]) -> dict[str, Any]:
    """An entry the ring buffer kept by size only: its leading fields, read from the head it kept."""
    before = str(stub.get("head", "")).split('],"message":', 1)[0]  # the entry's own message follows findings
    entry: dict[str, Any] = {}
    for key, value in _HEAD.findall(before):
        with contextlib.suppress(orjson.JSONDecodeError):
            entry.setdefault(key, orjson.loads(value))
    entry["findings"] = [{"detector": d, "severity": s}
                         for d, s in re.findall(r'"detector":"([^"]*)","severity":"(SEV-[1-4])"', before)]
    entry["message"] = {"truncated": True, "bytes": stub.get("bytes")}
    return entry


def severe(findings: object) -> str | None:
    """The worst SEV-1/SEV-2 finding's label; a containment finding (the subject was contained) does not count."""
    labels = [str(f.get("severity")) for f in findings if isinstance(f, dict) and f.get("severity") in SEVERE
              and not str(f.get("detector", "")).startswith("containment.")] if isinstance(findings, list) else []
    return min(labels, default=None)


def _upstream(context: bytes | None) -> str:
    try:
        manifests = orjson.loads(context or b"{}").get("tool_manifests") or {}
    except (orjson.JSONDecodeError, AttributeError):
        manifests = {}
    return next(iter(manifests)) if len(manifests) == 1 else "default"


def recorded_calls(members: dict[str, bytes]) -> list[Call]:
    """Every recorded exchange once (snapshots overlap), oldest first."""
    calls: dict[bytes, Call] = {}
    for name in sorted(members):
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != "evidence" or parts[2] != EXCHANGES:
            continue
        upstream = _upstream(members.get(f"evidence/{parts[1]}/{CONTEXT}"))
        for row in _lines(members, name):
            entry = row.get("exchange")
            if not isinstance(entry, dict):
                continue
            entry = _stub(entry) if entry.get("truncated") and "direction" not in entry else entry
            key = orjson.dumps([row.get("session"), entry], option=orjson.OPT_SORT_KEYS)
            calls.setdefault(key, Call(
                float(entry.get("ts") or 0), row.get("session"), row.get("principal"), row.get("agent"), upstream,
                entry.get("direction"), entry.get("method"), entry.get("tool"), entry.get("id"),
                entry.get("call_id"), entry.get("verdict"), severe(entry.get("findings")), entry=entry))
    return sorted(calls.values(), key=lambda c: c.ts)


def _epoch(timestamp: object) -> float:
    try:
        return datetime.fromisoformat(str(timestamp)).timestamp()
    except ValueError:
        return 0.0


def apply_events(calls: list[Call], events: list[dict[str, Any]]) -> list[Call]:
    """Mark what alerts name, take upstreams from decision events, and add the severe or alerted decisions
    that are not in the evidence (older than the ring buffer, or after the snapshot)."""
    decisions = {e.get("event_id"): e for e in events if e.get("event_type") == "decision"}
    alerted: set[Key] = set()
    for alert in (e for e in events if e.get("event_type") == "alert"):
        # the last event id is the decision that raised the alert; those before it are context (the result
        # whose data left, the previous tool of a sequence, the credential's earlier use)
        named = [decisions[i] for i in (alert.get("event_ids") or [])[-1:] if i in decisions]
        alerted |= {(d.get("call_id"), d.get("direction")) for d in named}
        if not named:
            alerted.add((alert.get("call_id"), None))
    by_key = {(d.get("call_id"), d.get("direction")): d for d in decisions.values()}
    for call in calls:
        call.alert = (call.call_id, call.direction) in alerted or (call.call_id, None) in alerted
        call.upstream = str(by_key.get((call.call_id, call.direction), {}).get("upstream") or call.upstream)
    known = {(c.call_id, c.direction) for c in calls}
    for key, event in by_key.items():
        rpc = event.get("jsonrpc") or {}
        if key in known or event.get("origin") == "proxy" or rpc.get("kind") not in (
                "request", "notification", "response", "error"):
            continue
        flagged, severity = key in alerted or (key[0], None) in alerted, severe(event.get("findings"))
        if severity or flagged:
            calls.append(Call(_epoch(event.get("timestamp")), event.get("client_key"), event.get("principal"),
                              event.get("agent"), str(event.get("upstream")), key[1], rpc.get("method"),
                              event.get("tool"), rpc.get("id"), key[0], event.get("verdict"),
                              severity, flagged,
                              NOT_IN_EVIDENCE, why="not in the evidence (older than the ring buffer, or after "
                                                   "the snapshot)"))
    return sorted(calls, key=lambda c: c.ts)


# -- replaying ------------------------------------------------------------------------------------
def _unreplayable(entry: dict[str, Any]) -> str | None:
    message = entry.get("message")
    if not isinstance(message, dict) or not {"method", "result", "error"} & set(message):
        if isinstance(message, dict) and message.get("withheld"):
            return "withheld: the answer was refused and its content never recorded"
        if isinstance(message, dict) and message.get("truncated"):
            return f"recorded by size only ({message.get('bytes')} bytes)"
        return "no JSON-RPC message recorded"
    if entry.get("direction") not in ("to_server", "to_client"):
        return "unknown direction"
    return None


def _request_key(call: Call, direction: str | None) -> tuple[Any, ...]:
    """A request and its answer share a call id (or, without one, a session and a JSON-RPC id)."""
    return (call.call_id, direction) if call.call_id else (call.session, call.id, direction)


def _exchange(call: Call, request: dict[str, Any] | None) -> Exchange:
    from proxy.exchange import Exchange
    from proxy.types import Direction, Era, Transport

    message = orjson.loads(orjson.dumps(call.entry["message"]))
    session = call.session or ""
    ex = Exchange(direction=Direction(str(call.direction)), message=message, raw_size=len(orjson.dumps(message)),
                  upstream=call.upstream, principal=call.principal or "anonymous", agent=call.agent,
                  session_id=None if session.startswith(("ck-", "stateless:")) else session or None,
                  era=Era.MODERN if session.startswith("ck-") else Era.HANDSHAKE,
                  transport=Transport.STDIO if session.startswith("stateless:") else Transport.HTTP,
                  request=request)
    ex.client_key, ex.call_id = call.session, call.call_id
    return ex


class _Discard:
    """The replay's audit sink: its events are not the incident's."""

    def write(self, line: bytes) -> None:
        return None

    def close(self) -> None:
        return None


def pins_config(files: list[Path]) -> PinsConfig | None:
    """`--pins FILE…` as a `pins:` section: each lock file pins its own upstream, strictly."""
    from proxy.pins import lockfile
    from proxy.pins.settings import PinsConfig, PinUpstream

    return PinsConfig(upstreams={lockfile.load(p).upstream: PinUpstream(mode="strict", lock=p) for p in files}) \
        if files else None


async def replay(calls: list[Call], policy: Path, pins: list[Path]) -> str:
    """Decide every replayable call again (in place); returns the policy version. Raises ConfigError."""
    from proxy.admin.config import AdminConfig
    from proxy.config import Config
    from proxy.runtime import Runtime

    requests = {_request_key(c, c.direction): c for c in reversed(calls) if c.status == REPLAYED}
    with tempfile.TemporaryDirectory(prefix="drawbridge-replay-") as scratch:
        config = Config(policy=policy, store="sqlite::memory:", admin=AdminConfig(evidence_dir=Path(scratch)),
                        pins=pins_config(pins))
        runtime = Runtime.build(config, sinks=[_Discard()])
        await runtime.store.start()
        try:
            for call in calls:
                await _replay_one(runtime, call, requests)
        finally:
            await runtime.aclose()
            runtime.close()
    return runtime.holder.policy.version


async def _replay_one(runtime: Runtime, call: Call, requests: dict[tuple[Any, ...], Call]) -> None:
    """Decide one call again; an answer whose request is refused now is not reached, whatever was recorded."""
    if call.status != REPLAYED:
        return
    message = call.entry.get("message")
    answer = not (isinstance(message, dict) and "method" in message)
    found = requests.get(_request_key(call, "to_client" if call.direction == "to_server" else "to_server")) \
        if answer else None
    if found is not None and found.refused_now:
        call.status, call.why = NOT_REACHED, "its request is refused now: the answer never comes"
        return
    why = _unreplayable(call.entry)
    if why is None and answer and (found is None or found.now is None):
        why = "its request is not in the evidence" if found is None else "its request is not replayable"
    if why is not None:
        call.status, call.why = NOT_REPLAYABLE, why
        return
    if "[MASKED " in orjson.dumps(message).decode():
        call.flags.append("masked")
    if call.then == "rewrite":
        call.flags.append("rewritten")
    decision = await runtime.pipeline.run(_exchange(call, found.entry["message"] if found is not None else None))
    await runtime.auto.drain()
    call.now, call.check, call.rule_ids = decision.verdict.value, decision.check or None, list(decision.rule_ids)


# -- the command ------------------------------------------------------------------------------------
def add_replay_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay an incident's recorded calls through a fixed policy (prove the fix)")
    p.add_argument("bundle", type=Path, metavar="BUNDLE", help="incident bundle (.tar.gz) or evidence directory")
    p.add_argument("--policy", type=Path, required=True, metavar="DIR", help="the policy directory to prove")
    p.add_argument("--pins", type=Path, action="append", default=[], metavar="FILE",
                   help="pin lock file, enforced strictly for the upstream it names (repeatable)")
    p.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")


def _note(call: Call) -> str:
    return "; ".join([*call.flags, *([call.why] if call.why else [])])


def _printable(text: str) -> str:
    """Recorded names are chosen by agents and servers: escaped before they reach the terminal."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def render(calls: list[Call], version: str, policy: Path, problems: list[str], out: TextIO) -> None:
    from proxy.admin.commands import table

    replayed = sum(c.status == REPLAYED for c in calls)
    out.write(f"policy {version} ({policy}): replayed {replayed} of {len(calls)} calls on an empty state store "
              "(the incident's quarantines and denies are not replayed)\n")
    for problem in problems:
        out.write(f"WARNING bundle: {_printable(problem)}\n")
    rows = [{**c.as_dict(), "dir": c.direction, "now": c.now or c.status, "rules": c.rule_ids,
             "bad": c.severity or ("alert" if c.alert else ""), "note": _note(c)} for c in calls]
    table(rows, (("time", "TIME"), ("principal", "PRINCIPAL"), ("dir", "DIRECTION"), ("method", "METHOD"),
                 ("tool", "TOOL"), ("then", "THEN"), ("now", "NOW"), ("check", "CHECK"), ("rules", "RULES"),
                 ("bad", "MALICIOUS"), ("note", "NOTE")), out)
    bad = [c for c in calls if c.malicious and not blocked_at_the_time(c)]
    blocked_then = sum(c.malicious and blocked_at_the_time(c) for c in calls)
    if blocked_then:
        out.write(f"note: {blocked_then} malicious answer(s) were refused or redacted at the time and their "
                  "original content was never recorded, so they cannot be replayed; `drawbridge policy diff` shows "
                  "whether the checks that caught them still stand\n")
    for call in (c for c in bad if not c.refused_now):
        out.write(_printable(
            f"NOT REFUSED NOW: {rfc3339(call.ts)} {call.direction} {call.method} {call.tool or '-'}: "
            f"then {call.then}, now {call.now or call.status}{f' ({call.why})' if call.why else ''}") + "\n")
    held = sum(c.refused_now for c in bad)
    out.write(f"malicious: {len(bad)}, refused now: {held}: "
              f"{'the fix holds' if held == len(bad) else 'NOT PROVEN'}\n")


def run_replay_command(ns: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """0 every malicious call is refused now; 1 one is not; 2 usage or unreadable input (one line)."""
    import asyncio

    out, err = out or sys.stdout, err or sys.stderr
    try:
        members, problems = read_source(ns.bundle)
        calls = recorded_calls(members)
        if not calls:
            raise ConfigError(f"{ns.bundle}: no recorded exchanges to replay")
        calls = apply_events(calls, _lines(members, EVENTS, strict=False))
        version = asyncio.run(replay(calls, ns.policy, ns.pins))
    except ConfigError as exc:
        err.write(f"drawbridge: {exc}\n")
        return EXIT_USAGE
    blocked_then = [c for c in calls if c.malicious and blocked_at_the_time(c)]
    bad = [c for c in calls if c.malicious and not blocked_at_the_time(c)]
    ok = all(c.refused_now for c in bad)
    if ns.as_json:
        out.write(orjson.dumps({"calls": [c.as_dict() for c in calls], "malicious": len(bad),
                                "refused_then_not_replayable": len(blocked_then),
                                "refused_now": sum(c.refused_now for c in bad), "ok": ok, "policy_version": version,
                                "bundle_problems": problems}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render(calls, version, ns.policy, problems, out)
    return EXIT_OK if ok else EXIT_FAILURE


def blocked_at_the_time(call: Call) -> bool:
    """A malicious answer the guardrails acted on then (refused, or rewritten: a credential redacted) whose
    original content evidence never kept: it cannot be decided again, and what it carried never reached the
    agent, so it does not count against the fix (the output says so)."""
    refused = call.status == NOT_REPLAYABLE and call.then in REFUSED
    return call.direction == "to_client" and (refused or (call.then == "rewrite" and "rewritten" in call.flags))
