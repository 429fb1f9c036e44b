"""`python -m flow_tui`: the same as the `flow-tui` command."""

import sys

from flow_tui.cli import main

sys.exit(main())
