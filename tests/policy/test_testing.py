"""The policy test runner shared by `drawbridge policy test` and pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.policy.loader import load_policy
from proxy.policy.testing import policy_test_files, run_policy_tests
from proxy.testing import write_policy

POLICY = """\
rules:
  - id: weather
    effect: permit
    methods: [tools/call]
    names: [get_weather]
  - id: ping
    effect: permit
    methods: [ping]
  - id: no-paris
    effect: forbid
    methods: [tools/call]
    names: [get_weather]
    arguments:
      - {path: city, equals: Paris}
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    write_policy(tmp_path, POLICY)
    return tmp_path


def run(directory: Path, cases: str, name: str = "p.test.yaml") -> list[tuple[str, bool, str, tuple[str, ...]]]:
    write_policy(directory, cases, name)
    results = run_policy_tests(load_policy(directory).policy, directory)
    return [(r.case.name, r.passed, r.verdict, r.rule_ids) for r in results]


def test_passing_cases(policy_dir: Path) -> None:
    results = run(policy_dir, """\
        cases:
          - name: weather ok
            request: {principal: alice, method: tools/call, name: get_weather, arguments: {city: Rome}}
            expect: {verdict: allow, rule_ids: [weather]}
          - name: paris forbidden
            request: {method: tools/call, name: get_weather, arguments: {city: Paris}}
            expect: {verdict: deny, rule_ids: [no-paris]}
          - name: unknown tool
            request: {method: tools/call, name: rm}
            expect: {verdict: deny, rule_ids: [default-deny]}
          - name: verdict only
            request: {method: ping}
            expect: {verdict: allow}
        """)
    assert results == [
        ("weather ok", True, "allow", ("weather",)),
        ("paris forbidden", True, "deny", ("no-paris",)),
        ("unknown tool", True, "deny", ("default-deny",)),
        ("verdict only", True, "allow", ("ping",)),
    ]


def test_failing_cases_wrong_verdict_and_wrong_rule_ids(policy_dir: Path) -> None:
    results = run(policy_dir, """\
        cases:
          - name: wrong verdict
            request: {method: tools/call, name: rm}
            expect: {verdict: allow}
          - name: wrong rules
            request: {method: ping}
            expect: {verdict: allow, rule_ids: [weather]}
          - name: direction matters
            request: {method: ping, direction: to_client}
            expect: {verdict: allow}
        """)
    assert [(name, passed) for name, passed, _, _ in results] == [
        ("wrong verdict", False), ("wrong rules", False), ("direction matters", False)]


def test_rule_ids_compare_as_a_set(tmp_path: Path) -> None:
    write_policy(tmp_path, "rules:\n  - {id: b, effect: permit, methods: [ping]}\n"
                           "  - {id: a, effect: permit, methods: ['*']}\n")
    results = run(tmp_path, """\
        cases:
          - name: both rules
            request: {method: ping}
            expect: {verdict: allow, rule_ids: [a, b]}
          - name: only one is not enough
            request: {method: ping}
            expect: {verdict: allow, rule_ids: [a]}
        """)
    assert [passed for _, passed, _, _ in results] == [True, False]


def test_describe_lines(policy_dir: Path) -> None:
    write_policy(policy_dir, """\
        cases:
          - name: good
            request: {method: ping}
            expect: {verdict: allow}
          - name: bad
            request: {method: tools/call, name: rm}
            expect: {verdict: allow, rule_ids: [weather]}
        """, "x.test.yaml")
    results = run_policy_tests(load_policy(policy_dir).policy, policy_dir)
    assert results[0].describe() == "ok   x.test.yaml: good"
    assert results[1].describe() == ("FAIL x.test.yaml: bad (expected allow ['weather'], got deny ['default-deny'])")


def test_all_test_files_are_found_recursively_and_sorted(policy_dir: Path) -> None:
    case = "cases:\n  - {name: n, request: {method: ping}, expect: {verdict: allow}}\n"
    write_policy(policy_dir / "sub", case, "b.test.yaml")
    write_policy(policy_dir, case, "a.test.yaml")
    write_policy(policy_dir, case, "c.test.yml")  # the short suffix counts too
    write_policy(policy_dir, case, "d.yaml.test")  # not a test file name
    assert [p.name for p in policy_test_files(policy_dir)] == ["a.test.yaml", "c.test.yml", "b.test.yaml"]


def test_no_test_files_gives_no_results(policy_dir: Path) -> None:
    assert run_policy_tests(load_policy(policy_dir).policy, policy_dir) == []


@pytest.mark.parametrize(("cases", "fragment"), [
    ("cases: []\n", "cases"),
    ("cases:\n  - {name: n, request: {method: ping}, expect: {verdict: maybe}}\n", "expect.verdict"),
    ("cases:\n  - {name: n, request: {method: ping, who: x}, expect: {verdict: allow}}\n", "request.who"),
    ("cases:\n  - {name: n, request: {}, expect: {verdict: allow}}\n", "request.method"),
])
def test_malformed_test_file_is_a_config_error_naming_it(policy_dir: Path, cases: str, fragment: str) -> None:
    path = write_policy(policy_dir, cases, "bad.test.yaml")
    with pytest.raises(ConfigError) as info:
        run_policy_tests(load_policy(policy_dir).policy, policy_dir)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)
