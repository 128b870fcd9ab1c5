"""The OCSF view of audit events (proxy.audit.ocsf): what a SIEM that speaks OCSF 1.5.0 receives, checked
against JSON Schemas generated from the official OCSF 1.5.0 export (ocsf-json-schema)."""

from __future__ import annotations

import calendar
import re
import time
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from proxy.audit import decision_event, system_event
from proxy.audit.ocsf import to_ocsf
from proxy.audit.ocsf_base import OCSF_VERSION
from proxy.decision import Decision, Finding
from proxy.exchange import Exchange
from proxy.testing import tool_call
from proxy.types import Direction, MessageKind, Severity, Verdict
from tests.audit.real_events import SAMPLES, pipeline_decisions, runtime_lines, sample, webhook_failure

README = Path(__file__).resolve().parents[2] / "README.md"
OCSF = OcsfJsonSchemaEmbedded(get_ocsf_schema(OCSF_VERSION))
CLASS_OF = {  # the class each native event type maps to (README, "OCSF mapping")
    "decision": 6003, "alert": 2004, "policy_reload": 3004, "proxy_started": 6002, "proxy_stopped": 6002,
    "stdio_start": 6002, "stdio_exit": 6002, "containment_action": 7001, "containment_action_failed": 7001,
    "containment_kill_failed": 7001, "containment_broadcast_failed": 7001, "containment_tokens_revoked": 7001,
    "containment_revocation_failed": 7001, "containment_side_effect_failed": 6008, "evidence_snapshot_failed": 6008,
    "containment_webhook_failed": 6008, "pins_action_failed": 6008, "pin_change_pending": 3004,
    "pin_approved": 3004, "pin_rejected": 3004, "pin_pending_resolved": 3004, "audit_checkpoint": 1008,
    "audit_gap": 1008, "incident_export": 0, "console_access": 0, "approval": 0,
}


@cache
def _validator(class_uid: int, profiles: tuple[str, ...]) -> Draft202012Validator:
    name = "base_event" if class_uid == 0 else OCSF.lookup_class_name_from_uid(class_uid)
    return Draft202012Validator(OCSF.get_class_schema(name, list(profiles)))


def ocsf_problems(event: dict[str, Any]) -> list[str]:
    """Why an OCSF event does not fit its class (with the profiles it declares); empty when it does."""
    validator = _validator(event["class_uid"], tuple(event["metadata"].get("profiles", [])))
    return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(event))


def mapped(event: dict[str, Any]) -> dict[str, Any]:
    """The OCSF view of an event, after checking it is valid OCSF and keeps the native event whole."""
    out = to_ocsf(event)
    assert ocsf_problems(out) == [], (event["event_type"], ocsf_problems(out))
    assert out["unmapped"] == orjson.loads(orjson.dumps(event))
    assert out["type_uid"] == out["class_uid"] * 100 + out["activity_id"]
    assert out["metadata"]["version"] == "1.5.0" and out["metadata"]["product"]["name"] == "Drawbridge"
    assert out["metadata"]["uid"] == event["event_id"]
    return out


@pytest.mark.anyio
async def test_decisions_are_api_activity_with_the_verdict_as_action_and_disposition() -> None:
    allow, default_deny, forbid, secret, unknown, note, listing, injection, redacted = map(
        mapped, await pipeline_decisions())
    assert allow["class_uid"] == 6003 and allow["category_uid"] == 6
    assert allow["api"]["operation"] == "tools/call" and allow["activity_id"] == 99
    assert allow["api"]["request"]["uid"] == allow["unmapped"]["call_id"] == allow["metadata"]["correlation_uid"]
    assert allow["api"]["service"] == {"name": "default"} and allow["resources"] == [{"name": "get_weather",
                                                                                      "type": "tool"}]
    assert allow["actor"] == {"user": {"name": "alice"}, "app_name": "claude",
                              "session": {"uid": "s-1", "credential_uid": allow["unmapped"]["credential_sha256"]}}
    assert allow["src_endpoint"] == {"ip": "10.0.0.5", "port": 51234}
    assert (allow["action"], allow["disposition"], allow["status"]) == ("Allowed", "Allowed", "Success")
    assert allow["policy"] == {"name": "read-only-tools", "version": allow["unmapped"]["policy_version"],
                               "is_applied": True}
    for refused in (default_deny, forbid, secret, unknown, injection):
        assert (refused["action"], refused["disposition"], refused["status"]) == ("Denied", "Blocked", "Failure")
        assert refused["api"]["response"]["code"] == refused["unmapped"]["error_code"]
        assert refused["status_detail"] == refused["message"] == refused["unmapped"]["reason"]
    assert forbid["severity"] == "Medium" and default_deny["severity"] == "Low"
    assert {a["sub_technique"]["uid"] for a in injection["attacks"] if "sub_technique" in a} == {"AML.T0051.001"}
    assert {a["technique"]["uid"] for a in injection["attacks"]} == {"AML.T0051", "AML.T0053"}
    assert (listing["action"], listing["disposition"], listing["activity_name"]) == ("Modified", "Corrected", "Read")
    assert redacted["action"] == "Modified" and redacted["attacks"] == [{"technique": {"uid": "AML.T0055"}}]
    assert note["activity_id"] == 99 and note["activity_name"] == "notifications/initialized"


