#!/usr/bin/env python3
"""Copy the packaged default policy into deploy/kubernetes/base/policies (the policy ConfigMap's source).

    python scripts/sync_policy_configmap.py

kustomize's configMapGenerator reads only files inside the base, so the base keeps a verbatim copy of
proxy/policies/default (tests/deploy checks it); this replaces the copy's files with the packaged ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "proxy" / "policies" / "default"
TARGET = REPO / "deploy" / "kubernetes" / "base" / "policies"


def main() -> None:
    for stale in TARGET.glob("*.yaml"):
        stale.unlink()
    for path in sorted(SOURCE.glob("*.yaml")):
        shutil.copyfile(path, TARGET / path.name)
    print(f"copied {SOURCE.relative_to(REPO)} to {TARGET.relative_to(REPO)}; list new files in the base's "
          "configMapGenerator and deployment.yaml items")


if __name__ == "__main__":
    main()
