"""`python -m mosaic.cli`: the same as the `mosaic` command."""

import sys

from mosaic.cli import main

if __name__ == "__main__":
    sys.exit(main())