def _http_operation(kind: MessageKind, method: str | None, status: int | None) -> dict[str, Any]:
    ex = Exchange(direction=Direction.TO_SERVER, message={}, raw_size=0, upstream="default", principal="alice",
                  client_address="::1:40000", http_method=method, http_status=status, forced_kind=kind)
    return decision_event(ex, Decision(Verdict.ALLOW), "v")


def test_http_operations_and_invalid_input_map_to_api_activity() -> None:
    delete = mapped(_http_operation(MessageKind.HTTP, "DELETE", 200))
    assert (delete["activity_name"], delete["api"]["operation"]) == ("Delete", "DELETE")
    assert delete["http_request"] == {"http_method": "DELETE"} and delete["http_response"] == {"code": 200}
    assert delete["src_endpoint"] == {"ip": "::1", "port": 40000}
    invalid = mapped(_http_operation(MessageKind.INVALID, None, None))
    assert invalid["api"]["operation"] == "invalid" and invalid["activity_id"] == 99


@pytest.mark.parametrize(("tier", "severity_id", "name"), [
    (Severity.SEV1, 5, "Critical"), (Severity.SEV2, 4, "High"), (Severity.SEV3, 3, "Medium"),
    (Severity.SEV4, 2, "Low"), (Severity.NONE, 1, "Informational")])
def test_severity_tiers_map_to_ocsf_severity(tier: Severity, severity_id: int, name: str) -> None:
    findings = () if tier is Severity.NONE else (Finding("test.detector", tier, "seen"),)
    event = decision_event(tool_call("get_weather", {"city": "Oslo"}), Decision(Verdict.ALLOW, findings=findings), "v")
    assert event["severity"] == tier.label
    out = mapped(event)
    assert (out["severity_id"], out["severity"]) == (severity_id, name)
    assert mapped(system_event("alert", **{**SAMPLES["alert"], "severity": "SEV-1"}))["severity_id"] == 5


def test_time_is_epoch_milliseconds_of_the_native_timestamp() -> None:
    event = sample("proxy_stopped") | {"timestamp": "2025-03-04T05:06:07.089Z"}
    expected = calendar.timegm((2025, 3, 4, 5, 6, 7)) * 1000 + 89
    out = mapped(event)
    assert out["time"] == expected == 1741064767089
    assert out["metadata"]["original_time"] == "2025-03-04T05:06:07.089Z"
    now = mapped(sample("proxy_stopped"))["time"]
    assert abs(now - time.time() * 1000) < 60_000


def test_an_alert_is_a_new_detection_finding_with_its_atlas_technique_and_trigger_events() -> None:
    alert = sample("alert")
    out = mapped(alert)
    assert (out["class_uid"], out["category_uid"], out["activity_name"], out["status"]) == (2004, 2, "Create", "New")
    assert out["severity"] == "High" and out["is_alert"] is True and out["message"] == alert["summary"]
    info = out["finding_info"]
    assert info["uid"] == alert["event_id"] and info["title"] == alert["summary"]
    assert info["analytic"] == {"uid": "result_injection", "name": "result_injection", "type_id": 2,
                                "type": "Behavioral"}
    assert info["attacks"] == [{"technique": {"uid": "AML.T0051"}, "sub_technique": {"uid": "AML.T0051.001"}}]
    assert info["related_events"] == [{"uid": uid} for uid in alert["event_ids"]]
    assert out["evidences"] == [{"actor": {"user": {"name": "alice"}, "app_name": "claude",
                                           "session": {"uid": "s-1"}},
                                 "dst_endpoint": {"svc_name": "notes"}}]
    assert out["metadata"]["correlation_uid"] == alert["call_id"]
    velocity = mapped(system_event("alert", **{**SAMPLES["alert"], "detection": "velocity", "atlas": "AML.T0034"}))
    assert velocity["finding_info"]["analytic"]["type"] == "Statistical"


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_every_system_event_type_maps_to_valid_ocsf_of_its_class(event_type: str) -> None:
    assert mapped(sample(event_type))["class_uid"] == CLASS_OF[event_type]
    assert set(CLASS_OF) == set(SAMPLES) | {"decision"}


