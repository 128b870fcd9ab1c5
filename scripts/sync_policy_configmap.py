#!/usr/bin/env python3
"""Regenerate deploy/kubernetes/policies-configmap.yaml from the packaged default policy.

    python scripts/sync_policy_configmap.py

The ConfigMap's data must be a verbatim copy of proxy/policies/default (tests/deploy checks it);
this rewrites the `data:` section below the file's own header and leaves everything above it.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "proxy" / "policies" / "default"
TARGET = REPO / "deploy" / "kubernetes" / "policies-configmap.yaml"


def main() -> None:
    head = TARGET.read_text(encoding="utf-8").split("\ndata:\n", 1)[0]
    parts = [head, "\ndata:\n"]
    for path in sorted(SOURCE.glob("*.yaml")):
        parts.append(f"  {path.name}: |\n")
        parts.extend(f"    {line}\n" if line else "\n" for line in path.read_text(encoding="utf-8").splitlines())
    TARGET.write_text("".join(parts), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)} from {SOURCE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
