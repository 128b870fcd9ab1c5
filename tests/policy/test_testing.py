"""The policy test runner shared by `drawbridge policy test` and pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ConfigError
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
    results = run_policy_tests(directory)
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
    results = run_policy_tests(policy_dir)
    assert results[0].describe() == "ok   x.test.yaml: good"
    described = results[1].describe()
    assert described.startswith("FAIL x.test.yaml: bad (verdict deny, expected allow")
    assert "rule ids ['default-deny'], expected ['weather']" in described


def test_all_test_files_are_found_recursively_and_sorted(policy_dir: Path) -> None:
    case = "cases:\n  - {name: n, request: {method: ping}, expect: {verdict: allow}}\n"
    write_policy(policy_dir / "sub", case, "b.test.yaml")
    write_policy(policy_dir, case, "a.test.yaml")
    write_policy(policy_dir, case, "c.test.yml")  # the short suffix counts too
    write_policy(policy_dir, case, "d.yaml.test")  # not a test file name
    assert [p.name for p in policy_test_files(policy_dir)] == ["a.test.yaml", "c.test.yml", "b.test.yaml"]


def test_no_test_files_gives_no_results(policy_dir: Path) -> None:
    assert run_policy_tests(policy_dir) == []


@pytest.mark.parametrize(("cases", "fragment"), [
    ("cases: []\n", "cases"),
    ("cases:\n  - {name: n, request: {method: ping}, expect: {verdict: maybe}}\n", "expect.verdict"),
    ("cases:\n  - {name: n, request: {method: ping, who: x}, expect: {verdict: allow}}\n", "request.who"),
    ("cases:\n  - {name: n, request: {}, expect: {verdict: allow}}\n", "request.method"),
    ("cases:\n  - {name: n, request: {method: x, name: a, params: {}}, expect: {verdict: allow}}\n", "params"),
    ("cases:\n  - {name: n, request: {method: ping, result: {}}, expect: {verdict: allow}}\n", "result"),
    ("cases:\n  - {name: n, state: {quarantines: [{kind: user, subject: a}]}, request: {method: ping},"
     " expect: {verdict: allow}}\n", "state.quarantines"),
])
def test_malformed_test_file_is_a_config_error_naming_it(policy_dir: Path, cases: str, fragment: str) -> None:
    path = write_policy(policy_dir, cases, "bad.test.yaml")
    with pytest.raises(ConfigError) as info:
        run_policy_tests(policy_dir)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


# -- the full pipeline --------------------------------------------------------------------------

PIPELINE_POLICY = """\
settings:
  canary_tools: [export_secrets]
  egress: {egress_tools: [fetch], allow: [{tools: [fetch], hosts: [docs.example.com]}]}
  auto_containment:
    - {id: leak, detectors: ["secrets.*"], min_severity: SEV-2, subject: agent, mode: read-only}
rules:
  - {id: tools, effect: permit, methods: [tools/call, tools/list], names: [search, fetch]}
  - {id: listing, effect: permit, methods: [tools/list]}
