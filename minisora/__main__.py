"""`python -m minisora ...` is the `minisora` command (and what `torchrun -m minisora` starts)."""

import sys

from minisora.cli import main

if __name__ == "__main__":
    sys.exit(main())
