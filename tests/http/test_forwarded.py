"""The client address behind trusted proxies (`proxy/http/forwarded.py`): X-Forwarded-For and RFC 7239
Forwarded, read from the right and only through a trusted peer; hostile and broken headers never move the
answer left of the first untrusted address, and never raise."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.config import load_config
from proxy.errors import ConfigError
from proxy.http.forwarded import MAX_HEADER_CHARS, MAX_HOPS, TrustedProxies, forwarded_for, x_forwarded_for

LB = ("10.0.0.1", 41000)  # the socket peer: a load balancer in a trusted network
AGENT = "203.0.113.7"
XFF = TrustedProxies(["10.0.0.0/8", "fd00::/8"])
FWD = TrustedProxies(["10.0.0.0/8", "fd00::/8"], "forwarded")


def xff(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", v.encode("latin-1")) for v in values]


def fwd(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"forwarded", v.encode("latin-1")) for v in values]


# -- X-Forwarded-For ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "client"), [
    (AGENT, AGENT),
    (f"{AGENT}, 10.0.0.5", AGENT),  # two load balancers: both trusted, skipped
    (f"{AGENT}:5555", f"{AGENT}:5555"),
    (f"  {AGENT}  ,10.1.2.3,10.0.0.5", AGENT),
    ("2001:db8::7", "[2001:db8::7]"),
    ("[2001:db8::7]:443", "[2001:db8::7]:443"),
    (f"198.51.100.1, {AGENT}", AGENT),  # what the agent claimed itself (left) is not believed
    (f"not-an-address, {AGENT}", AGENT),  # nor does junk there hide it
    (f"{AGENT}, fd00::9", AGENT),
    ("10.0.0.7, 10.0.0.5", "10.0.0.7"),  # all trusted: the leftmost
    (f"{AGENT}, unknown, 10.0.0.5", "10.0.0.5"),  # the balancer did not know: the last trusted address it is
    ("garbage", "10.0.0.1:41000"),  # nothing readable where the client should be: the peer
    ("", "10.0.0.1:41000"),
    (f"{AGENT},", "10.0.0.1:41000"),  # an empty rightmost entry
])
def test_x_forwarded_for_through_a_trusted_peer(header: str, client: str) -> None:
    assert XFF.client(LB, xff(header)) == client


def test_the_header_is_ignored_unless_the_peer_is_trusted() -> None:
    assert XFF.client(("192.0.2.50", 5000), xff(AGENT)) == "192.0.2.50:5000"
    assert XFF.client(("::1", 5000), xff(AGENT)) == "::1:5000"
    assert TrustedProxies([]).client(LB, xff(AGENT)) == "10.0.0.1:41000"
    assert not TrustedProxies([])
    assert XFF.client(LB, []) == "10.0.0.1:41000"
    assert XFF.client(None, xff(AGENT)) is None


def test_an_ipv4_mapped_peer_is_its_ipv4_address() -> None:
    assert XFF.client(("::ffff:10.0.0.1", 41000), xff(AGENT)) == AGENT


def test_several_fields_are_one_list_in_order() -> None:
    assert XFF.client(LB, xff("198.51.100.1", f"{AGENT}, 10.0.0.5")) == AGENT
    assert XFF.client(LB, xff(AGENT, "10.0.0.5")) == AGENT


def test_only_the_configured_header_is_read() -> None:
    """An ingress that writes X-Forwarded-For leaves a client's own Forwarded header as it came: not believed."""
    assert XFF.client(LB, fwd(f"for={AGENT}")) == "10.0.0.1:41000"
    assert FWD.client(LB, xff(AGENT)) == "10.0.0.1:41000"


def test_an_oversize_header_is_read_from_its_tail() -> None:
    """Junk a client puts first cannot push the entry the balancer appended out of reach, nor cost memory."""
    huge = "x" * (10 * MAX_HEADER_CHARS)
    assert XFF.client(LB, xff(f"{huge}, {AGENT}")) == AGENT
    assert XFF.client(LB, xff(f"{huge}{AGENT}")) == "10.0.0.1:41000"  # the one entry was cut: unreadable
    hops = x_forwarded_for(f"{huge}, {AGENT}")
    assert hops[0] == (ipaddress.ip_address(AGENT), None) and hops[-1] is None


def test_the_walk_stops_after_max_hops() -> None:
    chain = ", ".join([AGENT] + ["10.0.0.9"] * (MAX_HOPS + 3))
    assert XFF.client(LB, xff(chain)) == "10.0.0.9"  # every hop it read was trusted; it read no further
    assert len(x_forwarded_for(chain)) == MAX_HOPS + 1
    assert XFF.client(LB, xff(", ".join([AGENT] + ["10.0.0.9"] * (MAX_HOPS - 1)))) == AGENT


