"""Who the agent is behind load balancers: the client address from `X-Forwarded-For` or RFC 7239 `Forwarded`,
believed only through trusted proxies (`http.trusted_proxies`).

The header is read only when the socket peer is in a trusted network, and then from the right, the way
nginx (`real_ip_recursive on`) and Envoy (`xff_num_trusted_hops`) do: each trusted address says who connected
to it, until the first address that is not trusted, which is the client. An `unknown`, obfuscated (`_hidden`)
or unreadable entry stops the walk at the last trusted address: what lies left of it was written by someone
the proxy does not trust. A client can therefore put anything at the start of the header without effect, and
cannot hide behind it either: only the tail is read (`MAX_HEADER_CHARS`, `MAX_HOPS`), so a long or broken
prefix never costs the entries a trusted proxy appended. Nothing here raises on bad input.

Only the header named in `http.forwarded_header` is read (the one the ingress writes; a client could send
the other).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Hop = tuple[Address, int | None] | None  # an address and its port when given; None: unknown or unreadable
ForwardedHeader = Literal["x-forwarded-for", "forwarded"]

MAX_HEADER_CHARS = 8192  # of the header's tail (all its fields together) that is read
MAX_HOPS = 32  # entries read from the right


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; ValueError names the first one that is not."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP network (CIDR such as 10.0.0.0/8 or an address)") from None
    return tuple(networks)


class TrustedProxies:
    """The trusted networks and the header they write."""

    def __init__(self, networks: Iterable[str], header: ForwardedHeader = "x-forwarded-for") -> None:
        self.networks = parse_networks(networks)
        self.header = header
        self._name = header.encode("latin-1")

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def client(self, peer: Sequence[object] | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The client address to record: `HOST:PORT` of the socket peer, or, through trusted proxies, the first
        untrusted address of the header (`IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`)."""
        if not peer:
            return None
        socket_peer = f"{peer[0]}:{peer[1]}"
        address = _address(str(peer[0])) if self.networks else None
        if address is None or not self.trusts(address):
            return socket_peer
        fields = [value for name, value in headers if name == self._name]
        if not fields:
            return socket_peer
        text = b", ".join(fields).decode("latin-1")
        hops = forwarded_for(text) if self.header == "forwarded" else x_forwarded_for(text)
        found: Hop = None
        for hop in hops:
            if hop is None:
                break
            found = hop
            if not self.trusts(hop[0]):
                break
        return socket_peer if found is None else _format(*found)


def x_forwarded_for(value: str) -> list[Hop]:
    """The entries of an `X-Forwarded-For` value, rightmost first (see `_read`)."""
    text = value[-MAX_HEADER_CHARS:]
    return _read(text.rsplit(",", MAX_HOPS)[::-1], len(value) > len(text), _node)


def forwarded_for(value: str) -> list[Hop]:
    """The `for=` nodes of a `Forwarded` value (RFC 7239), rightmost element first (see `_read`). An element
    without one readable `for=` (unknown, obfuscated, missing, repeated or malformed) is None."""
    text = value[-MAX_HEADER_CHARS:]
    return _read(_split_from_right(text, MAX_HOPS + 1), len(value) > len(text), _element_for)


def _read(elements: list[str], cut: bool, parse: Callable[[str], Hop]) -> list[Hop]:
    """At most MAX_HOPS elements (rightmost first), parsed; one cut by MAX_HEADER_CHARS, or the rest beyond
    MAX_HOPS, reads as None (the walk stops there)."""
    beyond = len(elements) > MAX_HOPS
    hops = [parse(element.strip()) for element in elements[:MAX_HOPS]]
    if beyond:
        hops.append(None)
    elif cut:
        hops[-1] = None
    return hops


def _split_from_right(text: str, limit: int) -> list[str]:
    """Split on commas outside quoted strings, scanning from the right (the right is what trusted proxies
    wrote, so it is read correctly whatever a client put on the left); at most `limit` elements."""
    elements: list[str] = []
    quoted = False
    end = len(text)
    i = end - 1
    while i >= 0 and len(elements) < limit - 1:
        char = text[i]
        if char == '"':
            backslashes = 0
            j = i - 1
            while j >= 0 and text[j] == "\\":
                backslashes += 1
                j -= 1
            if backslashes % 2 == 0:
                quoted = not quoted
        elif char == "," and not quoted:
            elements.append(text[i + 1:end])
            end = i
        i -= 1
    elements.append(text[:end])
    return elements


def _element_for(element: str) -> Hop:
    """The node of the one `for=` parameter of a `Forwarded` element."""
    pairs = _split_params(element.strip())
    if pairs is None:
        return None
    nodes = [value for name, value in pairs if name == "for"]
    if len(nodes) != 1:
        return None
    return _node(nodes[0].strip(), forwarded=True)


def _split_params(element: str) -> list[tuple[str, str]] | None:
    """`name=value;name="quoted value"` as (lowercase name, unquoted value) pairs; None when malformed."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(element)
    while i < n:
        eq = element.find("=", i)
        if eq < 0:
            return None
        name = element[i:eq].strip().lower()
        if not name or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name):
            return None
        i = eq + 1
        while i < n and element[i] in " \t":
            i += 1
        if i < n and element[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and element[i] != '"':
                if element[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(element[i])
                i += 1
            if i >= n:
                return None  # no closing quote
            value = "".join(chars)
            i += 1
        else:
            semi = element.find(";", i)
            stop = n if semi < 0 else semi
            value = element[i:stop].strip()
            i = stop
        pairs.append((name, value))
        while i < n and element[i] in " \t":
            i += 1
        if i < n:
            if element[i] != ";":
                return None
            i += 1
    return pairs


def _node(text: str, *, forwarded: bool = False) -> Hop:
    """`IPv4`, `IPv4:port`, `[IPv6]`, `[IPv6]:port`, and in X-Forwarded-For a bare IPv6 too; None for
    `unknown`, an obfuscated identifier (`_…`) or anything else."""
    if not text or len(text) > 64 or text.lower() == "unknown" or text.startswith("_"):
        return None
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        bracketed = _address(host)
        if not close or not isinstance(bracketed, ipaddress.IPv6Address):
            return None
        if not rest:
            return bracketed, None
        return (bracketed, _port(rest[1:])) if rest.startswith(":") else None
    address = _address(text)
    if address is not None:
        return (address, None) if isinstance(address, ipaddress.IPv4Address) or not forwarded else None
    host, colon, port = text.rpartition(":")
    address = _address(host) if colon else None
    return (address, _port(port)) if isinstance(address, ipaddress.IPv4Address) else None


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _port(text: str) -> int | None:
    """A port number; None for an obfuscated port (`_…`) or nonsense."""
    return int(text) if text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536 else None


def _format(address: Address, port: int | None) -> str:
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    return host if port is None else f"{host}:{port}"
