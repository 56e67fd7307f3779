"""The `keras-tricks` command: the whole recipe on a dataset, and a report.

`main(argv)` is the console script (`keras-tricks`, also
`python -m keras_tricks`); see docs/command.md or `keras-tricks --help`.
"""

from keras_tricks.cli._main import main

__all__ = ["main"]
