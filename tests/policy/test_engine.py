"""Policy evaluation: Cedar-like permit/forbid with deny by default."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.policy.engine import DEFAULT_DENY, Policy, Query
from proxy.policy.model import Rule, Settings


def policy(*rules: dict[str, Any]) -> Policy:
    return Policy(tuple(Rule.model_validate(r) for r in rules), Settings(), "sha256:test")


def ask(p: Policy, method: str = "tools/call", name: str | None = None, *, principal: str = "alice",
        agent: str | None = None, upstream: str = "default", direction: str = "to_server",
        arguments: dict[str, Any] | None = None) -> tuple[bool, tuple[str, ...]]:
    d = p.evaluate(Query(direction=direction, principal=principal, agent=agent, upstream=upstream,
                         method=method, name=name, arguments={} if arguments is None else arguments))
    return d.allowed, d.rule_ids


def listing(p: Policy, name: str, method: str = "tools/call", principal: str = "alice") -> bool:
    return p.evaluate(Query("to_server", principal, None, "default", method, name, None)).allowed


PERMIT_TOOLS = {"id": "tools", "effect": "permit", "methods": ["tools/call"], "names": ["get_*", "search"]}


def test_no_rules_is_default_deny_with_reason() -> None:
    d = policy().evaluate(Query("to_server", "alice", None, "default", "tools/call", "rm", {}))
    assert not d.allowed
    assert d.rule_ids == (DEFAULT_DENY,) == ("default-deny",)
    assert "tools/call rm" in d.reason and "not permitted" in d.reason


def test_default_deny_reason_without_name() -> None:
    d = policy().evaluate(Query("to_server", "alice", None, "default", "ping", None, {}))
    assert d.reason.startswith("ping is not permitted")


def test_permit_allows_and_names_the_rule() -> None:
    p = policy(PERMIT_TOOLS)
    assert ask(p, name="get_weather") == (True, ("tools",))
    assert ask(p, name="search") == (True, ("tools",))
    assert ask(p, name="delete") == (False, (DEFAULT_DENY,))
    assert ask(p, name="searching") == (False, (DEFAULT_DENY,))


def test_all_matching_permits_are_listed() -> None:
    p = policy(PERMIT_TOOLS, {"id": "all-tools", "effect": "permit", "methods": ["tools/*"]})
    allowed, ids = ask(p, name="get_x")
    assert allowed and set(ids) == {"tools", "all-tools"}


def test_forbid_overrides_permit() -> None:
    p = policy(PERMIT_TOOLS, {"id": "no-get-secret", "effect": "forbid", "methods": ["tools/call"],
                              "names": ["get_secret"]})
    assert ask(p, name="get_secret") == (False, ("no-get-secret",))
    assert ask(p, name="get_weather") == (True, ("tools",))
    d = p.evaluate(Query("to_server", "alice", None, "default", "tools/call", "get_secret", {}))
    assert d.reason == "forbidden by policy rule no-get-secret"


def test_forbid_alone_denies_with_forbid_id() -> None:
    p = policy({"id": "f", "effect": "forbid", "methods": ["*"]})
    assert ask(p, "ping") == (False, ("f",))


@pytest.mark.parametrize(("field", "patterns", "hit", "miss"), [
    ("principals", ["alice", "team-*"], {"principal": "team-red"}, {"principal": "bob"}),
    ("agents", ["claude-*"], {"agent": "claude-code"}, {"agent": "cursor"}),
    ("upstreams", ["notes", "git-*"], {"upstream": "git-1"}, {"upstream": "gitx"}),
    ("principals", ["svc?"], {"principal": "svc?"}, {"principal": "svc1"}),  # only * is a wildcard
])
def test_globs_on_principals_agents_upstreams(field: str, patterns: list[str], hit: dict[str, Any],
                                              miss: dict[str, Any]) -> None:
    p = policy({"id": "r", "effect": "permit", "methods": ["ping"], field: patterns})
    assert ask(p, "ping", **hit)[0]
    assert not ask(p, "ping", **miss)[0]


def test_single_string_glob_is_accepted_as_a_list() -> None:
    p = policy({"id": "r", "effect": "permit", "methods": "tools/*", "principals": "alice"})
    assert ask(p, "tools/list")[0]
    assert not ask(p, "tools/list", principal="bob")[0]


def test_method_globs() -> None:
    p = policy({"id": "r", "effect": "permit", "methods": ["notifications/*", "ping"]})
    assert ask(p, "notifications/progress")[0]
    assert ask(p, "ping")[0]
    assert not ask(p, "pingx")[0]
    assert not ask(p, "tools/list")[0]


def test_globs_are_whole_string_and_case_sensitive() -> None:
    p = policy({"id": "r", "effect": "permit", "methods": ["tools/call"], "names": ["get"]})
    assert not ask(p, name="get_x")[0]
    assert not ask(p, name="GET")[0]
    assert not ask(p, name="xget")[0]


def test_agent_none_only_matches_wildcard() -> None:
    specific = policy({"id": "r", "effect": "permit", "methods": ["ping"], "agents": ["*-bot"]})
    assert not ask(specific, "ping", agent=None)[0]
    assert ask(specific, "ping", agent="x-bot")[0]
    star_in_list = policy({"id": "r", "effect": "permit", "methods": ["ping"], "agents": ["x", "*"]})
    assert ask(star_in_list, "ping", agent=None)[0]
    default = policy({"id": "r", "effect": "permit", "methods": ["ping"]})
    assert ask(default, "ping", agent=None)[0]


def test_names_rules_do_not_match_nameless_methods() -> None:
    p = policy({"id": "named", "effect": "permit", "methods": ["*"], "names": ["*"]})
    assert not ask(p, "tools/list", None)[0]
    assert ask(p, "tools/call", "anything")[0]
    forbid = policy({"id": "all", "effect": "permit", "methods": ["*"]},
                    {"id": "named-forbid", "effect": "forbid", "methods": ["*"], "names": ["*"]})
    assert ask(forbid, "tools/list") == (True, ("all",))
    assert ask(forbid, "tools/call", "x") == (False, ("named-forbid",))


def test_rules_without_names_match_any_name() -> None:
    p = policy({"id": "r", "effect": "permit", "methods": ["tools/call"]})
    assert ask(p, name="whatever")[0]
    assert ask(p, name=None)[0]


def test_direction_separation() -> None:
    p = policy({"id": "server-pings", "effect": "permit", "methods": ["ping"], "direction": "to_client"})
    assert ask(p, "ping", direction="to_client") == (True, ("server-pings",))
    assert ask(p, "ping", direction="to_server") == (False, (DEFAULT_DENY,))
    to_server = policy({"id": "sampling", "effect": "permit", "methods": ["sampling/createMessage"]})
    assert not ask(to_server, "sampling/createMessage", direction="to_client")[0]
    forbid_client = policy({"id": "all", "effect": "permit", "methods": ["*"]},
                           {"id": "f", "effect": "forbid", "methods": ["*"], "direction": "to_client"})
    assert ask(forbid_client, "ping")[0]


def test_results_do_not_leak_between_queries_via_cache() -> None:
    p = policy({"id": "r", "effect": "permit", "methods": ["ping"], "principals": ["alice"]})
    for _ in range(3):
        assert ask(p, "ping", principal="alice")[0]
        assert not ask(p, "ping", principal="bob")[0]
        assert not ask(p, "ping", principal="alice", direction="to_client")[0]


# --- argument conditions --------------------------------------------------------------------

def cond_policy(*conditions: dict[str, Any], effect: str = "permit") -> Policy:
    return policy({"id": "c", "effect": effect, "methods": ["tools/call"], "arguments": list(conditions)})


@pytest.mark.parametrize(("condition", "hits", "misses"), [
    ({"path": "path", "glob": "/tmp/*"}, [{"path": "/tmp/a"}, {"path": "/tmp/a/b"}, {"path": "/tmp/\n"}],
     [{"path": "/etc/passwd"}, {"path": 5}, {}, {"path": None}]),
    ({"path": "q", "regex": "(?i)secret"}, [{"q": "my SECRET key"}, {"q": "secret"}],
     [{"q": "public"}, {"q": ["secret"]}, {}]),
    ({"path": "q", "regex": "^abc$"}, [{"q": "abc"}], [{"q": "xabc"}, {"q": "abcd"}]),
    ({"path": "mode", "equals": "read"}, [{"mode": "read"}], [{"mode": "write"}, {}, {"mode": ["read"]}]),
    ({"path": "obj", "equals": {"a": [1, 2]}}, [{"obj": {"a": [1, 2]}}], [{"obj": {"a": [2, 1]}}]),
    ({"path": "opt", "equals": None}, [{"opt": None}], [{"opt": 0}, {"opt": "x"}]),
    ({"path": "env", "in": ["dev", "test"]}, [{"env": "dev"}, {"env": "test"}], [{"env": "prod"}, {}]),
    ({"path": "token", "present": True}, [{"token": "x"}, {"token": None}], [{}, {"other": 1}]),
    ({"path": "token", "present": False}, [{}, {"other": 1}], [{"token": "x"}, {"token": None}]),
    ({"path": "text", "max_length": 3}, [{"text": "abc"}, {"text": ""}, {"text": [1, 2, 3]}, {"text": {"a": 1}}],
     [{"text": "abcd"}, {"text": [1, 2, 3, 4]}, {"text": 3}, {}]),
    ({"path": "a.b.c", "equals": 1}, [{"a": {"b": {"c": 1}}}], [{"a": {"b": {"c": 2}}}, {"a": {"b": 1}}, {"a": 1}]),
    ({"path": "files.1.name", "glob": "*.txt"}, [{"files": [{"name": "x"}, {"name": "y.txt"}]}],
     [{"files": [{"name": "y.txt"}]}, {"files": [{"name": "y.txt"}, {"name": "z"}]}, {"files": {"1": "x"}}]),
    ({"path": "items.0", "equals": "first"}, [{"items": ["first", "second"]}], [{"items": []}, {"items": "first"}]),
])
def test_argument_conditions(condition: dict[str, Any], hits: list[dict[str, Any]],
                             misses: list[dict[str, Any]]) -> None:
    p = cond_policy(condition)
    for args in hits:
        assert ask(p, name="t", arguments=args) == (True, ("c",)), args
    for args in misses:
        assert ask(p, name="t", arguments=args) == (False, (DEFAULT_DENY,)), args


def test_dotted_path_prefers_dict_key_to_list_index() -> None:
    p = cond_policy({"path": "m.0", "equals": "dict"})
    assert ask(p, name="t", arguments={"m": {"0": "dict"}})[0]


def test_all_conditions_of_a_rule_must_hold() -> None:
    p = cond_policy({"path": "a", "equals": 1}, {"path": "b", "equals": 2})
    assert ask(p, name="t", arguments={"a": 1, "b": 2})[0]
    assert not ask(p, name="t", arguments={"a": 1, "b": 3})[0]


def test_conditional_forbid_only_when_arguments_hold() -> None:
    p = policy({"id": "search", "effect": "permit", "methods": ["tools/call"], "names": ["search"]},
               {"id": "no-secrets", "effect": "forbid", "methods": ["tools/call"], "names": ["search"],
                "arguments": [{"path": "query", "regex": "(?i)password"}]})
    assert ask(p, name="search", arguments={"query": "weather"}) == (True, ("search",))
    assert ask(p, name="search", arguments={"query": "the PASSWORD"}) == (False, ("no-secrets",))


@pytest.mark.parametrize(("condition", "argument"), [
    ({"path": "v", "equals": True}, 1),
    ({"path": "v", "equals": 1}, True),
    ({"path": "v", "in": [0]}, False),
])
def test_equals_and_in_respect_json_types(condition: dict[str, Any], argument: Any) -> None:
    assert not ask(cond_policy(condition), name="t", arguments={"v": argument})[0]


def test_regex_condition_that_runs_too_long_raises_rather_than_matching() -> None:
    """A catastrophic pattern is cut off by the regex timeout; the pipeline turns the raise into a deny."""
    p = cond_policy({"path": "q", "regex": "^(a+)+$"}, effect="forbid")
    with pytest.raises(TimeoutError):
        p.evaluate(Query("to_server", "alice", None, "default", "tools/call", "t", {"q": "a" * 5000 + "!"}))


# --- listing mode: arguments unknown --------------------------------------------------------

def test_listing_mode_counts_conditional_permits() -> None:
    p = cond_policy({"path": "mode", "equals": "read"})
    assert listing(p, "t")
    assert not ask(p, name="t", arguments={})[0]


def test_listing_mode_ignores_conditional_forbids_but_not_unconditional_ones() -> None:
    p = policy({"id": "all", "effect": "permit", "methods": ["tools/call"]},
               {"id": "cond", "effect": "forbid", "methods": ["tools/call"], "names": ["risky"],
                "arguments": [{"path": "x", "present": True}]},
               {"id": "hard", "effect": "forbid", "methods": ["tools/call"], "names": ["banned"]})
    assert listing(p, "risky")
    assert not listing(p, "banned")
    assert listing(p, "other")
    d = p.evaluate(Query("to_server", "alice", None, "default", "tools/call", "banned", None))
    assert d.rule_ids == ("hard",)


def test_listing_mode_still_default_denies() -> None:
    assert not listing(policy(PERMIT_TOOLS), "delete")


# --- severity -------------------------------------------------------------------------------

def test_rule_severity_is_the_most_severe_declared() -> None:
    p = policy({"id": "a", "effect": "forbid", "methods": ["x"], "severity": "SEV-3"},
               {"id": "b", "effect": "forbid", "methods": ["y"], "severity": "SEV-1"},
               {"id": "c", "effect": "forbid", "methods": ["z"]})
    assert p.rule_severity(("a",)) == "SEV-3"
    assert p.rule_severity(("a", "b")) == "SEV-1"
    assert p.rule_severity(("c",)) is None
    assert p.rule_severity((DEFAULT_DENY,)) is None
    assert p.rule_severity(()) is None


def test_policy_keeps_rules_settings_and_version() -> None:
    p = policy(PERMIT_TOOLS)
    assert [r.id for r in p.rules] == ["tools"]
    assert p.settings.unknown_methods == "deny"
    assert p.version == "sha256:test"
