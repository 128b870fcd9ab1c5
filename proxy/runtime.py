"""Wire the parts every transport shares: policy holder, auditor and the inspection pipeline."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from proxy.audit import Auditor, decision_event, system_event
from proxy.audit.auditor import FdSink, Sink
from proxy.catalog import ToolCatalog
from proxy.config import Config
from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.inspections.registry import build_registry
from proxy.jsonrpc import Limits
from proxy.pipeline import Pipeline
from proxy.policy import PolicyHolder


@dataclass
class Runtime:
    """Everything a transport adapter needs to turn messages into decisions."""

    config: Config
    holder: PolicyHolder
    auditor: Auditor
    pipeline: Pipeline
    limits: Limits
    catalog: ToolCatalog

    @classmethod
    def build(cls, config: Config, *, stdout_is_protocol: bool = False) -> Runtime:
        """Load policy and open sinks. With no sink configured, events go to stdout; with
        `stdout_is_protocol` (stdio mode, where stdout carries JSON-RPC) they go to stderr instead."""
        sinks: list[Sink] = []
        if config.audit.file is not None:
            sinks.append(FdSink.open_file(config.audit.file, fsync=config.audit.fsync))
        if config.audit.stdout or not sinks:  # nothing configured: events still go somewhere (nothing lost)
            stream = sys.stderr if stdout_is_protocol else sys.stdout
            sinks.append(FdSink(stream.fileno(), owned=False))
        auditor = Auditor(sinks)

        def on_reload(ok: bool, version: str, detail: str) -> None:
            auditor.emit(system_event("policy_reload", ok=ok, policy_version=version, detail=detail))

        holder = PolicyHolder(config.policy, on_reload)

        def audit(ex: Exchange, decision: Decision) -> None:
            auditor.emit(decision_event(ex, decision, holder.policy.version))

        catalog = ToolCatalog()
        pipeline = Pipeline(build_registry(holder), audit)
        return cls(config, holder, auditor, pipeline, config.limits.message_limits(), catalog)

    def close(self) -> None:
        self.auditor.close()
