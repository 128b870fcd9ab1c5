"""Content-inspection and egress settings: part of the policy's `settings` (strict, frozen).

    settings:
      content:
        surfaces:
          tool_result: {injection: block, secrets: {action: redact, min_severity: SEV-2}}
      egress:
        egress_tools: ["fetch", "http_*"]
        allow:
          - {tools: ["fetch"], hosts: ["*.example.com", "api.github.com"]}

Whatever a surface does not say keeps the safe default of `DEFAULT_ACTIONS`.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from proxy.content.model import FAMILIES
from proxy.types import Severity

Action = Literal["off", "detect", "strip", "redact", "block"]
SeverityLabel = Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
Surface = Literal["tool_description", "tool_arguments", "tool_result", "resource", "prompt", "sampling",
                  "sampling_result", "elicitation_result", "roots", "text"]
Family = Literal["unicode", "escapes", "injection", "encoded", "secrets", "exfil"]
SURFACES: tuple[str, ...] = get_args(Surface)
ALL_FAMILIES = frozenset(FAMILIES)
Globs = tuple[str, ...]

_RESULT: dict[str, Action] = {"unicode": "strip", "escapes": "strip", "injection": "block", "encoded": "detect",
                              "secrets": "redact", "exfil": "strip"}
_MESSAGES: dict[str, Action] = {**_RESULT, "injection": "detect"}
# What the agent sends back to a server that asked (an LLM completion, a user's answers, its roots): data
# leaving for the server, like tool arguments, so a credential in it is refused.
_AGENT_ANSWER: dict[str, Action] = {"unicode": "detect", "escapes": "detect", "injection": "detect",
                                    "encoded": "detect", "secrets": "block", "exfil": "detect"}
DEFAULT_ACTIONS: dict[str, dict[str, Action]] = {
    "tool_description": {"unicode": "strip", "escapes": "strip", "injection": "block", "encoded": "detect",
                         "secrets": "detect", "exfil": "strip"},
    "tool_arguments": {"unicode": "detect", "escapes": "detect", "injection": "off", "encoded": "detect",
                       "secrets": "block", "exfil": "off"},
    "tool_result": _RESULT,
    "resource": _RESULT,
    "prompt": _MESSAGES,
    "sampling": _MESSAGES,
    "sampling_result": _AGENT_ANSWER,
    "elicitation_result": _AGENT_ANSWER,
    "roots": _AGENT_ANSWER,
    "text": dict.fromkeys(FAMILIES, "detect"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorSetting(_Strict):
    """What one detector family does on one surface. Findings less severe than `min_severity` are ignored."""

    action: Action = "detect"
    min_severity: SeverityLabel = "SEV-4"

    @property
    def threshold(self) -> Severity:
        return Severity(int(self.min_severity[-1]))


class ContentSettings(_Strict):
    """Per surface, per detector family: an action (a bare string is shorthand for `{action: …}`)."""

    enabled: bool = True
    surfaces: dict[Surface, dict[Family, DetectorSetting]] = Field(default_factory=dict)
    _table: dict[tuple[str, str], DetectorSetting] = PrivateAttr(default_factory=dict)
    _families: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)

    @field_validator("surfaces", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {surface: {family: {"action": rule} if isinstance(rule, str) else rule
                          for family, rule in (rules or {}).items()} if isinstance(rules, dict) else rules
                for surface, rules in value.items()}

    def model_post_init(self, context: Any, /) -> None:
        for surface in SURFACES:
            for family in FAMILIES:
                given = self.surfaces.get(surface, {}).get(family)  # type: ignore[call-overload]
                self._table[(surface, family)] = given or DetectorSetting(action=DEFAULT_ACTIONS[surface][family])
            self._families[surface] = frozenset(f for f in FAMILIES if self._table[(surface, f)].action != "off")

    def rule(self, surface: str, family: str) -> DetectorSetting:
        return self._table.get((surface, family)) or DetectorSetting(action="detect")

    def families(self, surface: str) -> frozenset[str]:
        """The detector families switched on for a surface."""
        if not self.enabled:
            return frozenset()
        return self._families.get(surface, ALL_FAMILIES)


class DestinationArguments(_Strict):
    """Argument paths (dotted; `*` matches any key or index) that hold destinations for some tools."""

    tools: Globs = Field(min_length=1)
    paths: tuple[str, ...] = Field(min_length=1)


class EgressAllow(_Strict):
    """Destinations a principal/agent may reach through some tools.

    `hosts`: host globs (IDNs compared in punycode), IP addresses, CIDRs, or e-mail globs (`*@example.com`).
    Loopback, private, link-local and metadata addresses are only allowed when listed literally here
    (an address, a CIDR or an exact host name), never through a wildcard.
    """

    principals: Globs = ("*",)
    agents: Globs = ("*",)
    tools: Globs = ("*",)
    upstreams: Globs = ("*",)
    hosts: tuple[str, ...] = Field(min_length=1)


class EgressSettings(_Strict):
    """Where tool calls may send things. Tools matching `egress_tools` are deny-by-default."""

    enabled: bool = True
    action: Literal["detect", "block"] = "block"
    egress_tools: Globs = ()
    destination_arguments: tuple[DestinationArguments, ...] = ()
    destination_keys: tuple[str, ...] = ("url", "uri", "urls", "href", "link", "endpoint", "webhook", "host",
                                         "hostname", "domain", "server", "address", "to", "cc", "bcc",
                                         "recipient", "recipients", "email", "target", "callback")
    scan_all_arguments: bool = True
    allow: tuple[EgressAllow, ...] = ()

    @model_validator(mode="after")
    def _hosts_are_not_empty(self) -> EgressSettings:
        for rule in self.allow:
            if any(not h.strip() for h in rule.hosts):
                raise ValueError("egress allow hosts must not be empty strings")
        return self
