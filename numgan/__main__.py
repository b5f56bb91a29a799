"""python -m numgan: the command line (numgan/app/cli.py)."""

import sys

try:
    from .app.cli import main
except KeyboardInterrupt:  # the standard library only, but Ctrl-C can come even there
    sys.stderr.write("numgan: interrupted while starting; nothing was written\n")
    sys.exit(130)

sys.exit(main())
