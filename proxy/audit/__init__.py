"""Audit: one versioned event per decision, to JSON-lines sinks."""

from proxy.audit.auditor import AuditError, Auditor
from proxy.audit.event import SCHEMA_VERSION, decision_event, system_event

__all__ = ["SCHEMA_VERSION", "AuditError", "Auditor", "decision_event", "system_event"]
