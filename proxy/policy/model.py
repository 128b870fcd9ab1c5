"""The policy file format: strict, frozen pydantic models (unknown keys are errors)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proxy.content.settings import ContentSettings, EgressSettings
from proxy.detections.settings import DetectionSettings
from proxy.policy.shadow import ShadowSettings

RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArgumentCondition(_Strict):
    """A condition on one tool/prompt argument, addressed by a dotted path (`a.b.0.c`).

    Exactly one test is given. A missing argument fails every test except `present: false`.
    """

    path: str = Field(min_length=1, max_length=256)
    glob: str | None = None
    regex: str | None = Field(default=None, max_length=1024)
    equals: Any = None
    one_of: tuple[Any, ...] | None = Field(default=None, alias="in")
    present: bool | None = None
    max_length: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one_test(self) -> ArgumentCondition:
        given = [k for k in ("glob", "regex", "one_of", "present", "max_length") if getattr(self, k) is not None]
        if "equals" in self.model_fields_set:
            given.append("equals")
        if len(given) != 1:
            raise ValueError("an argument condition needs exactly one of glob, regex, equals, in, present, max_length")
        return self


Globs = tuple[str, ...]


class Rule(_Strict):
    """One permit or forbid rule. Every matcher is a list of globs; an omitted matcher matches anything."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    effect: Literal["permit", "forbid"]
    description: str = ""
    direction: Literal["to_server", "to_client"] = "to_server"
    principals: Globs = ("*",)
    agents: Globs = ("*",)
    upstreams: Globs = ("*",)
    methods: Globs = Field(min_length=1)
    names: Globs | None = None
    arguments: tuple[ArgumentCondition, ...] = ()
    severity: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"] | None = None
    approval: Literal["required"] | None = None  # permit only once a human approved this very call

    @field_validator("principals", "agents", "upstreams", "methods", "names", mode="before")
    @classmethod
    def _one_glob_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _approval_on_permits(self) -> Rule:
        if self.approval is not None and self.effect != "permit":
            raise ValueError("approval: required belongs on a permit rule (a forbid is never approved)")
        return self


class AutoContainmentRule(_Strict):
    """Quarantine automatically when a decision carries a matching finding (no human in the loop)."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    detectors: Globs = ()  # finding detector ids, e.g. "canary.*", "secrets.*"
    detections: Globs = ()  # alert detection ids, e.g. "result_exfiltration", "credential_*"
    min_severity: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"] = "SEV-1"
    subject: Literal["session", "principal", "agent"] = "principal"
    mode: Literal["block", "read-only", "no-egress", "approval", "monitor"] = "block"
    ttl: str | None = Field(default=None, pattern=r"^(?:\d{1,6}[smhdw])+$")  # None: until released

    @field_validator("detectors", "detections", mode="before")
    @classmethod
    def _one_glob_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _matches_something(self) -> AutoContainmentRule:
        if not self.detectors and not self.detections:
            raise ValueError("an auto_containment rule needs detectors (findings) or detections (alerts)")
        return self


class RateLimitRule(_Strict):
    """At most `calls` tool calls per `period_seconds` for each principal, agent or route (`per`): one token
    bucket per value, kept in the shared store so every replica draws from it."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    per: Literal["principal", "agent", "upstream"]
    calls: int = Field(ge=1, le=1_000_000)
    period_seconds: float = Field(gt=0, le=86_400)
    tools: Globs = ("*",)


class ApprovalSettings(_Strict):
    """Human approval of held calls: how long a call waits, who may decide, and whether a modern-era agent
    that supports elicitation is asked in its own UI."""

    timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    approvers: Globs = ("*",)  # admin actor labels allowed to approve or deny
    in_band: bool = True  # 2026-07-28 clients with elicitation get `input_required` (needs approvals.state_key)

    @field_validator("approvers", mode="before")
    @classmethod
    def _one_glob_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Settings(_Strict):
    """Policy-wide switches. Each may be set by at most one file of a set."""

    anonymous: bool = False
    unknown_methods: Literal["deny", "policy"] = "deny"
    content: ContentSettings = Field(default_factory=ContentSettings)
    egress: EgressSettings = Field(default_factory=EgressSettings)
    canary_tools: Globs = ()  # honeytokens: listed like any tool; any call is a SEV-1 finding
    auto_containment: tuple[AutoContainmentRule, ...] = ()
    detections: DetectionSettings = Field(default_factory=DetectionSettings)
    rate_limits: tuple[RateLimitRule, ...] = ()
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)  # dry run: refusals audited, not enforced
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)

    @field_validator("rate_limits")
    @classmethod
    def _unique_limit_ids(cls, value: tuple[RateLimitRule, ...]) -> tuple[RateLimitRule, ...]:
        ids = [rule.id for rule in value]
        if len(ids) != len(set(ids)):
            raise ValueError("rate limit ids must be unique")
        return value


