"""`/metrics`: this process's families plus what is read at scrape time, in the Prometheus text format.

With `PROMETHEUS_MULTIPROC_DIR` set (several workers), counters and histograms are summed over every
worker's files (prometheus-client's multiprocess mode); scrape-time gauges describe the scraped worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

import proxy
from proxy.metrics.families import Metrics

log = logging.getLogger("drawbridge.metrics")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
SINK_OUTCOMES = ("delivered", "dropped", "failed", "refused")


class Snapshot:
    """What the scrape reads from the running proxy (callables, so nothing is cached between scrapes)."""

    def __init__(self, *, audit_stats: Callable[[], Mapping[str, Mapping[str, Any]]],
                 store_up: Callable[[], bool], policy_version: Callable[[], str]) -> None:
        self.audit_stats, self.store_up, self.policy_version = audit_stats, store_up, policy_version
        self.sessions: dict[str, int] | None = None  # per upstream, set by the handler before rendering


class ScrapeCollector(Collector):
    """Gauges and counters that are read, not counted: audit sinks, the store, the policy, sessions."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot
        events = CounterMetricFamily("drawbridge_audit_sink_events", "Audit events per sink, by outcome",
                                     labels=("sink", "outcome"))
        depth = GaugeMetricFamily("drawbridge_audit_queue_depth", "Events waiting in a network sink's queue",
                                  labels=("sink",))
        up = GaugeMetricFamily("drawbridge_audit_sink_up", "1 when the sink is accepting events", labels=("sink",))
        for sink, row in snap.audit_stats().items():
            for outcome in SINK_OUTCOMES:
                events.add_metric((sink, outcome), float(row.get(outcome, 0)))
            depth.add_metric((sink,), float(row.get("queued", 0)))
            up.add_metric((sink,), 0.0 if row.get("down") else 1.0)
        yield from (events, depth, up)
        yield GaugeMetricFamily("drawbridge_store_up", "1 when the shared state store is reachable",
                                value=1.0 if snap.store_up() else 0.0)
        info = GaugeMetricFamily("drawbridge_policy_info", "The policy version in force", labels=("version",))
        info.add_metric((snap.policy_version(),), 1.0)
        yield info
        build = GaugeMetricFamily("drawbridge_build_info", "This Drawbridge's version", labels=("version",))
        build.add_metric((getattr(proxy, "__version__", "unknown"),), 1.0)
        yield build
        if snap.sessions is not None:
            sessions = GaugeMetricFamily("drawbridge_sessions", "Live conversations in the shared store, all "
                                         "replicas together (every replica reports the same: aggregate with max)",
                                         labels=("upstream",))
            for upstream, count in sorted(snap.sessions.items()):
                sessions.add_metric((upstream,), float(count))
            yield sessions


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def render(metrics: Metrics, snapshot: Snapshot) -> bytes:
    """The text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(metrics.registry))
    registry.register(ScrapeCollector(snapshot))
    return generate_latest(registry)


class _Forward(Collector):
    """Another registry's families, collected into this scrape's registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


class SessionCounter(Protocol):
    async def list(self) -> Sequence[Any]: ...


class Scrape:
    """One runtime's `/metrics` answer: counts live sessions (bounded wait), then renders."""

    SESSIONS_TIMEOUT = 2.0

    def __init__(self, metrics: Metrics, snapshot: Snapshot, sessions: SessionCounter | None = None) -> None:
        self.metrics, self.snapshot, self.sessions = metrics, snapshot, sessions

    async def text(self) -> bytes:
        self.snapshot.sessions = await self._sessions()
        return render(self.metrics, self.snapshot)

    async def _sessions(self) -> dict[str, int] | None:
        if self.sessions is None:
            return None
        try:
            live = await asyncio.wait_for(self.sessions.list(), self.SESSIONS_TIMEOUT)
        except Exception as exc:  # the store is down or slow: the scrape still answers, without the gauge
            log.debug("metrics: sessions not counted (%s)", type(exc).__name__)
            return None
        counts: dict[str, int] = dict.fromkeys(self.metrics.upstreams, 0)
        for info in live:
            name = getattr(info, "upstream", "")
            if name in counts:
                counts[name] += 1
        return counts
