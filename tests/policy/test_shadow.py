"""`settings.shadow` in a policy file: strict, and which exchanges it puts in shadow."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import PolicyError
from proxy.policy.loader import load_policy
from proxy.policy.shadow import ShadowSettings
from proxy.testing import write_policy


def loaded(tmp_path: Path, shadow: str) -> ShadowSettings:
    write_policy(tmp_path, f"settings:\n  shadow: {shadow}\nrules: []\n")
    return load_policy(tmp_path).policy.settings.shadow


def test_off_by_default(tmp_path: Path) -> None:
    write_policy(tmp_path, "rules: []\n")
    shadow = load_policy(tmp_path).policy.settings.shadow
    assert not shadow.active and not shadow.covers("default", "alice", "claude")


def test_each_list_puts_its_matches_in_shadow(tmp_path: Path) -> None:
    shadow = loaded(tmp_path, "{upstreams: [staging-*], principals: bob, agents: [new-agent]}")
    assert shadow.active and shadow.principals == ("bob",)
    assert shadow.covers("staging-eu", "alice", None)
    assert shadow.covers("default", "bob", None)
    assert shadow.covers("default", "alice", "new-agent")
    assert not shadow.covers("default", "alice", "claude") and not shadow.covers("default", "bobby", None)


def test_all_covers_everything(tmp_path: Path) -> None:
    assert loaded(tmp_path, "{all: true}").covers("any", "one", None)


@pytest.mark.parametrize(("shadow", "problem"), [
    ("{everyone: true}", "everyone"),
    ("{all: maybe}", "all"),
    ("{principals: ['']}", "1 to 256 printable characters"),
    ("{agents: [\"a\\nb\"]}", "printable"),
    ("{upstreams: 7}", "upstreams"),
    ("true", "shadow"),
])
def test_a_bad_shadow_section_refuses_the_policy_and_names_the_key(tmp_path: Path, shadow: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        loaded(tmp_path, shadow)


def test_lists_are_bounded() -> None:
    with pytest.raises(ValueError, match="at most 256"):
        ShadowSettings(principals=tuple(f"p{i}" for i in range(257)))
