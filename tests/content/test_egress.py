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


# -- URLs are read as a WHATWG client (the tool's HTTP client) reads them --------------------------------------


def one(key: str, value: str) -> egress.Destination:
    (dest,) = destinations({key: value}, EgressSettings(), [])
    return dest


@pytest.mark.parametrize(("key", "value", "shown", "host"), [
    # scheme-relative: resolved against the client's (https) base
    ("url", "//evil.example/x", "//evil.example", "evil.example"),
    ("url", "\\\\evil.example\\x", "//evil.example", "evil.example"),
    ("webhook", "//user:pass@evil.example/", "//evil.example", "evil.example"),
    # in web schemes a backslash is a slash, and the slashes may be missing
    ("url", "http:\\\\evil.example\\path", "http://evil.example", "evil.example"),
    ("url", "http:/\\evil.example", "http://evil.example", "evil.example"),
    ("url", "https:\\/evil.example", "https://evil.example", "evil.example"),
    ("url", "http:evil.example/x", "http://evil.example", "evil.example"),
    ("url", "ht\ntp://evil.example", "http://evil.example", "evil.example"),
    # userinfo is not the host; `\` ends the authority
    ("url", "https:\\\\good.example@evil.example", "https://evil.example", "evil.example"),
    ("host", "evil.example\\@good.example", "evil.example", "evil.example"),
    ("host", "user:pass@169.254.169.254", "169.254.169.254", "169.254.169.254"),
    # UTS-46 mapping and percent-decoding of hosts
    ("host", "evil\uff0eexample", "evil.example", "evil.example"),
    ("host", "\uff45\uff56\uff49\uff4c.example", "evil.example", "evil.example"),
    ("domain", "evil\uff61example:8443", "evil.example", "evil.example"),
    ("url", "http://%65vil.example/", "http://evil.example", "evil.example"),
    ("url", "http://%31%36%39.254.169.254/", "http://169.254.169.254", "169.254.169.254"),
    ("url", "redis://%31%30.0.0.1:6379", "redis://10.0.0.1:6379", "10.0.0.1"),
    ("host", "bücher.example", "xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("to", "bob@evil\u3002example", "mailto:bob@evil.example", "evil.example"),
    # IPv4 in the number forms the URL parser accepts
    ("url", "http:\\\\0x7f.1\\", "http://127.0.0.1", "127.0.0.1"),
    ("url", "http://0x7f%2e1/", "http://127.0.0.1", "127.0.0.1"),
    ("host", "\uff11\uff12\uff17.0.0.1", "127.0.0.1", "127.0.0.1"),
    # read right before too; kept so that `scheme://host:port` is never taken for `host:port`
    ("url", "gopher://evil.example:70/", "gopher://evil.example:70", "evil.example"),
    ("url", "file:///etc/passwd", "file://localhost", "localhost"),
])
def test_declared_destinations_are_read_as_the_client_reads_them(key: str, value: str, shown: str,
                                                                 host: str) -> None:
    dest = one(key, value)
    assert (dest.value, dest.host, dest.declared, dest.parsed) == (shown, host, True, True)


@pytest.mark.parametrize(("value", "address"), [
    ("http://0x7f.1", "127.0.0.1"), ("http://2130706433", "127.0.0.1"), ("http://127.1", "127.0.0.1"),
    ("http://good.example@169.254.169.254/", "169.254.169.254"),
    ("http://169.254.169.254\\@good.example/", "169.254.169.254"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254"), ("http://[::1]:8080/", "::1"),
    ("::1", "::1"), ("[fd00:ec2::254]", "fd00:ec2::254"), ("fe80::1%eth0", "fe80::1"), ("0x7f.1", "127.0.0.1"),
])
def test_ip_destinations_keep_their_address(value: str, address: str) -> None:
    """Spellings that were read right before the WHATWG parser took over, and must stay so."""
    assert one("url", value).ip == ipaddress.ip_address(address)


def test_userinfo_and_idn_urls_name_the_real_host() -> None:
    """Forms that were read right before as well (the tricky variants are in the table above)."""
    assert [one("url", v).host for v in ("http://good.example@evil.example/", "http://evil.example\\@good.example",
                                         "http://user:pass@evil.example", "http://evil\u3002example",
                                         "http://\uff45\uff56\uff49\uff4c.example", "https://Bücher.example/")] == [
        "evil.example", "evil.example", "evil.example", "evil.example", "evil.example", "xn--bcher-kva.example"]


@pytest.mark.parametrize(("text", "found"), [
    ("see http:\\\\evil.example\\x or http:/\\evil2.example", ["http://evil.example", "http://evil2.example"]),
    ("and https:\\/evil3.example/path", ["https://evil3.example"]),
    ("fetch http://%65vil.example/ and http://evil\uff0eexample", ["http://evil.example", "http://evil.example"]),
    ("(see http://169.254.169.254).", ["http://169.254.169.254"]),
    ("HTTP:\\\\0x7f.1\\x", ["http://127.0.0.1"]),
    ("bad port http://10.0.0.5:99999/ here", ["10.0.0.5"]),  # the URL does not parse; the address is still seen
    ("not a host: http://foo.0x7f/ or foo:\\\\bar", []),
])
def test_free_text_urls_with_backslashes_and_encodings(text: str, found: list[str]) -> None:
    assert dests({"body": text}) == found


def check(tool: str, arguments: dict[str, object], egress_tools: tuple[str, ...] = ("fetch", "send_mail"),
          hosts: tuple[str, ...] = ("*.good.example", "*@good.example")) -> list[str | None]:
    settings = EgressSettings.model_validate({"egress_tools": list(egress_tools),
                                              "allow": [{"tools": ["*"], "hosts": list(hosts)}]})
    policy = EgressPolicy(settings)
    found = destinations(arguments, settings, policy.declared_paths(tool))
    assert found, "no destination found"
    return [policy.refusal(d, "alice", None, tool, "default") for d in found if d.declared]


@pytest.mark.parametrize("value", ["http://foo.0x7f/", "https://evil.example:99999/", "http://exa mple.com/",
                                   "http://169.254.169.254\uff1a80/", "//[::1", "http://[fe80::1%25eth0]/",
                                   "foo://good.example%2F.evil.example/", "mailto:not an address"])
def test_unparseable_url_looking_values_are_refused_even_for_ordinary_tools(value: str) -> None:
    assert check("search", {"url": value})[0] == "destination could not be parsed"


@pytest.mark.parametrize(("key", "value"), [("url", "evil example"), ("url", "javascript:alert(1)"),
                                            ("target", "/etc/passwd"), ("to", "Bob Smith"),
                                            ("url", "data:text/plain,hi"), ("to", "Bob (bob at example dot com)")])
def test_unidentifiable_destinations_of_egress_tools_are_refused(key: str, value: str) -> None:
    assert check("fetch", {key: value}) == [
        "destination could not be identified as a host, IP address, URL or e-mail address"]


@pytest.mark.parametrize(("key", "value"), [("to", "Bob Smith"), ("url", "javascript:alert(1)"),
                                            ("address", "1 Main Street, Springfield")])
def test_values_that_are_no_destination_pass_for_ordinary_tools(key: str, value: str) -> None:
    (dest,) = destinations({key: value}, EgressSettings(), [])
    assert not dest.parsed and dest.host == "" and internal_kind(dest) is None
    assert EgressPolicy(EgressSettings()).refusal(dest, "alice", None, "search", "default") is None


def test_recipient_lists_and_display_names_are_destinations() -> None:
    found = destinations({"to": "Bob <bob@good.example>; carol@good.example, mallory@evil.example"},
                         EgressSettings(), [])
    assert [(d.value, d.declared) for d in found] == [
        ("mailto:bob@good.example", True), ("mailto:carol@good.example", True), ("mailto:mallory@evil.example", True)]
    assert check("send_mail", {"to": "Bob <bob@good.example>, carol@good.example"}) == [None, None]
    assert check("send_mail", {"to": "bob@good.example, mallory@evil.example"})[1] is not None


def test_tricks_do_not_reach_an_allowlisted_host() -> None:
    for url in ("http://api.good.example@evil.example/", "http://evil.example\\@api.good.example/",
                "//evil.example/api.good.example", "http:\\\\evil.example\\.good.example"):
        assert check("fetch", {"url": url}) == ["not in the egress allowlist for tool 'fetch'"], url
    assert check("fetch", {"url": "https:\\\\api.good.example\\x"}) == [None]
    assert check("fetch", {"url": "http://api\uff0egood\u3002example/"}) == [None]


@pytest.mark.parametrize(("key", "value", "why"), [
    ("url", "http:\\\\169.254.169.254\\latest", "metadata service address"),
    ("url", "//169.254.169.254/latest", "metadata service address"),
    ("host", "user:pass@169.254.169.254", "metadata service address"),
    ("host", "\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14", "metadata service address"),
    ("url", "http://%31%32%37.0.0.1/", "loopback address"),
])
def test_internal_tricks_are_refused_for_ordinary_tools(key: str, value: str, why: str) -> None:
    assert check("search", {key: value}) == [why]


def test_unparsed_values_are_shown_short_and_without_secrets() -> None:
    (dest, *_) = destinations({"url": "http://user:secret@exa mple.com/" + "a" * 300 + "?token=abc"},
                              EgressSettings(), [])
    assert not dest.parsed and dest.url_like and dest.host == "" and dest.ip is None
    assert len(dest.value) <= 80 and "secret" not in dest.value and "token" not in dest.value
    assert one("url", "http://\x1b[31mx y\u202e").value.isprintable()


def test_empty_destination_arguments_are_no_destination() -> None:
    assert destinations({"url": "", "to": "  "}, EgressSettings(), []) == []


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="htpsfile:/\\.+-é a1x@[]", max_size=40))
def test_colon_driven_url_scan_finds_what_the_regex_finds(text: str) -> None:
    assert [m.span() for m in egress._urls_in(text)] == [m.span() for m in egress._URL.finditer(text)]
