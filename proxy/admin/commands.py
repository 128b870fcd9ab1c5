"""Runbook commands for responders (`drawbridge quarantine|release|sessions|deny-tools|egress|rate-limit|
approvals|status|evidence`).

A thin client of the admin API. Exit codes: 0 ok, 1 refused or failed, 2 usage. Errors are one line.
`--json` prints the API's JSON; the default is a readable table. Server-supplied text is escaped
before it reaches the terminal (agent names are attacker-controlled).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from proxy.containment.durations import format_duration, parse_duration

from .client import AdminClient, AdminError, AdminUsageError, resolve_target

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
KINDS, MODES = ("principal", "agent", "session"), ("block", "read-only", "no-egress", "approval", "monitor")
Run = Callable[[argparse.Namespace, AdminClient, TextIO], int]


class _UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line (exit 2 is decided by `main`)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


def _clean(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    text = "-" if value is None or value == "" else str(value)
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], out: TextIO) -> None:
    """Left-aligned columns (`(key, HEADER)`), one row per entry."""
    cells = [[h for _, h in columns]] + [[_clean(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _until(row: dict[str, Any]) -> dict[str, Any]:
    left = row.get("expires_in")
    until = "until released" if row.get("expires") is None else f"{row['expires']} (in {format_duration(left or 0)})"
    return {**row, "until": until, "target": row.get("subject") or row.get("host")}


def _section(title: str, rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], out: TextIO) -> None:
    out.write(f"{title}: {'none' if not rows else len(rows)}\n")
    if rows:
        table([_until(r) for r in rows], columns, out)


_Q = (("kind", "KIND"), ("subject", "SUBJECT"), ("mode", "MODE"), ("actor", "BY"), ("ticket", "TICKET"),
      ("created", "SINCE"), ("until", "UNTIL"), ("reason", "REASON"))
_D = (("id", "ID"), ("kind", "KIND"), ("subject", "SUBJECT"), ("tools", "TOOLS"), ("actor", "BY"),
      ("ticket", "TICKET"), ("until", "UNTIL"), ("reason", "REASON"))
_E = (("id", "ID"), ("host", "HOST"), ("agent", "AGENT"), ("principal", "PRINCIPAL"), ("actor", "BY"),
      ("ticket", "TICKET"), ("until", "UNTIL"), ("reason", "REASON"))
_R = (("id", "ID"), ("kind", "KIND"), ("subject", "SUBJECT"), ("tools", "TOOLS"), ("rate", "RATE"), ("actor", "BY"),
      ("ticket", "TICKET"), ("until", "UNTIL"), ("reason", "REASON"))
_S = (("client_key", "SESSION / CLIENT KEY"), ("era", "ERA"), ("principal", "PRINCIPAL"), ("agent", "AGENT"),
      ("upstream", "UPSTREAM"), ("started", "STARTED"), ("last_used", "LAST USE"), ("calls", "CALLS"),
      ("bytes_in", "IN"), ("bytes_out", "OUT"), ("last_findings", "LAST FINDINGS"))
_A = (("id", "ID"), ("principal", "PRINCIPAL"), ("agent", "AGENT"), ("upstream", "UPSTREAM"), ("tool", "TOOL"),
      ("args", "ARGUMENTS"), ("sha", "SHA256"), ("rule_id", "RULE"), ("left", "EXPIRES IN"))
_V = (("id", "ID"), ("kind", "KIND"), ("subject", "SUBJECT"), ("actor", "BY"), ("ticket", "TICKET"),
      ("sessions", "SESSIONS"), ("exchanges", "EXCHANGES"))


def _kv(data: dict[str, Any], out: TextIO) -> None:
    width = max(map(len, data), default=0)
    for key, value in data.items():
        out.write(f"{key.ljust(width)}  {_clean(value)}\n")


def _timed(ns: argparse.Namespace) -> dict[str, Any]:
    return {"reason": ns.reason, "ticket": ns.ticket, "ttl": ns.ttl}


def _quarantine(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    data = client.post("/v1/quarantines", {"kind": ns.kind, "subject": ns.subject, "mode": ns.mode,
                                           "kill_sessions": ns.kill_sessions or None,
                                           "revoke_tokens": ns.revoke_tokens, **_timed(ns)})
    _section("QUARANTINED", [data["quarantine"]], _Q, out)
    _kv({"evidence": data.get("evidence_id"), "sessions killed": data.get("killed_sessions"),
         "token revocation": data.get("token_revocation")}, out)
    return EXIT_OK


def _release(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    data = client.post("/v1/quarantines/release", {"kind": ns.kind, "subject": ns.subject, "to_mode": ns.to_mode,
                                                   **_timed(ns)})
    out.write(f"released {_clean(ns.kind)} {_clean(ns.subject)} from {_clean(data['released']['mode'])}\n")
    if data.get("quarantine"):
        _section("NOW", [data["quarantine"]], _Q, out)
    return EXIT_OK


def _sessions(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    if ns.sessions_action == "list":
        table(client.get("/v1/sessions", principal=ns.principal)["sessions"], _S, out)
        return EXIT_OK
    if (ns.session_id is None) == (ns.principal is None):
        raise AdminUsageError("sessions kill needs a session id or --principal P (not both)")
    data = client.post("/v1/sessions/kill", {"session_id": ns.session_id, "principal": ns.principal,
                                             "reason": ns.reason, "ticket": ns.ticket})
    out.write(f"killed {data['killed']} session(s); evidence {_clean(data.get('evidence_id'))}\n")
    return EXIT_OK


def _deny_tools(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    action = ns.action or "add"
    if action == "list":
        _section("DENIED TOOLS", client.get("/v1/deny-tools")["deny_tools"], _D, out)
    elif action == "remove":
        if not ns.entry_id or not ns.reason:
            raise AdminUsageError("deny-tools remove needs the entry id and --reason")
        data = client.delete("/v1/deny-tools", ns.entry_id, {"reason": ns.reason, "ticket": ns.ticket})
        out.write(f"removed {_clean(data['removed'])}\n")
    else:
        if (ns.agent is None) == (ns.principal is None) or not ns.tools or not ns.reason:
            raise AdminUsageError("deny-tools needs exactly one of --agent/--principal, --tools and --reason")
        tools = [t.strip() for t in ns.tools.split(",") if t.strip()]
        data = client.post("/v1/deny-tools", {"agent": ns.agent, "principal": ns.principal, "tools": tools,
                                              **_timed(ns)})
        _section("DENIED TOOLS", [data["deny_tools"]], _D, out)
    return EXIT_OK


def _egress(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    if ns.egress_action == "list":
        _section("EGRESS DENIES", client.get("/v1/egress-denies")["egress_denies"], _E, out)
    elif ns.egress_action == "remove":
        data = client.delete("/v1/egress-denies", ns.entry_id, {"reason": ns.reason, "ticket": ns.ticket})
        out.write(f"removed {_clean(data['removed'])}\n")
    else:
        data = client.post("/v1/egress-denies", {"host": ns.host, "agent": ns.agent, "principal": ns.principal,
                                                 **_timed(ns)})
        _section("EGRESS DENIED", [data["egress_deny"]], _E, out)
    return EXIT_OK


def _rate_limit(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    def rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**e, "rate": f"{e['calls']}/{format_duration(int(e['per_seconds']))}"} for e in entries]

    if ns.limit_action == "list":
        _section("RATE LIMITS", rows(client.get("/v1/rate-limits")["rate_limits"]), _R, out)
    elif ns.limit_action == "remove":
        data = client.delete("/v1/rate-limits", ns.entry_id, {"reason": ns.reason, "ticket": ns.ticket})
        out.write(f"removed {_clean(data['removed'])}\n")
    else:
        if sum(x is not None for x in (ns.principal, ns.agent, ns.upstream)) != 1:
            raise AdminUsageError("rate-limit add needs exactly one of --principal, --agent, --upstream")
        tools = [t.strip() for t in (ns.tools or "*").split(",") if t.strip()]
        data = client.post("/v1/rate-limits", {"principal": ns.principal, "agent": ns.agent, "upstream": ns.upstream,
                                               "tools": tools, "calls": ns.calls, "per": ns.per, **_timed(ns)})
        _section("RATE LIMITED", rows([data["rate_limit"]]), _R, out)
    return EXIT_OK


def _approvals(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    if ns.approval_action == "list":
        rows = client.get("/v1/approvals")["approvals"]
        out.write(f"HELD FOR APPROVAL: {'none' if not rows else len(rows)}\n")
        if rows:
            table([{**r, "args": json.dumps(r.get("arguments"), sort_keys=True)[:80],
                    "sha": str(r.get("arguments_sha256"))[:12], "left": format_duration(r.get("expires_in") or 0)}
                   for r in rows], _A, out)
        return EXIT_OK
    if not re.fullmatch(r"ap-[0-9a-f]{16}", ns.approval_id):
        raise AdminUsageError(f"not an approval id: {ns.approval_id!r} (ap- and 16 hex digits)")
    body = {"reason": ns.reason, "arguments_sha256": ns.arguments_sha256}
    data = client.post(f"/v1/approvals/{ns.approval_id}/{ns.approval_action}", body)["approval"]
    out.write(f"{_clean(data['status']).upper()} {_clean(data['id'])}: {_clean(data['tool'])} for "
              f"{_clean(data['principal'])} (arguments sha256 {_clean(data['arguments_sha256'])[:12]}…)\n")
    return EXIT_OK


def _status(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    data = client.get("/v1/status")
    out.write(f"as of {_clean(data.get('now'))}; store {'healthy' if data.get('store_healthy') else 'UNHEALTHY'}\n")
    _section("QUARANTINES", data["quarantines"], _Q, out)
    _section("DENIED TOOLS", data["deny_tools"], _D, out)
    _section("EGRESS DENIES", data["egress_denies"], _E, out)
    _section("RATE LIMITS", [{**e, "rate": f"{e['calls']}/{format_duration(int(e['per_seconds']))}"}
                             for e in data.get("rate_limits", [])], _R, out)
    return EXIT_OK


def _evidence(ns: argparse.Namespace, client: AdminClient, out: TextIO) -> int:
    if ns.evidence_action == "list":
        table(client.get("/v1/evidence")["evidence"], _V, out)
        return EXIT_OK
    data = client.get(f"/v1/evidence/{ns.evidence_id}", exchanges="true" if ns.exchanges else None)
    _kv({k: data.get(k) for k in ("id", "kind", "subject", "actor", "reason", "ticket", "created", "sessions",
                                  "exchanges", "manifest_sha256", "path")} | {"verified": data.get("verified")}, out)
    for problem in data.get("problems", []):
        out.write(f"  TAMPERED: {_clean(problem)}\n")
    if ns.exchanges:
        for row in data.get("exchanges", []):
            out.write(_clean(json.dumps(row, sort_keys=True)) + "\n")
    if not data.get("verified"):
        raise AdminError(f"evidence {ns.evidence_id} failed verification: {'; '.join(data.get('problems', []))}")
    return EXIT_OK


def _ttl(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _action_args(p: argparse.ArgumentParser, *, ttl: bool = True, reason: bool = True) -> None:
    p.add_argument("--reason", required=reason, help="why (internal; never shown to the agent)")
    p.add_argument("--ticket", help="incident ticket id, e.g. IR-2026-0142")
    if ttl:
        p.add_argument("--ttl", type=_ttl, help="lifetime such as 30m, 72h, 7d (default: until removed)")


def add_admin_commands(sub: Any) -> None:
    """Add the responder commands to a `drawbridge` subparsers object (each sets `admin_run`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--admin", metavar="URL", help="admin API URL (env DRAWBRIDGE_ADMIN_URL, default "
                        "http://127.0.0.1:8081)")
    common.add_argument("--token", help="admin token (prefer env DRAWBRIDGE_ADMIN_TOKEN: argv shows in ps)")
    common.add_argument("--token-file", type=Path, help="read the admin token from this file")
    common.add_argument("--json", action="store_true", dest="as_json", help="print the raw JSON answer")

    def leaf(parent: Any, name: str, run: Run, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, parents=[common], help=help_)
        p.set_defaults(admin_run=run)
        return p

    q = leaf(sub, "quarantine", _quarantine, "contain a principal, agent or session (evidence is sealed first)")
    q.add_argument("kind", choices=KINDS)
    q.add_argument("subject")
    q.add_argument("--mode", choices=MODES, default="block")
    q.add_argument("--kill-sessions", action="store_true", help="also end the subject's live sessions")
    q.add_argument("--revoke-tokens", action=argparse.BooleanOptionalAction, default=None,
                   help="revoke the principal's OAuth tokens (default: for a principal in block mode)")
    _action_args(q)
    r = leaf(sub, "release", _release, "lift a quarantine, or step down to a lesser mode (staged recovery)")
    r.add_argument("kind", choices=KINDS)
    r.add_argument("subject")
    r.add_argument("--to-mode", choices=MODES[1:], help="stay contained in this less strict mode")
    _action_args(r)

    s = sub.add_parser("sessions", help="list or kill live sessions").add_subparsers(
        dest="sessions_action", metavar="list|kill", required=True)
    leaf(s, "list", _sessions, "live sessions on every replica (stateless clients by client key)").add_argument(
        "--principal")
    k = leaf(s, "kill", _sessions, "end one session (or a stateless client's calls) or all of a principal's")
    k.add_argument("session_id", nargs="?", help="a session id or a stateless client's key (ck-…)")
    k.add_argument("--principal")
    _action_args(k, ttl=False)

    d = leaf(sub, "deny-tools", _deny_tools, "deny tools on top of policy: [add] | list | remove ID")
    d.add_argument("action", nargs="?", choices=("add", "list", "remove"))
    d.add_argument("entry_id", nargs="?", help="for remove")
    who = d.add_mutually_exclusive_group()
    who.add_argument("--agent")
    who.add_argument("--principal")
    d.add_argument("--tools", help="comma-separated tool names or globs, e.g. 'shell.exec,fs.delete,iam.*'")
    _action_args(d, reason=False)

    e = sub.add_parser("egress", help="refuse destination hosts").add_subparsers(
        dest="egress_action", metavar="deny|list|remove", required=True)
    ed = leaf(e, "deny", _egress, "refuse a host (for everyone, or one agent / principal)")
    ed.add_argument("--host", required=True)
    ed.add_argument("--agent")
    ed.add_argument("--principal")
    _action_args(ed)
    leaf(e, "list", _egress, "active egress denies")
    er = leaf(e, "remove", _egress, "lift an egress deny")
    er.add_argument("entry_id")
    _action_args(er, ttl=False)

    rl = sub.add_parser("rate-limit", help="limit tool calls per principal, agent or route").add_subparsers(
        dest="limit_action", metavar="add|list|remove", required=True)
    ra = leaf(rl, "add", _rate_limit, "at most --calls tool calls per --per, shared by every replica")
    ra_who = ra.add_mutually_exclusive_group(required=True)
    ra_who.add_argument("--principal")
    ra_who.add_argument("--agent")
    ra_who.add_argument("--upstream", help="a route (upstream name)")
    ra.add_argument("--calls", type=int, required=True, help="calls allowed per period (also the burst)")
    ra.add_argument("--per", default="1m", help="the period: 30s, 1m, 1h (default 1m)")
    ra.add_argument("--tools", help="only these tools (comma-separated names or globs; default all)")
    _action_args(ra)
    leaf(rl, "list", _rate_limit, "active rate limits")
    rr = leaf(rl, "remove", _rate_limit, "lift a rate limit")
    rr.add_argument("entry_id")
    _action_args(rr, ttl=False)

    ap = sub.add_parser("approvals", help="tool calls held for a human: list, approve, deny").add_subparsers(
        dest="approval_action", metavar="list|approve|deny", required=True)
    leaf(ap, "list", _approvals, "calls held for approval on every replica, oldest first")
    for verb, help_ in (("approve", "let one held call run, once"), ("deny", "refuse one held call")):
        a = leaf(ap, verb, _approvals, help_)
        a.add_argument("approval_id", help="ap-… from approvals list")
        a.add_argument("--reason", required=True, help="why (audited with your identity)")
        a.add_argument("--arguments-sha256", help="the arguments hash you reviewed (refused if it differs)")

    leaf(sub, "status", _status, "what is quarantined or denied, by whom, until when")
    v = sub.add_parser("evidence", help="evidence sealed at containment").add_subparsers(
        dest="evidence_action", metavar="list|show", required=True)
    leaf(v, "list", _evidence, "evidence snapshots, newest first")
    vs = leaf(v, "show", _evidence, "one snapshot, re-verified against its manifest")
    vs.add_argument("evidence_id")
    vs.add_argument("--exchanges", action="store_true", help="also print the captured exchanges")


def run_admin_command(ns: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None,
                      transport: Any = None) -> int:
    """Run a parsed responder command; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        url, token = resolve_target(ns.admin, ns.token, ns.token_file)
        with AdminClient(url, token, transport=transport) as client:
            try:
                return int(ns.admin_run(ns, client, io.StringIO() if ns.as_json else out))
            finally:
                if ns.as_json and client.last is not None:
                    out.write(json.dumps(client.last, indent=2, sort_keys=True) + "\n")
    except AdminUsageError as exc:
        err.write(f"drawbridge: {exc.message}\n")
        return EXIT_USAGE
    except AdminError as exc:
        err.write(f"drawbridge: {exc.message}\n")
        return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (`python -m proxy.admin.commands …`) until it is wired into `drawbridge`."""
    parser = OneLineParser(prog="drawbridge", description="Drawbridge incident-response commands.")
    add_admin_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    try:
        ns = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    return run_admin_command(ns)


if __name__ == "__main__":
    sys.exit(main())
