"""Loading a policy directory: whole or not at all, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ConfigError, PolicyError
from proxy.policy.loader import load_policy, policy_files, unreachable_rule_warnings
from proxy.policy.model import Rule
from proxy.testing import write_policy

GOOD = """\
version: 1
rules:
  - id: ping
    effect: permit
    methods: [ping]
"""

TOOLS = """\
rules:
  - id: tools
    effect: permit
    methods: [tools/call]
    names: [get_weather]
"""


def load_error(directory: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy(directory)
    assert isinstance(info.value, ConfigError)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_loads_every_yaml_file_in_sorted_order(tmp_path: Path) -> None:
    write_policy(tmp_path, TOOLS, "20-tools.yaml")
    write_policy(tmp_path, GOOD, "10-base.yml")
    write_policy(tmp_path / "sub", GOOD.replace("id: ping", "id: nested"), "x.yaml")
    loaded = load_policy(tmp_path)
    assert [p.name for p in loaded.files] == ["10-base.yml", "20-tools.yaml", "x.yaml"]
    assert [r.id for r in loaded.policy.rules] == ["ping", "tools", "nested"]
    assert loaded.warnings == ()
    assert loaded.policy.version.startswith("sha256:")


def test_other_files_are_ignored(tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    (tmp_path / "README.md").write_text("not: [policy")
    (tmp_path / "notes.yaml.bak").write_text("rules: nope")
    assert [p.name for p in load_policy(tmp_path).files] == ["policy.yaml"]


def test_test_files_are_not_policy_files(tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    write_policy(tmp_path, "cases:\n  - name: x\n    request: {method: ping}\n    expect: {verdict: allow}\n",
                 "policy.test.yaml")
    loaded = load_policy(tmp_path)
    assert [p.name for p in loaded.files] == ["policy.yaml"]
    assert [p.name for p in policy_files(tmp_path)] == ["policy.yaml"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    assert "no policy files" in load_error(tmp_path)


def test_directory_with_only_tests_is_an_error(tmp_path: Path) -> None:
    write_policy(tmp_path, "cases: []\n", "a.test.yaml")
    assert "no policy files" in load_error(tmp_path)


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    assert "policy directory not found" in load_error(tmp_path / "absent")


def test_empty_file_is_an_empty_policy(tmp_path: Path) -> None:
    write_policy(tmp_path, "")
    write_policy(tmp_path, GOOD, "b.yaml")
    assert [r.id for r in load_policy(tmp_path).policy.rules] == ["ping"]


@pytest.mark.parametrize(("text", "field"), [
    ("rules:\n  - id: a\n    effect: permit\n    methods: [ping]\n    principal: [bob]\n", "rules.0.principal"),
    ("rule:\n  - id: a\n", "rule"),
    ("settings:\n  anonymus: true\n", "settings.anonymus"),
    ("rules:\n  - id: a\n    effect: permit\n    methods: [x]\n    arguments:\n      - {path: q, regexp: x}\n",
     "rules.0.arguments.0.regexp"),
])
def test_unknown_keys_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = write_policy(tmp_path, text, "bad.yaml")
    message = load_error(tmp_path)
    assert str(path) in message
    assert field in message
    assert "Extra inputs are not permitted" in message


@pytest.mark.parametrize(("text", "fragment"), [
    ("rules:\n  - id: a\n    effect: allow\n    methods: [x]\n", "rules.0.effect"),
    ("rules:\n  - id: a\n    effect: permit\n", "rules.0.methods"),
    ("rules:\n  - id: a\n    effect: permit\n    methods: []\n", "rules.0.methods"),
    ("rules:\n  - id: 'bad id'\n    effect: permit\n    methods: [x]\n", "rules.0.id"),
    ("version: 2\n", "version"),
    ("rules:\n  - id: a\n    effect: permit\n    methods: [x]\n    arguments: [{path: q}]\n", "exactly one of"),
    ("rules:\n  - id: a\n    effect: permit\n    methods: [x]\n    arguments: [{path: q, glob: a, equals: b}]\n",
     "exactly one of"),
    ("rules:\n  - id: a\n    effect: permit\n    methods: [x]\n    severity: high\n", "rules.0.severity"),
    ("- just\n- a list\n", "(top level)"),
])
def test_invalid_rules_are_refused_with_file_name(tmp_path: Path, text: str, fragment: str) -> None:
    path = write_policy(tmp_path, text, "bad.yaml")
    message = load_error(tmp_path)
    assert message.startswith(str(path))
    assert fragment in message


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    first = write_policy(tmp_path, GOOD, "a.yaml")
    second = write_policy(tmp_path, GOOD, "b.yaml")
    message = load_error(tmp_path)
    assert "duplicate rule id 'ping'" in message
    assert str(first) in message and str(second) in message


def test_duplicate_rule_ids_in_one_file(tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD + "  - id: ping\n    effect: forbid\n    methods: [x]\n")
    assert "duplicate rule id 'ping'" in load_error(tmp_path)


def test_settings_in_two_files(tmp_path: Path) -> None:
    first = write_policy(tmp_path, "settings: {anonymous: true}\n", "a.yaml")
    second = write_policy(tmp_path, "settings: {unknown_methods: policy}\n", "b.yaml")
    message = load_error(tmp_path)
    assert message.startswith(str(second))
    assert f"settings already given in {first}" in message


def test_settings_from_one_file_apply(tmp_path: Path) -> None:
    write_policy(tmp_path, "settings: {anonymous: true, unknown_methods: policy}\n", "a.yaml")
    write_policy(tmp_path, GOOD, "b.yaml")
    settings = load_policy(tmp_path).policy.settings
    assert settings.anonymous is True
    assert settings.unknown_methods == "policy"


def test_default_settings_when_none_given(tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    settings = load_policy(tmp_path).policy.settings
    assert settings.anonymous is False
    assert settings.unknown_methods == "deny"


def test_bad_regex_names_file_rule_and_path(tmp_path: Path) -> None:
    path = write_policy(tmp_path, """\
        rules:
          - id: r1
            effect: forbid
            methods: [tools/call]
            arguments:
              - {path: args.q, regex: "(unclosed"}
        """)
    message = load_error(tmp_path)
    assert str(path) in message
    assert "rule r1" in message and "bad regex for args.q" in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "version: 1\nrules:\n  - id: a\n    methods: [unclosed\n  - id: b\n", "broken.yaml")
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:")
    line = int(message[len(str(path)) + 1:].split(":", 1)[0])
    assert 4 <= line <= 6
    assert "invalid YAML" in message


def test_file_over_one_mebibyte_is_refused(tmp_path: Path) -> None:
    path = write_policy(tmp_path, GOOD + "#" + "x" * (1024 * 1024) + "\n", "huge.yaml")
    message = load_error(tmp_path)
    assert str(path) in message and "exceeds" in message


def test_one_bad_file_refuses_the_whole_set(tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD, "a.yaml")
    write_policy(tmp_path, "rules: [{id: b, effect: permit}]\n", "b.yaml")
    load_error(tmp_path)


def test_unreachable_rule_warning(tmp_path: Path) -> None:
    write_policy(tmp_path, """\
        rules:
          - id: allow-delete
            effect: permit
            methods: [tools/call]
            names: [delete_note]
          - id: no-tools
            effect: forbid
            methods: [tools/call]
          - id: allow-weather-for-bob
            effect: permit
            principals: [bob]
            methods: [tools/call]
            names: [get_weather]
          - id: allow-ping
            effect: permit
            methods: [ping]
        """)
    warnings = load_policy(tmp_path).warnings
    assert len(warnings) == 2
    assert "'allow-delete' is unreachable" in warnings[0] and "'no-tools'" in warnings[0]
    assert "'allow-weather-for-bob'" in warnings[1]


def test_conditional_or_narrower_forbids_do_not_warn() -> None:
    rules = [Rule.model_validate(r) for r in (
        {"id": "p", "effect": "permit", "methods": ["tools/call"]},
        {"id": "narrow", "effect": "forbid", "methods": ["tools/call"], "names": ["rm"]},
        {"id": "cond", "effect": "forbid", "methods": ["tools/call"], "arguments": [{"path": "x", "present": True}]},
        {"id": "other-way", "effect": "forbid", "methods": ["*"], "direction": "to_client"},
        {"id": "bob", "effect": "forbid", "methods": ["*"], "principals": ["bob"]},
    )]
    assert unreachable_rule_warnings(rules) == []


def test_version_is_stable_and_changes_with_content(tmp_path: Path) -> None:
    path = write_policy(tmp_path, GOOD)
    first = load_policy(tmp_path).policy.version
    assert load_policy(tmp_path).policy.version == first
    path.write_text(GOOD.replace("[ping]", "[ping, tools/list]"))
    second = load_policy(tmp_path).policy.version
    assert second != first
    path.write_text(GOOD)
    assert load_policy(tmp_path).policy.version == first


def test_version_changes_when_a_file_is_added_or_renamed(tmp_path: Path) -> None:
    path = write_policy(tmp_path, GOOD)
    first = load_policy(tmp_path).policy.version
    path.rename(tmp_path / "renamed.yaml")
    renamed = load_policy(tmp_path).policy.version
    assert renamed != first
    write_policy(tmp_path, "", "extra.yaml")
    assert load_policy(tmp_path).policy.version not in (first, renamed)


def test_version_ignores_test_files_and_location(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_policy(a, GOOD)
    write_policy(b, GOOD)
    version = load_policy(a).policy.version
    assert load_policy(b).policy.version == version
    write_policy(a, "cases: []\n", "x.test.yaml")
    assert load_policy(a).policy.version == version


def test_non_utf8_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"rules: \xff\xfe\n")
    message = load_error(tmp_path)
    assert str(path) in message and "cannot read" in message


def test_hidden_directories_are_skipped(tmp_path: Path) -> None:
    """A Kubernetes ConfigMap mount keeps timestamped copies in dot-directories; they must not load twice."""
    good = "version: 1\nrules:\n  - {id: r, effect: permit, methods: [ping]}\n"
    (tmp_path / "a.yaml").write_text(good)
    (tmp_path / "..2026_11_21_data").mkdir()
    (tmp_path / "..2026_11_21_data" / "a.yaml").write_text(good)
    loaded = load_policy(tmp_path)
    assert [p.name for p in loaded.files] == ["a.yaml"]
