"""OCSF views of the native audit events (README.md, "OCSF mapping").

`to_ocsf(event)` maps a decision to API Activity (6003) with the security_control profile, an alert to Detection
Finding (2004), and the other event types as `proxy.audit.ocsf_system` says. The native event is kept whole in
`unmapped`.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.audit.ocsf_base import (
    FAILURE,
    SUCCESS,
    Ocsf,
    OcsfClass,
    actor,
    attack,
    compact,
    endpoint,
    envelope,
    severity_id,
)
from proxy.audit.ocsf_system import system_to_ocsf

API_ACTIVITY = OcsfClass(6003, "API Activity", 6, "Application Activity",
                         {1: "Create", 2: "Read", 4: "Delete"}, {SUCCESS: "Success", FAILURE: "Failure"})
DETECTION_FINDING = OcsfClass(2004, "Detection Finding", 2, "Findings", {1: "Create"}, {1: "New"})
METHOD_ACTIVITY = {"initialize": 1, "resources/subscribe": 1, "resources/unsubscribe": 4, "tools/list": 2,
                   "prompts/list": 2, "resources/list": 2, "resources/templates/list": 2, "resources/read": 2,
                   "prompts/get": 2, "server/discover": 2}
HTTP_ACTIVITY = {"GET": 2, "DELETE": 4}
# verdict → (action_id, action, disposition_id, disposition) of the security_control profile
VERDICTS = {"allow": (1, "Allowed", 1, "Allowed"), "rewrite": (4, "Modified", 11, "Corrected"),
            "deny": (2, "Denied", 2, "Blocked"), "quarantine": (2, "Denied", 3, "Quarantined")}
SHADOWED = (15, "Detected")  # shadow mode: a refusal audited as would_deny, the call allowed
RESOURCE_TYPES = {"tools": "tool", "prompts": "prompt", "resources": "resource"}
STATISTICAL = frozenset({"velocity"})  # the other detections are behavioural


def to_ocsf(event: dict[str, Any]) -> Ocsf:
    """One native event as an OCSF 1.5.0 event object."""
    written: dict[str, Any] = orjson.loads(orjson.dumps(event))  # as a sink writes it: enums, tuples resolved
    if written.get("event_type") == "decision":
        return decision_to_ocsf(written)
    if written.get("event_type") == "alert":
        return alert_to_ocsf(written)
    return system_to_ocsf(written)


def decision_to_ocsf(event: dict[str, Any]) -> Ocsf:
    """A decision as API Activity: the MCP method is the API operation, the verdict the action and disposition."""
    rpc, http = event.get("jsonrpc") or {}, event.get("http") or {}
    method = rpc.get("method")
    operation = method or http.get("method") or rpc.get("kind") or "unknown"
    activity = METHOD_ACTIVITY.get(method or "") or HTTP_ACTIVITY.get(http.get("method", "")) or 99
    blocked = event.get("verdict") in ("deny", "quarantine")
    action_id, action, disposition_id, disposition = VERDICTS.get(event.get("verdict", ""), (99, "Other", 99, "Other"))
    would_deny = event.get("would_deny") or {}
    if would_deny:
        disposition_id, disposition = SHADOWED
    out = envelope(event, API_ACTIVITY, activity, FAILURE if blocked else SUCCESS, severity_id(event.get("severity")),
                   event.get("reason") or (f"shadow: would deny {operation}: {would_deny.get('reason')}" if would_deny
                                           else f"{event.get('verdict')} {operation}"),
                   activity_name=None if activity != 99 else operation, profiles=("security_control",))
    out["api"] = compact(operation=operation, service=compact(name=event.get("upstream")),
                         request={"uid": event.get("call_id") or event["event_id"]},
                         response=compact(code=event.get("error_code"), error=event.get("check"),
                                          error_message=event.get("reason")) if blocked else None)
    out["actor"] = actor(event.get("principal"), event.get("agent"), event.get("client_key"),
                         event.get("session_id"), event.get("credential_sha256")) or {"app_name": "unknown"}
    out["src_endpoint"] = endpoint(event.get("client_address")) or {"name": event.get("transport") or "unknown"}
    out.update(compact(
        dst_endpoint=compact(svc_name=event.get("upstream")),
        resources=[{"name": event["target"], "type": RESOURCE_TYPES.get((method or "").split("/")[0], "target")}]
        if event.get("target") else None,
        http_request=compact(http_method=http.get("method")),
        http_response=compact(code=http.get("status")) if http.get("status") is not None else None,
        action_id=action_id, action=action, disposition_id=disposition_id, disposition=disposition,
        policy=_policy(event, would_deny),
        attacks=[attack(t) for t in dict.fromkeys(f["atlas"] for f in event.get("findings", []) if f.get("atlas"))],
        status_code=str(event["error_code"]) if event.get("error_code") is not None else None,
        status_detail=event.get("reason")))
    return out


def _policy(event: dict[str, Any], would_deny: dict[str, Any]) -> Ocsf | None:
    """The rules that decided; in shadow, with none applied, the rules that would have refused (not applied)."""
    if event.get("rule_ids"):
        return compact(name=",".join(event["rule_ids"]), version=event.get("policy_version"), is_applied=True)
    if would_deny.get("rule_ids"):
        return compact(name=",".join(would_deny["rule_ids"]), version=event.get("policy_version"), is_applied=False)
    return None


def alert_to_ocsf(event: dict[str, Any]) -> Ocsf:
    """An alert as a new Detection Finding: the detection is the analytic, its ATLAS technique the attack, the
    decision events that triggered it the related events."""
    detection = event.get("detection") or "unknown"
    statistical = detection in STATISTICAL
    out = envelope(event, DETECTION_FINDING, 1, 1, severity_id(event.get("severity")), event.get("summary"))
    out["is_alert"] = True
    out["finding_info"] = compact(
        uid=event["event_id"], title=event.get("summary") or detection, types=[detection],
        analytic={"uid": detection, "name": detection, "type_id": 3 if statistical else 2,
                  "type": "Statistical" if statistical else "Behavioral"},
        attacks=[attack(event["atlas"])] if event.get("atlas") else None,
        related_events=[{"uid": uid} for uid in event.get("event_ids", [])], created_time=out["time"])
    evidence = compact(actor=actor(event.get("principal"), event.get("agent"), event.get("client_key"),
                                   event.get("session_id")), dst_endpoint=compact(svc_name=event.get("upstream")))
    out.update(compact(evidences=[evidence] if evidence else None,
                       resources=[{"name": event["tool"], "type": "tool"}] if event.get("tool") else None))
    return out
