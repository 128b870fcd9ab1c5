"""Wire the parts every transport shares: policy, audit, the pipeline and what settles its decisions.

Everything a transport must not hold lives here, once, for HTTP and stdio alike: pairing an answer with
the request it answers, remembering the server's requests, learning tool listings, evidence, automated
containment and the audit event that states the final outcome.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy.approvals import ApprovalBook
from proxy.approvals.state_token import StateSealer
from proxy.audit import AuditError, Auditor, decision_event, system_event
from proxy.audit.auditor import Outlet, Sink
from proxy.audit.event import alert_event, new_call_id
from proxy.audit.sinks import build_outlets
from proxy.catalog import ToolCatalog
from proxy.config import Config
from proxy.containment.auto import AutoContainment
from proxy.containment.revocation import RevocationAgent, TokenRevoker
from proxy.containment.service import ContainmentService
from proxy.containment.webhook import ContainmentNotifier
from proxy.decision import Decision
from proxy.detections.engine import DetectionEngine
from proxy.detections.model import Alert
from proxy.errors import ConfigError, ErrorCode
from proxy.evidence.collect import EvidenceCollector
from proxy.evidence.recorder import EvidenceRecorder
from proxy.evidence_hook import record as record_evidence
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.inspections.registry import build_registry
from proxy.jsonrpc import Limits
from proxy.metrics import Metrics, Scrape, Snapshot
from proxy.pairing import ServerRequests
from proxy.pins.enforcer import PinEnforcer
from proxy.pins.settings import build_enforcer
from proxy.pipeline import Pipeline
from proxy.policy import PolicyHolder
from proxy.replicas import ReplicaRegistry, new_replica_id
from proxy.sessions import SessionDirectory
from proxy.shadow import Shadow
from proxy.state.factory import open_store
from proxy.state.model import Store
from proxy.tracing import build_tracing
from proxy.types import Direction, MessageKind, Transport, Verdict

if TYPE_CHECKING:
    from proxy.tracing.spans import Tracing

log = logging.getLogger("drawbridge")


@dataclass
class Runtime:
    """Everything a transport adapter needs to turn messages into decisions."""

    config: Config
    holder: PolicyHolder
    auditor: Auditor
    limits: Limits
    catalog: ToolCatalog
    store: Store
    evidence: EvidenceRecorder
    replicas: ReplicaRegistry
    sessions: SessionDirectory
    pairing: ServerRequests
    pipeline: Pipeline = field(init=False)
    collector: EvidenceCollector = field(init=False)
    containment: ContainmentService = field(init=False)
    revocation: RevocationAgent = field(init=False)
    auto: AutoContainment = field(init=False)
    detections: DetectionEngine = field(init=False)
    pins: PinEnforcer | None = field(init=False, default=None)
    approvals: ApprovalBook = field(init=False)
    metrics: Metrics = field(init=False)
    tracing: Tracing | None = field(init=False, default=None)  # spans of the messages (None: tracing off)
    closed: bool = field(init=False, default=False)

    @classmethod
    def build(cls, config: Config, *, stdout_is_protocol: bool = False, sinks: list[Sink] | None = None,
              holder: PolicyHolder | None = None) -> Runtime:
        """Load policy and open sinks. With no sink configured, events go to stdout; with
        `stdout_is_protocol` (stdio mode, where stdout carries JSON-RPC) they go to stderr instead.
        `sinks` replaces the configured sinks and `holder` the policy loaded from `config.policy` (policy
        test cases run many short runtimes on one loaded policy, keeping their events in memory)."""
        replica_id = new_replica_id()  # stamped on every event, and the replica's heartbeat
        auditor = Auditor(_sinks(config, stdout_is_protocol, replica_id) if sinks is None else sinks,
                          replica_id=replica_id)

        def on_reload(ok: bool, version: str, detail: str) -> None:
            auditor.emit(system_event("policy_reload", ok=ok, policy_version=version, detail=detail))

        def on_candidate_reload(ok: bool, version: str, detail: str) -> None:
            auditor.emit(system_event("policy_reload", ok=ok, policy_version=version, detail=detail, candidate=True))

        holder = holder or PolicyHolder(config.policy, on_reload, candidate=config.shadow_policy,
                                        candidate_listener=on_candidate_reload)
        evidence_dir = config.admin.evidence_dir if config.admin is not None else Path("var/evidence")
        store = open_store(config.store, redis=config.redis)
        runtime = cls(config, holder, auditor, config.limits.message_limits(), ToolCatalog(store), store,
                      EvidenceRecorder(evidence_dir), ReplicaRegistry(store, replica_id),
                      SessionDirectory(store, config.sessions.idle_timeout_seconds),
                      ServerRequests(store, config.sessions.server_request_timeout_seconds))
        runtime.metrics = Metrics(runtime.upstream_names())
        runtime.tracing = build_tracing(config.tracing, {u.name: u.url for u in config.upstreams}, replica_id)
        auditor.observers.append(runtime.metrics.observe)
        store.on_change(runtime.metrics.store_changed)
        runtime.pins = build_enforcer(config.pins, audit=auditor.emit, store=store) if config.pins else None
        runtime.approvals = ApprovalBook(store, auditor.emit)
        runtime.pipeline = Pipeline(build_registry(holder, store, runtime.catalog, runtime.pins, runtime.approvals,
                                                   runtime.pairing, approval_sealer(config)), runtime)
        runtime.pipeline.shadow = Shadow(holder)  # settings.shadow: refusals audited, not enforced
        runtime.collector = EvidenceCollector(runtime.evidence, store, runtime.replicas, runtime.snapshot_context)
        cc = config.containment
        runtime.revocation = RevocationAgent(store, auditor.emit,
                                             TokenRevoker.from_config(cc.revocation) if cc.revocation else None)
        runtime.containment = ContainmentService(store, runtime.collector, auditor.emit, runtime.revocation)
        if cc.webhook is not None:
            runtime.containment.notifier = ContainmentNotifier.from_config(cc.webhook, auditor.emit)
        runtime.auto = AutoContainment(holder, runtime.containment, auditor.emit)
        runtime.detections = DetectionEngine(store, lambda: holder.policy.settings.detections, runtime.on_alert,
                                             runtime.sends_data_out)
        return runtime

    # -- behavioural detections --------------------------------------------------------------
    def on_alert(self, alert: Alert) -> None:
        """An alert's event, then automated containment if a rule matches its detection."""
        try:
            self.auditor.emit(alert_event(alert))
        except Exception as exc:  # the worker goes on; the loss is logged (the sinks count their own)
            log.error("alert %s not written: %s", alert.detection, type(exc).__name__)
        self.auto.consider_alert(alert)

    def sends_data_out(self, upstream: str, tool: str) -> bool:
        """Can this tool carry data out (its arguments are then searched for copies of earlier results)?"""
        settings = self.holder.policy.settings
        return bool(cached_globs(settings.egress.egress_tools).fullmatch(tool)
                    or cached_globs(settings.detections.sensitive_tools).fullmatch(tool))

    # -- the pipeline's settlement ---------------------------------------------------------
    def needs_preparing(self, ex: Exchange) -> bool:
        return self.pairing.needs_pairing(ex)

    async def prepare(self, ex: Exchange) -> None:
        await self.pairing.pair(ex)

    async def conclude(self, ex: Exchange, decision: Decision) -> Decision:
        """Remember a server request the agent may now answer (on any replica); a failure refuses it."""
        if ex.call_id is None:
            ex.call_id = new_call_id()
        if not decision.blocks and ex.direction is Direction.TO_CLIENT:
            try:
                await self.pairing.remember(ex)
            except Exception as exc:
                log.warning("refusing a server request: could not remember it (%s)", type(exc).__name__)
                decision = Decision(Verdict.DENY, reason="shared state unavailable; refused (fail closed)",
                                    findings=decision.findings, code=ErrorCode.INSPECTION_FAILED, check="pairing")
        return decision

    def record(self, ex: Exchange, decision: Decision) -> Decision:
        """Evidence and automated containment (a failure refuses), then the audit event stating the outcome."""
        try:
            record_evidence(self.evidence, ex, decision)
            self.auto.consider(ex, decision)
        except Exception as exc:
            log.exception("refusing %s: evidence or automated containment failed", ex.method)
            decision = Decision(Verdict.DENY, reason="internal error; refused (fail closed)",
                                findings=decision.findings, code=ErrorCode.INTERNAL_ERROR,
                                check=f"evidence:{type(exc).__name__}")
        event = decision_event(ex, decision, self.holder.policy.version)
        self.auditor.emit(event)  # raises: the caller refuses
        if self.tracing is not None:
            self._trace(ex, decision, event["policy_version"])
        if not decision.blocks:
            self._learn(ex)
        self.detections.observe(ex, decision, event["event_id"])
        if decision.findings and ex.client_key is not None and ex.transport is Transport.HTTP:
            self.sessions.note_findings(ex.upstream, ex.client_key,
                                        [(f.severity.label, f.detector) for f in decision.findings])
        return decision

    def _trace(self, ex: Exchange, decision: Decision, policy_version: str) -> None:
        """The decision on the message's spans; a tracing fault never changes the outcome."""
        assert self.tracing is not None
        try:
            self.tracing.decided(ex, decision, policy_version)
        except Exception as exc:
            log.warning("span of %s not annotated: %s", ex.method, type(exc).__name__)

    def _learn(self, ex: Exchange) -> None:
        """Tool annotations from a listing as the agent received it (after filtering), for every replica."""
        if ex.kind is MessageKind.RESPONSE and ex.direction is Direction.TO_CLIENT and ex.method == "tools/list":
            result = ex.result
            tools = result.get("tools") if isinstance(result, dict) else None
            if isinstance(tools, list):
                self.catalog.learn(ex.upstream, tools)

    # -- lifecycle and context --------------------------------------------------------------
    def upstream_names(self) -> list[str]:
        return [u.name for u in self.config.upstreams] or [self.config.stdio.upstream_name]

    def scrape(self) -> Scrape:
        """This runtime's `/metrics` answer (admin listener and the optional metrics listener)."""
        snapshot = Snapshot(audit_stats=self.auditor.stats, store_up=lambda: self.store.healthy,
                            policy_version=lambda: self.holder.policy.version)
        return Scrape(self.metrics, snapshot, self.sessions)

    async def snapshot_context(self) -> dict[str, Any]:
        """What evidence records besides exchanges: tool manifests and the policy in force."""
        return {"tool_manifests": await self.catalog.manifest(self.upstream_names()),
                "policy_version": self.holder.policy.version,
                "policy_files": [str(p) for p in self.holder.loaded.files]}

    async def start(self) -> None:
        """Open the store (StoreUnavailable propagates), then the heartbeat and the session counters."""
        await self.store.start()
        self.replicas.start()
        self.sessions.start()
        self.detections.start()

    async def aclose(self) -> None:
        """Stop what runs in the event loop, then close the store."""
        await self.detections.close()
        await self.auto.aclose()
        await self.revocation.aclose()
        await self.collector.close()
        await self.sessions.close()
        await self.replicas.close()
        await self.catalog.flush()
        if self.pins is not None:
            await self.pins.close()
        await self.store.close()

    def close(self, **fields: Any) -> None:
        """Write `proxy_stopped` first (once; `fields` describe the listener), then flush and close the sinks."""
        if self.closed:
            return
        self.closed = True
        try:
            self.auditor.emit(system_event("proxy_stopped", **fields))
        except AuditError as exc:
            log.error("proxy_stopped not written: %s", exc)
        self.auditor.close()
        if self.tracing is not None:
            self.tracing.close()  # the last spans, bounded by tracing.close_timeout_seconds


def approval_sealer(config: Config) -> StateSealer | None:
    """The key that seals in-band approval states, if configured (ConfigError when unreadable or short)."""
    source = config.approvals.state_key
    if source is None:
        return None
    try:
        return StateSealer(source.resolve("approvals.state_key"))
    except ValueError as exc:
        raise ConfigError(f"approvals.state_key: {exc}") from None


def _sinks(config: Config, stdout_is_protocol: bool, replica_id: str) -> list[Outlet]:
    return build_outlets(config.audit, stdout_is_protocol=stdout_is_protocol, host=socket.gethostname(),
                         replica_id=replica_id)
