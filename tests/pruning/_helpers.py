"""Small shared pieces of the pruning tests."""

import keras
import numpy as np

from keras_tricks.pruning import PruneLowMagnitude


def expected_zeros(size, sparsity):
    """TFMOT's mask rule: keep max(round(n * (1 - s)), 1) weights."""
    return size - max(int(np.round(size * (1.0 - np.float64(sparsity)))), 1)


def wrappers(model):
    return [layer for layer in model.layers if isinstance(layer, PruneLowMagnitude)]


def settle(model):
    """Zero the pruned weights the way the `Pruning` callback does on JAX.

    On JAX the optimizer cannot see the masks (see `PruneLowMagnitude`), so
    the wrapper masks in the forward pass and pruned weights touched by an
    optimizer step are zeroed by `apply_masks` (the callback runs it at every
    epoch end). Elsewhere the mask constraint already zeroed them: a no-op.
    """
    if keras.backend.backend() == "jax":
        for wrapper in wrappers(model):
            wrapper.apply_masks()


def masks_and_weights(model):
    """(mask, variable) numpy pairs for every pruned weight of `model`."""
    pairs = []
    for wrapper in wrappers(model):
        for variable, mask in wrapper._mask_pairs():
            pairs.append(
                (keras.ops.convert_to_numpy(mask), keras.ops.convert_to_numpy(variable))
            )
    return pairs


class Record(keras.callbacks.Callback):
    """Copies every mask at each batch begin (after `Pruning` ran) and end."""

    def __init__(self):
        super().__init__()
        self.begin = []
        self.end = []

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.begin.append((step, masks_and_weights(self.model)))

    def on_train_batch_end(self, batch, logs=None):
        self.end.append(masks_and_weights(self.model))
