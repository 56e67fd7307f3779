"""The compiled loss as the checks see it: its function, name and `from_logits`."""

import keras


def loss_function(model):
    """`(callable, name, from_logits)` for the model's compiled loss."""
    loss = model.loss
    if isinstance(loss, str):
        return keras.losses.get(loss), loss, False
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        name = getattr(loss, "fn", None)
        name = getattr(name, "__name__", type(loss).__name__)
        return loss, name, bool(config.get("from_logits", False))
    if callable(loss):
        return loss, getattr(loss, "__name__", type(loss).__name__), False
    return None, type(loss).__name__, False


def snake_case(name):
    """`"SparseCategoricalCrossentropy"` as `"sparse_categorical_crossentropy"`."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def crossentropy_kind(model):
    """`"categorical"`, `"binary"` or `None`: which cross-entropy the model is compiled
    with.

    `"categorical"` covers the sparse form too.
    """
    name = snake_case(loss_function(model)[1])
    if "categorical_crossentropy" in name:
        return "categorical"
    if "binary_crossentropy" in name:
        return "binary"
    return None
