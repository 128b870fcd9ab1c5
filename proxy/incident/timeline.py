"""The post-incident timeline: one subject's events in order, by NIST SP 800-61 phase, with MTTD and MTTC.

Milestones: the first malicious action is the first SEV-1/SEV-2 finding or alert (containment's own
findings excluded); detection is the first alert, or refusal with findings, at or after it; containment
is the first quarantine, session kill, tool deny, egress deny or token revocation at or after it. Without a
malicious action there are no milestones. Scoping is `proxy.incident.scope`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from proxy.containment.durations import format_duration
from proxy.errors import ErrorCode
from proxy.incident.auditlog import parse_time
from proxy.incident.scope import Scope, select

__all__ = ["Scope", "Timeline", "build_timeline", "event_time"]

PREPARATION, ACTIVITY, DETECTION = "preparation", "activity", "detection & analysis"
CONTAINMENT, ERADICATION, RECOVERY = "containment", "eradication", "recovery"
SERIOUS = frozenset({"SEV-1", "SEV-2"})
CONTAINING = frozenset({"quarantine", "sessions_kill", "deny_tools", "egress_deny", "revocation"})
RECOVERING = frozenset({"release", "deny_tools_removed", "egress_deny_removed"})
REFUSED = frozenset({"deny", "quarantine"})
CONTAINED_REASONS = frozenset({"session ended by the proxy (contained)", "session ended by incident response"})
MILESTONES = {"first_malicious": "FIRST MALICIOUS", "detected": "DETECTED", "contained": "CONTAINED"}


@dataclass
class Timeline:
    """The entries in scope, oldest first (`times`: their epoch seconds), and the milestones' indexes."""

    scope: Scope
    entries: list[dict[str, Any]]
    times: list[float]
    principals: list[str]
    agents: list[str]
    sessions: list[str]
    credentials: list[str]
    first_malicious: int | None = None
    detected: int | None = None
    contained: int | None = None

    def at(self, index: int | None) -> str | None:
        return None if index is None else str(self.entries[index]["time"])

    def _since_first(self, index: int | None) -> float | None:
        if index is None or self.first_malicious is None:
            return None
        return round(max(0.0, self.times[index] - self.times[self.first_malicious]), 3)

    @property
    def mttd_seconds(self) -> float | None:
        return self._since_first(self.detected)

    @property
    def mttc_seconds(self) -> float | None:
        return self._since_first(self.contained)

    def as_json(self) -> dict[str, Any]:
        return {"scope": self.scope.as_json(), "events": self.entries,
                "first_malicious_at": self.at(self.first_malicious), "detected_at": self.at(self.detected),
                "contained_at": self.at(self.contained), "mttd_seconds": self.mttd_seconds,
                "mttc_seconds": self.mttc_seconds, "principals": self.principals, "agents": self.agents,
                "sessions": self.sessions, "credentials": self.credentials}

    def summary(self) -> list[str]:
        def line(name: str, index: int | None, gap: float | None, label: str) -> str:
            if index is None:
                return f"{name}: none"
            return f"{name}: {self.at(index)}" + ("" if gap is None else f" ({label} {duration(gap)})")

        return [line("first malicious action", self.first_malicious, None, ""),
                line("detected", self.detected, self.mttd_seconds, "time to detect"),
                line("contained", self.contained, self.mttc_seconds, "time to contain"),
                f"principals: {', '.join(map(clean, self.principals)) or '-'}; agents: "
                f"{', '.join(map(clean, self.agents)) or '-'}; sessions: {len(self.sessions)}; "
                f"credentials: {len(self.credentials)}"]

    def markdown(self) -> str:
        """A Markdown document: the summary, then one table row per entry (milestones in bold)."""
        rows = [f"| {e['time']}{_marks(e, '**')} | {e['phase']} | {e['kind']} | {_cell(_who(e))} | "
                f"{_cell(_what(e))} | {_cell(e.get('verdict') or '')} | {_cell(_findings(e))} | `{e['event_id']}` |"
                for e in self.entries]
        return "\n".join([f"# Incident timeline: {self.scope.kind} {_cell(self.scope.value)}", "",
                          *(f"- {_cell(s)}" for s in self.summary()), "",
                          "| time | phase | kind | who | what | verdict | findings | event |",
                          "|---|---|---|---|---|---|---|---|", *(rows or ["| - | - | - | - | no events in scope "
                                                                         "| - | - | - |"]), ""])

    def text(self) -> str:
        """For a terminal: the summary, then one line per entry; control characters are escaped."""
        lines = [f"incident timeline: {self.scope.kind} {clean(self.scope.value)}", *self.summary(), ""]
        for e in self.entries:
            parts = [e["time"], f"{e['phase']:<20}", f"{e['kind']:<11}", clean(_who(e)), clean(_what(e)),
                     clean(e.get("verdict") or ""), clean(_findings(e))]
            lines.append("  ".join(p for p in parts if p) + _marks(e, "<< "))
        if not self.entries:
            lines.append("no events in scope")
        return "\n".join(lines) + "\n"


