"""``python -m defstab_lib``: see :mod:`defstab_lib.cli`."""

import sys

from .cli import main

sys.exit(main())
