"""The metric families, and how each audit event moves them.

Counters follow the audit stream (`observe`, registered as an auditor observer), so a metric and the
event that states the same decision cannot disagree. Label values are bounded (`labels.py`): never a
session id, principal, argument or a client's free text.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector, ProcessCollector

from proxy.metrics import labels

log = logging.getLogger("drawbridge.metrics")
# The hop's own work is sub-millisecond; an upstream takes milliseconds to seconds.
HOP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
UPSTREAM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEVERITIES = frozenset({"SEV-1", "SEV-2", "SEV-3", "SEV-4", "none"})


class Metrics:
    """One process's metric families, on `registry` (a fresh one per runtime unless given)."""

    def __init__(self, upstreams: Collection[str], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.upstreams = frozenset(upstreams)
        r = self.registry
        if registry is None:  # process_cpu_seconds_total, process_resident_memory_bytes, python_gc_*, …
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.decisions = Counter("drawbridge_decisions", "Messages decided, by final outcome",
                                 ("verdict", "check", "upstream", "method", "direction", "origin"), registry=r)
        self.would_deny = Counter("drawbridge_shadow_would_deny", "Refusals shadow mode audited and let through",
                                  ("check", "upstream"), registry=r)
        self.candidate_differs = Counter("drawbridge_shadow_policy_differences", "Requests the candidate policy "
                                         "(--shadow-policy) decided otherwise, by its verdict", ("verdict", "upstream"),
                                         registry=r)
        self.findings = Counter("drawbridge_findings", "Content and policy findings reported in decisions",
                                ("detector", "severity"), registry=r)
        self.hop = Histogram("drawbridge_hop_duration_seconds", "The proxy's own time to decide a message",
                             ("direction",), buckets=HOP_BUCKETS, registry=r)
        self.upstream_time = Histogram("drawbridge_upstream_duration_seconds",
                                       "Time from forwarding a request to the upstream's response headers",
                                       ("upstream",), buckets=UPSTREAM_BUCKETS, registry=r)
        self.upstream_errors = Counter("drawbridge_upstream_errors", "Upstream requests that failed",
                                       ("upstream", "reason"), registry=r)
        self.alerts = Counter("drawbridge_alerts", "Behavioural detections that fired",
                              ("detection", "severity"), registry=r)
        self.containment = Counter("drawbridge_containment_actions", "Containment actions taken (any replica's "
                                   "request, counted where it was made)", ("action",), registry=r)
        self.approvals = Counter("drawbridge_approvals", "Steps of calls held for a human's approval (requested, "
                                 "approved, denied, expired, refused)", ("action",), registry=r)
        self.reloads = Counter("drawbridge_policy_reloads", "Policy reloads, by result", ("result",), registry=r)
        self.events = Counter("drawbridge_audit_events", "Audit events emitted, by type", ("event_type",),
                              registry=r)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}  # bounded: every label value is bounded
        self.store_updates = Counter("drawbridge_store_updates", "Shared-state changes applied (local or from "
                                     "another replica)", registry=r)

    # -- feeds ------------------------------------------------------------------------------
    def _child(self, family: Any, values: tuple[str, ...]) -> Any:
        """The labelled child, cached: `labels()` validates and locks on every call (several µs)."""
        key = (id(family), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*values)
        return child

    def observe(self, event: dict[str, Any]) -> None:
        """Move the counters an audit event concerns (an auditor observer: must never raise)."""
        try:
            self._observe(event)
        except Exception as exc:  # a metric is never worth a refused message
            log.debug("metrics: event not counted (%s)", type(exc).__name__)

    def observe_upstream(self, upstream: str, seconds: float) -> None:
        self._child(self.upstream_time, (labels.upstream(upstream, self.upstreams),)).observe(seconds)

    def upstream_failed(self, upstream: str, reason: str) -> None:
        self.upstream_errors.labels(labels.upstream(upstream, self.upstreams), labels.internal(reason)).inc()

    def store_changed(self, _state: object) -> None:
        self.store_updates.inc()

    # -- mapping ----------------------------------------------------------------------------
    def _observe(self, event: dict[str, Any]) -> None:
        kind = event.get("event_type")
        self._child(self.events, (labels.internal(kind),)).inc()
        if kind == "decision":
            self._decision(event)
        elif kind == "alert":
            self._child(self.alerts, (labels.internal(event.get("detection")), _severity(event.get("severity")))).inc()
        elif kind == "containment_action":
            self._child(self.containment, (labels.internal(event.get("action")),)).inc()
        elif kind == "approval":
            self._child(self.approvals, (labels.internal(event.get("action")),)).inc()
        elif kind == "policy_reload":
            self._child(self.reloads, ("ok" if event.get("ok") else "refused",)).inc()

    def _decision(self, event: dict[str, Any]) -> None:
        rpc = event.get("jsonrpc") or {}
        direction = labels.internal(event.get("direction"))
        upstream = labels.upstream(event.get("upstream"), self.upstreams)
        self._child(self.decisions, (
            labels.internal(event.get("verdict")), labels.internal(event.get("check")), upstream,
            labels.method(rpc.get("method")), direction, labels.internal(event.get("origin")))).inc()
        if "would_deny" in event:
            self._child(self.would_deny, (labels.internal(event["would_deny"].get("check")), upstream)).inc()
        if "shadow_policy" in event:
            self._child(self.candidate_differs, (labels.internal(event["shadow_policy"].get("verdict")),
                                                 upstream)).inc()
        for finding in event.get("findings") or ():
            self._child(self.findings, (labels.internal(finding.get("detector")),
                                        _severity(finding.get("severity")))).inc()
        latency = event.get("latency_ms")
        if isinstance(latency, int | float) and latency >= 0:
            self._child(self.hop, (direction,)).observe(latency / 1000)


def _severity(value: object) -> str:
    return value if isinstance(value, str) and value in SEVERITIES else labels.OTHER
