"""Drawbridge benchmarks (run from the repository root; `make bench` runs the first one).

  python -m bench [--quick] [options]   the hop benchmark: direct vs bare TCP vs Drawbridge (~3 min;
                                        --quick ~15 s); table on stdout, results in bench/results/
  python -m bench pipeline [-n N]       in-process: pipeline µs per message, no sockets
  python -m bench audit [-n N]          in-process: audit emit µs per event, plain vs hash-chained file
  python -m bench profile [options]     sample Drawbridge's CPU under load (CPU-time sampler or
                                        py-spy); top costs by function and component
  python -m bench sessions [options]    memory: RSS per idle and per connected session, and a soak of
                                        session churn (no growth once the bounded caches are full)
  python -m bench.load --url URL ...    the load client alone (loopback only)

Every process started is stopped by its process group on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM unwinds like Ctrl-C: children stopped
    named = argv and argv[0] in ("hop", "pipeline", "profile", "audit", "sessions")
    command, rest = (argv[0], argv[1:]) if named else ("hop", argv)
    try:
        if command == "pipeline":
            from bench import pipeline

            return pipeline.main(rest)
        if command == "profile":
            from bench import profile

            return profile.main(rest)
        if command == "sessions":
            from bench import sessions

            return sessions.main(rest)
        if command == "audit":
            from bench import audit

            return audit.main(rest)
        from bench import hop

        return hop.main(rest)
    except KeyboardInterrupt:
        print("bench: interrupted; stopped everything it started", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
