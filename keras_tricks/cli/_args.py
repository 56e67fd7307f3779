"""The command line of `keras-tricks`: options, their checks and `--quick`."""

import argparse
import sys

PROG = "keras-tricks"

# Keras's own optimizers the command offers beside keras_tricks's.
KERAS_OPTIMIZERS = ("adam", "adamw", "sgd")
# Kept in sync with keras_tricks.optimizers.list_optimizers() by a test; listed
# here so that `--help` does not need to import Keras.
TRICKS_OPTIMIZERS = (
    "adabelief",
    "adabeliefinject",
    "adaminject",
    "angulargrad",
    "diffgrad",
    "diffgradinject",
    "radam",
    "radaminject",
)
NORMALIZATIONS = ("batch", "group", "instance", "layer", "none")
AUGMENTATIONS = ("none", "light", "strong")
SCHEDULES = ("cyclical", "constant")

# What --quick caps, for CI and a first try (a run of well under a minute).
QUICK = {
    "epochs": 2,
    "prune_epochs": 1,
    "tune_epochs": 1,
    "batch_size": 32,
    "warmup_epochs": 0.5,
    "max_train": 1200,
    "max_test": 400,
    "range_test_steps": 80,
    # The moving average lags about s / (1 - s) steps: 4 steps here, not 9,
    # keeps the minimum of a short sweep near the true one.
    "range_test_smoothing": 0.8,
    "diagnose_steps": 10,
}
FULL = {"range_test_steps": 100, "range_test_smoothing": 0.9, "diagnose_steps": 40}

DESCRIPTION = """\
Run the whole keras_tricks recipe on an image-classification dataset and write
a report: sanity checks (diagnose), the learning-rate range test, training with
augmentation, a normalization layer, an optimizer, warmup, cyclical learning
rate and early stopping under tf.distribute.MirroredStrategy (every visible GPU,
or the CPU), an optional Keras Tuner search, pruning to a target sparsity with
fine-tuning, and a report folder (summary.json, report.html, PNG plots).

With no arguments it trains on the offline "digits" dataset (scikit-learn's
8x8 digits stored as a local TFDS dataset): no network needed."""

EPILOG = """\
examples:
  keras-tricks                                   # digits, offline
  keras-tricks --quick --output /tmp/report      # the whole recipe in seconds
  keras-tricks --dataset cifar10 --optimizer radam --normalization batch --tune 5
  keras-tricks --dataset tf_flowers --image-size 64 --sparsity 0.8

exit status: 0 done, 1 runtime error (e.g. unknown dataset, no network),
2 bad command line."""


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _bounded(kind, minimum=None, maximum=None, below=None):
    """An argparse `type` that converts with `kind` and checks a range."""

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}. "
                f"Received: {text!r}"
            ) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"must be finite. Received: {text!r}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be >= {minimum}. Received: {text!r}"
            )
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"must be <= {maximum}. Received: {text!r}"
            )
        if below is not None and value >= below:
            raise argparse.ArgumentTypeError(f"must be < {below}. Received: {text!r}")
        return value

    return convert


