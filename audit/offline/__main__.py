"""``python -m audit.offline``: see :mod:`audit.offline`."""

import sys

from audit.offline import main

if __name__ == "__main__":
    sys.exit(main())