# -- Forwarded (RFC 7239) ----------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "client"), [
    (f"for={AGENT}", AGENT),
    (f'for="{AGENT}:4711"', f"{AGENT}:4711"),
    ('For="[2001:db8:cafe::17]:4711"', "[2001:db8:cafe::17]:4711"),  # RFC 7239 §4 example
    ('for="[2001:db8:cafe::17]"', "[2001:db8:cafe::17]"),
    ('for="[2001:db8::1]:_p1"', "[2001:db8::1]"),  # an obfuscated port
    ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),  # RFC 7239 §4 example
    ("for=192.0.2.43, for=198.51.100.17", "198.51.100.17"),  # the rightmost untrusted one
    (f"for=198.51.100.1, for={AGENT};proto=https, for=10.0.0.5", AGENT),
    (f'host="a,b;c";for={AGENT}', AGENT),  # separators inside a quoted string are text
    (f'for="\\"quoted", for={AGENT}', AGENT),
    (f'for="broken, for={AGENT}', AGENT),  # a client's unbalanced quote on the left breaks nothing on the right
    (f"for=_gazonk, for={AGENT}", AGENT),
    ('for="_gazonk"', "10.0.0.1:41000"),  # obfuscated: the client cannot be named; the last trusted address
    ("for=unknown, for=10.0.0.5", "10.0.0.5"),
    ("proto=https", "10.0.0.1:41000"),  # no for=
    (f"for={AGENT};for=198.51.100.1", "10.0.0.1:41000"),  # two for= in one element
    ("for=2001:db8::1", "10.0.0.1:41000"),  # an IPv6 node must be bracketed (and quoted)
    (f"for {AGENT}", "10.0.0.1:41000"),
    (f'for="{AGENT}', "10.0.0.1:41000"),
])
def test_forwarded_through_a_trusted_peer(header: str, client: str) -> None:
    assert FWD.client(LB, fwd(header)) == client


def test_forwarded_elements_are_read_from_the_right_within_bounds() -> None:
    assert forwarded_for(f"for=198.51.100.1, for={AGENT}") == [(ipaddress.ip_address(AGENT), None),
                                                             (ipaddress.ip_address("198.51.100.1"), None)]
    chain = ", ".join([f"for={AGENT}"] + ["for=10.0.0.9"] * (MAX_HOPS + 3))
    assert FWD.client(LB, fwd(chain)) == "10.0.0.9"
    assert FWD.client(LB, fwd("x" * (10 * MAX_HEADER_CHARS) + f', for="{AGENT}"')) == AGENT


@given(st.text(max_size=300), st.sampled_from(["x-forwarded-for", "forwarded"]))
def test_no_header_raises_and_the_answer_is_the_peer_or_an_address(text: str, header: str) -> None:
    proxies = TrustedProxies(["0.0.0.0/0", "::/0"], "forwarded" if header == "forwarded" else "x-forwarded-for")
    answer = proxies.client(LB, [(header.encode(), text.encode("utf-8"))])
    assert answer == "10.0.0.1:41000" or _is_address(answer)
    untrusted = TrustedProxies(["192.0.2.0/24"])
    assert untrusted.client(LB, [(header.encode(), text.encode("utf-8"))]) == "10.0.0.1:41000"


def _is_address(answer: str | None) -> bool:
    """`IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`."""
    assert answer is not None
    if answer.startswith("["):
        host = answer[1:answer.index("]")]
    else:
        host = answer.rsplit(":", 1)[0] if answer.count(":") == 1 else answer
    ipaddress.ip_address(host)
    return True


# -- configuration -----------------------------------------------------------------------------------
def test_trusted_proxies_are_checked_at_load_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "drawbridge.yaml"
    config.write_text("http:\n  trusted_proxies: [10.0.0.0/8, 'fd00::/8', 192.168.1.10]\n"
                      "  forwarded_header: forwarded\n")
    loaded = load_config(config)
    assert loaded.http.trusted_proxies == ("10.0.0.0/8", "fd00::/8", "192.168.1.10")
    assert loaded.http.forwarded_header == "forwarded"
    config.write_text("http:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.300/32]\n")
    with pytest.raises(ConfigError) as bad:
        load_config(config)
    assert "\n" not in str(bad.value)
    assert "http.trusted_proxies" in str(bad.value) and "'10.0.0.300/32' is not an IP network" in str(bad.value)
    config.write_text("http:\n  forwarded_header: x-real-ip\n")
    with pytest.raises(ConfigError, match=r"http\.forwarded_header"):
        load_config(config)
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    assert load_config(empty).http.trusted_proxies == ()
