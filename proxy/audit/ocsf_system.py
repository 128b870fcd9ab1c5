"""OCSF views of the events that are not about one message.

Containment → Remediation Activity (7001); failed side effects → Application Error (6008); start and stop →
Application Lifecycle (6002); policy reloads and tool pins → Entity Management (3004); audit checkpoints and gaps
→ Event Log Activity (1008); anything else → Base Event (0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.audit.ocsf_base import (
    FAILURE,
    HIGH,
    INFORMATIONAL,
    LOW,
    MEDIUM,
    OTHER,
    PRODUCT,
    SUCCESS,
    Ocsf,
    OcsfClass,
    actor,
    compact,
    envelope,
    severity_id,
)

_RESULTS = {SUCCESS: "Success", FAILURE: "Failure"}
REMEDIATION = OcsfClass(7001, "Remediation Activity", 7, "Remediation",
                        {1: "Isolate", 2: "Evict", 3: "Restore", 4: "Harden"}, {**_RESULTS, 4: "Partial"})
APP_ERROR = OcsfClass(6008, "Application Error", 6, "Application Activity", {1: "General Error"}, _RESULTS)
LIFECYCLE = OcsfClass(6002, "Application Lifecycle", 6, "Application Activity", {3: "Start", 4: "Stop"}, _RESULTS)
ENTITY = OcsfClass(3004, "Entity Management", 3, "Identity & Access Management",
                   {1: "Create", 3: "Update", 4: "Delete"}, _RESULTS)
EVENT_LOG = OcsfClass(1008, "Event Log Activity", 1, "System Activity", {}, _RESULTS)
BASE = OcsfClass(0, "Base Event", 0, "Uncategorized", {}, _RESULTS)

# containment action → remediation activity: contain = Isolate, end sessions = Evict, lift = Restore,
# deny tools or a destination = Harden
REMEDIATION_ACTIVITY = {"quarantine": 1, "sessions_kill": 2, "release": 3, "deny_tools_removed": 3,
                        "egress_deny_removed": 3, "rate_limit_removed": 3, "deny_tools": 4, "egress_deny": 4,
                        "rate_limit": 4}
EVICT = {"containment_kill_failed", "containment_broadcast_failed", "containment_tokens_revoked",
         "containment_revocation_failed"}
APP_ERRORS = {"containment_webhook_failed", "containment_side_effect_failed", "evidence_snapshot_failed",
              "pins_action_failed"}
PIN_ACTIVITY = {"pin_change_pending": 1, "pin_approved": 3, "pin_pending_resolved": 3, "pin_rejected": 4}


def _words(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p not in (None, ""))


def remediation(event: dict[str, Any]) -> Ocsf:
    kind = event["event_type"]
    # automated containment's failure names no action: it is always a quarantine
    action = event.get("action") or ("quarantine" if kind == "containment_action_failed" else None)
    activity = 2 if kind in EVICT else REMEDIATION_ACTIVITY.get(action or "", OTHER)
    if kind == "containment_tokens_revoked":
        status, severity = (4 if event.get("failed") else SUCCESS), INFORMATIONAL
    elif kind == "containment_action":
        status, severity = SUCCESS, severity_id(event.get("severity"))
    else:
        status, severity = FAILURE, HIGH  # a containment that did not happen is an incident signal
    # an egress deny names its host: `event_host` once written (`host` then names the writer)
    subject = event.get("subject") or event.get("event_host") or \
        (event.get("host") if action == "egress_deny" else None) or event.get("principal") or event.get("id")
    out = envelope(event, REMEDIATION, activity, status, severity,
                   _words(kind if kind != "containment_action" else None, action, event.get("kind"), subject),
                   activity_name=action if activity == OTHER else None, profiles=("host",))
    out["command_uid"] = event["event_id"]
    out.update(compact(actor=actor(event.get("actor")), status_detail=event.get("error") or event.get("reason")))
    return out


def app_error(event: dict[str, Any]) -> Ocsf:
    out = envelope(event, APP_ERROR, 1, FAILURE, MEDIUM, _words(event["event_type"], event.get("error")))
    out.update(compact(status_detail=event.get("error")))
    return out


def lifecycle(event: dict[str, Any]) -> Ocsf:
    kind = event["event_type"]
    failed = kind == "stdio_exit" and event.get("exit_code") != 0
    message = _words(kind.replace("_", " "), event.get("upstream") or event.get("listen"),
                     f"(exit code {event.get('exit_code')})" if kind == "stdio_exit" else None)
    out = envelope(event, LIFECYCLE, 3 if kind.endswith(("started", "start")) else 4,
                   FAILURE if failed else SUCCESS, LOW if failed else INFORMATIONAL, message)
    out["app"] = PRODUCT
    return out


def entity(event: dict[str, Any]) -> Ocsf:
    kind = event["event_type"]
    if kind == "policy_reload":
        ok = event.get("ok") is True
        out = envelope(event, ENTITY, 3, SUCCESS if ok else FAILURE, INFORMATIONAL if ok else MEDIUM,
                       event.get("detail"))
        out["entity"] = compact(uid=event.get("policy_version"), name="policy", type="Policy", type_id=5)
        return out
    findings = [severity_id(f.get("severity"), LOW) for f in event.get("findings") or []]
    severity = max(findings, default=LOW) if kind == "pin_change_pending" else INFORMATIONAL
    out = envelope(event, ENTITY, PIN_ACTIVITY[kind], SUCCESS, severity,
                   _words(kind.replace("_", " "), event.get("upstream"), event.get("tool")))
    out["entity"] = compact(name=f"{event.get('upstream')}/{event.get('tool')}", uid=event.get("sha256"),
                            type="MCP tool definition", type_id=OTHER)
    out.update(compact(actor=actor(event.get("approver")), comment=event.get("reason")))
    return out


def event_log(event: dict[str, Any]) -> Ocsf:
    gap = event["event_type"] == "audit_gap"
    message = (f"{event.get('lost')} audit events lost by sink {event.get('sink')}" if gap
               else f"audit checkpoint at seq {event.get('seq')} ({event.get('count')} events)")
    out = envelope(event, EVENT_LOG, OTHER, FAILURE if gap else SUCCESS,
                   severity_id(event.get("severity"), HIGH) if gap else INFORMATIONAL, message,
                   activity_name="Gap" if gap else "Checkpoint")
    out.update(log_name=event.get("sink") or "audit", log_provider="Drawbridge")
    return out


def base(event: dict[str, Any]) -> Ocsf:
    return envelope(event, BASE, OTHER, None, INFORMATIONAL, str(event.get("event_type")),
                    activity_name=str(event.get("event_type")))


def mapper(event_type: str) -> Callable[[dict[str, Any]], Ocsf]:
    """The mapping of one native event type (Base Event for a type this module does not know)."""
    if event_type.startswith("containment_") and event_type not in APP_ERRORS:
        return remediation
    if event_type in APP_ERRORS:
        return app_error
    if event_type in ("proxy_started", "proxy_stopped", "stdio_start", "stdio_exit"):
        return lifecycle
    if event_type == "policy_reload" or event_type in PIN_ACTIVITY:
        return entity
    if event_type in ("audit_checkpoint", "audit_gap"):
        return event_log
    return base


def system_to_ocsf(event: dict[str, Any]) -> Ocsf:
    """One system event (already as a sink writes it) as an OCSF event object."""
    return mapper(str(event.get("event_type")))(event)
