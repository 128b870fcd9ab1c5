"""Egress: destinations in tool arguments, checked against allowlists per principal / agent / tool.

Destinations are URLs, host names, IP addresses (also decimal, octal and hex spellings, IPv6 and
IPv4-mapped forms) and e-mail recipients. URLs are read the way the tool's HTTP client reads them: by the
WHATWG URL standard (`ada_url`), so a backslash counts as a slash in web schemes, userinfo is not the host, a
scheme-relative `//host` is a host, and hosts are percent-decoded, UTS-46 mapped (full-width letters,
ideographic dots) and compared in punycode. Loopback, private, link-local, metadata-service and other
non-global addresses are refused unless an allow entry names them literally (an address, a CIDR or an
exact host, never a wildcard). A destination argument whose value cannot be read as a destination is
refused when it looks like a URL, and for egress-capable tools always: what cannot be identified cannot
be on an allowlist.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import ada_url

from proxy.content.settings import EgressAllow, EgressSettings
from proxy.globs import compile_globs

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
# `scheme://authority` in free text; web schemes also with `\` and a single slash (`http:\\host`, `http:/\host`)
_URL = re.compile(r"(?i)\b(?:(?:https?|wss?|ftp|file):[/\\]+|[a-z][a-z0-9+.-]{1,15}:/{2,})[^\s/?#\"'<>\\`]+")
_EMAIL = re.compile(r"(?i)(?:mailto:)?([\w.+-]{1,64}@([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+))")
_MAILBOX = re.compile(r"([^\s@<>,;\"()\[\]\\:/]{1,64})@([^\s@<>,;\"()\\/?#]{1,255})")
_DISPLAY_NAME = re.compile(r"[^<>@]*<\s*(?:mailto:)?([^<>\s]+)\s*>")
_IPV4_TEXT = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_SCHEME = re.compile(r"(?i)[a-z][a-z0-9+.-]*:")
_HOST_PORT = re.compile(r"[^:/\\?#@\[\]\s]+:(?:\d+(?:[/\\?#]|$)|$)")  # `localhost:8080/x`: a host, not a scheme
_USERINFO = re.compile(r"(?<=[/\\])[^/\\@\s]*@")
WEB_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})  # WHATWG "special" schemes
_RELATIVE_BASE = "https://relative.invalid/"  # what a client resolves `//host/path` against
_C0_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_TRAILING = frozenset(".,;:!)]}")
SHOWN_MAX = 80
METADATA_IPS = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "192.0.0.192", "fd00:ec2::254"))
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.internal"})
INTERNAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".intranet", ".corp", ".lan", ".home.arpa")
UNPARSED = "destination could not be parsed"
UNIDENTIFIED = "destination could not be identified as a host, IP address, URL or e-mail address"


@dataclass(frozen=True, slots=True)
class Destination:
    """One place a call could send something. `value` is what the audit event lists (no path/query).

    `parsed` is False for a destination argument whose value could not be read as a destination; its
    `value` is then a short, escaped excerpt of the text, `host` is "" and `url_like` says whether the
    text looked like a URL (a scheme, or a leading `//`) that the URL parser refused.
    """

    value: str
    host: str  # punycode host, IP text, or e-mail domain
    ip: IP | None
    email: str | None
    path: str  # argument path it was found in
    declared: bool  # found in a destination argument (not only mentioned in free text)
    parsed: bool = True
    url_like: bool = False


def parse_ip(host: str) -> IP | None:
    """An IP address in any spelling `inet_aton` accepts (`2852039166`, `0251.0376.0251.0376`, `0xA9FEA9FE`)."""
    h = host.strip("[]").split("%", 1)[0]
    address: IP | None
    try:
        address = ipaddress.ip_address(h)
    except ValueError:
        address = _loose_ipv4(h)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _loose_ipv4(h: str) -> IP | None:
    parts = h.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    nums = []
    for p in parts:
        try:
            nums.append(int(p, 16) if p.lower().startswith("0x") else int(p, 8) if len(p) > 1 and p[0] == "0"
                        else int(p, 10))
        except ValueError:
            return None
    *head, last = nums
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(nums)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (5 - len(nums)) + last
    return ipaddress.IPv4Address(value) if value < 2 ** 32 else None


def punycode(host: str) -> str:
    """A host name as a WHATWG client resolves it: lowercase, UTS-46 mapped, punycode, no trailing dot."""
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host
    web = _web_host(host)
    if web:
        return web
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _web_host(host: str) -> str | None:
    """The WHATWG host parser's reading of `host` (percent-decoded, UTS-46, IPv4 numbers), or None."""
    if any(c in host for c in "/\\?#@"):
        return None
    try:
        name = ada_url.URL(f"http://{host}/").hostname
    except ValueError:
        return None
    return name.rstrip(".") or name