def _positive_float(text):
    value = _bounded(float)(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0. Received: {text!r}")
    return value


def build_parser():
    """The `argparse.ArgumentParser` of the command."""
    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        metavar="NAME",
        help='"digits" (offline, the default) or any TFDS image-classification '
        'name: "mnist", "cifar10", "tf_flowers", ... (downloaded once).',
    )
    data.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="where TFDS keeps datasets "
        "(default: $TFDS_DATA_DIR or ~/tensorflow_datasets).",
    )
    data.add_argument(
        "--image-size",
        type=_bounded(int, minimum=8, maximum=1024),
        default=None,
        metavar="N",
        help="resize images to NxN. Default: the dataset's own size when all images "
        "share it and it is at most 64 (digits 8x8, mnist 28x28, cifar10 32x32), "
        "else 64.",
    )
    data.add_argument(
        "--output",
        default="keras_tricks_report",
        metavar="DIR",
        help="report folder, created if needed (default: ./keras_tricks_report).",
    )

    train = parser.add_argument_group("training")
    train.add_argument(
        "--epochs",
        type=_bounded(int, minimum=1),
        default=30,
        help="most training epochs; early stopping may end sooner (default: 30).",
    )
    train.add_argument(
        "--batch-size",
        type=_bounded(int, minimum=2),
        default=64,
        metavar="N",
        help="global batch size, split across the replicas (default: 64).",
    )
    train.add_argument(
        "--optimizer",
        default="adam",
        choices=KERAS_OPTIMIZERS + TRICKS_OPTIMIZERS,
        metavar="NAME",
        help="Keras's adam, adamw, sgd (with momentum 0.9) or one of keras_tricks's: "
        + ", ".join(TRICKS_OPTIMIZERS)
        + " (default: adam).",
    )
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        metavar="LR",
        help="skip the range test's suggestion: the constant rate "
        "(--schedule constant) or the cycle's upper bound, the lower one a tenth "
        "of it (--schedule cyclical). "
        "The range test still runs and is reported.",
    )
    train.add_argument(
        "--schedule",
        default="cyclical",
        choices=SCHEDULES,
        help="after the warmup: cyclical between the range test's bounds "
        "(triangular, half a cycle every 2 epochs), or the suggested rate constant "
        "(default: cyclical).",
    )
    train.add_argument(
        "--warmup-epochs",
        type=_bounded(float, minimum=0.0),
        default=1.0,
        metavar="E",
        help="linear warmup length in epochs, 0 for none (default: 1).",
    )
    train.add_argument(
        "--normalization",
        default="group",
        choices=NORMALIZATIONS,
        help="normalization after each convolution: Keras's BatchNormalization or "
        "LayerNormalization, keras_tricks's GroupNormalization or "
        "InstanceNormalization, or none (default: group).",
    )
    train.add_argument(
        "--augment",
        default="light",
        choices=AUGMENTATIONS,
        help="keras_tricks.augment strength: RandomAffine "
        "(rotation, zoom, translation; "
        "horizontal flips for colour images) and RandomPhotometric (brightness, "
        "contrast) (default: light).",
    )
    train.add_argument(
        "--dropout",
        type=_bounded(float, minimum=0.0, below=1.0),
        default=0.2,
        metavar="RATE",
        help="dropout before the classifier (default: 0.2).",
    )
    train.add_argument(
        "--patience",
        type=_bounded(int, minimum=1),
        default=5,
        metavar="N",
        help="early stopping: epochs without a better validation loss (default: 5).",
    )
    train.add_argument(
        "--no-diagnose",
        dest="diagnose",
        action="store_false",
        help="skip the sanity checks (keras_tricks.diagnostics.diagnose).",
    )

    tune = parser.add_argument_group("tuning")
    tune.add_argument(
        "--tune",
        type=_bounded(int, minimum=0),
        default=0,
        metavar="N",
        help="also run a Keras Tuner RandomSearch of N trials over "
        "keras_tricks.tuning.ImageClassifierHyperModel; 0 for none (default: 0). "
        "Needs the `tuner` extra.",
    )
    tune.add_argument(
        "--tune-epochs",
        type=_bounded(int, minimum=1),
        default=3,
        metavar="E",
        help="epochs per tuner trial (default: 3).",
    )

    prune = parser.add_argument_group("pruning")
    prune.add_argument(
        "--sparsity",
        type=_bounded(float, minimum=0.0, below=1.0),
        default=0.5,
        metavar="S",
        help="target sparsity of the pruned weights, in [0, 1); 0 skips pruning "
        "(default: 0.5).",
    )
    prune.add_argument(
        "--prune-epochs",
        type=_bounded(int, minimum=1),
        default=4,
        metavar="E",
        help="fine-tuning epochs while pruning; the target is reached after 3/4 of "
        "them (default: 4).",
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--seed",
        type=_bounded(int, minimum=0),
        default=0,
        help="random seed (default: 0).",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run for CI and a first try: at most {QUICK['max_train']} "
        f"training and {QUICK['max_test']} test images, batches of at most "
        f"{QUICK['batch_size']}, {QUICK['epochs']} epochs, "
        f"{QUICK['prune_epochs']} pruning "
        f"epoch, {QUICK['range_test_steps']} range-test steps, "
        f"{QUICK['tune_epochs']} epoch per tuner trial.",
    )
    run.add_argument(
        "--verbose",
        type=_bounded(int, minimum=0, maximum=2),
        default=1,
        help="Keras verbosity: 0 silent, 1 progress bars, 2 a line per epoch "
        "(default: 1).",
    )
    return parser


def parse(argv=None):
    """Parse `argv` (default `sys.argv[1:]`), with `--quick` applied.

    Raises:
        SystemExit: 0 after `--help`, 2 on a bad command line.
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    limits = QUICK if args.quick else FULL
    if args.quick:
        args.epochs = min(args.epochs, QUICK["epochs"])
        args.prune_epochs = min(args.prune_epochs, QUICK["prune_epochs"])
        args.tune_epochs = min(args.tune_epochs, QUICK["tune_epochs"])
        args.batch_size = min(args.batch_size, QUICK["batch_size"])
        args.warmup_epochs = min(args.warmup_epochs, QUICK["warmup_epochs"])
    args.max_train = limits.get("max_train")
    args.max_test = limits.get("max_test")
    args.range_test_steps = limits["range_test_steps"]
    args.range_test_smoothing = limits["range_test_smoothing"]
    args.diagnose_steps = limits["diagnose_steps"]
    return args
