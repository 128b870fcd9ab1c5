"""The test rig works: real peers start, real clients talk to them, the suite runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
import yaml

from tests.support.conformance import SPEC_VERSIONS, load_expected_failures, run_conformance
from tests.support.rig import (
    RigPaths,
    ensure_rig,
    rig_paths,
    run_inspector,
    start_conformance_server,
    start_everything,
    time_server_argv,
    tool_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.node]

BASELINES = Path(__file__).resolve().parents[1] / "conformance"


@pytest.fixture(scope="module")
def rig() -> RigPaths:
    if shutil.which("npm") is None and rig_paths().missing():
        pytest.skip("the Node rig is not installed and npm is not available (run scripts/rig.sh install)")
    return ensure_rig()


@pytest.fixture(scope="module")
def everything(rig: RigPaths):
    with start_everything() as url:
        yield url


@pytest.fixture(scope="module")
def conformance_server(rig: RigPaths):
    with start_conformance_server() as url:
        yield url


def test_node22(rig: RigPaths) -> None:
    out = subprocess.run([str(rig.node22), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("v22."), out


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of LISTEN sockets on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def test_everything_binds_loopback_only(everything: str) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp")
    port = int(everything.rsplit(":", 1)[1].split("/")[0])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 and nothing else


def test_inspector_lists_everything_tools_and_echoes(everything: str) -> None:
    rc, data, err = run_inspector(everything, "tools/list")
    assert rc == 0, err
    names = {t["name"] for t in data["result"]["tools"]}
    assert {"echo", "get-env"} <= names

    rc, data, err = run_inspector(everything, "tools/call", tool="echo", tool_args={"message": "drawbridge rig ✓"})
    assert rc == 0, err
    assert tool_text(data) == "Echo: drawbridge rig ✓"


def test_inspector_reports_unknown_tool(everything: str) -> None:
    rc, data, err = run_inspector(everything, "tools/call", tool="no-such-tool", tool_args={})
    assert rc == 5 and data is None
    assert "tool_not_found" in err


@pytest.mark.parametrize("era", ["legacy", "modern", "auto"])
def test_inspector_eras_against_conformance_server(conformance_server: str, era: str) -> None:
    rc, data, err = run_inspector(conformance_server, "tools/call", era=era, tool="test_simple_text")  # type: ignore[arg-type]
    assert rc == 0, err
    assert tool_text(data) == "This is a simple text response for testing."


def test_time_server_over_stdio() -> None:
    pytest.importorskip("mcp_server_time")
    from mcp import Client, StdioServerParameters

    argv = time_server_argv("--local-timezone", "UTC")

    async def call() -> str:
        async with Client(StdioServerParameters(command=argv[0], args=argv[1:])) as client:
            result = await client.call_tool("get_current_time", {"timezone": "UTC"})
            return "".join(c.text for c in result.content if c.type == "text")

    assert '"timezone": "UTC"' in anyio.run(call)


@pytest.mark.parametrize("spec", SPEC_VERSIONS)
def test_conformance_server_passes_suite(conformance_server: str, spec: str) -> None:
    expected = yaml.safe_load((BASELINES / "conformance-server-expected.yml").read_text())[spec]
    result = run_conformance(conformance_server, spec)
    assert result.failed_checks == set(expected["failed_checks"]), result.summary()
    assert result.passed == set(expected["passed"]), result.summary()
    assert result.returncode == 0, result.output[-3000:]


@pytest.mark.parametrize("spec", SPEC_VERSIONS)
def test_everything_matches_baseline(everything: str, spec: str) -> None:
    baseline = BASELINES / f"everything-{spec}-baseline.yml"
    result = run_conformance(everything, spec, expected_failures=baseline)
    assert result.failed_checks == load_expected_failures(baseline), result.summary()
    assert result.returncode == 0, result.output[-3000:]
