"""Which split and which kind of text each corpus source belongs to.

Splits are assigned to whole sources, never to single records: a *held-out* source is one the
detector authors must not look at while tuning (no excerpts of it are printed in the report, only
counts), so its false-positive rate says how the detectors do on text nobody tuned them on. Every
source that existed before the split was introduced has been looked at, so it is *dev*.

Kinds separate the two false-positive targets: real multilingual and coloured-terminal text, where
invisible characters and escape sequences are legitimate (target ≤ 0.5 %), and benign tool text
(descriptions, READMEs, source code, e-mail, tickets, changelogs; target ≤ 1 %).
"""

from __future__ import annotations

DEV, HELD_OUT = "dev", "held-out"
SPLITS = (DEV, HELD_OUT)

HELD_OUT_SOURCES = frozenset({
    "gettext-gnome",  # Debian: GTK 3, GLib, Nautilus, GNOME Control Center catalogues
    "gettext-sphinx",  # PyPI Sphinx catalogues
    "manpages-heldout",  # Debian manpages-fr, -es, -uk, -zh, -vi, -cs
    "osc8-cli",  # ls --hyperlink, gcc -fdiagnostics-urls over real C sources
    "email-replies",  # talon's real-world reply fixtures, talon's and quotequail's quoted replies
    "pyrit",  # attacks: PyRIT's jailbreak templates (curated, in-the-wild, Pliny) placed in tool results
    "changelogs",  # CHANGELOG / NEWS / HISTORY of sdists, Debian changelogs, GitHub issue templates
    "pyrit-converters",  # attacks: our sentences through PyRIT's offline text converters (obfuscation)
})

MULTILINGUAL_TERMINAL, TOOL_TEXT, OTHER = "multilingual+terminal", "tool text", "other"
KIND_TARGETS = {MULTILINGUAL_TERMINAL: 0.005, TOOL_TEXT: 0.01}
_KINDS = {
    MULTILINGUAL_TERMINAL: ("gettext-", "manpages-", "osc8-", "cli"),
    TOOL_TEXT: ("email-", "changelogs", "code-", "pypi-docs", "npm-docs", "mcp-servers", "agentdojo", "garak", "spikee",
                "promptfoo"),
}


def split_of(source: str) -> str:
    return HELD_OUT if source in HELD_OUT_SOURCES else DEV


def kind_of(source: str) -> str:
    """Real multilingual/terminal text, benign tool text, or other (synthetic text: Faker word salad,
    generated emoji, our hand-written cases)."""
    for kind, prefixes in _KINDS.items():
        if source.startswith(prefixes):
            return kind
    return OTHER
