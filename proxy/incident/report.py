"""The incident report (Markdown): the kill chain by MITRE ATLAS technique, the response by NIST SP 800-61
phase, time to detect and to contain, the credentials to rotate and the evidence that backs each claim."""

from __future__ import annotations

from typing import Any

from proxy.incident import secrets

ATLAS_NAMES = {
    "AML.T0051": "LLM Prompt Injection", "AML.T0051.000": "LLM Prompt Injection: Direct",
    "AML.T0051.001": "LLM Prompt Injection: Indirect", "AML.T0053": "AI Agent Tool Invocation",
    "AML.T0086": "Exfiltration via AI Agent Tool Invocation", "AML.T0055": "Unsecured Credentials",
    "AML.T0057": "LLM Data Leakage", "AML.T0068": "LLM Prompt Obfuscation", "AML.T0077": "LLM Response Rendering",
    "AML.T0034": "Cost Harvesting", "AML.T0025": "Exfiltration via Cyber Means", "AML.T0012": "Valid Accounts",
}
SERIOUS = ("SEV-1", "SEV-2")


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "n/a (milestone not reached)"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _techniques(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(ATLAS id, severity) an entry shows: its alert's, or its findings'."""
    if entry.get("atlas"):
        return [(str(entry["atlas"]), str(entry.get("severity") or ""))]
    return [(str(f["atlas"]), str(f.get("severity") or "")) for f in entry.get("findings") or () if f.get("atlas")]


def kill_chain(timeline: dict[str, Any]) -> list[str]:
    rows = []
    for entry in timeline.get("events") or ():
        for atlas, severity in dict.fromkeys(_techniques(entry)):
            what = entry.get("detection") or ", ".join(
                sorted({str(f.get("detector")) for f in entry.get("findings") or () if f.get("atlas") == atlas}))
            rows.append(f"| {entry.get('time')} | {entry.get('tool') or entry.get('method') or '-'} | {what} | "
                        f"{severity} | {atlas} {ATLAS_NAMES.get(atlas, '')} | {entry.get('verdict') or '-'} | "
                        f"`{entry.get('event_id')}` |")
    return rows


def response(timeline: dict[str, Any]) -> list[str]:
    return [f"| {e.get('time')} | {e.get('phase')} | {e.get('action')} {e.get('kind_of_subject') or ''} | "
            f"{e.get('actor') or '-'} | {e.get('ticket') or '-'} |"
            for e in timeline.get("events") or () if e.get("kind") == "containment"]


def render(timeline: dict[str, Any], exposures: list[dict[str, Any]], evidence: list[dict[str, Any]],
           *, policy_version: str, chain: str, exported_by: str, exported_at: str) -> str:
    scope = timeline.get("scope") or {}
    lines = [
        f"# Incident report: {scope.get('kind', '?')} {scope.get('value', '?')}", "",
        f"Exported {exported_at} by {exported_by}. Policy in force: `{policy_version}`.", "",
        "## Summary", "",
        f"- First malicious action: {timeline.get('first_malicious_at') or 'none found'}",
        f"- Detected: {timeline.get('detected_at') or 'not detected'} (time to detect: "
        f"{_minutes(timeline.get('mttd_seconds'))})",
        f"- Contained: {timeline.get('contained_at') or 'not contained'} (time to contain: "
        f"{_minutes(timeline.get('mttc_seconds'))})",
        f"- Principals: {', '.join(timeline.get('principals') or []) or '-'}; agents: "
        f"{', '.join(timeline.get('agents') or []) or '-'}; sessions: {len(timeline.get('sessions') or [])}",
        "", "## Kill chain (MITRE ATLAS)", "",
        "| time | tool | finding or alert | severity | technique | verdict | event |",
        "|---|---|---|---|---|---|---|", *(kill_chain(timeline) or ["| - | - | nothing mapped | - | - | - | - |"]),
        "", "## Response (NIST SP 800-61)", "",
        "| time | phase | action | actor | ticket |", "|---|---|---|---|---|",
        *(response(timeline) or ["| - | - | no containment action | - | - |"]),
        "", "## Credentials to rotate", "", secrets.markdown(exposures),
        "## Evidence", "",
        *([f"- snapshot `{e['id']}` ({e['kind']} {e['subject']}, sealed {e['created']} by replica "
           f"{e['replica']}), manifest SHA-256 `{e['manifest_sha256']}`" for e in evidence]
          or ["- no sealed snapshot"]),
        f"- audit chain: {chain}", "",
        "Each file of this bundle is listed with its SHA-256 in `manifest.json`; `custody.json` names the "
        "manifest's hash. Check with `drawbridge incident verify BUNDLE`.", ""]
    return "\n".join(lines)