"""
LISTING = "{tools: [{name: search}, {name: fetch}, {name: wipe}, {name: export_secrets}]}"


@pytest.fixture
def pipeline_dir(tmp_path: Path) -> Path:
    write_policy(tmp_path, PIPELINE_POLICY)
    return tmp_path


def problems(directory: Path, cases: str) -> list[tuple[str, ...]]:
    write_policy(directory, cases, "p.test.yaml")
    return [r.problems for r in run_policy_tests(directory)]


def test_cases_see_the_checks_before_and_after_policy(pipeline_dir: Path) -> None:
    assert problems(pipeline_dir, f"""\
        cases:
          - name: canary
            request: {{method: tools/call, name: export_secrets}}
            expect: {{verdict: quarantine, findings: [canary.call], rule_ids: [canary-tool], error_code: -32050}}
          - name: unknown method
            request: {{method: x/y}}
            expect: {{verdict: deny, check: unknown_method, error_code: -32601}}
          - name: egress
            request: {{method: tools/call, name: fetch, arguments: {{url: "https://evil.example/x"}}}}
            expect: {{verdict: deny, check: egress, rule_ids: [egress-allowlist]}}
          - name: listing filter
            request: {{kind: response, direction: to_client, method: tools/list, result: {LISTING}}}
            expect: {{verdict: rewrite, listed: [search, fetch, export_secrets]}}
          - name: content and automated containment
            request: {{agent: bot, method: tools/call, name: search,
                      arguments: {{q: "ghp_R8dUv3xW1qL9zT6yK2mN5pB7cF4hJ0sA1eG3"}}}}
            expect: {{verdict: deny, check: content, findings: ["secrets.*"],
                      contained: {{kind: agent, mode: read-only}}}}
        """) == [()] * 5


def test_state_is_set_per_case_and_does_not_leak_into_the_next(pipeline_dir: Path) -> None:
    assert problems(pipeline_dir, f"""\
        cases:
          - name: quarantined
            state: {{quarantines: [{{kind: principal, subject: anonymous}}]}}
            request: {{method: tools/call, name: search}}
            expect: {{verdict: deny, check: containment, error_code: -32053}}
          - name: free again
            request: {{method: tools/call, name: search}}
            expect: {{verdict: allow, findings: []}}
          - name: overlay hides a tool
            state: {{deny_tools: [{{kind: principal, subject: anonymous, tools: [fet*]}}]}}
            request: {{kind: response, direction: to_client, method: tools/list, result: {LISTING}}}
            expect: {{verdict: rewrite, listed: [search, export_secrets]}}
          - name: egress deny
            state: {{egress_denies: [{{host: DOCS.example.com}}]}}
            request: {{method: tools/call, name: fetch, arguments: {{url: "https://docs.example.com/"}}}}
            expect: {{verdict: deny, rule_ids: [containment-egress-deny]}}
          - name: read-only needs the catalog
            state:
              quarantines: [{{kind: agent, subject: bot, mode: read-only}}]
              listed_tools: {{default: [{{name: search, annotations: {{readOnlyHint: true}}}}]}}
            request: {{agent: bot, method: tools/call, name: search}}
            expect: {{verdict: allow}}
        """) == [()] * 5


def test_every_expectation_is_checked(pipeline_dir: Path) -> None:
    found = problems(pipeline_dir, f"""\
        cases:
          - name: wrong code and check
            request: {{method: x/y}}
            expect: {{verdict: deny, check: policy, error_code: -32050}}
          - name: unexpected findings
            request: {{method: tools/call, name: search, arguments: {{q: "ghp_R8dUv3xW1qL9zT6yK2mN5pB7cF4hJ0sA1eG3"}}}}
            expect: {{verdict: deny, findings: []}}
          - name: missing finding
            request: {{method: tools/call, name: search}}
            expect: {{verdict: allow, findings: [injection.*]}}
          - name: wrong listing
            request: {{kind: response, direction: to_client, method: tools/list, result: {LISTING}}}
            expect: {{verdict: rewrite, listed: [search]}}
          - name: not contained
            request: {{method: tools/call, name: search}}
            expect: {{verdict: allow, contained: {{kind: principal}}}}
          - name: an unsolicited answer
            request: {{kind: response, method: sampling/createMessage, unsolicited: true}}
            expect: {{verdict: allow}}
        """)
    assert [len(p) for p in found] == [2, 1, 1, 1, 1, 1]
    assert "error code -32601, expected -32050" in found[0]
    assert found[1][0].startswith("findings ['secrets.")
    assert found[2][0].startswith("no finding matches 'injection.*'")
    assert found[3] == ("listed ['search', 'fetch', 'export_secrets'], expected ['search']",)
    assert found[4][0].startswith("principal anonymous not quarantined (block)")
    assert found[5][0].startswith("verdict deny, expected allow (pairing: answer to no request")


def test_a_case_can_expect_what_shadow_mode_let_through(tmp_path: Path) -> None:
    write_policy(tmp_path, "settings: {shadow: {principals: [bob]}}\n" + POLICY)
    assert problems(tmp_path, """\
        cases:
          - name: bob's refused call passes in shadow
            request: {principal: bob, method: tools/call, name: delete_note}
            expect: {verdict: allow, would_deny: policy}
          - name: not the check that refused it
            request: {principal: bob, method: tools/call, name: delete_note}
            expect: {verdict: allow, would_deny: content}
          - name: alice is enforced
            request: {principal: alice, method: tools/call, name: delete_note}
            expect: {verdict: allow, would_deny: policy}
        """) == [(), ("would_deny 'policy', expected 'content'",),
                 ("verdict deny, expected allow (policy: tools/call delete_note is not permitted by policy (no permit "
                  "rule matches: default-deny))", "would_deny None, expected 'policy'")]
