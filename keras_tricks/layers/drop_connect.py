"""DropConnect: drop individual weights of a Dense or Conv layer in training."""

import copy

import keras

from keras_tricks import _checks
from keras_tricks._serialization import nested_config
from keras_tricks.layers import _kernel_layers


@keras.saving.register_keras_serializable(package="keras_tricks")
class DropConnect(keras.layers.Wrapper):
    """DropConnect: drops individual kernel weights of the wrapped layer.

    During training every kernel weight of the wrapped `Dense`, `Conv1D`,
    `Conv2D` or `Conv3D` layer is set to zero with probability `rate`, with a
    fresh mask at each step, and the kept weights are scaled by
    `1 / (1 - rate)`: `y = act(x @ (kernel * mask / (1 - rate)) + bias)`, so
    the expected output equals the unwrapped layer's and inference needs no
    change. At inference the layer is the wrapped layer itself. A regularizer
    like `Dropout`, but on the connections instead of the activations.
    Integer inputs are cast to the compute dtype (as a Keras `Dense` promotes
    them; Keras's `Conv2D` refuses `uint8`, this wrapper does not), and the
    output is in the wrapper's compute dtype.

    Backends: every Keras backend (TensorFlow, JAX, PyTorch), in training
    and at inference, in `fit` and after a `.keras` save/load; masks drawn
    from the same `seed` differ between backends (each has its own random
    number generator).

    Args:
        layer: a `keras.layers.Dense`, `Conv1D`, `Conv2D` or `Conv3D` layer.
        rate: float in `[0, 1)`, the probability of dropping each weight.
            Defaults to `0.5`.
        seed: optional int, seed of the masks. Defaults to `None`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the wrapped layer's input.
        training: bool, whether to drop weights. Defaults to `None`
            (inference unless Keras says otherwise, as in `fit`).

    Returns:
        The wrapped layer's output.

    Example:
    >>> layer = keras_tricks.layers.DropConnect(keras.layers.Dense(16), rate=0.3)
    >>> layer(np.ones((2, 8)), training=True).shape
    TensorShape([2, 16])

    Note:
        The paper draws one mask per example and approximates inference by
        a Gaussian moment matching; as most implementations do, this layer
        draws one mask per batch (per replica step) and uses the expected
        weights at inference. The bias is never dropped.
        Drop-path / stochastic depth (called `drop_connect` in EfficientNet)
        is a different technique.

    Reference:
    - [Wan et al., 2013](https://proceedings.mlr.press/v28/wan13.html)
    """

    def __init__(self, layer, rate=0.5, seed=None, **kwargs):
        _kernel_layers.check_kernel_layer(layer)
        _checks.check_range("rate", rate, 0.0, 1.0)
        if seed is not None:
            _checks.check_int("seed", seed)
        super().__init__(layer, **kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        super().build(input_shape)
        if input_shape is not None:
            _kernel_layers.check_input_shape(self.layer, input_shape)

    def call(self, inputs, training=None):
        inputs = _kernel_layers.prepare_inputs(self.layer, inputs, self.compute_dtype)
        if not training or self.rate == 0:
            # The wrapped layer may have another dtype policy than the wrapper.
            return keras.ops.cast(self.layer(inputs), self.compute_dtype)
        # A tensor, never the Variable itself: JAX's and PyTorch's
        # `keras.random.dropout` read `.dtype` as a backend dtype, which a
        # Keras Variable (dtype "float32", a string) does not give them.
        kernel = keras.ops.convert_to_tensor(self.layer.kernel)
        kernel = keras.ops.cast(kernel, self.compute_dtype)
        kernel = keras.random.dropout(kernel, self.rate, seed=self.seed_generator)
        return _kernel_layers.apply_kernel(self.layer, inputs, kernel)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = {"rate": self.rate, "seed": self.seed}
        base_config = {**super().get_config(), "layer": nested_config(self.layer)}
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # keras.layers.Wrapper.from_config pops "layer" from the dict it gets.
        return super().from_config(copy.deepcopy(config), custom_objects)
