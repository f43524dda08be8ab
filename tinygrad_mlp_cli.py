"""Launcher of the ``tinygrad-mlp`` command, outside the package on purpose.

Importing :mod:`tinygrad_mlp` (numpy and the engine) takes a few tenths of a second; a
Ctrl-C in that time would otherwise end in a traceback, because the console script
imports the package before any of its code can catch the interrupt. This module imports
nothing heavy itself, so the interrupt is caught from the first moment.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Import the command line and run it; Ctrl-C at any moment is one line, status 130."""
    try:
        from tinygrad_mlp.cli import main as run
    except KeyboardInterrupt:
        print("tinygrad-mlp: interrupted", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())
