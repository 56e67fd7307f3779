"""The report folder: PNG plots, `summary.json` and a self-contained `report.html`."""

import base64
import html
import json
import math
import os

import numpy as np

PLOTS = {
    "lr_range_test": "lr_range_test.png",
    "training": "training.png",
    "sparsity": "sparsity.png",
    "confusion_matrix": "confusion_matrix.png",
}


def _figure(width=6, height=4, rows=1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def save_figure(figure, path):
    """Write a Matplotlib figure as a PNG."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_training(recorder, history, path):
    """Learning rate per step; loss per step and per epoch (train and validation)."""
    figure, (top, bottom) = _figure(7, 6, rows=2)
    top.plot(np.arange(1, len(recorder.learning_rate) + 1), recorder.learning_rate)
    top.set_yscale("log")
    top.set_xlabel("step")
    top.set_ylabel("learning rate")
    top.set_title("Learning rate (warmup, then the schedule)")
    steps = max(1, len(recorder.loss)) / max(1, len(history["loss"]))
    bottom.plot(
        np.arange(1, len(recorder.loss) + 1) / steps,
        recorder.loss,
        alpha=0.4,
        label="training loss (running mean per epoch)",
    )
    epochs = np.arange(1, len(history["loss"]) + 1)
    bottom.plot(epochs, history["loss"], "o-", label="training loss")
    if "val_loss" in history:
        bottom.plot(epochs, history["val_loss"], "o-", label="validation loss")
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("loss")
    bottom.set_title("Losses")
    bottom.legend()
    save_figure(figure, path)


def plot_sparsity(recorder, target, path):
    figure, (axes,) = _figure()
    axes.plot(
        np.arange(1, len(recorder.sparsity) + 1), recorder.sparsity, label="sparsity"
    )
    axes.axhline(target, color="tab:red", linestyle="--", label=f"target {target:g}")
    axes.set_ylim(-0.02, 1.0)
    axes.set_xlabel("fine-tuning step")
    axes.set_ylabel("sparsity of the pruned weights")
    axes.set_title("Sparsity over the pruning fine-tuning")
    axes.legend()
    save_figure(figure, path)


def plot_confusion(matrix, class_names, path):
    count = len(matrix)
    size = min(4 + 0.35 * count, 14)
    figure, (axes,) = _figure(size, size)
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    labels = (
        [str(n) for n in class_names] if len(class_names) == count else range(count)
    )
    if count <= 30:
        axes.set_xticks(range(count), labels, rotation=90)
        axes.set_yticks(range(count), labels)
        if count <= 15:
            for (i, j), value in np.ndenumerate(matrix):
                axes.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > matrix.max() / 2 else "black",
                )
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("Confusion matrix (test split, final model)")
    save_figure(figure, path)


def _clean(value):
    """`value` with NumPy scalars made plain and NaN/inf as `None` (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(summary, path):
    with open(path, "w") as f:
        json.dump(_clean(summary), f, indent=2, allow_nan=False)


def _table(rows):
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_format(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_format(v) for v in value)
    return str(value)


def _image(path, alt):
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; font-weight: normal; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.FAIL { color: #b00; } .WARN { color: #a60; } .PASS { color: #070; }
"""


def write_html(summary, folder, path):
    """`report.html`, with every plot embedded as a base64 PNG."""
    data, training = summary["dataset"], summary["training"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>keras-tricks report: {html.escape(data['name'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>keras-tricks report: {html.escape(data['name'])}</h1>",
        _table(
            [
                ("dataset", data["name"]),
                ("input shape", data["input_shape"]),
                ("classes", data["num_classes"]),
                (
                    "train / validation / test",
                    f"{data['num_train']} / {data['num_validation']} / "
                    f"{data['num_test']}",
                ),
                ("replicas", summary["replicas"]),
                ("total seconds", summary["seconds"]["total"]),
            ]
        ),
    ]
    checks = summary["diagnostics"]
    parts.append("<h2>1. Sanity checks</h2>")
    if checks is None:
        parts.append("<p>Skipped (--no-diagnose).</p>")
    else:
        parts.append(f"<p>{html.escape(checks['summary'])}</p>")
        parts.append(
            _table(
                [
                    (c["check"], f"{c['status']}: {c['summary']}")
                    for c in checks["checks"]
                ]
            )
        )
    lr = summary["lr_range_test"]
    parts += [
        "<h2>2. Learning-rate range test</h2>",
        _table(
            [
                (
                    "suggested learning rate (steepest fall)",
                    lr["suggested_learning_rate"],
                ),
                ("cyclical bounds", lr["clr_bounds"]),
                ("rate at the minimum loss", lr["min_loss_learning_rate"]),
                ("steps", lr["steps"]),
            ]
        ),
        _image(os.path.join(folder, PLOTS["lr_range_test"]), "LR range test"),
        "<h2>3. Training</h2>",
        _table(
            [
                ("optimizer", summary["config"]["optimizer"]),
                ("normalization", summary["config"]["normalization"]),
                ("augmentation", summary["config"]["augment"]),
                (
                    "schedule",
                    f"{training['schedule']} (rates from: {training['rates_from']})",
                ),
                (
                    "learning rate / bounds",
                    f"{_format(training['learning_rate'])} / "
                    f"{_format(training['clr_bounds'])}",
                ),
                (
                    "epochs run (best)",
                    f"{training['epochs_run']} ({training['best_epoch']})",
                ),
                ("test accuracy", training["test_accuracy"]),
                ("test loss", training["test_loss"]),
            ]
        ),
        _image(os.path.join(folder, PLOTS["training"]), "learning rate and losses"),
    ]
    tuning = summary["tuning"]
    parts.append("<h2>4. Keras Tuner search</h2>")
    if tuning is None:
        parts.append("<p>Not run (use --tune N).</p>")
    else:
        parts.append(
            _table(
                [
                    (
                        "trials (failed)",
                        f"{tuning['trials']} ({tuning['failed_trials']})",
                    ),
                    ("best validation accuracy", tuning["best_val_accuracy"]),
                    *tuning["best_hyperparameters"].items(),
                ]
            )
        )
    pruned = summary["pruning"]
    parts.append("<h2>5. Pruning</h2>")
    if pruned is None:
        parts.append("<p>Skipped (--sparsity 0).</p>")
    else:
        parts += [
            _table(
                [
                    (
                        "target / reached sparsity",
                        f"{pruned['target_sparsity']:.3g} / {pruned['sparsity']:.3g}",
                    ),
                    ("test accuracy after pruning", pruned["test_accuracy"]),
                    (
                        "weights file, dense (bytes, gzip)",
                        f"{pruned['dense_weights_bytes']}, "
                        f"{pruned['dense_weights_gzip_bytes']}",
                    ),
                    (
                        "weights file, pruned (bytes, gzip)",
                        f"{pruned['pruned_weights_bytes']}, "
                        f"{pruned['pruned_weights_gzip_bytes']}",
                    ),
                    (
                        "gzip compression gain",
                        f"{pruned['gzip_compression_ratio']:.2f}x",
                    ),
                    (
                        "saved model",
                        f"{pruned['model_file']} ({pruned['model_bytes']} bytes)",
                    ),
                ]
            ),
            _image(os.path.join(folder, PLOTS["sparsity"]), "sparsity"),
        ]
    parts += [
        "<h2>6. Confusion matrix</h2>",
        _image(os.path.join(folder, PLOTS["confusion_matrix"]), "confusion matrix"),
        "</body></html>",
    ]
    with open(path, "w") as f:
        f.write("\n".join(parts))


def summary_lines(summary):
    """The short summary printed at the end."""
    training, lr, pruned = (
        summary["training"],
        summary["lr_range_test"],
        summary["pruning"],
    )
    checks = summary["diagnostics"]
    lines = [
        f"keras-tricks on {summary['dataset']['name']} "
        f"({summary['replicas']} replica(s), {summary['seconds']['total']:.0f} s)",
        f"  sanity checks: {checks['summary'] if checks else 'skipped'}",
        f"  range test: suggested {lr['suggested_learning_rate']:.3g}, "
        f"cyclical bounds {lr['clr_bounds'][0]:.3g} to {lr['clr_bounds'][1]:.3g}",
        f"  training: {training['epochs_run']} epochs, test accuracy "
        f"{training['test_accuracy']:.4f}",
    ]
    if summary["tuning"] is not None:
        lines.append(
            f"  tuner: {summary['tuning']['trials']} trials "
            f"({summary['tuning']['failed_trials']} failed), best validation accuracy "
            f"{_format(summary['tuning']['best_val_accuracy'])}"
        )
    if pruned is not None:
        lines.append(
            f"  pruning: sparsity {pruned['sparsity']:.3f} (target "
            f"{pruned['target_sparsity']:g}), "
            f"test accuracy {pruned['test_accuracy']:.4f}, "
            f"gzip weights {pruned['dense_weights_gzip_bytes']} -> "
            f"{pruned['pruned_weights_gzip_bytes']} bytes "
            f"({pruned['gzip_compression_ratio']:.2f}x)"
        )
    lines.append(f"  report: {summary['report']}")
    return lines
