"""Egress: refuse a tool call whose destinations the caller may not reach, before the server sees it.

Two sources decide: the policy's allowlist (`settings.egress`) and the responders' egress denies in the
shared store (`drawbridge egress deny --host H`), which hold on every replica, whatever the policy says,
and cover the host's subdomains and every mention of it in the arguments. Every destination seen is
listed in the audit event (`ex.notes["destinations"]`).
"""

from __future__ import annotations

import time

from proxy.content.egress import Destination, EgressPolicy, destinations, internal_kind
from proxy.content.model import ATLAS_EXFIL_TOOL
from proxy.content.settings import EgressSettings
from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.state.model import EgressDeny, Store
from proxy.types import Direction, MessageKind, Severity, Verdict

RULE = "egress-allowlist"
DENY_RULE = "containment-egress-deny"
DESTINATIONS_NOTE = "destinations"
HOSTS_NOTE = "egress_hosts"  # [(host, allowed)] of the call's parsed destinations, for behavioural detections


def denied_host(denies: list[EgressDeny], dest: Destination) -> EgressDeny | None:
    """The responder's deny covering this destination: the host itself, its subdomains, or the IP."""
    host = dest.host
    if not host:
        return None
    for entry in denies:
        base = entry.host.removeprefix("*.")
        if host == base or (dest.ip is None and host.endswith("." + base)):
            return entry
    return None


class EgressCheck(Inspection):
    """Collect destinations from tool arguments; check them against responder denies and `settings.egress`."""

    name = "egress"
    methods = frozenset({"tools/call"})
    directions = frozenset({Direction.TO_SERVER})
    kinds = frozenset({MessageKind.REQUEST})

    def __init__(self, holder: PolicyHolder, store: Store) -> None:
        self._holder = holder
        self._store = store
        self._settings: EgressSettings | None = None
        self._policy: EgressPolicy | None = None
        self._scan_all: EgressSettings | None = None

    def _compiled(self, settings: EgressSettings) -> EgressPolicy:
        if self._policy is None or self._settings is not settings:
            self._settings, self._policy = settings, EgressPolicy(settings)
            self._scan_all = settings.model_copy(update={"scan_all_arguments": True})
        return self._policy

    def _denies(self, ex: Exchange) -> list[EgressDeny]:
        now = time.time()
        return [d for d in self._store.state().egress_denies
                if (d.expires is None or now < d.expires) and (d.agent is None or d.agent == ex.agent)
                and (d.principal is None or d.principal == ex.principal)]

    def inspect(self, ex: Exchange) -> Decision | None:
        settings = self._holder.policy.settings.egress
        tool = ex.tool_name
        if tool is None:
            return None
        denies = self._denies(ex)
        if not settings.enabled and not denies:
            return None
        policy = self._compiled(settings)
        scan = self._scan_all if denies and self._scan_all is not None else settings
        found = destinations(ex.arguments, scan, policy.declared_paths(tool))
        if not found:
            return None
        seen = list(dict.fromkeys(d.value for d in found))
        ex.notes[DESTINATIONS_NOTE] = [*ex.notes.get(DESTINATIONS_NOTE, []), *seen]
        for dest in found:
            entry = denied_host(denies, dest)
            if entry is not None:
                ex.notes[HOSTS_NOTE] = [(dest.host, False)]
                ticket = f" (ticket {entry.ticket})" if entry.ticket else ""
                finding = Finding("containment.egress_deny", Severity.SEV2, f"destination denied by incident "
                                  f"response ({entry.id})", path=f"$.params.arguments.{dest.path}",
                                  excerpt=dest.value, atlas=ATLAS_EXFIL_TOOL, surface="tool_arguments")
                return deny(f"egress to {dest.value} denied by incident response{ticket}", rule_ids=(DENY_RULE,),
                            findings=(finding,), code=ErrorCode.QUARANTINED, check=self.name)
        if not settings.enabled:
            return None
        findings = []
        hosts: list[tuple[str, bool]] = []
        for dest in found:
            if not dest.declared and not settings.scan_all_arguments:
                continue  # found only because a responder deny asked for every mention
            why = policy.refusal(dest, ex.principal, ex.agent, tool, ex.upstream)
            if dest.host:
                hosts.append((dest.host, why is None))
            if why is not None:
                findings.append(_finding(dest, why))
        if hosts:
            ex.notes[HOSTS_NOTE] = hosts
        if not findings:
            return None
        if settings.action == "detect":
            return Decision(Verdict.ALLOW, findings=tuple(findings), check=self.name)
        first = findings[0]
        return deny(f"egress to {first.excerpt} refused: {first.message}", rule_ids=(RULE,),
                    findings=tuple(findings), check=self.name)


def _finding(dest: Destination, why: str) -> Finding:
    kind = internal_kind(dest)
    if kind == "metadata service":
        detector, severity = "egress.metadata_service", Severity.SEV2
    elif kind is not None:
        detector, severity = "egress.internal_address", Severity.SEV3
    else:
        detector, severity = "egress.not_allowlisted", Severity.SEV3
    return Finding(detector, severity, why, path=f"$.params.arguments.{dest.path}", excerpt=dest.value,
                   atlas=ATLAS_EXFIL_TOOL, surface="tool_arguments")
