"""`python -m proxy.pins pin|pins …`: the pinning commands on their own (same as `drawbridge pin|pins`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from proxy.pins.commands import EXIT_USAGE, add_pin_parsers, run_pin_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drawbridge", description="Drawbridge tool-definition pins.")
    add_pin_parsers(parser.add_subparsers(dest="command", metavar="COMMAND"))
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_pin_command(ns)


if __name__ == "__main__":
    sys.exit(main())
