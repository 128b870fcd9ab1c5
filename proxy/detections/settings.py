"""`settings.detections` in a policy: every detection on by default, each tunable or turned off."""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from proxy.containment.durations import parse_duration

DetectionId = Literal["sensitive_first_use", "sequence_deviation", "velocity", "new_egress_destination",
                      "result_exfiltration", "result_injection", "credential_misuse"]
DURATION = r"^(?:\d{1,6}[smhdw])+$"
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
DEFAULT_SENSITIVE = ("*delete*", "*exec*", "*shell*", "*send_email*", "*email.send*", "iam.*", "*grant*",
                     "http_post", "*.post")


@functools.lru_cache(maxsize=64)
def _seconds(value: str) -> int:
    return parse_duration(value)


class DetectionSettings(BaseModel):
    """Defaults are the documented ones (README, "Behavioural detections")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disabled: tuple[DetectionId, ...] = ()  # detections turned off (not `off`: YAML reads that key as false)
    sensitive_tools: tuple[str, ...] = DEFAULT_SENSITIVE
    first_use_window: str = Field(default="24h", pattern=DURATION)
    baselines: dict[str, tuple[tuple[str, str], ...]] = Field(default_factory=dict)  # agent glob → transitions
    learning: str | None = Field(default="24h", pattern=DURATION)  # learn each agent's transitions; None: off
    baseline_retention: str = Field(default="30d", pattern=DURATION)
    velocity_per_minute: int = Field(default=120, ge=1)
    result_bytes_per_minute: int = Field(default=10 * 1024 * 1024, ge=1024)
    destination_memory: str = Field(default="30d", pattern=DURATION)  # how long a reached destination is known
    exfiltration_memory: str = Field(default="1h", pattern=DURATION)  # how long a result's fingerprint is kept
    credential_window: str = Field(default="10m", pattern=DURATION)
    principal_hours: dict[str, str] = Field(default_factory=dict)  # principal → "HH:MM-HH:MM" (UTC)

    @field_validator("principal_hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for principal, hours in value.items():
            if not HOURS.fullmatch(hours):
                raise ValueError(f"principal_hours[{principal!r}] must be HH:MM-HH:MM (UTC), got {hours!r}")
        return value

    @field_validator("baselines", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for glob, pairs in value.items():
                if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                    raise ValueError(f"baselines[{glob!r}] must be a list of [from_tool, to_tool] pairs")
        return value

    def on(self, detection: str) -> bool:
        return detection not in self.disabled

    def seconds(self, name: str) -> int:
        return _seconds(getattr(self, name))

    def within_hours(self, principal: str, minute_of_day: int) -> bool | None:
        """True/False when hours are declared for `principal`, None when they are not."""
        hours = self.principal_hours.get(principal)
        if hours is None:
            return None
        match = HOURS.fullmatch(hours)
        assert match is not None  # validated at load
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        return start <= minute_of_day < end if start <= end else minute_of_day >= start or minute_of_day < end
