"""`python -m keras_tricks`: the `keras-tricks` command."""

import sys

from keras_tricks.cli import main

if __name__ == "__main__":
    sys.exit(main())
