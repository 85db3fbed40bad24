"""One worker process of ``--workers N``: serves the app with SO_REUSEPORT.

Started by pymongoose/_supervisor.py as a fresh interpreter (never a bare
fork: the Go runtime in the extension does not survive fork without exec),
with the command line's settings as one JSON argument.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from typing import Optional, Sequence

from ._cli import EXIT_FATAL, serve_config

_PR_SET_PDEATHSIG = 1


def _stop_with_supervisor(supervisor_pid: int) -> None:
    """Get SIGTERM (a graceful stop) when the supervisor dies, even by
    SIGKILL, instead of serving on as an orphan."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: only the check below
        pass
    if os.getppid() != supervisor_pid:  # died before prctl took effect
        sys.exit(0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the JSON settings in ``argv[0]``; the exit status tells the
    supervisor whether restarting can help (EXIT_FATAL: it cannot)."""
    args = sys.argv[1:] if argv is None else list(argv)
    config = json.loads(args[0])
    # Stopped before serve() handles SIGTERM (still importing the app):
    # nothing is in flight, so exit cleanly rather than die by the signal.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    _stop_with_supervisor(config["supervisor_pid"])
    status = serve_config(config, reuse_port=True)
    return EXIT_FATAL if status == 1 else status


if __name__ == "__main__":
    sys.exit(main())
