"""What every OCSF view of a native event shares: the class, time, severity, metadata and the native event."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from proxy import __version__

OCSF_VERSION = "1.5.0"  # the first OCSF version whose attack object covers MITRE ATLAS
PRODUCT = {"name": "Drawbridge", "vendor_name": "Drawbridge", "version": __version__}
SEVERITY_IDS = {"SEV-1": 5, "SEV-2": 4, "SEV-3": 3, "SEV-4": 2, "none": 1}
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
INFORMATIONAL, LOW, MEDIUM, HIGH = 1, 2, 3, 4
SUCCESS, FAILURE, OTHER = 1, 2, 99
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Ocsf = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OcsfClass:
    """One OCSF event class: its ids, names, and the captions of the activities and statuses used."""

    uid: int
    name: str
    category_uid: int
    category_name: str
    activities: dict[int, str]
    statuses: dict[int, str]


def epoch_ms(timestamp: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 UTC timestamp (exact, no float rounding)."""
    return (datetime.fromisoformat(timestamp) - _EPOCH) // timedelta(milliseconds=1)


def severity_id(label: Any, default: int = INFORMATIONAL) -> int:
    """OCSF severity_id of a SEV tier (SEV-1 → Critical … SEV-4 → Low, none → Informational)."""
    return SEVERITY_IDS.get(label, default) if isinstance(label, str) else default


def compact(**fields: Any) -> Ocsf:
    """The fields that have a value (OCSF leaves unknown attributes out rather than null)."""
    return {k: v for k, v in fields.items() if v is not None and v != {} and v != []}


def attack(technique: str) -> Ocsf:
    """An OCSF attack for a MITRE ATLAS (or ATT&CK) id; `AML.T0051.001` is a sub-technique of `AML.T0051`."""
    parts = technique.split(".")
    if len(parts) == 3:
        return {"technique": {"uid": ".".join(parts[:2])}, "sub_technique": {"uid": technique}}
    return {"technique": {"uid": technique}}


def actor(principal: Any = None, agent: Any = None, session: Any = None, session_alt: Any = None,
          credential: Any = None) -> Ocsf:
    """Who acted: the principal as the user, the agent as the app, the conversation as the session."""
    alt = session_alt if session not in (None, session_alt) else None
    return compact(user=compact(name=principal), app_name=agent,
                   session=compact(uid=session or session_alt, uid_alt=alt, credential_uid=credential))


def endpoint(address: Any) -> Ocsf:
    """A network endpoint from `ip:port` or `ip` (anything else becomes its name)."""
    if not isinstance(address, str):
        return {}
    host, sep, port = address.rpartition(":")
    for ip, rest in ((host, port), (address, "")) if sep else ((address, ""),):
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            continue
        return compact(ip=ip.strip("[]"), port=int(rest) if rest.isdigit() else None)
    return {"name": address}


def envelope(event: dict[str, Any], cls: OcsfClass, activity_id: int, status_id: int | None, severity: int,
             message: str | None, *, activity_name: str | None = None, profiles: tuple[str, ...] = ()) -> Ocsf:
    """The base attributes: class, activity, type_uid, severity, status, time, metadata; the native event in
    `unmapped`."""
    activity = activity_name or cls.activities.get(activity_id, "Other")
    metadata = compact(version=OCSF_VERSION, product=PRODUCT, uid=event.get("event_id"),
                       original_time=event.get("timestamp"), correlation_uid=event.get("call_id"),
                       sequence=event.get("seq"), profiles=list(profiles))
    out = compact(class_uid=cls.uid, class_name=cls.name, category_uid=cls.category_uid,
                  category_name=cls.category_name, activity_id=activity_id, activity_name=activity,
                  type_uid=cls.uid * 100 + activity_id, type_name=f"{cls.name}: {activity}",
                  severity_id=severity, severity=SEVERITY_NAMES.get(severity), time=epoch_ms(event["timestamp"]),
                  metadata=metadata, message=message, unmapped=event)
    if status_id is not None:
        out["status_id"], out["status"] = status_id, cls.statuses.get(status_id, "Other")
    return out
