"""Running a Dense or Conv layer's maths with a substitute kernel.

WeightNormalization and DropConnect both compute what the wrapped layer
would, but with a kernel derived from the layer's own (reparametrized or
masked). Keras 3 kernels are read-only properties, so instead of assigning to
``layer.kernel`` the wrappers call ``apply_kernel`` with the kernel to use.
"""

import keras
from keras import ops

from keras_tricks import _checks

KERNEL_LAYERS = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
)


def check_kernel_layer(layer):
    """Refuse anything but a Dense or Conv1D/2D/3D layer (a layer with a kernel)."""
    if not isinstance(layer, KERNEL_LAYERS):
        _checks.fail(
            "layer",
            layer,
            "must be a Dense, Conv1D, Conv2D or Conv3D layer (a layer with a kernel)",
        )
    return layer


def output_axis(layer):
    """The axis of ``layer``'s output that holds its units or filters."""
    if isinstance(layer, keras.layers.Dense):
        return -1
    return -1 if layer.data_format == "channels_last" else 1


def input_axis(layer):
    """The axis of ``layer``'s input that holds its features or channels."""
    return output_axis(layer)


def _expected_input(layer):
    """``(rank, size)``: the input rank (``None``: any >= 2) and channel size."""
    kernel_shape = tuple(layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        return None, kernel_shape[0]
    return len(kernel_shape), kernel_shape[-2] * layer.groups


def check_input_shape(layer, input_shape):
    """Refuse an input shape the built ``layer``'s kernel cannot take.

    Without this, a Dense built for 4 features called on 5 fails deep inside
    the backend's matmul; here the error names the shape the layer received.
    """
    shape = tuple(input_shape)
    rank, size = _expected_input(layer)
    if (rank is None and len(shape) < 2) or (rank is not None and len(shape) != rank):
        wanted = "at least 2" if rank is None else str(rank)
        _checks.fail(
            "input_shape",
            shape,
            f"must have rank {wanted} for the wrapped layer `{layer.name}`",
        )
    got = shape[input_axis(layer)]
    if got is not None and got != size:
        _checks.fail(
            "input_shape",
            shape,
            f"must have {size} features on axis {input_axis(layer)}, the size "
            f"the wrapped layer `{layer.name}` was built for",
        )


def prepare_inputs(layer, inputs, dtype):
    """``inputs`` checked against ``layer`` and cast to the float ``dtype``.

    Integer and boolean inputs become ``dtype``, as they do in a Keras
    ``Dense`` layer (whose matmul promotes them); Keras's ``Conv`` layers
    refuse ``uint8``, the wrappers accept it the same way.
    """
    inputs = ops.convert_to_tensor(inputs)
    check_input_shape(layer, inputs.shape)
    if keras.backend.standardize_dtype(inputs.dtype) != dtype:
        inputs = ops.cast(inputs, dtype)
    return inputs


def linear(layer, inputs, kernel):
    """``layer``'s output before bias and activation, with ``kernel``."""
    if isinstance(layer, keras.layers.Dense):
        return ops.matmul(inputs, kernel)
    padding = layer.padding
    if padding == "causal":
        left = layer.dilation_rate[0] * (layer.kernel_size[0] - 1)
        pads = [[0, 0], [left, 0], [0, 0]]
        if layer.data_format == "channels_first":
            pads = [[0, 0], [0, 0], [left, 0]]
        inputs = ops.pad(inputs, pads)
        padding = "valid"
    return ops.conv(
        inputs,
        kernel,
        strides=list(layer.strides),
        padding=padding,
        dilation_rate=layer.dilation_rate,
        data_format=layer.data_format,
    )


def bias_and_activation(layer, outputs, bias):
    """Add ``bias`` (per unit, or ``None``) and apply ``layer``'s activation."""
    if bias is not None:
        shape = [1] * len(outputs.shape)
        shape[output_axis(layer)] = -1
        outputs = ops.add(outputs, ops.reshape(bias, shape))
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


def apply_kernel(layer, inputs, kernel):
    """What ``layer(inputs)`` computes, with ``kernel`` in place of its own."""
    outputs = linear(layer, inputs, kernel)
    bias = layer.bias
    if bias is not None:
        bias = ops.cast(bias, outputs.dtype)
    return bias_and_activation(layer, outputs, bias)
