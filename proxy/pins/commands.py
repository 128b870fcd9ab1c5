"""`drawbridge pin` (write or check a lock file) and `drawbridge pins` (pending changes, approvals).

Exit codes: 0 fine; 1 drift, refused findings or nothing to approve; 2 usage or configuration
error; 3 the server could not be reached. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from proxy.errors import ConfigError
from proxy.pins import lockfile
from proxy.pins.diff import ListingDiff, diff_listings
from proxy.pins.poison import at_or_above, scan_definition
from proxy.pins.settings import SEVERITIES
from proxy.pins.shadowing import find_collisions

if TYPE_CHECKING:
    from proxy.pins.fetch import Listing

if TYPE_CHECKING:
    from proxy.config import Config

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
DEFAULT_UPSTREAM = "default"


def add_pin_parsers(subparsers: Any) -> None:
    """Add `pin` and `pins` to the `drawbridge` subcommands (an argparse subparsers action)."""
    pin = subparsers.add_parser("pin", help="pin an upstream's tool definitions to a lock file, or check drift")
    pin.add_argument("target", nargs="?", help="upstream URL or configured upstream name")
    pin.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the lock file here")
    pin.add_argument("--check", type=Path, metavar="FILE", help="compare the server with FILE; exit 1 on drift")
    pin.add_argument("--json", dest="as_json", action="store_true",
                     help="with --check: print {file, drift, diff, findings} as one JSON object")
    pin.add_argument("--name", help="upstream name recorded in the lock file (default: configured name, "
                                    "else 'default', or the stdio upstream name)")
    pin.add_argument("--stdio", metavar="COMMAND", help="pin a stdio server started by this command line")
    pin.add_argument("--header", action="append", default=[], metavar="'K: V'", help="HTTP header (repeatable)")
    pin.add_argument("--allow-findings", action="store_true", help="pin even with poisoning findings (reviewed)")
    pin.add_argument("--block-severity", choices=sorted(SEVERITIES), default="SEV-3",
                     help="findings at or above this refuse pinning (default SEV-3)")
    pin.add_argument("--timeout", type=float, default=30.0, help="seconds to connect and list (default 30)")
    pin.add_argument("--config", type=Path, help="drawbridge.yaml (configured upstreams, pins store, audit file)")
    pin.set_defaults(command="pin")

    pins = subparsers.add_parser("pins", help="review pending tool-definition changes and approve them")
    actions = pins.add_subparsers(dest="pins_command", metavar="ACTION")
    for action, helptext in (("approve", "approve pending changes (all, or the named tools; NAME@SHA pins one)"),
                             ("reject", "discard pending changes (the tools stay hidden)"),
                             ("pending", "list pending changes with their diffs")):
        sub = actions.add_parser(action, help=helptext)
        sub.add_argument("upstream")
        if action != "pending":
            sub.add_argument("tools", nargs="*", metavar="TOOL")
            sub.add_argument("--approver", help="who approves (default: your login name)")
            sub.add_argument("--reason", help="why (recorded and audited)")
            sub.add_argument("--audit-file", type=Path, help="append the audit event here (default: config)")
        if action == "approve":
            sub.add_argument("--allow-findings", action="store_true", help="approve despite poisoning findings")
        if action == "pending":
            sub.add_argument("--json", action="store_true", help="print the pending records as JSON")
        sub.add_argument("--store", help="state store URL (sqlite:PATH or redis://…; default: the config's pins.store, "
                                         "else its store)")
        sub.add_argument("--config", type=Path, help="drawbridge.yaml")
    shadows = actions.add_parser("shadows", help="report tool names that collide across lock files")
    shadows.add_argument("files", nargs="+", type=Path)
    pins.set_defaults(command="pins")


def run_pin_command(ns: argparse.Namespace, config: Config | None = None) -> int:
    """Run `pin` or `pins …`; returns the exit code (errors are one line on stderr)."""
    from proxy.pins.fetch import FetchError  # the MCP SDK client: imported only when a pin command runs

    try:
        if config is None and getattr(ns, "config", None) is not None:
            from proxy.config import load_config

            config = load_config(ns.config)
        if ns.command == "pin":
            return _pin(ns, config)
        from proxy.pins.review import run_review

        if getattr(ns, "pins_command", None) is None:
            raise ConfigError("pins needs an action: drawbridge pins approve|reject|pending|shadows ...")
        return run_review(ns, config)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except FetchError as exc:
        _err(str(exc))
        return EXIT_UNREACHABLE


def _pin(ns: argparse.Namespace, config: Config | None) -> int:
    if (ns.output is None) == (ns.check is None):
        raise ConfigError("pin needs exactly one of -o FILE (write) or --check FILE (compare)")
    pinned = lockfile.load(ns.check) if ns.check is not None else None
    target, headers, name = _resolve(ns, config, pinned.upstream if pinned else None)
    from proxy.pins.fetch import fetch_listing

    listing = anyio.run(lambda: fetch_listing(target, headers=headers, timeout_seconds=ns.timeout))
    dupes = sorted(str(n) for n, c in Counter(t.get("name") for t in listing.tools).items() if c > 1)
    if dupes:
        _err(f"server lists the same tool name more than once: {', '.join(dupes)}")
        return EXIT_FAILURE
    findings = _findings(listing, SEVERITIES[ns.block_severity])
    if pinned is not None:
        return _check(ns.check, pinned, listing, findings, as_json=ns.as_json)
    return _write(ns.output, name, listing, findings, ns.allow_findings)


def _write(path: Path, name: str, listing: Listing, findings: dict[str, list[dict[str, Any]]],
           allow: bool) -> int:
    if findings:
        _print_findings(findings)
        if not allow:
            _err(f"refusing to pin {len(findings)} tool(s) with findings; review them and re-run with "
                 "--allow-findings to pin anyway")
            return EXIT_FAILURE
    lock = lockfile.Lockfile.build(name, listing.server, listing.tools, findings if allow else None,
                                   listing.instructions)
    if path.exists():
        try:
            previous = lockfile.load(path)
            print(f"changes from the previous {path}:\n{lockfile_diff(previous, lock).render()}")
        except ConfigError:
            pass
    lockfile.write(path, lock)
    print(f"pinned {len(lock.tools)} tool(s) of {listing.server.name or 'server'} "
          f"{listing.server.version or ''} as upstream {name!r} to {path}")
    return EXIT_OK


def _check(path: Path, pinned: lockfile.Lockfile, listing: Listing,
           findings: dict[str, list[dict[str, Any]]], as_json: bool = False) -> int:
    current = lockfile.Lockfile.build(pinned.upstream, listing.server, listing.tools)
    diff = lockfile_diff(pinned, current)
    accepted = {n for n, pin in pinned.tools.items()
                if pin.findings and n in current.tools and current.tools[n].sha256 == pin.sha256}
    if pinned.server_findings and pinned.server.instructions_sha256 == listing.server.instructions_sha256:
        accepted.add(lockfile.SERVER_KEY)
    new_findings = {n: f for n, f in findings.items() if n not in accepted}
    if as_json:
        print(json.dumps({"file": str(path), "drift": diff.drift, "diff": diff.as_dict(), "findings": new_findings},
                         sort_keys=True, ensure_ascii=True))
    else:
        print(f"{path}: drift\n{diff.render()}" if diff.drift else f"{path}: {diff.render()}")
        if new_findings:
            _print_findings(new_findings)
    return EXIT_FAILURE if diff.drift or new_findings else EXIT_OK


def lockfile_diff(old: lockfile.Lockfile, new: lockfile.Lockfile) -> ListingDiff:
    """Tools and server identity: what changed from `old` to `new`."""
    diff = diff_listings(old.definitions(), new.definitions())
    notes = (f"server version {old.server.version!r} -> {new.server.version!r}",) \
        if old.server.version != new.server.version else ()
    return replace(diff, server=tuple(new.server.drift_from(old.server)), notes=notes)


def _findings(listing: Listing, threshold: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for tool in listing.tools:
        blocking = at_or_above(scan_definition(tool), threshold)
        if blocking:
            out[str(tool.get("name"))] = [f.as_dict() for f in blocking]
    if listing.instructions:
        blocking = at_or_above(scan_definition({"instructions": listing.instructions}), threshold)
        if blocking:
            out[lockfile.SERVER_KEY] = [f.as_dict() for f in blocking]
    return out


def _print_findings(findings: dict[str, list[dict[str, Any]]]) -> None:
    for name, found in sorted(findings.items()):
        for f in found:
            excerpt = f" [{f['excerpt']!r}]" if f.get("excerpt") else ""
            print(f"finding {name}: {f['detector']} {f['severity']} at {f.get('path')}: {f['message']}{excerpt}")


def _resolve(ns: argparse.Namespace, config: Config | None,
             fallback: str | None) -> tuple[str | list[str], dict[str, str], str]:
    """(URL or argv, headers, upstream name) from TARGET, --stdio or the lock file's upstream."""
    headers = dict(_header(h) for h in ns.header)
    if ns.stdio:
        if ns.target:
            raise ConfigError("give either TARGET or --stdio COMMAND, not both")
        default = config.stdio.upstream_name if config is not None else "stdio"
        return shlex.split(ns.stdio), headers, ns.name or fallback or default
    target = ns.target or fallback
    if target is None:
        raise ConfigError("pin needs a TARGET: an upstream URL or a configured upstream name")
    if "://" in target:
        if target == ns.target and not target.startswith(("http://", "https://")):
            raise ConfigError(f"{target!r} is not an http(s) URL")
        return target, headers, ns.name or fallback or DEFAULT_UPSTREAM
    upstream = next((u for u in (config.upstreams if config is not None else ()) if u.name == target), None)
    if upstream is None:
        where = "in the config" if config is not None else "(no --config given)"
        raise ConfigError(f"no upstream named {target!r} {where}; give its URL instead")
    resolved = {key: source.resolve(f"upstream {target} header {key}") for key, source in upstream.headers.items()}
    return upstream.url, {**resolved, **headers}, ns.name or target


def _header(value: str) -> tuple[str, str]:
    key, sep, val = value.partition(":")
    if not sep or not key.strip():
        raise ConfigError(f"--header needs 'Name: value', got {value!r}")
    return key.strip(), val.strip()


def _err(message: str) -> None:
    print(f"drawbridge: {message}", file=sys.stderr)


def find_shadows(files: list[Path]) -> list[str]:
    """Collisions across lock files, one line each (used by `pins shadows`)."""
    locks = [lockfile.load(p) for p in files]
    return [c.describe() for c in find_collisions({lock.upstream: list(lock.tools) for lock in locks})]
