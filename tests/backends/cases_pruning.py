"""Cross-backend cases for keras_tricks.pruning: the top-k mask, and a pruned `fit`."""

import keras
import numpy as np

from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import PolynomialDecay, prune_low_magnitude, strip_pruning
from keras_tricks.pruning._select import keep_largest
from tests.backends._cases import case


@case("pruning.keep_largest")
def keep_largest_masks():
    rng = np.random.default_rng(3)
    scores = np.abs(rng.normal(size=(17, 13))).astype("float32")
    scores[rng.random(scores.shape) < 0.3] = 0.0  # ties at zero, as pruned weights give
    return {
        f"keep_{keep}": keras.ops.convert_to_numpy(keep_largest(scores, keep)).astype(
            "int32"
        )
        for keep in (1, 40, 150, scores.size)
    }


# Twelve momentum-SGD steps of a pruned model with four mask updates. On JAX
# the wrapper masks in the forward pass rather than through the optimizer's
# constraint; the kept weights must still follow the same path.
@case("pruning.fit")
def pruned_fit():
    rng = np.random.default_rng(5)
    base = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(10, activation="tanh"),
            keras.layers.Dense(3),
        ]
    )
    base.set_weights([rng.normal(size=w.shape).astype("float32") for w in base.weights])
    schedule = PolynomialDecay(0.0, 0.7, begin_step=0, end_step=8, frequency=4)
    model = prune_low_magnitude(base, schedule)
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    x = rng.normal(size=(48, 6)).astype("float32")
    y = rng.normal(size=(48, 3)).astype("float32")
    model.fit(
        x, y, batch_size=8, epochs=2, shuffle=False, callbacks=[Pruning()], verbose=0
    )
    stripped = strip_pruning(model)
    result = {f"weight_{i}": w for i, w in enumerate(stripped.get_weights())}
    masks = [w for w in model.non_trainable_weights if "mask" in w.name]
    for i, mask in enumerate(masks):
        result[f"mask_{i}"] = keras.ops.convert_to_numpy(mask)
    return result
