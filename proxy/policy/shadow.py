"""`settings.shadow`: which exchanges run in shadow (dry run), where a guardrail's refusal is audited as
`would_deny` and the message goes through (`proxy.shadow` decides which refusals may be waived)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from proxy.globs import cached_globs

MAX_GLOBS = 256
Glob = Annotated[str, Field(min_length=1, max_length=256)]
GlobsInput = Glob | Annotated[list[Glob], Field(max_length=MAX_GLOBS)]  # one glob, or a list of them


class ShadowSettings(BaseModel):
    """The whole policy set (`all`), some upstream routes, or some subjects (principals, agents) in shadow.

    Each list holds globs (`*` matches any run of characters); an exchange is shadowed when any list
    matches it. Empty lists and `all: false` (the default) leave every refusal enforced.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: bool = False
    upstreams: tuple[str, ...] = Field(default=(), max_length=MAX_GLOBS)
    principals: tuple[str, ...] = Field(default=(), max_length=MAX_GLOBS)
    agents: tuple[str, ...] = Field(default=(), max_length=MAX_GLOBS)

    @field_validator("upstreams", "principals", "agents", mode="before", json_schema_input_type=GlobsInput)
    @classmethod
    def _one_glob_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("upstreams", "principals", "agents")
    @classmethod
    def _real_globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for glob in value:
            if not glob or len(glob) > 256 or not glob.isprintable():
                raise ValueError(f"a shadow glob must be 1 to 256 printable characters, got {glob[:40]!r}")
        return value

    @property
    def active(self) -> bool:
        """Does anything run in shadow? (False: every refusal is enforced, nothing else is asked.)"""
        return self.all or bool(self.upstreams or self.principals or self.agents)

    def covers(self, upstream: str, principal: str, agent: str | None) -> bool:
        """Is an exchange of this route and subject in shadow?"""
        if self.all:
            return True
        return bool((self.upstreams and cached_globs(self.upstreams).fullmatch(upstream))
                    or (self.principals and cached_globs(self.principals).fullmatch(principal))
                    or (self.agents and agent is not None and cached_globs(self.agents).fullmatch(agent)))
