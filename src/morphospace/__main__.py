"""Allow ``python -m morphospace`` (and ``torchrun -m morphospace``)."""

import sys

from morphospace.cli import main

if __name__ == "__main__":
    sys.exit(main())