def duration(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 60 else f"{seconds:.0f} s ({format_duration(seconds)})"


def clean(value: Any) -> str:
    """Text safe for a terminal: control characters escaped (names and tools are attacker-controlled)."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _cell(value: Any) -> str:
    return clean(value).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def _marks(entry: Mapping[str, Any], style: str) -> str:
    names = [MILESTONES[m] for m in entry.get("milestones") or ()]
    if not names:
        return ""
    return " " + " ".join(f"**{n}**" for n in names) if style == "**" else "  << " + ", ".join(names)


def _who(e: Mapping[str, Any]) -> str:
    if e["kind"] == "approval":  # who decided, for whose call
        caller = "/".join(str(x) for x in (e.get("principal"), e.get("agent")) if x) or "-"
        return f"{e.get('actor') or '-'} for {caller}"
    if e["kind"] == "containment" or e.get("action"):
        return f"{e.get('actor') or '-'} on {e.get('kind_of_subject') or '-'} {e.get('subject') or '-'}"
    if e.get("origin") == "proxy":
        return "drawbridge"
    return "/".join(str(x) for x in (e.get("principal"), e.get("agent")) if x) or "-"


def _what(e: Mapping[str, Any]) -> str:
    if e["kind"] == "alert":
        return f"{e.get('detection')} {e.get('severity')} {e.get('atlas')}: {e.get('summary') or ''}"
    if e["event_type"] == "policy_reload":
        return f"policy_reload {e.get('summary')}"
    if e["event_type"] == "approval":
        return f"approval {e.get('summary')} ({e.get('tool')} args {e.get('arguments') or '-'})"
    if e.get("action"):
        extra = [f"mode {e['mode']}" if e.get("mode") else "", f"ticket {e['ticket']}" if e.get("ticket") else ""]
        return " ".join([str(e["action"]), *(x for x in extra if x)])
    bits = [e.get("method") or e.get("event_type"), e.get("tool"),
            f"args {e['arguments']}" if e.get("arguments") else "",
            "-> " + ", ".join(e["destinations"]) if e.get("destinations") else ""]
    return " ".join(str(b) for b in bits if b)


def _findings(e: Mapping[str, Any]) -> str:
    return ", ".join(" ".join(str(x) for x in (f.get("detector"), f.get("severity"), f.get("atlas")) if x)
                     for f in e.get("findings") or ())


# -- entries --------------------------------------------------------------------------------------
def _threats(e: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Findings that are about the attack, not about containment already in force."""
    return [f for f in e.get("findings") or () if isinstance(f, Mapping)
            and not str(f.get("detector", "")).startswith("containment.")]


def _malicious(e: Mapping[str, Any]) -> bool:
    if e["event_type"] == "alert":
        return e.get("severity") in SERIOUS
    return e["event_type"] == "decision" and any(f.get("severity") in SERIOUS for f in _threats(e))


def _detects(e: Mapping[str, Any]) -> bool:
    return e["event_type"] == "alert" or (e["event_type"] == "decision" and e.get("verdict") in REFUSED
                                          and bool(_threats(e)))


def _action(e: Mapping[str, Any]) -> str:
    """The containment action; a failure is named by its event type (and the action it was)."""
    etype, action = e["event_type"], e.get("action")
    if etype == "containment_tokens_revoked":
        return "revocation"
    if etype == "containment_action":
        return str(action)
    return f"{etype} ({action})" if action else str(etype)


def _phase(e: Mapping[str, Any], after_first: bool) -> str:
    etype = e["event_type"]
    if etype == "policy_reload":
        return ERADICATION if after_first else PREPARATION
    if etype == "approval":  # a human in the loop: part of recovery once an incident began
        return RECOVERY if after_first else ACTIVITY
    if etype.startswith("containment_"):
        return RECOVERY if _action(e) in RECOVERING else CONTAINMENT
    if _detects(e) or _malicious(e):
        return DETECTION
    if (e.get("check") == "containment" or e.get("error_code") == ErrorCode.QUARANTINED
            or e.get("reason") in CONTAINED_REASONS
            or any(str(f.get("detector", "")).startswith("containment.") for f in e.get("findings") or ())):
        return CONTAINMENT  # the proxy enforcing a containment: refusals, cancelled calls, ended sessions
    return ACTIVITY


def _kind(e: Mapping[str, Any]) -> str:
    etype = e["event_type"]
    if etype == "decision":
        return "call" if e.get("direction") == "to_server" else "answer"
    if etype == "alert":
        return "alert"
    if etype == "containment_action" or etype == "containment_tokens_revoked":
        return "containment"
    if etype == "approval":
        return "approval"
    return "other"


def _entry(e: Mapping[str, Any], phase: str) -> dict[str, Any]:
    rpc = e.get("jsonrpc") if isinstance(e.get("jsonrpc"), Mapping) else {}
    http = e.get("http") if isinstance(e.get("http"), Mapping) else {}
    containment = str(e["event_type"]).startswith("containment_")
    digest = e.get("arguments_sha256")
    tools = e.get("tools")
    return {
        "time": e["timestamp"], "event_id": e.get("event_id"), "event_type": e["event_type"], "kind": _kind(e),
        "phase": phase, "origin": e.get("origin"), "principal": e.get("principal"), "agent": e.get("agent"),
        "session": e.get("client_key") or e.get("session_id"),
        "method": cast(Mapping[str, Any], rpc).get("method") or cast(Mapping[str, Any], http).get("method"),
        "tool": e.get("tool") or (", ".join(map(str, tools)) if isinstance(tools, list) else None),
        "arguments": digest[:12] if isinstance(digest, str) else None, "verdict": e.get("verdict"),
        "severity": e.get("severity"),
        "findings": [{"detector": f.get("detector"), "severity": f.get("severity"), "atlas": f.get("atlas")}
                     for f in e.get("findings") or () if isinstance(f, Mapping)],
        "destinations": list(e.get("destinations") or ()), "detection": e.get("detection"),
        "atlas": e.get("atlas"), "summary": _summary(e),
        "action": _action(e) if containment else None,
        "kind_of_subject": e.get("kind") or ("host" if e.get("event_host") else "principal" if containment else None),
        "subject": e.get("subject") or e.get("event_host") or (e.get("principal") if containment else None),
        "mode": e.get("mode") if containment else None, "actor": e.get("actor"), "ticket": e.get("ticket"),
        "milestones": [],
    }


def _summary(e: Mapping[str, Any]) -> Any:
    if e["event_type"] == "approval":
        why = e.get("refusal") or e.get("reason")
        return f"{e.get('action')} {e.get('approval_id')}" + (f": {why}" if why else "")
    if e["event_type"] == "policy_reload":
        return f"{'applied' if e.get('ok') else 'refused'} {e.get('policy_version')}: {e.get('detail')}"
    return e.get("summary") or e.get("reason") if e["event_type"] != "decision" else None


def event_time(e: Mapping[str, Any]) -> float:
    """The event's time in epoch seconds (`AuditEvent.at` when read by `read_events`)."""
    at = getattr(e, "at", None)
    if isinstance(at, float):
        return at
    parsed = parse_time(e.get("timestamp"))
    return parsed if parsed is not None else math.nan


def _written(e: Mapping[str, Any]) -> tuple[str, int]:
    """Events of the same millisecond in the order their writer wrote them (replica, then its seq), whatever
    the order of the files they were read from."""
    seq = e.get("seq")
    return str(e.get("replica_id") or ""), seq if isinstance(seq, int) else 0


def build_timeline(events: Iterable[Mapping[str, Any]], scope: Scope) -> Timeline:
    """The timeline of `scope` from audit events in any order (events without a valid timestamp are ignored)."""
    timed = sorted(((event_time(e), n, e) for n, e in enumerate(events) if isinstance(e.get("event_type"), str)),
                   key=lambda t: (t[0], *_written(t[2]), t[1]))
    ordered = [e for at, _, e in timed if not math.isnan(at)]
    times = {id(e): at for at, _, e in timed}
    chosen, covered, creds = select(ordered, scope)
    at = [times[id(e)] for e in chosen]
    first = next((i for i, e in enumerate(chosen) if _malicious(e)), None)
    start = at[first] if first is not None else math.inf  # nothing malicious: no milestone at all
    detected = next((i for i, e in enumerate(chosen) if at[i] >= start and _detects(e)), None)
    contained = next((i for i, e in enumerate(chosen) if at[i] >= start and _kind(e) == "containment"
                      and _action(e) in CONTAINING), None)
    entries = [_entry(e, _phase(e, at[i] >= start)) for i, e in enumerate(chosen)]
    for name, index in (("first_malicious", first), ("detected", detected), ("contained", contained)):
        if index is not None:
            entries[index]["milestones"].append(name)
    return Timeline(scope, entries, at, sorted(covered.principals), sorted(covered.agents), sorted(covered.sessions),
                    sorted(creds), first, detected, contained)
