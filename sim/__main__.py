"""`python -m sim`: the command line (see `sim.cli`)."""

import os
import signal

# Ctrl-C while the modules load (before `sim.cli` takes over the signals) ends quietly, not with a traceback
signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))

from sim.cli import main  # noqa: E402

main()
