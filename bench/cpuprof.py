"""Run the `drawbridge` CLI under a CPU-time sampling profiler (setitimer ITIMER_PROF).

ITIMER_PROF ticks only while the process burns CPU (user + system), so unlike a wall-clock
sampler it never counts time spent waiting for a core on a busy machine. Each tick records the
main thread's Python stack. Sampling starts on START_SIGNAL (SIGRTMIN+1: SIGUSR1 reopens the audit files);
STOP_SIGNAL (SIGRTMIN+2) stops it and writes the samples
as collapsed stacks ("frame;frame;... count", py-spy's raw format) to OUT. CPU spent in C code
(a socket write, orjson) is charged to the Python frame that called it; CPU of the event loop's
own native code is charged to the next Python frame that runs.

Usage: python bench/cpuprof.py OUT [--hz 997] -- serve --listen ... (any drawbridge arguments)
Run by file path (not -m) so that it works from any directory.
"""

from __future__ import annotations

import collections
import re
import signal
import sys
from pathlib import Path
from types import FrameType

_SHORTEN = re.compile(r"^.*/(?:site-packages|dist-packages|python3\.\d+)/")
_REPO = str(Path(__file__).resolve().parents[1]) + "/"
START_SIGNAL, STOP_SIGNAL = signal.SIGRTMIN + 1, signal.SIGRTMIN + 2
_samples: collections.Counter[str] = collections.Counter()
_names: dict[tuple[str, int], str] = {}


def _label(frame: FrameType) -> str:
    code = frame.f_code
    key = (code.co_filename, code.co_firstlineno)
    name = _names.get(key)
    if name is None:
        path = _SHORTEN.sub("", code.co_filename).removeprefix(_REPO)
        name = _names[key] = f"{code.co_qualname} ({path})"
    return name


def _sample(signum: int, frame: FrameType | None) -> None:
    stack = []
    while frame is not None:
        stack.append(_label(frame))
        frame = frame.f_back
    _samples[";".join(reversed(stack))] += 1


def main(argv: list[str]) -> int:
    if "--" not in argv or not argv or argv[0] == "--":
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    out, opts, drawbridge_args = Path(argv[0]), argv[1:split], argv[split + 1:]
    hz = float(opts[opts.index("--hz") + 1]) if "--hz" in opts else 997.0

    def start(signum: int, frame: FrameType | None) -> None:
        _samples.clear()
        signal.setitimer(signal.ITIMER_PROF, 1 / hz, 1 / hz)

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        out.write_text("".join(f"{stack} {n}\n" for stack, n in _samples.most_common()))

    here = Path(__file__).resolve().parent  # run by path: do not let bench/*.py shadow other modules
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    signal.signal(signal.SIGPROF, _sample)
    signal.signal(START_SIGNAL, start)
    signal.signal(STOP_SIGNAL, stop)
    from proxy.cli import main as drawbridge

    return drawbridge(drawbridge_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
