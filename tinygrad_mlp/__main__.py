"""``python -m tinygrad_mlp`` is the ``tinygrad-mlp`` command."""

import sys

from tinygrad_mlp.cli import main

sys.exit(main())