def internal_kind(dest: Destination) -> str | None:
    """Why a destination is internal ('metadata service', 'loopback', …), or None if it is public."""
    if not dest.parsed:
        return None
    if dest.ip is not None:
        ip = dest.ip
        if ip in METADATA_IPS:
            return "metadata service"
        for kind, test in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                           ("private", ip.is_private), ("unspecified", ip.is_unspecified),
                           ("multicast", ip.is_multicast)):
            if test:
                return kind
        return None if ip.is_global else "reserved"
    host = dest.host
    if host in METADATA_HOSTS:
        return "metadata service"
    if host == "localhost" or host.endswith(INTERNAL_SUFFIXES) or ("." not in host and dest.email is None):
        return "internal host name"
    return None


def _declared(raw: str, path: str) -> list[Destination]:
    """What a destination argument names, read as the tool's client would; unreadable values as unparsed."""
    text = raw.strip(_C0_SPACE).strip()
    if "\t" in text or "\n" in text or "\r" in text:  # the URL parser drops these anywhere
        text = text.translate(_TAB_NEWLINE)
    if not text:
        return []
    ip = parse_ip(text)
    if ip is not None:
        return [Destination(str(ip), str(ip), ip, None, path, True)]
    if _looks_like_url(text):
        if text[:7].lower() == "mailto:":
            return _recipients(unquote(text[7:].split("?", 1)[0]), path) or [_unparsed(raw, path, url_like=True)]
        dest = _from_url(text, path, True)
        if dest is not None and not dest.parsed and "@" in text:  # `user:pass@host`: userinfo, not a scheme
            dest = _from_url(f"http://{text}", path, True, bare=True) or dest
        return [dest or _unparsed(raw, path, url_like=True)]
    if "@" in text:
        found = _recipients(text, path)
        if found:
            return found
    if text[0] not in "/\\":  # a bare `host[:port][/path]`; a lone leading slash is a file path
        dest = _from_url(f"http://{text}", path, True, bare=True)
        if dest is not None:
            return [dest]
    return [_unparsed(raw, path, url_like=False)]


def _looks_like_url(text: str) -> bool:
    r"""A scheme (`x:`, but not `host:port`) or a scheme-relative start (`//`, `\\`, `/\`, `\/`)."""
    if text[:1] in ("/", "\\") and text[1:2] in ("/", "\\"):
        return True
    m = _SCHEME.match(text)
    return m is not None and (m.group()[:-1].lower() in WEB_SCHEMES or _HOST_PORT.match(text) is None)


def _from_url(text: str, path: str, declared: bool, bare: bool = False) -> Destination | None:
    """The host a WHATWG client reaches for this URL; None if the parser refuses it, unparsed if it has no host."""
    relative = text[:1] in ("/", "\\")
    try:
        url = ada_url.URL(text, _RELATIVE_BASE if relative else None)
        scheme, host = url.protocol[:-1], url.hostname
    except ValueError:
        return None
    if host and scheme not in WEB_SCHEMES:  # an opaque host: read it as a web client would (%-decoded, UTS-46)
        web = _web_host(host)
        if web is None:
            return None
        host = web
    elif not host:
        if scheme != "file":  # `data:`, `javascript:`, `urn:`…: names no host
            return _unparsed(text, path, url_like=False, declared=declared)
        host = "localhost"  # `file:///x` is `file://localhost/x`
    else:
        host = host.rstrip(".") or host
    ip = parse_ip(host) if host[:1] == "[" or host[-1:].isdigit() or ":" in host else None
    name = str(ip) if ip is not None else host
    if bare:
        return Destination(name, name, ip, None, path, declared)
    port = url.port
    shown = f"{'' if relative else scheme + ':'}//{_bracket(name)}{f':{port}' if port else ''}"
    return Destination(shown, name, ip, None, path, declared)


def _recipients(text: str, path: str) -> list[Destination]:
    """E-mail recipients: `a@x.example`, `Name <a@x.example>`, lists split on `,` / `;`; [] unless all are."""
    found = []
    for part in text.split(",") if "," in text or ";" in text else (text,):
        for item in part.split(";"):
            item = item.strip()
            if not item:
                continue
            named = _DISPLAY_NAME.fullmatch(item)
            m = _MAILBOX.fullmatch(named.group(1) if named is not None else item)
            dest = _mailbox(m.group(1), m.group(2), path, True) if m is not None else None
            if dest is None:
                return []
            found.append(dest)
    return found


