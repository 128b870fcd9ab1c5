"""Automated containment: policy maps findings to quarantines, applied without waiting for a human.

Called for every decision, before its audit event is written. A matching rule quarantines the subject
through the same sequence a responder's quarantine takes (`ContainmentService`: contain first, then seal
every replica's evidence, audit with actor `drawbridge:auto`, webhook, token revocation). Session rules
key on the client key, so they work for stateless clients too. Ambiguous findings that match no rule only
alert (their audit event).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from proxy.audit import system_event
from proxy.containment.durations import parse_duration
from proxy.containment.service import ContainmentService
from proxy.decision import Decision, Finding
from proxy.detections.model import Alert
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.policy import PolicyHolder
from proxy.policy.model import AutoContainmentRule
from proxy.state.model import MODE_ORDER, Quarantine

log = logging.getLogger("drawbridge.containment")
ACTOR = "drawbridge:auto"


def _matches(rule: AutoContainmentRule, finding: Finding) -> bool:
    return (bool(rule.detectors) and finding.severity.value <= int(rule.min_severity[-1])
            and cached_globs(rule.detectors).fullmatch(finding.detector) is not None)


def _matches_alert(rule: AutoContainmentRule, alert: Alert) -> bool:
    return (bool(rule.detections) and alert.severity.value <= int(rule.min_severity[-1])
            and cached_globs(rule.detections).fullmatch(alert.detection) is not None)


class AutoContainment:
    """Turns matching findings into quarantines (one at a time per subject)."""

    def __init__(self, holder: PolicyHolder, service: ContainmentService,
                 emit: Callable[[dict[str, Any]], None]) -> None:
        self._holder, self._service, self._emit = holder, service, emit
        self._pending: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def consider(self, ex: Exchange, decision: Decision) -> None:
        rules = self._holder.policy.settings.auto_containment
        if not rules or not decision.findings:
            return
        for rule in rules:
            finding = next((f for f in decision.findings if _matches(rule, f)), None)
            if finding is not None:
                self._start(rule, {"principal": ex.principal, "agent": ex.agent,
                                   "session": ex.client_key or ex.session_id}[rule.subject], finding)

    def consider_alert(self, alert: Alert) -> None:
        """Quarantine on a behavioural alert (rules with `detections`), like on a finding."""
        obs = alert.observation
        for rule in self._holder.policy.settings.auto_containment:
            if _matches_alert(rule, alert):
                finding = Finding(f"alert.{alert.detection}", alert.severity, alert.summary, atlas=alert.technique)
                self._start(rule, {"principal": obs.principal, "agent": obs.agent,
                                   "session": obs.client_key or obs.session_id}[rule.subject], finding)

    def _start(self, rule: AutoContainmentRule, subject: str | None, finding: Finding) -> None:
        if subject is None or (rule.subject, subject) in self._pending:
            return
        self._pending.add((rule.subject, subject))
        task = asyncio.get_running_loop().create_task(self._quarantine(rule, subject, finding))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quarantine(self, rule: AutoContainmentRule, subject: str, finding: Finding) -> None:
        key = (rule.subject, subject)
        try:
            now = time.time()
            current = next((q for q in self._service.store.state().quarantines
                            if q.kind == rule.subject and q.subject == subject and q.active(now)), None)
            if current is not None and MODE_ORDER[current.mode] <= MODE_ORDER[rule.mode]:
                return  # already contained at least as strictly
            reason = f"auto-containment rule {rule.id}: {finding.detector} ({finding.severity.label})"
            expires = now + parse_duration(rule.ttl) if rule.ttl else None
            quarantine = Quarantine(rule.subject, subject, rule.mode, reason, ACTOR, f"AUTO-{rule.id}",
                                    created=now, expires=expires)
            await self._service.quarantine(quarantine, previous_mode=current.mode if current else None,
                                           rule_id=rule.id, detector=finding.detector,
                                           severity=finding.severity.label)
            log.warning("auto-containment: %s %s quarantined (%s) by rule %s", rule.subject, subject, rule.mode,
                        rule.id)
        except Exception as exc:  # never silent: an automated action that failed is an incident signal
            self._emit(system_event("containment_action_failed", action="quarantine", actor=ACTOR, kind=rule.subject,
                                    subject=subject, rule_id=rule.id, error=type(exc).__name__))
            log.error("auto-containment of %s %s failed: %s", rule.subject, subject, type(exc).__name__)
        finally:
            self._pending.discard(key)

    async def drain(self, grace_seconds: float = 10.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_seconds)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
