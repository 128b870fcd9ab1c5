"""`python -m proxy` is `drawbridge`."""

import sys

from proxy.cli import main

sys.exit(main())
