"""`main`: parse the command line, run the recipe, write the report."""

import os
import sys

from keras_tricks.cli import _args


class CommandError(Exception):
    """A runtime error shown as one line on stderr, exit status 1."""


def main(argv=None):
    """Run the `keras-tricks` command.

    Args:
        argv: list of str, the arguments after the program name. Defaults to
            `sys.argv[1:]`.

    Returns:
        The exit status: `0` done, `1` a runtime error (unknown dataset, no
        network, ...), `2` a bad command line (`--help` returns `0`). Errors
        are one line on stderr, never a traceback.

    Example:
    >>> keras_tricks.cli.main(["--quick", "--output", "/tmp/report"])  # doctest: +SKIP
    0
    """
    try:
        args = _args.parse(argv)
    except SystemExit as exit_:  # --help, or argparse's one-line error
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        summary = run(args)
    except CommandError as error:
        print(f"{_args.PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_args.PROG}: interrupted", file=sys.stderr)
        return 130
    for line in _report_lines(summary):
        print(line)
    return 0


def _report_lines(summary):
    from keras_tricks.cli import _report

    return _report.summary_lines(summary)


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _strategy():
    """`MirroredStrategy` over every visible GPU, or the CPU."""
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return tf.distribute.MirroredStrategy(gpus or ["/cpu:0"])


def run(args):
    """Run the recipe for parsed `args` and return the summary dict.

    Raises:
        CommandError: the dataset cannot be loaded, the output folder cannot
            be written, or `--tune` lacks Keras Tuner or `keras_tricks.tuning`.
    """
    try:
        import matplotlib  # noqa: F401  (the plots; checked before hours of training)
    except ImportError:
        raise CommandError(
            "the report needs matplotlib: pip install matplotlib "
            "(or keras_tricks[examples])"
        ) from None
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as error:
        raise CommandError(
            f"cannot create the output folder {args.output!r}: {error.strerror}"
        ) from None

    import keras

    from keras_tricks.cli import _data, _model, _recipe, _report

    keras.utils.set_random_seed(args.seed)
    clock = _recipe.Clock()
    try:
        splits = _data.load(args)
    except (ValueError, RuntimeError, ImportError, TypeError) as error:
        raise CommandError(_one_line(error)) from None
    clock.lap("data")
    strategy = _strategy()
    summary = {
        "config": {k: v for k, v in vars(args).items()},
        "dataset": {
            "name": splits.name,
            "num_classes": splits.num_classes,
            "input_shape": list(splits.input_shape),
            "resized": splits.resized,
            "num_train": splits.num_train,
            "num_validation": splits.num_validation,
            "num_test": splits.num_test,
        },
        "replicas": int(strategy.num_replicas_in_sync),
        "devices": list(strategy.extended.worker_devices),
    }
    _say(
        args,
        f"data: {splits.name} {splits.input_shape}, {splits.num_classes} classes, "
        f"{splits.num_train} train / {splits.num_validation} validation / "
        f"{splits.num_test} test; "
        f"{summary['replicas']} replica(s)",
    )

    summary["diagnostics"] = None
    if args.diagnose:
        _say(args, "1. sanity checks")
        report, summary["diagnostics"] = _recipe.diagnose(splits, args, strategy)
        _say(args, str(report))
        clock.lap("diagnostics")

    _say(args, "2. learning-rate range test")
    with strategy.scope():
        model = _model.build(
            splits.input_shape,
            splits.num_classes,
            args.normalization,
            args.augment,
            args.dropout,
            args.seed,
        )
        _model.compile_model(model, args.optimizer, 1e-3)
    result, summary["lr_range_test"] = _recipe.range_test(model, splits, args)
    _report.save_figure(
        result.plot(), os.path.join(args.output, _report.PLOTS["lr_range_test"])
    )
    rate, bounds, source = _recipe.chosen_rates(summary["lr_range_test"], args)
    clock.lap("lr_range_test")

    _say(
        args,
        f"3. training: {args.schedule} rate, bounds {bounds[0]:.3g} to {bounds[1]:.3g}",
    )
    recorder, training = _recipe.train(model, splits, args, rate, bounds)
    training.update(
        schedule=args.schedule,
        rates_from=source,
        learning_rate=rate,
        clr_bounds=list(bounds),
        warmup_epochs=args.warmup_epochs,
        learning_rate_per_step=recorder.learning_rate,
    )
    summary["training"] = training
    _report.plot_training(
        recorder,
        training["history"],
        os.path.join(args.output, _report.PLOTS["training"]),
    )
    clock.lap("training")

    summary["tuning"] = None
    if args.tune:
        _say(args, f"4. Keras Tuner search: {args.tune} trial(s)")
        try:
            import keras_tuner  # noqa: F401

            from keras_tricks import tuning  # noqa: F401
        except ImportError as error:
            raise CommandError(
                f"--tune needs Keras Tuner and keras_tricks.tuning "
                f"(pip install 'keras_tricks[tuner]'): {_one_line(error)}"
            ) from None
        summary["tuning"] = _recipe.tune(
            splits, args, strategy, os.path.join(args.output, "tuner")
        )
        clock.lap("tuning")

    summary["pruning"] = None
    final = model
    if args.sparsity > 0:
        _say(args, f"5. pruning to sparsity {args.sparsity:g}")
        fine_tune_rate = bounds[0]
        final, prune_recorder, summary["pruning"] = _recipe.prune(
            model, splits, args, strategy, fine_tune_rate, args.output
        )
        summary["pruning"]["sparsity_per_step"] = prune_recorder.sparsity
        _report.plot_sparsity(
            prune_recorder,
            args.sparsity,
            os.path.join(args.output, _report.PLOTS["sparsity"]),
        )
    else:
        model.save(os.path.join(args.output, "model.keras"))
        _report.plot_sparsity(
            _recipe.Recorder(),
            0.0,
            os.path.join(args.output, _report.PLOTS["sparsity"]),
        )
    clock.lap("pruning")

    matrix = _recipe.confusion_matrix(final, splits.test, splits.num_classes)
    summary["confusion_matrix"] = matrix.tolist()
    summary["class_names"] = splits.class_names
    _report.plot_confusion(
        matrix,
        splits.class_names,
        os.path.join(args.output, _report.PLOTS["confusion_matrix"]),
    )
    clock.lap("report")
    clock.seconds["total"] = round(sum(clock.seconds.values()), 3)
    summary["seconds"] = clock.seconds
    summary["report"] = os.path.join(args.output, "report.html")
    _report.write_json(summary, os.path.join(args.output, "summary.json"))
    _report.write_html(summary, args.output, summary["report"])
    return summary


def _say(args, text):
    if args.verbose:
        print(f"[{_args.PROG}] {text}", flush=True)
