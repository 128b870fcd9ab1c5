"""Destinations in tool arguments and the allowlist decision."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.content import egress
from proxy.content.egress import EgressPolicy, destinations, internal_kind, parse_ip, punycode
from proxy.content.settings import EgressSettings


@pytest.mark.parametrize(("spelling", "address"), [
    ("169.254.169.254", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
    ("0xA9FEA9FE", "169.254.169.254"),
    ("0251.0376.0251.0376", "169.254.169.254"),
    ("169.254.43518", "169.254.169.254"),
    ("[::ffff:169.254.169.254]", "169.254.169.254"),
    ("127.1", "127.0.0.1"),
    ("[::1]", "::1"),
])
def test_ip_spellings(spelling: str, address: str) -> None:
    assert parse_ip(spelling) == ipaddress.ip_address(address)


def test_non_ips_are_not_parsed() -> None:
    assert parse_ip("example.com") is None
    assert parse_ip("1.2.3.4.5") is None


def test_idn_is_compared_in_punycode() -> None:
    assert punycode("Bücher.example") == "xn--bcher-kva.example"


def dests(arguments: dict[str, object], settings: EgressSettings | None = None) -> list[str]:
    return [d.value for d in destinations(arguments, settings or EgressSettings(), [])]


def test_destinations_from_named_arguments_and_free_text() -> None:
    found = dests({"url": "https://user:pw@Bücher.example:8443/a?q=secret", "to": ["alice@example.com"],
                   "body": "see http://169.254.169.254/latest and 10.0.0.5"})
    assert found == ["https://xn--bcher-kva.example:8443", "mailto:alice@example.com",
                     "http://169.254.169.254", "10.0.0.5"]


@pytest.mark.parametrize(("text", "found"), [
    ("then connect to ::1 on port 80", ["::1"]),
    ("try [fe80::1%eth0]:8080 or fd00:ec2::254.", ["fe80::1", "fd00:ec2::254"]),
    ("mapped ::ffff:169.254.169.254 here", ["169.254.169.254"]),
    ("std::vector<int> v; Foo::bar(); at 12:30:45; mac 00:1a:2b:3c:4d:5e; key: value", []),
])
def test_ipv6_literals_in_free_text(text: str, found: list[str]) -> None:
    assert dests({"command": text}) == found


def test_declared_paths_are_destinations() -> None:
    settings = EgressSettings(destination_arguments=[{"tools": ["deploy"], "paths": ["target.host"]}])
    policy = EgressPolicy(settings)
    found = destinations({"target": {"host": "db.internal"}}, settings, policy.declared_paths("deploy"))
    assert [d.value for d in found] == ["db.internal"] and found[0].declared


@pytest.mark.parametrize(("value", "kind"), [
    ("http://169.254.169.254/", "metadata service"),
    ("http://metadata.google.internal/", "metadata service"),
    ("http://[fd00:ec2::254]/", "metadata service"),
    ("http://localhost:8080", "internal host name"),
    ("http://127.0.0.1", "loopback"),
    ("http://10.1.2.3", "private"),
    ("http://[fe80::1]", "link-local"),
    ("https://example.com", None),
])
def test_internal_kinds(value: str, kind: str | None) -> None:
    (dest,) = destinations({"url": value}, EgressSettings(), [])
    assert internal_kind(dest) == kind


def refusal(settings: dict[str, object], tool: str, url: str, principal: str = "alice") -> str | None:
    parsed = EgressSettings.model_validate(settings)
    (dest,) = destinations({"url": url}, parsed, [])
    return EgressPolicy(parsed).refusal(dest, principal, None, tool, "default")


def test_metadata_is_refused_even_for_ordinary_tools() -> None:
    assert refusal({}, "search", "http://169.254.169.254/latest/meta-data") == "metadata service address"
    assert refusal({}, "search", "https://example.com") is None


def test_egress_tools_are_deny_by_default() -> None:
    settings = {"egress_tools": ["fetch"], "allow": [{"tools": ["fetch"], "hosts": ["*.example.com"]}]}
    assert refusal(settings, "fetch", "https://api.example.com/x") is None
    assert "not in the egress allowlist" in (refusal(settings, "fetch", "https://evil.example") or "")


def test_allow_rules_are_per_principal() -> None:
    settings = {"egress_tools": ["fetch"], "allow": [{"principals": ["bob"], "hosts": ["*"]}]}
    assert refusal(settings, "fetch", "https://x.example", principal="bob") is None
    assert refusal(settings, "fetch", "https://x.example", principal="alice") is not None


def test_internal_addresses_need_a_literal_allow() -> None:
    wildcard = {"allow": [{"hosts": ["*"]}]}
    assert refusal(wildcard, "fetch", "http://10.0.0.5/") == "private address"
    literal = {"allow": [{"hosts": ["10.0.0.0/8"]}]}
    assert refusal(literal, "fetch", "http://10.0.0.5/") is None
    assert refusal({"allow": [{"hosts": ["localhost"]}]}, "fetch", "http://localhost/") is None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.. a1é٣x:/-", max_size=40))
def test_dot_driven_ipv4_scan_finds_what_the_regex_finds(text: str) -> None:
    assert [m.span() for m in egress._ipv4_in(text)] == [m.span() for m in egress._IPV4_TEXT.finditer(text)]