def _mailbox(local: str, domain: str, path: str, declared: bool) -> Destination | None:
    ip = parse_ip(domain) if domain[:1] == "[" or domain[-1:].isdigit() else None
    if ip is not None:
        host = str(ip)
    elif domain.isascii() and "%" not in domain and "[" not in domain:
        host = domain.rstrip(".").lower()
    else:
        web = _web_host(domain)
        if web is None:
            return None
        host = web
    address = f"{local}@{_bracket(host)}"
    return Destination(f"mailto:{address}", host, ip, address.lower(), path, declared)


def _unparsed(raw: str, path: str, url_like: bool, declared: bool = True) -> Destination:
    return Destination(_shown(raw), "", None, None, path, declared, parsed=False, url_like=url_like)


def _shown(raw: str) -> str:
    """A short, printable excerpt of an unreadable value for the audit event: no query, fragment or userinfo."""
    text = raw.strip()[:4 * SHOWN_MAX].split("?", 1)[0].split("#", 1)[0]
    text = _USERINFO.sub("***@", text)
    text = "".join(c if " " <= c < "\x7f" else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX - 3] + "..."


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _leaves(node: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif depth < 16 and isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k), depth + 1)
    elif depth < 16 and isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}.{i}" if path else str(i), depth + 1)


def _path_matches(pattern: str, path: str) -> bool:
    want, have = pattern.split("."), path.split(".")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def destinations(arguments: dict[str, Any], settings: EgressSettings, declared_paths: list[str]) -> list[Destination]:
    """Destinations in a call's arguments: declared paths and destination-named keys first, then free text."""
    found: list[Destination] = []
    keys = {k.lower() for k in settings.destination_keys}
    for path, value in _leaves(arguments, ""):
        last = path.rsplit(".", 1)[-1]
        parent = path.rsplit(".", 2)[-2] if path.count(".") >= 1 else ""
        declared = any(_path_matches(p, path) for p in declared_paths) or last.lower() in keys or (
            last.isdigit() and parent.lower() in keys)
        if declared:
            named = _declared(value, path)
            found.extend(named)
            if named and all(d.parsed for d in named):
                continue
        if settings.scan_all_arguments and len(value) <= 1 << 20:
            found.extend(_mentions(value, path))
    return found


def _mentions(text: str, path: str) -> Iterator[Destination]:
    covered: list[tuple[int, int]] = []
    for m in _urls_in(text):
        start, end = m.span()
        while text[end - 1] in _TRAILING and not (text[end - 1] == "]" and "[" in text[start:end]):
            end -= 1  # sentence punctuation after a URL
        dest = _from_url(text[start:end], path, False)
        if dest is not None and dest.parsed:  # what the parser refuses or that names no host is no destination
            covered.append((start, end))
            yield dest
    if "@" in text:
        for m in _EMAIL.finditer(text):
            if _inside(covered, m.start()):
                continue
            dest = _mailbox(m.group(1).rsplit("@", 1)[0], m.group(2), path, False)
            if dest is not None:
                yield dest
    for m in _ipv4_in(text):
        if _inside(covered, m.start()):
            continue
        ip = parse_ip(m.group())
        if ip is not None:
            yield Destination(str(ip), str(ip), ip, None, path, False)
    for start, ip6 in _ipv6_in(text):
        if not _inside(covered, start):
            yield Destination(str(ip6), str(ip6), ip6, None, path, False)


def _urls_in(text: str) -> Iterator[re.Match[str]]:
    """`_URL.finditer(text)`, driven by the `:/` and `:\\` (C-fast `str.find`) instead of every character."""
    lo, slash, back = 0, text.find(":/"), text.find(":\\")
    while slash >= 0 or back >= 0:
        pos = slash if back < 0 or 0 <= slash < back else back
        m = None
        for start in range(max(lo, pos - 16), pos - 1):  # a scheme is 2 to 16 characters
            m = _URL.match(text, start)
            if m is not None:
                break
        lo = m.end() if m is not None else pos + 1
        if m is not None:
            yield m
        if slash >= 0 and slash < lo:
            slash = text.find(":/", lo)
        if back >= 0 and back < lo:
            back = text.find(":\\", lo)


def _ipv4_in(text: str) -> Iterator[re.Match[str]]:
    """`_IPV4_TEXT.finditer(text)`, driven by the dots (C-fast `str.find`) instead of every character."""
    pos = text.find(".")
    while pos >= 0:
        start = pos
        while start > 0 and pos - start < 3 and text[start - 1].isdecimal():
            start -= 1
        m = _IPV4_TEXT.match(text, start) if start < pos else None
        if m is not None:
            yield m
        pos = text.find(".", m.end() if m is not None else pos + 1)


