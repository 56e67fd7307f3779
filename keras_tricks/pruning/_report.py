"""A per-layer table of how many weights are zero."""

import keras
import numpy as np

from keras_tricks.pruning._wrapper import PruneLowMagnitude


def _walk(model, prefix=""):
    """`(path, layer)` for the leaf layers, through nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer, f"{prefix}{layer.name}/")
        else:
            yield prefix + layer.name, layer


def sparsity_report(model, print_fn=None):
    """Count the zeros of every kernel-like weight, layer by layer.

    Counts every weight of rank >= 2 (kernels, embeddings; biases and
    normalization parameters are left out), whether the model is pruned,
    stripped or dense (a pruned weight counts as masked), and prints a table
    when `print_fn` is given. Layers of nested models are listed by path
    (`"encoder/dense"`).

    Args:
        model: a Keras model.
        print_fn: `None` or a callable such as `print` that receives the table
            as one string. Defaults to `None`.

    Returns:
        A list of dicts with keys `layer`, `weight`, `shape`, `size`, `zeros`,
        `sparsity`, `pruned` (whether a pruning wrapper owns the weight), and
        a last row with `layer="total"`.

    Example:
    >>> rows = keras_tricks.pruning.sparsity_report(
    ...     model, print_fn=print)  # doctest: +SKIP
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a Keras model. Received: model={model!r}")
    rows = []
    for path, layer in _walk(model):
        pruned = isinstance(layer, PruneLowMagnitude)
        inner = layer.layer if pruned else layer
        masks = {id(v): m for v, m in layer._mask_pairs()} if pruned else {}
        for variable in inner.weights:
            if len(variable.shape) < 2:
                continue
            values = keras.ops.convert_to_numpy(variable)
            if id(variable) in masks:  # on JAX a stored pruned weight may have drifted
                values = values * keras.ops.convert_to_numpy(masks[id(variable)])
            zeros = int(values.size - np.count_nonzero(values))
            rows.append(
                {
                    "layer": path,
                    "weight": variable.name,
                    "shape": tuple(int(d) for d in variable.shape),
                    "size": int(values.size),
                    "zeros": zeros,
                    "sparsity": zeros / values.size,
                    "pruned": pruned,
                }
            )
    size = sum(r["size"] for r in rows)
    zeros = sum(r["zeros"] for r in rows)
    rows.append(
        {
            "layer": "total",
            "weight": "",
            "shape": (),
            "size": size,
            "zeros": zeros,
            "sparsity": zeros / size if size else 0.0,
            "pruned": any(r["pruned"] for r in rows),
        }
    )
    if print_fn is not None:
        print_fn(format_sparsity_report(rows))
    return rows


def format_sparsity_report(rows):
    """The rows of `sparsity_report` as a fixed-width text table."""
    header = ("layer", "weight", "shape", "size", "zeros", "sparsity", "pruned")
    lines = [
        (
            r["layer"],
            r["weight"],
            "x".join(str(d) for d in r["shape"]),
            str(r["size"]),
            str(r["zeros"]),
            f"{r['sparsity']:.2%}",
            "yes" if r["pruned"] else "",
        )
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)
