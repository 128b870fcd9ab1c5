"""The official MCP conformance suite gives the same result through Drawbridge (permit-all policy)
as straight against the same server: our own conformance server (clean) and server-everything
(against its recorded baseline of expected failures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.drawbridge import run_drawbridge

pytestmark = [pytest.mark.e2e, pytest.mark.node]
rig = pytest.importorskip("tests.support.rig")
conformance = pytest.importorskip("tests.support.conformance")
BASELINES = Path(__file__).resolve().parents[1] / "conformance"
SPECS = ["2025-11-25", "2026-07-28"]


# Checks Drawbridge enforces itself (it validates Host/Origin and Mcp-* headers before forwarding),
# so a server that fails them straight may pass them through the proxy. Nothing may newly fail.
PROXY_ENFORCED = ("dns-rebinding-protection:", "header-mismatch",
                  "server-session-terminated-returns-404")  # a session the proxy's store does not know is 404


def _compare(straight: object, proxied: object) -> None:
    diff = straight.diff(proxied)  # type: ignore[attr-defined]
    assert proxied.scenarios == straight.scenarios, proxied.summary()  # type: ignore[attr-defined]
    assert diff["newly_failing"] == [], diff
    assert all(any(mark in check for mark in PROXY_ENFORCED) for check in diff["newly_passing"]), diff


@pytest.mark.parametrize("spec", SPECS)
def test_conformance_server_is_clean_through_drawbridge(spec: str, tmp_path: Path) -> None:
    with rig.start_conformance_server() as url:
        straight = conformance.run_conformance(url, spec)
        with run_drawbridge(tmp_path, {"default": url}) as proxy:
            proxied = conformance.run_conformance(proxy.mcp_url(), spec)
    assert straight.failed == set(), straight.summary()
    assert straight.passed, "the suite ran no scenario"
    _compare(straight, proxied)


@pytest.mark.parametrize("spec", SPECS)
def test_server_everything_matches_its_baseline_through_drawbridge(spec: str, tmp_path: Path) -> None:
    baseline = conformance.load_expected_failures(BASELINES / f"everything-{spec}-baseline.yml")
    with rig.start_everything() as url:
        straight = conformance.run_conformance(url, spec)
        with run_drawbridge(tmp_path, {"default": url}) as proxy:
            proxied = conformance.run_conformance(proxy.mcp_url(), spec)
    assert straight.passed, straight.summary()
    # the recorded baseline bounds what server-everything fails; a check it passes today is fine
    assert straight.failed_checks <= baseline, sorted(straight.failed_checks - baseline)
    _compare(straight, proxied)