def test_containment_maps_to_remediation_with_the_actor_and_the_outcome() -> None:
    quarantine = mapped(system_event("containment_action", action="quarantine", actor="oncall", kind="principal",
                                     subject="bob", mode="block", reason="exfil", ticket=None, ttl_seconds=None,
                                     expires=None, evidence_id=None, evidence_sha256=None, previous_mode=None,
                                     killed_sessions=2, severity="SEV-1"))
    assert (quarantine["activity_name"], quarantine["status"], quarantine["severity"]) == ("Isolate", "Success",
                                                                                          "Critical")
    assert quarantine["actor"] == {"user": {"name": "oncall"}} and quarantine["message"] == "quarantine principal bob"
    egress = sample("containment_action")  # an egress_deny
    assert mapped(egress)["activity_name"] == "Harden" and mapped(egress)["message"] == "egress_deny evil.example"
    written = {**{k: v for k, v in egress.items() if k != "host"}, "event_host": "evil.example", "host": "proxy-7f9c"}
    assert mapped(written)["message"] == "egress_deny evil.example"  # `host` now names the writer
    partial = mapped(sample("containment_tokens_revoked"))
    assert (partial["activity_name"], partial["status"]) == ("Evict", "Partial")
    failed = mapped(sample("containment_action_failed"))
    assert (failed["status"], failed["severity"], failed["status_detail"]) == ("Failure", "High", "StoreUnavailable")


@pytest.mark.anyio
async def test_real_system_events_map_to_valid_ocsf(tmp_path: Path) -> None:
    reload_ok, reload_refused, stopped, checkpoint = map(mapped, runtime_lines(tmp_path))
    assert (reload_ok["status"], reload_refused["status"]) == ("Success", "Failure")
    assert reload_ok["entity"]["type"] == "Policy" and stopped["activity_name"] == "Stop"
    assert checkpoint["activity_name"] == "Checkpoint" and checkpoint["metadata"]["sequence"] == 4
    assert mapped(await webhook_failure())["class_uid"] == 6008


def test_the_ocsf_check_rejects_what_ocsf_does_not_allow() -> None:
    out = to_ocsf(sample("proxy_started"))
    assert ocsf_problems(out) == []
    broken = {**out, "severity_id": 7, "shade": "blue", "metadata": {"version": OCSF_VERSION}}
    assert ocsf_problems(broken) == ["$.metadata: 'product' is a required property",
                                     "$.severity_id: 7 is not one of [3, 6, 0, 1, 2, 99, 4, 5]",
                                     "$: Additional properties are not allowed ('shade' was unexpected)"]


def test_an_unknown_event_type_is_a_base_event() -> None:
    out = mapped(system_event("something_new", detail="x"))
    assert (out["class_uid"], out["category_uid"], out["type_uid"], out["activity_name"]) == (0, 0, 99,
                                                                                              "something_new")


def test_the_readme_class_table_matches_the_mapping() -> None:
    section = README.read_text().split("### OCSF mapping", 1)[1].split("Every class:", 1)[0]
    documented: dict[str, int] = {}
    for row in section.splitlines():
        cells = row.split(" | ")
        if row.startswith("| `") and len(cells) == 3:
            class_uid = int(re.findall(r"\((\d+)\)", cells[1])[0])
            documented.update(dict.fromkeys(re.findall(r"`([a-z_]+)`", cells[0]), class_uid))
    assert documented == CLASS_OF


def test_a_refusal_let_through_by_shadow_mode_is_allowed_and_detected() -> None:
    waived = {"check": "policy", "reason": "forbidden by policy rule no-deletes", "rule_ids": ["no-deletes"],
              "error_code": -32050}
    event = decision_event(tool_call("delete_note", {"note_id": 1}), Decision(Verdict.ALLOW, would_deny=waived),
                           "sha256:1")
    out = mapped(event)
    assert (out["action"], out["disposition"], out["disposition_id"], out["status"]) == (
        "Allowed", "Detected", 15, "Success")
    assert out["policy"] == {"name": "no-deletes", "version": "sha256:1", "is_applied": False}
    assert out["message"] == "shadow: would deny tools/call: forbidden by policy rule no-deletes"
