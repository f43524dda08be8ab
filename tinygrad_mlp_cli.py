"""Launcher of the ``tinygrad-mlp`` command, outside the package on purpose.

Importing :mod:`tinygrad_mlp` (numpy and the engine) takes a few tenths of a second; a
Ctrl-C in that time would otherwise end in a traceback, because the console script
imports the package before any of its code can catch the interrupt. This module imports
nothing heavy itself, so the interrupt is caught from the first moment.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Import the command line and run it; Ctrl-C at any moment is one line, status 130.

    An interrupt that lands inside a C extension's import (numpy's) can come out as an
    ImportError instead of a KeyboardInterrupt, so a Ctrl-C handler notes each one; it
    raises KeyboardInterrupt as Python's own does, and stays (putting the old one back
    would open a moment in which an interrupt escapes)."""
    seen: list[int] = []
    try:
        import signal

        def note(signum: int, frame: object) -> None:
            seen.append(signum)
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, note)
        from tinygrad_mlp.cli import main as run
    except KeyboardInterrupt:
        return _interrupted()
    except ImportError:
        if seen:
            return _interrupted()
        raise
    return run()


def _interrupted() -> int:
    print("tinygrad-mlp: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