_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def _ipv6_in(text: str) -> Iterator[tuple[int, IP]]:
    """IPv6 literals in free text (`::1`, `fe80::1%eth0`, `[fd00:ec2::254]`), found from their colons."""
    pos = text.find(":")
    while pos >= 0:
        start, end = pos, pos + 1
        while start > 0 and text[start - 1] in _IPV6_CHARS:
            start -= 1
        while end < len(text) and text[end] in _IPV6_CHARS:
            end += 1
        token = text[start:end].strip(".")
        if token.count(":") >= 2 and (start == 0 or not text[start - 1].isalnum()):
            if end < len(text) and text[end] == "%":  # a zone id: fe80::1%eth0
                while end < len(text) and (text[end].isalnum() or text[end] in "%_-"):
                    end += 1
            ip = parse_ip(token) if end == len(text) or not (text[end].isalnum() or text[end] == "_") else None
            if isinstance(ip, ipaddress.IPv6Address):  # an IPv4-mapped one is found by its dotted quad
                yield start, ip
        pos = text.find(":", end + 1)


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    """Is `pos` inside one of the sorted, non-overlapping spans?"""
    i = bisect.bisect_right(spans, (pos, 1 << 62)) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


class EgressPolicy:
    """Compiled `EgressSettings`: which tools are egress-capable and what each caller may reach."""

    def __init__(self, settings: EgressSettings) -> None:
        self.settings = settings
        self._egress_tools = compile_globs(settings.egress_tools) if settings.egress_tools else None
        self._declared = [(compile_globs(d.tools), list(d.paths)) for d in settings.destination_arguments]
        self._rules = [(_Matcher(rule), rule) for rule in settings.allow]

    def egress_capable(self, tool: str) -> bool:
        return self._egress_tools is not None and self._egress_tools.fullmatch(tool) is not None

    def declared_paths(self, tool: str) -> list[str]:
        return [p for tools, paths in self._declared if tools.fullmatch(tool) for p in paths]

    def refusal(self, dest: Destination, principal: str, agent: str | None, tool: str, upstream: str) -> str | None:
        """Why this destination is refused for this caller and tool, or None if it may be reached."""
        if not dest.parsed:  # an unreadable destination argument: deny by default where it could matter
            if dest.url_like:
                return UNPARSED
            return UNIDENTIFIED if self.egress_capable(tool) else None
        internal = internal_kind(dest)
        egress = self.egress_capable(tool)
        if internal is None and not egress:
            return None
        if not dest.declared and not egress and internal is not None:
            return None  # only mentioned in free text of a tool that sends nothing anywhere
        applicable = [m for m, rule in self._rules if m.applies(principal, agent, tool, upstream)]
        if internal is not None:
            if any(m.allows(dest, literal_only=True) for m in applicable):
                return None
            return f"{internal} address"
        if any(m.allows(dest, literal_only=False) for m in applicable):
            return None
        return f"not in the egress allowlist for tool {tool!r}"


class _Matcher:
    def __init__(self, rule: EgressAllow) -> None:
        self.principals = compile_globs(rule.principals)
        self.agents = compile_globs(rule.agents)
        self.tools = compile_globs(rule.tools)
        self.upstreams = compile_globs(rule.upstreams)
        self.networks = []
        self.literal_hosts: set[str] = set()
        host_globs: list[str] = []
        email_globs: list[str] = []
        for entry in rule.hosts:
            entry = entry.strip()
            if "@" in entry:
                email_globs.append(entry.lower())
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = punycode(entry) if "*" not in entry else entry.lower()
            if "*" in name:
                host_globs.append(name)
            else:
                self.literal_hosts.add(name)
        self.host_globs = compile_globs(host_globs, ignore_case=True) if host_globs else None
        self.email_globs = compile_globs(email_globs, ignore_case=True) if email_globs else None

    def applies(self, principal: str, agent: str | None, tool: str, upstream: str) -> bool:
        return (self.principals.fullmatch(principal) is not None and self.tools.fullmatch(tool) is not None
                and self.upstreams.fullmatch(upstream) is not None
                and self.agents.fullmatch(agent or "") is not None)

    def allows(self, dest: Destination, literal_only: bool) -> bool:
        if dest.email is not None:
            return not literal_only and self.email_globs is not None and bool(self.email_globs.fullmatch(dest.email))
        if dest.ip is not None:
            glob = self.host_globs
            return any(dest.ip in net for net in self.networks if net.version == dest.ip.version) or (
                not literal_only and glob is not None and glob.fullmatch(str(dest.ip)) is not None)
        if dest.host in self.literal_hosts:
            return True
        return not literal_only and self.host_globs is not None and self.host_globs.fullmatch(dest.host) is not None
