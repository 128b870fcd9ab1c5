"""Whose timeline, and which events that takes in.

Scoping follows triage. `principal P`: P's events, and those of every principal that presented one of P's
credentials (same `credential_sha256`), plus every event of a session (`session_id` or `client_key`) they
drove. `agent A`: A's events plus every event of a session A appeared in. `session S`: the events whose
`session_id` or `client_key` is S, and of the other key those events carry. Containment actions are kept
when their subject (kind, subject) is one of the principals, agents or sessions in scope; a global egress
deny when its host is a destination seen in scope; a removal when its deny entry is kept. Policy reloads
in the window read are kept as context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

SubjectKind = Literal["principal", "agent", "session"]
KINDS: tuple[SubjectKind, ...] = ("principal", "agent", "session")


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose timeline: a principal, an agent or a session (session id or client key)."""

    kind: SubjectKind
    value: str

    @classmethod
    def pick(cls, *, principal: str | None = None, agent: str | None = None, session: str | None = None) -> Scope:
        """Exactly one of the three; ValueError otherwise."""
        given = [(k, v) for k, v in zip(KINDS, (principal, agent, session), strict=True) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of principal, agent or session")
        return cls(given[0][0], given[0][1])

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}



def _keys(e: Mapping[str, Any]) -> set[str]:
    return {str(k) for k in (e.get("session_id"), e.get("client_key")) if k}


def _subjects(events: list[Mapping[str, Any]]) -> tuple[set[str], set[str], set[str], set[str]]:
    """Principals, agents, sessions and credentials of events (the proxy's own events name no one)."""
    principals, agents, sessions, creds = set(), set(), set(), set()
    for e in events:
        sessions |= _keys(e)
        if e.get("origin") == "proxy":
            continue
        principals.update([e["principal"]] if e.get("principal") else [])
        agents.update([e["agent"]] if e.get("agent") else [])
        creds.update([e["credential_sha256"]] if e.get("credential_sha256") else [])
    return {str(x) for x in principals}, {str(x) for x in agents}, sessions, {str(x) for x in creds}


def _host(destination: str) -> str:
    if "://" in destination:
        return (urlsplit(destination).hostname or "").lower()
    return destination.rpartition("@")[2].lower()


@dataclass
class InScope:
    """The subjects in scope; `containment` decides whether a containment event is about them."""

    principals: set[str]
    agents: set[str]
    sessions: set[str]
    hosts: set[str]
    deny_ids: set[str] = field(default_factory=set)

    def covers(self, kind: Any, subject: Any) -> bool:
        return subject in {"principal": self.principals, "agent": self.agents, "session": self.sessions}.get(
            str(kind), set())

    def containment(self, e: Mapping[str, Any]) -> bool:
        action, etype = e.get("action"), e["event_type"]
        if etype == "containment_tokens_revoked":
            return e.get("principal") in self.principals
        if action in ("deny_tools_removed", "egress_deny_removed"):
            return e.get("id") in self.deny_ids
        if action == "egress_deny":
            host = str(e.get("event_host") or e.get("host") or "").lower()
            named = e.get("principal") in self.principals or e.get("agent") in self.agents
            anyone = e.get("principal") is None and e.get("agent") is None and any(
                h == host or h.endswith("." + host) for h in self.hosts)
            hit = named or anyone
        else:
            hit = self.covers(e.get("kind"), e.get("subject")) or (
                action is None and e.get("principal") in self.principals)
        if hit and action in ("deny_tools", "egress_deny") and e.get("id"):
            self.deny_ids.add(str(e["id"]))
        return hit


def select(events: list[Mapping[str, Any]], scope: Scope) -> tuple[list[Mapping[str, Any]], InScope, set[str]]:
    """The events in scope (in the order given) and the subjects they cover."""
    acting = [e for e in events if e.get("event_type") in ("decision", "alert")]
    if scope.kind == "principal":
        own = [e for e in acting if e.get("principal") == scope.value]
        creds = _subjects(own)[3]
        sharers = {str(e["principal"]) for e in acting if e.get("credential_sha256") in creds and e.get("principal")}
        seeds = [e for e in acting if e.get("principal") in sharers | {scope.value}]
    elif scope.kind == "agent":
        seeds = [e for e in acting if e.get("agent") == scope.value]
    else:
        seeds = [e for e in acting if scope.value in _keys(e)]
    principals, agents, sessions, creds = _subjects(seeds)
    if scope.kind == "principal":
        principals.add(scope.value)
    elif scope.kind == "agent":
        agents.add(scope.value)
    else:
        sessions.add(scope.value)
    member = {id(e) for e in seeds}
    chosen = [e for e in acting if id(e) in member or _keys(e) & sessions]
    hosts = {_host(str(d)) for e in chosen for d in e.get("destinations") or ()}
    covered = InScope(principals, agents, sessions, hosts)
    containment = [e for e in events if str(e.get("event_type", "")).startswith("containment_")
                   and covered.containment(e)]
    reloads = [e for e in events if e.get("event_type") == "policy_reload"] if chosen or containment else []
    approvals = [e for e in events if e.get("event_type") == "approval" and (
        e.get("principal") in principals or e.get("agent") in agents or e.get("session_id") in sessions)]
    keep = {id(e) for e in (*chosen, *containment, *reloads, *approvals)}
    return [e for e in events if id(e) in keep], covered, creds
