"""Private base layer of GroupNormalization and InstanceNormalization.

It holds the arguments both layers share, the argument checks, the weights,
and the call into ``_group_norm_math.group_norm``. A subclass only says how
many groups a given channel count splits into and which input ranks it takes.
"""

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks.layers import _group_norm_math

# The smallest normal float32. The variance and `epsilon` are added in
# float32 whatever the layer's dtype, so a smaller `epsilon` would round to
# zero (or a subnormal, flushed to zero on most hardware) and a constant
# group would divide by zero.
_MIN_EPSILON = float(np.finfo(np.float32).tiny)


def check_epsilon(epsilon):
    """``epsilon`` as a float, finite and at least the smallest normal float32."""
    epsilon = _checks.check_positive("epsilon", epsilon)
    if epsilon < _MIN_EPSILON:
        _checks.fail(
            "epsilon",
            epsilon,
            f"must be >= {_MIN_EPSILON:.8g}, the smallest normal float32 (the "
            "statistics and epsilon are computed in float32); a smaller value "
            "rounds to 0",
        )
    return epsilon


class GroupedNormalization(keras.layers.Layer):
    """Normalization over groups of channels; see the public subclasses."""

    min_rank = 2
    max_rank = None

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        _checks.check_int("axis", axis)
        check_epsilon(epsilon)
        _checks.check_bool("center", center)
        _checks.check_bool("scale", scale)
        super().__init__(**kwargs)
        self.supports_masking = True
        # Statistics run in float32 whatever the policy; gamma and beta stay
        # float32 and the output is cast to the compute dtype.
        self.autocast = False
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)

    def _groups_for(self, channels):
        raise NotImplementedError

    def _check_rank(self, input_shape):
        rank = len(input_shape)
        too_low = rank < self.min_rank
        too_high = self.max_rank is not None and rank > self.max_rank
        if too_low or too_high:
            allowed = (
                f"between {self.min_rank} and {self.max_rank}"
                if self.max_rank is not None
                else f">= {self.min_rank}"
            )
            _checks.fail(
                "input_shape", tuple(input_shape), f"must have a rank {allowed}"
            )

    def _channel_axis(self, input_shape):
        rank = len(input_shape)
        self._check_rank(input_shape)
        axis = _group_norm_math.normalize_axis(self.axis, rank)
        if axis is None:
            _checks.fail(
                "axis",
                self.axis,
                f"must index a non-batch axis of an input of rank {rank} "
                f"(input_shape={tuple(input_shape)})",
            )
        return axis

    def build(self, input_shape):
        axis = self._channel_axis(input_shape)
        channels = input_shape[axis]
        if channels is None:
            _checks.fail(
                "input_shape",
                tuple(input_shape),
                f"must have a known size on the channel axis {self.axis}",
            )
        self._axis = axis
        self._groups = self._groups_for(channels)
        self.input_spec = keras.layers.InputSpec(
            ndim=len(input_shape), axes={axis: channels}
        )
        self.gamma = None
        self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                shape=(channels,),
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                autocast=False,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=(channels,),
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                autocast=False,
            )

    def call(self, inputs):
        if not keras.backend.is_float_dtype(inputs.dtype):
            # Integer images (uint8, int32): normalize their values, not a
            # copy truncated back to integers.
            inputs = keras.ops.cast(inputs, "float32")
        outputs = _group_norm_math.group_norm(
            inputs, self.gamma, self.beta, self._groups, self._axis, self.epsilon
        )
        return keras.ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        self._channel_axis(input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = {
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
            "beta_regularizer": keras.regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": keras.regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": keras.constraints.serialize(self.beta_constraint),
            "gamma_constraint": keras.constraints.serialize(self.gamma_constraint),
        }
        base_config = super().get_config()
        return {**base_config, **config}
