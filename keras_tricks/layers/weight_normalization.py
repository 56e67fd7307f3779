"""WeightNormalization: reparametrize a kernel as direction times length."""

import copy

import keras
from keras import ops

from keras_tricks.layers import _kernel_layers

# Added to squared norms and variances so that a zero kernel column or a
# constant pre-activation does not divide by zero.
_TINY = 1e-12


def _all_reduce_mean(value):
    """The mean of ``value`` over the replicas of a TensorFlow distribution.

    Every replica then holds the statistics of the global batch, so the
    variables that data-dependent initialization sets stay in sync. Other
    backends, and TensorFlow outside a multi-replica step, return ``value``.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


@keras.saving.register_keras_serializable(package="keras_tricks")
class WeightNormalization(keras.layers.Wrapper):
    """Weight normalization: each output unit's weights as `g * v / ||v||`.

    Wraps a `Dense`, `Conv1D`, `Conv2D` or `Conv3D` layer and computes it with
    the kernel `w = g * v / ||v||`, where `v` is the wrapped layer's own
    kernel (the direction, trained as usual), `||v||` its norm per output
    unit (over every kernel axis but the last) and `g` a new trainable length
    per output unit. Decoupling the length of the weight vectors from their
    direction speeds up and steadies gradient descent, with no dependence on
    the batch (unlike batch normalization), so it suits RNN-like, RL and
    generative models and small batches.

    `g` starts at `||v||`, so without data-dependent initialization the
    wrapped layer computes exactly what it did before wrapping. With
    `data_init=True`, the first training batch sets `g` and the bias so that
    each unit's pre-activation has zero mean and unit variance on that batch
    (under a `tf.distribute` strategy, over the global batch):
    `t = x @ (v / ||v||)`, `g = 1 / std(t)`, `bias = -mean(t) / std(t)`.

    The wrapped layer's `kernel` is never assigned to; the wrapper runs the
    layer's maths with the normalized kernel instead.

    Args:
        layer: a `keras.layers.Dense`, `Conv1D`, `Conv2D` or `Conv3D` layer.
        data_init: bool, whether the first training batch initializes `g`
            and the bias from the data. Defaults to `False`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the wrapped layer's input.
        training: bool; the first call with `training=True` performs the
            data-dependent initialization when `data_init` is on.

    Returns:
        The wrapped layer's output, computed with the normalized kernel.

    Example:
    >>> layer = keras_tricks.layers.WeightNormalization(
    ...     keras.layers.Conv2D(16, 3), data_init=True)
    >>> layer(np.ones((2, 8, 8, 3)), training=True).shape
    TensorShape([2, 6, 6, 16])

    Note:
        The paper initializes `g` and the bias from a batch before training
        starts; here it happens on the first training step, whose gradients
        for `g` and the bias are therefore zero. A wrapped layer with
        `use_bias=False` gets only `g` (unit variance, mean unchanged).
        TensorFlow Addons' version assigned to `layer.kernel`, which Keras 3
        forbids; this one does not.

    Reference:
    - [Salimans & Kingma, 2016](https://arxiv.org/abs/1602.07868)
    """

    def __init__(self, layer, data_init=False, **kwargs):
        _kernel_layers.check_kernel_layer(layer)
        super().__init__(layer, **kwargs)
        self.data_init = data_init

    def build(self, input_shape=None):
        super().build(input_shape)
        kernel = self.layer.kernel
        self._norm_axes = tuple(range(len(kernel.shape) - 1))
        self.g = self.add_weight(
            shape=(kernel.shape[-1],),
            name="g",
            initializer="ones",
        )
        self.g.assign(self._kernel_norm(ops.convert_to_tensor(kernel)))
        if self.data_init:
            self.initialized = self.add_weight(
                shape=(),
                name="initialized",
                initializer="zeros",
                trainable=False,
            )

    def _kernel_norm(self, kernel):
        squared = ops.sum(ops.square(kernel), axis=self._norm_axes)
        return ops.sqrt(squared + _TINY)

    def _data_init(self, outputs):
        """``g`` and bias for this batch: from the data once, stored after."""
        axis = _kernel_layers.output_axis(self.layer) % len(outputs.shape)
        axes = [i for i in range(len(outputs.shape)) if i != axis]
        units = outputs.shape[axis]
        done = self.initialized > 0.5

        def statistics():
            t = ops.cast(outputs, "float32")
            return ops.mean(t, axis=axes), ops.mean(ops.square(t), axis=axes)

        def stored():
            zeros = ops.zeros((units,), dtype="float32")
            return zeros, zeros

        mean, mean_square = ops.cond(done, stored, statistics)
        mean = _all_reduce_mean(mean)
        mean_square = _all_reduce_mean(mean_square)
        std = ops.sqrt(ops.maximum(mean_square - ops.square(mean), 0.0) + _TINY)
        g = ops.where(done, ops.convert_to_tensor(self.g.value, "float32"), 1.0 / std)
        self.g.assign(g)
        bias = None
        if self.layer.bias is not None:
            current = ops.cast(self.layer.bias, "float32")
            bias = ops.where(done, current, -mean / std)
            self.layer.bias.assign(bias)
        self.initialized.assign(1.0)
        return g, bias

    def call(self, inputs, training=None):
        kernel = self.layer.kernel
        direction = kernel / ops.expand_dims(
            self._kernel_norm(kernel), self._norm_axes
        )
        outputs = _kernel_layers.linear(self.layer, inputs, direction)
        g, bias = self.g, self.layer.bias
        if self.data_init and training:
            g, bias = self._data_init(outputs)
        shape = [1] * len(outputs.shape)
        shape[_kernel_layers.output_axis(self.layer)] = -1
        outputs = outputs * ops.reshape(ops.cast(g, outputs.dtype), shape)
        if bias is not None:
            bias = ops.cast(bias, outputs.dtype)
        return _kernel_layers.bias_and_activation(self.layer, outputs, bias)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = {"data_init": self.data_init}
        base_config = _kernel_layers.wrapper_config(super().get_config(), self.layer)
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # keras.layers.Wrapper.from_config pops "layer" from the dict it gets.
        return super().from_config(copy.deepcopy(config), custom_objects)
