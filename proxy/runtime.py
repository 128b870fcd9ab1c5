"""Wire the parts every transport shares: policy holder, auditor and the inspection pipeline."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.audit import Auditor, decision_event, system_event
from proxy.audit.auditor import FdSink, Sink
from proxy.catalog import ToolCatalog
from proxy.config import Config
from proxy.containment.auto import AutoContainment
from proxy.decision import Decision
from proxy.evidence.recorder import EvidenceRecorder
from proxy.evidence_hook import record as record_evidence
from proxy.exchange import Exchange
from proxy.inspections.registry import build_registry
from proxy.jsonrpc import Limits
from proxy.pins.enforcer import PinEnforcer
from proxy.pins.settings import build_enforcer
from proxy.pipeline import Pipeline
from proxy.policy import PolicyHolder
from proxy.state.factory import open_store
from proxy.state.model import Store


@dataclass
class Runtime:
    """Everything a transport adapter needs to turn messages into decisions."""

    config: Config
    holder: PolicyHolder
    auditor: Auditor
    pipeline: Pipeline
    limits: Limits
    catalog: ToolCatalog
    store: Store
    evidence: EvidenceRecorder
    auto: AutoContainment = field(init=False)
    pins: PinEnforcer | None = field(init=False, default=None)

    @classmethod
    def build(cls, config: Config, *, stdout_is_protocol: bool = False) -> Runtime:
        """Load policy and open sinks. With no sink configured, events go to stdout; with
        `stdout_is_protocol` (stdio mode, where stdout carries JSON-RPC) they go to stderr instead."""
        sinks: list[Sink] = []
        if config.audit.file is not None:
            sinks.append(FdSink.open_file(config.audit.file, fsync=config.audit.fsync))
        if config.audit.otlp is not None:
            from proxy.audit.otel import OtelSink

            otlp = config.audit.otlp
            sinks.append(OtelSink(otlp.endpoint, {k: v.resolve(f"audit.otlp.headers.{k}") for k, v in
                                                  otlp.headers.items()}, otlp.service_name, otlp.timeout_seconds))
        # With no local sink configured, events still go somewhere durable-enough to read (nothing lost).
        if config.audit.stdout or not any(isinstance(sink, FdSink) for sink in sinks):
            stream = sys.stderr if stdout_is_protocol else sys.stdout
            sinks.append(FdSink(stream.fileno(), owned=False))
        auditor = Auditor(sinks)

        def on_reload(ok: bool, version: str, detail: str) -> None:
            auditor.emit(system_event("policy_reload", ok=ok, policy_version=version, detail=detail))

        holder = PolicyHolder(config.policy, on_reload)
        evidence_dir = config.admin.evidence_dir if config.admin is not None else Path("var/evidence")
        evidence = EvidenceRecorder(evidence_dir)
        catalog = ToolCatalog()
        store = open_store(config.store)
        enforcer = build_enforcer(config.pins, audit=auditor.emit, store=store) if config.pins else None
        pipeline = Pipeline(build_registry(holder, store, catalog, enforcer),
                            lambda ex, decision: runtime.after_decision(ex, decision))
        runtime = cls(config, holder, auditor, pipeline, config.limits.message_limits(), catalog, store, evidence)
        runtime.auto = AutoContainment(store, holder, evidence, runtime.snapshot_context, auditor.emit)
        runtime.pins = enforcer
        return runtime

    def after_decision(self, ex: Exchange, decision: Decision) -> None:
        """The pipeline's one hook per decision: audit event, evidence ring buffer, automated containment."""
        self.auditor.emit(decision_event(ex, decision, self.holder.policy.version))
        record_evidence(self.evidence, ex, decision)
        self.auto.consider(ex, decision)

    def snapshot_context(self) -> dict[str, Any]:
        """What evidence records besides exchanges: tool manifests and the policy in force."""
        return {"tool_manifests": self.catalog.manifest(), "policy_version": self.holder.policy.version,
                "policy_files": [str(p) for p in self.holder.loaded.files]}

    async def aclose(self) -> None:
        """Stop what runs in the event loop (the pin enforcer's own store, if it has one)."""
        if self.pins is not None:
            await self.pins.close()

    def close(self) -> None:
        self.auditor.close()
