"""WeightNormalization: reparametrize a kernel as direction times length."""

import copy

import keras
from keras import ops

from keras_tricks import _checks
from keras_tricks._serialization import nested_config
from keras_tricks.layers import _kernel_layers

# Added to squared norms so that a zero kernel column does not divide by zero.
_TINY = 1e-12

# A unit whose pre-activations on the init batch have a standard deviation at
# most this fraction of their root mean square is constant on that batch (a
# batch of one sample, a dead input): its scale cannot be read from the data.
# Float32 rounding of a truly constant unit stays orders of magnitude below
# it, and real data almost never varies this little.
_DEGENERATE_RATIO = 1e-5


def _all_reduce_sum(value):
    """The sum of ``value`` over the replicas of a TensorFlow distribution.

    Every replica then holds the statistics of the global batch, so the
    variables that data-dependent initialization sets stay in sync. Other
    backends, and TensorFlow outside a multi-replica step, return ``value``.
    Sums (not means) weigh each replica by its number of samples, so an
    uneven last batch, or a replica with none, counts right.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _assign_in_tf_cond(condition, assignments):
    """Assign each ``(variable, value)`` pair inside one ``tf.cond`` on ``condition``.

    Once the condition is false the assignments never run again, so nothing
    rewrites the variables on later steps, in a graph as eagerly.
    """
    import tensorflow as tf

    def assign():
        for variable, value in assignments:
            variable.assign(value)
        return tf.constant(True)

    tf.cond(condition, assign, lambda: tf.constant(False))


def _is_jax_trace(tensor):
    """Whether ``tensor`` is traced by a JAX transformation (``jit``, ``grad``).

    Keras runs a JAX training step (``fit``) as a transformed, stateless
    function that keeps only the non-trainable variables a layer assigns.
    """
    if keras.backend.backend() != "jax":
        return False
    import jax

    return isinstance(tensor, jax.core.Tracer)


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
    It runs once: later training steps leave `g` and the bias to the
    optimizer. A degenerate first batch does not poison it: a batch with no
    samples or with a NaN or infinite value initializes nothing (the next
    training batch tries again), and a unit whose pre-activation is constant
    on the batch (any unit of a `Dense` on a batch of one sample) keeps
    `g = ||v||` and its bias, the plain reparametrization, instead of
    `g = 1 / 0`.

    Integer inputs are cast to the compute dtype, as a Keras `Dense` promotes
    them; an input whose feature (channel) size differs from the one the
    wrapped layer was built for raises a `ValueError` naming its shape.

    The wrapped layer's `kernel` is never assigned to; the wrapper runs the
    layer's maths with the normalized kernel instead.

    Backends: the reparametrization runs on every Keras backend. The data
    init differs by backend:

    - TensorFlow: it runs inside the first training step (`fit`,
      `tf.function`, eager), in a `tf.cond` that does nothing once
      initialized, and under a `tf.distribute` strategy over the global
      batch (cross-replica sums: TensorFlow only).
    - PyTorch, and JAX called eagerly (`layer(x, training=True)` outside
      `fit`): the first training call initializes, on that batch; later calls
      skip the init entirely.
    - JAX inside `fit` (or any `jax.jit` / `jax.grad`): Keras keeps only
      non-trainable variable updates there, so `g` and the bias cannot be
      set. Call the model once eagerly on a batch with `training=True`
      before `fit` (also after loading a saved model): that call
      initializes (or sees the layer initialized), and `fit` then traces no
      init at all. Without it, `fit` raises a `NotImplementedError` saying
      so, instead of silently skipping the init.

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
        starts; here it happens on the first training step, which then
        takes an ordinary gradient step from the initialized `g` and bias
        (the statistics themselves are not differentiated). A wrapped layer with
        `use_bias=False` gets only `g` (unit variance, mean unchanged).
        TensorFlow Addons' version assigned to `layer.kernel`, which Keras 3
        forbids; this one does not.

    Reference:
    - [Salimans & Kingma, 2016](https://arxiv.org/abs/1602.07868)
    """

    def __init__(self, layer, data_init=False, **kwargs):
        _kernel_layers.check_kernel_layer(layer)
        _checks.check_bool("data_init", data_init)
        super().__init__(layer, **kwargs)
        # Variables are read in their own dtype (float32 under a mixed
        # policy) and cast by hand, so that `g` and the bias are never
        # rounded to the compute dtype on their way through the data init.
        self.autocast = False
        self.data_init = data_init
        # Whether an eager training call saw `initialized` set (JAX only).
        self._seen_initialized = False

    def build(self, input_shape=None):
        super().build(input_shape)
        if input_shape is not None:
            _kernel_layers.check_input_shape(self.layer, input_shape)
        kernel = self.layer.kernel
        self._norm_axes = tuple(range(len(kernel.shape) - 1))
        self.g = self.add_weight(
            shape=(kernel.shape[-1],),
            name="g",
            initializer="ones",
        )
        self.g.assign(ops.cast(self._kernel_norm(kernel), self.g.dtype))
        if self.data_init:
            self.initialized = self.add_weight(
                shape=(),
                name="initialized",
                initializer="zeros",
                trainable=False,
            )

    def _kernel_norm(self, kernel):
        kernel = ops.cast(kernel, "float32")
        squared = ops.sum(ops.square(kernel), axis=self._norm_axes)
        return ops.sqrt(squared + _TINY)

    def _global_statistics(self, outputs, done):
        """Per-unit sample count, mean and variance of ``outputs`` (float32).

        Over the global batch under a `tf.distribute` strategy; two passes
        (the mean first, then squared deviations from it), so a large mean
        does not cancel the variance. Once ``done``, the local work is
        skipped and the (cheap, per-unit) all-reduces sum zeros.
        """
        axis = _kernel_layers.output_axis(self.layer) % len(outputs.shape)
        axes = [i for i in range(len(outputs.shape)) if i != axis]
        units = outputs.shape[axis]
        t = ops.cast(outputs, "float32")
        zeros = ops.zeros((units,), dtype="float32")

        def count_and_sum():
            count = ops.cast(ops.size(t), "float32") / units
            return ops.stack([zeros + count, ops.sum(t, axis=axes)])

        sums = _all_reduce_sum(
            ops.cond(done, lambda: ops.stack([zeros, zeros]), count_and_sum)
        )
        count, total = sums[0], sums[1]
        mean = ops.divide_no_nan(total, count)
        shape = [1] * len(outputs.shape)
        shape[axis] = units
        centered = ops.reshape(mean, shape)

        def squared_deviations():
            return ops.sum(ops.square(t - centered), axis=axes)

        m2 = _all_reduce_sum(ops.cond(done, lambda: zeros, squared_deviations))
        return count, mean, ops.divide_no_nan(m2, count)

    def _init_assignments(self, count, mean, var):
        """Whether the batch is usable, and the ``(variable, value)`` pairs to set.

        A batch with no samples or a non-finite value is unusable (the next
        batch tries again); a unit whose pre-activation is constant on the
        batch keeps its ``g`` and bias (the identity reparametrization);
        every other unit gets ``g = 1 / std`` and ``bias = -mean / std``.
        """
        usable_batch = ops.logical_and(
            count[0] > 0,
            ops.all(ops.isfinite(mean)) & ops.all(ops.isfinite(var)),
        )
        std = ops.sqrt(var)
        rms = ops.sqrt(ops.square(mean) + var)
        scale = ops.divide_no_nan(ops.ones_like(std), std)
        usable_unit = ops.logical_and(
            std > _DEGENERATE_RATIO * rms, ops.isfinite(scale)
        )
        g = ops.convert_to_tensor(self.g)
        assignments = [
            (self.g, ops.cast(ops.where(usable_unit, scale, g), self.g.dtype)),
            (self.initialized, ops.ones((), self.initialized.dtype)),
        ]
        bias = self.layer.bias
        if bias is not None:
            new_bias = ops.where(
                usable_unit, -mean * scale, ops.convert_to_tensor(bias)
            )
            assignments.append((bias, ops.cast(new_bias, bias.dtype)))
        return usable_batch, assignments

    def _data_init(self, outputs):
        """Set ``g`` and the bias from this batch, once, on a usable batch.

        TensorFlow: inside the step, in one ``tf.cond`` (nothing runs once
        initialized), over the global batch under a `tf.distribute`
        strategy. Eager calls (PyTorch, JAX outside a transformation): a
        Python test of ``initialized`` skips everything once it is set. A
        traced JAX training step cannot set trainable variables (Keras keeps
        only non-trainable updates there): see ``_check_initialized_for_jax``.
        """
        if keras.backend.backend() == "tensorflow":
            done = ops.convert_to_tensor(self.initialized) > 0.5
            count, mean, var = self._global_statistics(outputs, done)
            usable_batch, assignments = self._init_assignments(count, mean, var)
            _assign_in_tf_cond(
                ops.logical_and(ops.logical_not(done), usable_batch), assignments
            )
        elif _is_jax_trace(outputs):
            self._check_initialized_for_jax()
        elif bool(ops.convert_to_numpy(self.initialized) > 0.5):
            self._seen_initialized = True
        else:
            not_done = ops.convert_to_tensor(False)
            count, mean, var = self._global_statistics(outputs, not_done)
            usable_batch, assignments = self._init_assignments(count, mean, var)
            if bool(ops.convert_to_numpy(usable_batch)):
                for variable, value in assignments:
                    variable.assign(value)
                self._seen_initialized = True

    def _check_initialized_for_jax(self):
        """Trace no init once an eager call saw the layer initialized; else refuse.

        Keras's JAX training step keeps the non-trainable variables a layer
        assigns and drops the trainable ones (``g``, the bias): an init
        inside it would silently do nothing. The step cannot read the
        variables' stored values either (Keras moves them out of the
        variables while it trains), so the layer relies on what its last
        eager training call saw.
        """
        if not self._seen_initialized:
            raise NotImplementedError(
                f"WeightNormalization(data_init=True) (layer `{self.name}`) cannot "
                "initialize inside a JAX training step (`fit`, `jax.jit`, "
                "`jax.grad`): Keras keeps only non-trainable variable updates "
                "there, not `g` and the bias. Call the model (or layer) once "
                "eagerly on a batch with `training=True` before `fit` (also after "
                "loading a saved model), or use the TensorFlow or PyTorch "
                "backend. Received: KERAS_BACKEND='jax'"
            )

    def call(self, inputs, training=None):
        inputs = _kernel_layers.prepare_inputs(self.layer, inputs, self.compute_dtype)
        kernel = ops.cast(self.layer.kernel, "float32")
        direction = kernel / ops.expand_dims(self._kernel_norm(kernel), self._norm_axes)
        outputs = _kernel_layers.linear(
            self.layer, inputs, ops.cast(direction, self.compute_dtype)
        )
        if self.data_init and training:
            self._data_init(outputs)
        shape = [1] * len(outputs.shape)
        shape[_kernel_layers.output_axis(self.layer)] = -1
        g = ops.cast(self.g, outputs.dtype)
        outputs = outputs * ops.reshape(g, shape)
        bias = self.layer.bias
        if bias is not None:
            bias = ops.cast(bias, outputs.dtype)
        return _kernel_layers.bias_and_activation(self.layer, outputs, bias)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = {"data_init": self.data_init}
        base_config = {**super().get_config(), "layer": nested_config(self.layer)}
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # keras.layers.Wrapper.from_config pops "layer" from the dict it gets.
        return super().from_config(copy.deepcopy(config), custom_objects)
