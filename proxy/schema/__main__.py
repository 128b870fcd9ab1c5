"""`python -m proxy.schema [--check]`: write the JSON Schemas from the models, or check they are current."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from proxy.schema import REGENERATE, SCHEMAS, schema_file, stale, write_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxy.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    ns = parser.parse_args(argv)
    if ns.check:
        old = stale()
        for name in old:
            print(f"{schema_file(name)}: stale (run `{REGENERATE}` to regenerate)", file=sys.stderr)
        return 1 if old else 0
    changed = write_all()
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"{len(SCHEMAS)} schemas up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
