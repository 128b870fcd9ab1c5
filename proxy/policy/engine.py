"""Compiled policy and its evaluation: forbid overrides permit, nothing permitted means denied."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import regex
from cachetools import LRUCache

from proxy.globs import compile_globs
from proxy.policy.model import ArgumentCondition, Rule, Settings

DEFAULT_DENY = "default-deny"
_MISSING = object()
_REGEX_TIMEOUT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Query:
    """What policy is asked about. `arguments` is None when unknown (deciding what to list)."""

    direction: str
    principal: str
    agent: str | None
    upstream: str
    method: str
    name: str | None = None
    arguments: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    rule_ids: tuple[str, ...]
    reason: str
    approval: tuple[str, ...] = ()  # permitting rules that hold the call for a human's approval


def _globs(patterns: tuple[str, ...] | None) -> re.Pattern[str] | None:
    if patterns is None or "*" in patterns:
        return None
    return compile_globs(patterns)


class CompiledRule:
    """A rule with its globs compiled once."""

    __slots__ = ("agents", "conditions", "methods", "names", "principals", "rule", "upstreams")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.principals = _globs(rule.principals)
        self.agents = _globs(rule.agents)
        self.upstreams = _globs(rule.upstreams)
        self.methods = _globs(rule.methods)
        self.names = _globs(rule.names)
        self.conditions = tuple(_compile_condition(c) for c in rule.arguments)

    def matches_target(self, q: Query) -> bool:
        """Everything but the argument conditions."""
        if self.methods is not None and not self.methods.fullmatch(q.method):
            return False
        if self.principals is not None and not self.principals.fullmatch(q.principal):
            return False
        if self.agents is not None and (q.agent is None or not self.agents.fullmatch(q.agent)):
            return False
        if self.upstreams is not None and not self.upstreams.fullmatch(q.upstream):
            return False
        if self.rule.names is not None and self.names is not None:
            return q.name is not None and self.names.fullmatch(q.name) is not None
        return not (self.rule.names is not None and q.name is None)

    def arguments_hold(self, arguments: dict[str, Any]) -> bool:
        return all(cond(arguments) for cond in self.conditions)


def _lookup(arguments: dict[str, Any], path: str) -> Any:
    node: Any = arguments
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _compile_condition(cond: ArgumentCondition) -> Any:
    path = cond.path
    if cond.present is not None:
        want = cond.present
        return lambda args: (_lookup(args, path) is not _MISSING) is want
    if cond.glob is not None:
        pattern = compile_globs([cond.glob])
        return lambda args: isinstance(v := _lookup(args, path), str) and pattern.fullmatch(v) is not None
    if cond.regex is not None:
        compiled = regex.compile(cond.regex)
        return lambda args: isinstance(v := _lookup(args, path), str) and compiled.search(
            v, timeout=_REGEX_TIMEOUT_SECONDS) is not None
    if cond.one_of is not None:
        options = cond.one_of
        return lambda args: (v := _lookup(args, path)) is not _MISSING and any(_json_equal(v, o) for o in options)
    if cond.max_length is not None:
        limit = cond.max_length
        return lambda args: isinstance(v := _lookup(args, path), (str, list, dict)) and len(v) <= limit
    expected = cond.equals
    return lambda args: _json_equal(_lookup(args, path), expected)


def _json_equal(value: Any, expected: Any) -> bool:
    """Equality as JSON sees it: booleans never equal numbers (Python's True == 1 does not hold here)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


class Policy:
    """An immutable, compiled policy set. Evaluation is pure; target matching is cached."""

    def __init__(self, rules: tuple[Rule, ...], settings: Settings, version: str) -> None:
        self.rules = rules
        self.settings = settings
        self.version = version
        compiled = [CompiledRule(r) for r in rules]
        self._forbids = [c for c in compiled if c.rule.effect == "forbid"]
        self._permits = [c for c in compiled if c.rule.effect == "permit"]
        self.holds_for_approval = any(r.approval for r in rules)  # False: the approval check costs nothing
        self._cache: LRUCache[tuple[Any, ...], tuple[list[CompiledRule], list[CompiledRule]]] = LRUCache(8192)

    def _candidates(self, q: Query) -> tuple[list[CompiledRule], list[CompiledRule]]:
        key = (q.direction, q.principal, q.agent, q.upstream, q.method, q.name)
        hit = self._cache.get(key)
        if hit is None:
            hit = (
                [c for c in self._forbids if c.rule.direction == q.direction and c.matches_target(q)],
                [c for c in self._permits if c.rule.direction == q.direction and c.matches_target(q)],
            )
            self._cache[key] = hit
        return hit

    def evaluate(self, q: Query) -> PolicyDecision:
        """Decide a query. With unknown arguments, conditional forbids are ignored and
        conditional permits count (the call may still be refused when made)."""
        forbids, permits = self._candidates(q)
        args = q.arguments
        if args is None:
            hit_forbids = [c for c in forbids if not c.conditions]
            hit_permits = permits
        else:
            hit_forbids = [c for c in forbids if c.arguments_hold(args)]
            hit_permits = [c for c in permits if c.arguments_hold(args)] if not hit_forbids else []
        if hit_forbids:
            ids = tuple(c.rule.id for c in hit_forbids)
            return PolicyDecision(False, ids, f"forbidden by policy rule {', '.join(ids)}")
        if hit_permits:
            return PolicyDecision(True, tuple(c.rule.id for c in hit_permits), "",
                                  tuple(c.rule.id for c in hit_permits if c.rule.approval))
        what = f"{q.method} {q.name}" if q.name else q.method
        return PolicyDecision(False, (DEFAULT_DENY,),
                              f"{what} is not permitted by policy (no permit rule matches: {DEFAULT_DENY})")

    def rule_severity(self, rule_ids: tuple[str, ...]) -> str | None:
        """The most severe `severity` declared on the given rules."""
        levels = [r.severity for r in self.rules if r.id in rule_ids and r.severity]
        return min(levels) if levels else None
