"""The policy file format: strict, frozen pydantic models (unknown keys are errors)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proxy.content.settings import ContentSettings, EgressSettings

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

    @field_validator("principals", "agents", "upstreams", "methods", "names", mode="before")
    @classmethod
    def _one_glob_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class AutoContainmentRule(_Strict):
    """Quarantine automatically when a decision carries a matching finding (no human in the loop)."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    detectors: Globs = Field(min_length=1)  # finding detector ids, e.g. "canary.*", "secrets.*"
    min_severity: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"] = "SEV-1"
    subject: Literal["session", "principal", "agent"] = "principal"
    mode: Literal["block", "read-only", "no-egress", "monitor"] = "block"
    ttl: str | None = Field(default=None, pattern=r"^(?:\d{1,6}[smhdw])+$")  # None: until released

    @field_validator("detectors", mode="before")
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


class PolicyFile(_Strict):
    """One YAML policy file."""

    version: Literal[1] = 1
    description: str = ""
    settings: Settings | None = None
    rules: tuple[Rule, ...] = ()


class CaseRequest(_Strict):
    """A request in a policy test case."""

    principal: str = "anonymous"
    agent: str | None = None
    upstream: str = "default"
    direction: Literal["to_server", "to_client"] = "to_server"
    method: str
    name: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)


class CaseExpectation(_Strict):
    verdict: Literal["allow", "deny"]
    rule_ids: tuple[str, ...] | None = None


class PolicyCase(_Strict):
    name: str
    request: CaseRequest
    expect: CaseExpectation


class PolicyTestFile(_Strict):
    """A `*.test.yaml` file of cases kept beside the policies."""

    cases: tuple[PolicyCase, ...] = Field(min_length=1)
