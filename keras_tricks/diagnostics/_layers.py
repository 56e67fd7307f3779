"""What kind of layer is this: the one place the checks recognise layers.

Every test is an ``isinstance`` against Keras's public classes (or a small
documented protocol), so a user's subclass, or a library's layer built on a
Keras layer (keras_hub's, for one), is judged like its base. Shared by the
linter, the probes, the training checks and the transfer-learning plan.
"""

import functools

import keras

#: Dropout layers: their `rate` is the fraction of units dropped.
DROPOUT_TYPES = (
    keras.layers.Dropout,  # SpatialDropout1D/2D/3D subclass it
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
)

#: Depthwise and depthwise separable convolutions.
SEPARABLE_CONV_TYPES = (
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)

#: Layers that normalize the inputs at a model's start.
INPUT_NORMALIZATION_TYPES = (keras.layers.Rescaling, keras.layers.Normalization)

#: Glorot (Xavier) initializers.
GLOROT_TYPES = (keras.initializers.GlorotUniform, keras.initializers.GlorotNormal)

# Keras's augmentation layers whose names do not start with "Random".
_KERAS_AUGMENTATION_NAMES = ("AugMix", "CutMix", "MixUp", "RandAugment", "Solarization")


def walk(model):
    """Every layer of `model` in order, nested models expanded.

    A layer that holds a `layers` list (a nested `keras.Model`, a
    `keras.Sequential`, or any container following that protocol) is
    expanded, never reported itself.
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model) or hasattr(layer, "layers"):
            yield from walk(layer)
        else:
            yield layer


def activation_name(layer):
    """The name of the layer's `activation` (`"relu"`, ...), or `None` without one."""
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = keras.activations.serialize(activation)
    return name if isinstance(name, str) else getattr(activation, "__name__", None)


def is_batchnorm(layer):
    """Whether `layer` is a `keras.layers.BatchNormalization` (synchronized or not)."""
    return isinstance(layer, keras.layers.BatchNormalization)


def is_dropout(layer):
    """Whether `layer` is a dropout layer (`DROPOUT_TYPES`)."""
    return isinstance(layer, DROPOUT_TYPES)


def is_relu(layer):
    """Whether `layer` is a `ReLU` layer or an `Activation("relu")`."""
    if isinstance(layer, keras.layers.ReLU):
        return True
    return (
        isinstance(layer, keras.layers.Activation) and activation_name(layer) == "relu"
    )


def is_separable_conv(layer):
    """Whether `layer` is a depthwise or depthwise separable convolution."""
    return isinstance(layer, SEPARABLE_CONV_TYPES)


def is_depthwise_conv(layer):
    """Whether `layer` is a depthwise convolution (no pointwise part)."""
    return isinstance(
        layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
    )


def is_input_normalization(layer):
    """Whether `layer` is a `Rescaling` or a `Normalization` layer."""
    return isinstance(layer, INPUT_NORMALIZATION_TYPES)


def has_glorot_kernel(layer):
    """Whether `layer`'s `kernel_initializer` is a Glorot (Xavier) initializer."""
    return isinstance(getattr(layer, "kernel_initializer", None), GLOROT_TYPES)


@functools.cache
def augmentation_types():
    """The random augmentation layer classes: Keras's and `keras_tricks.augment`'s.

    Keras's are its public `keras.layers.Random*` classes and `AugMix`,
    `CutMix`, `MixUp`, `RandAugment`, `Solarization` (those present in the
    installed Keras).
    """
    from keras_tricks import augment

    names = [n for n in dir(keras.layers) if n.startswith("Random")]
    names += list(_KERAS_AUGMENTATION_NAMES)
    keras_types = [getattr(keras.layers, n, None) for n in names]
    ours = [getattr(augment, n) for n in augment.__all__]
    return tuple(t for t in keras_types + ours if isinstance(t, type))


def is_augmentation(layer):
    """Whether `layer` is a random augmentation layer (a subclass counts as its
    base)."""
    return isinstance(layer, augmentation_types())
