"""`make demo` tells the whole story on the embedded defaults: the guardrail scenes, then the incident from
the poisoned result to the replay that proves the fix, and exits 0 in well under a minute."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.e2e
def test_the_demo_tells_the_whole_story_and_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "proxy.demo.run"], capture_output=True, text=True, timeout=90,
                          check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    out = done.stdout
    scenes = ["a destructive tool, called anyway", "a planted note poisons a tool result", "the alert it raises",
              "the responder quarantines the principal", "its next call is refused", "the evidence sealed",
              "MTTD and MTTC measured", "every malicious call is refused by the hardened policy",
              "incident closed with proof"]
    positions = [out.find(scene) for scene in scenes]
    assert -1 not in positions and positions == sorted(positions), dict(zip(scenes, positions, strict=True))
    assert "✗" not in out and "Traceback" not in out + done.stderr
