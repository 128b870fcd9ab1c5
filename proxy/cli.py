"""The `drawbridge` command line. Errors are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import argcomplete
from argcomplete.shell_integration import shellcode

from proxy import __version__
from proxy.admin.commands import add_admin_commands, run_admin_command
from proxy.audit.verify import add_audit_parser
from proxy.config import DEFAULT_UPSTREAM, Config, load_config
from proxy.config_check import add_config_parser, run_config_command
from proxy.errors import ConfigError
from proxy.incident.commands import add_incident_parser
from proxy.incident.replay import add_replay_parser
from proxy.logs import configure_logging
from proxy.pins.commands import add_pin_parsers, run_pin_command
from proxy.pins.settings import section_from_flags
from proxy.policy.diff import add_diff_parser, run_diff_command

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SHELLS = ("bash", "zsh", "fish")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drawbridge", description="Drawbridge: inline guardrail proxy for MCP.")
    p.add_argument("--version", action="version", version=f"drawbridge {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="proxy Streamable HTTP MCP servers")
    serve.add_argument("--config", type=Path, help="drawbridge.yaml (flags override it)")
    serve.add_argument("--listen", help="HOST:PORT for the data plane (default 127.0.0.1:8080)")
    serve.add_argument("--upstream", action="append", default=[], metavar="[NAME=]URL",
                       help="upstream MCP URL; unnamed is served at /mcp, NAME=URL at /NAME/mcp (repeatable)")
    serve.add_argument("--policy", type=Path, help="policy directory (default policies/default)")
    serve.add_argument("--shadow-policy", type=Path, metavar="DIR",
                       help="candidate policy evaluated beside --policy, never enforced; differences are audited")
    serve.add_argument("--audit-file", type=Path, help="append audit events (JSON lines) to this file")
    serve.add_argument("--audit-stdout", action="store_true", help="also write audit events to stdout")
    serve.add_argument("--store", metavar="URL", help="shared state: sqlite:PATH (default sqlite:var/"
                       "drawbridge-state.db) or redis://HOST:PORT/DB for several replicas")
    serve.add_argument("--admin-listen", metavar="HOST:PORT", help="serve the admin API here (loopback by default)")
    serve.add_argument("--pins", type=Path, action="append", default=[], metavar="FILE",
                       help="pin lock file written by `drawbridge pin` (repeatable; each names its upstream)")
    serve.add_argument("--workers", metavar="N", help="data-plane worker processes on one listener, sharing state "
                       "through the store (default 1; auto: the usable CPUs)")
    serve.add_argument("--pin-mode", choices=("strict", "tofu", "alert"),
                       help="enforce tool-definition pins: strict | tofu | alert (with --pins, or for all upstreams)")

    stdio = sub.add_parser("stdio", help="wrap a stdio MCP server: drawbridge stdio [opts] -- CMD ARGS…")
    stdio.add_argument("--config", type=Path)
    stdio.add_argument("--policy", type=Path)
    stdio.add_argument("--shadow-policy", type=Path, metavar="DIR",
                       help="candidate policy evaluated beside --policy, never enforced; differences are audited")
    stdio.add_argument("--audit-file", type=Path)
    stdio.add_argument("--principal", help="the local caller's principal (default from config: 'local')")
    stdio.add_argument("server", nargs=argparse.REMAINDER, help="-- CMD ARGS… of the MCP server")

    pol = sub.add_parser("policy", help="check or test a policy directory")
    pol_sub = pol.add_subparsers(dest="policy_command", metavar="ACTION")
    check = pol_sub.add_parser("check", help="validate a policy directory")
    check.add_argument("directory", type=Path)
    test = pol_sub.add_parser("test", help="run the *.test.yaml cases beside the policies")
    test.add_argument("directory", type=Path)
    for action in (check, test):
        action.add_argument("--json", dest="as_json", action="store_true", help="print the outcome as one JSON object")
    add_diff_parser(pol_sub)
    add_config_parser(sub)

    add_admin_commands(sub)

    from proxy.content.scan_command import add_scan_parser  # compiles the detectors: only when parsing

    add_scan_parser(sub)
    add_pin_parsers(sub)
    add_audit_parser(sub)
    add_replay_parser(sub)
    add_incident_parser(sub)

    comp = sub.add_parser("completion", help="print a shell completion script: drawbridge completion bash|zsh|fish")
    comp.add_argument("shell", choices=SHELLS)

    hk = sub.add_parser("hash-key", help="print the SHA-256 of an API key read from stdin (empty: generate one)")
    hk.set_defaults(command="hash-key")
    return p


def _base_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    return load_config(path).model_dump(mode="python", exclude_unset=True)


def _apply(data: dict[str, Any], ns: argparse.Namespace) -> Config:
    if getattr(ns, "listen", None):
        data["listen"] = ns.listen
    if ns.policy:
        data["policy"] = ns.policy
    if getattr(ns, "shadow_policy", None):
        data["shadow_policy"] = ns.shadow_policy
    if ns.audit_file:
        data["audit"] = {**data.get("audit", {}), "file": ns.audit_file}
    if getattr(ns, "audit_stdout", False):
        data["audit"] = {**data.get("audit", {}), "stdout": True}
    if getattr(ns, "upstream", None):
        data["upstreams"] = [_upstream_flag(u) for u in ns.upstream]
    if getattr(ns, "store", None):
        data["store"] = ns.store
    if getattr(ns, "workers", None):
        data["workers"] = ns.workers if ns.workers == "auto" else _int_flag("--workers", ns.workers)
    if getattr(ns, "admin_listen", None):
        data["admin"] = {**data.get("admin", {}), "listen": ns.admin_listen}
    if getattr(ns, "pins", None) or getattr(ns, "pin_mode", None):
        names = [u["name"] if isinstance(u, dict) else u.name for u in data.get("upstreams", [])]
        data["pins"] = section_from_flags(ns.pins, ns.pin_mode or "strict", names)
    if getattr(ns, "principal", None) and ns.command == "stdio":
        data["stdio"] = {**data.get("stdio", {}), "principal": ns.principal}
    return Config.model_validate(data)


def _int_flag(flag: str, value: str) -> int:
    if not value.isdigit():
        raise ConfigError(f"{flag} takes a number or auto, got {value!r}")
    return int(value)


def _upstream_flag(value: str) -> dict[str, str]:
    name, sep, url = value.partition("=")
    if sep and "://" not in name:
        return {"name": name, "url": url}
    return {"name": DEFAULT_UPSTREAM, "url": value}


def build_config(ns: argparse.Namespace) -> Config:
    """Config file first, then flags; raises ConfigError with one actionable line."""
    try:
        return _apply(_base_config(ns.config), ns)
    except ConfigError:
        raise
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        first = str(exc).splitlines()
        raise ConfigError("invalid configuration: " + " ".join(line.strip() for line in first[:3])) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argcomplete.autocomplete(parser)  # answers a shell's completion request and exits; a no-op otherwise
    ns = parser.parse_args(argv)
    configure_logging("info")
    if getattr(ns, "admin_run", None) is not None:
        return run_admin_command(ns)
    try:
        if ns.command == "serve":
            from proxy.http.server import serve

            config = build_config(ns)
            configure_logging(config.log_level, config.log_format)
            return serve(config)
        if ns.command == "stdio":
            from proxy.stdio.command import run_stdio_command

            command = ns.server[1:] if ns.server[:1] == ["--"] else ns.server
            if not command:
                raise ConfigError("stdio needs the server command after --, e.g. drawbridge stdio -- python server.py")
            config = build_config(ns)
            configure_logging(config.log_level, config.log_format)
            return run_stdio_command(config, command)
        if ns.command == "policy":
            from proxy.policy.commands import run_policy_command

            if ns.policy_command is None:
                raise ConfigError("policy needs an action: drawbridge policy check|test|diff DIR")
            if ns.policy_command == "diff":
                return run_diff_command(ns)
            return run_policy_command(ns.policy_command, ns.directory, as_json=ns.as_json)
        if ns.command == "completion":
            print(shellcode(["drawbridge"], shell=ns.shell))
            return EXIT_OK
        if ns.command == "config":
            return run_config_command(ns)
        if ns.command == "scan":
            from proxy.content.scan_command import run_scan

            return run_scan(ns)
        if ns.command in ("pin", "pins"):
            return run_pin_command(ns)
        if ns.command == "audit":
            from proxy.audit.verify import run_audit_command

            return run_audit_command(ns)
        if ns.command == "replay":
            from proxy.incident.replay import run_replay_command

            return run_replay_command(ns)
        if ns.command == "incident":
            from proxy.incident.commands import run_incident_command

            return run_incident_command(ns)
        if ns.command == "hash-key":
            from proxy.identity.apikeys import hash_key_command

            return hash_key_command(sys.stdin, sys.stdout, sys.stderr)
    except ConfigError as exc:
        print(f"drawbridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    _parser().print_help(sys.stderr)
    return EXIT_USAGE