class PolicyFile(_Strict):
    """One YAML policy file."""

    version: Literal[1] = 1
    description: str = ""
    settings: Settings | None = None
    rules: tuple[Rule, ...] = ()


class CaseRequest(_Strict):
    """The message a policy test case sends through the full pipeline.

    `kind: response` is an answer to a request for `method` (made with `request_params`); `direction`
    says who answers: `to_client` is the upstream's answer to the agent (a listing, a tool result),
    `to_server` the agent's answer to a server request (sampling, elicitation, roots). An answer is
    paired with its request unless `unsolicited` is set.
    """

    principal: str = "anonymous"
    agent: str | None = None
    upstream: str = "default"
    session: str | None = None  # the handshake-era session id (the client key too)
    era: Literal["handshake", "modern"] = "handshake"
    transport: Literal["http", "stdio"] = "http"
    direction: Literal["to_server", "to_client"] = "to_server"
    kind: Literal["request", "notification", "response"] = "request"
    method: str
    name: str | None = None
    arguments: dict[str, Any] | None = None
    params: dict[str, Any] | None = None  # the whole params object, instead of name/arguments
    request_params: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    unsolicited: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> CaseRequest:
        if self.params is not None and (self.name is not None or self.arguments is not None):
            raise ValueError("give either params or name/arguments")
        if self.kind != "response" and (self.result is not None or self.unsolicited):
            raise ValueError("result and unsolicited belong to kind: response")
        return self


class CaseQuarantine(_Strict):
    kind: Literal["principal", "agent", "session"]
    subject: str
    mode: Literal["block", "read-only", "no-egress", "approval", "monitor"] = "block"


class CaseDenyTools(_Strict):
    kind: Literal["principal", "agent"]
    subject: str
    tools: Globs = Field(min_length=1)


class CaseEgressDeny(_Strict):
    host: str = Field(min_length=1)
    agent: str | None = None
    principal: str | None = None


class CaseState(_Strict):
    """Shared state in force before the case runs, as responders and listings would have left it."""

    quarantines: tuple[CaseQuarantine, ...] = ()
    deny_tools: tuple[CaseDenyTools, ...] = ()
    egress_denies: tuple[CaseEgressDeny, ...] = ()
    listed_tools: dict[str, tuple[dict[str, Any], ...]] = Field(default_factory=dict)  # upstream → tools/list items


class CaseContained(_Strict):
    """Automated containment quarantined the case's own principal, agent or session."""

    kind: Literal["principal", "agent", "session"]
    mode: Literal["block", "read-only", "no-egress", "approval", "monitor"] = "block"


class CaseExpectation(_Strict):
    """What the pipeline must decide. Omitted fields are not checked."""

    verdict: Literal["allow", "rewrite", "deny", "quarantine"]
    rule_ids: tuple[str, ...] | None = None  # exactly these (any order)
    findings: tuple[str, ...] | None = None  # each glob matches a finding's detector; [] means no findings
    error_code: int | None = None  # the JSON-RPC error code of a refusal
    check: str | None = None  # the check that decided
    listed: tuple[str, ...] | None = None  # a listing answer: the names the agent receives, in order
    contained: CaseContained | None = None
    would_deny: str | None = None  # shadow mode (settings.shadow) let this check's refusal through


class PolicyCase(_Strict):
    name: str
    state: CaseState = Field(default_factory=CaseState)
    request: CaseRequest
    expect: CaseExpectation


class PolicyTestFile(_Strict):
    """A `*.test.yaml` file of cases kept beside the policies."""

    cases: tuple[PolicyCase, ...] = Field(min_length=1)
