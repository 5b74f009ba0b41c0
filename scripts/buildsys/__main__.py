"""`python -m buildsys COMMAND --help`: see buildsys/cli.py."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
