"""The command's model: a small CNN built from the chosen tricks."""

import math

import keras

from keras_tricks import augment, layers, optimizers

# Augmentation strengths: RandomAffine and RandomPhotometric arguments.
_AUGMENT = {
    "light": {
        "rotation": 10.0,
        "zoom": 0.1,
        "translation": 0.1,
        "brightness": 0.1,
        "contrast": 0.1,
    },
    "strong": {
        "rotation": 20.0,
        "zoom": 0.2,
        "translation": 0.15,
        "brightness": 0.2,
        "contrast": 0.3,
    },
}
_MAX_GROUPS = 8


def group_count(channels, most=_MAX_GROUPS):
    """The largest group count `<= most` that divides `channels`."""
    return max(g for g in range(1, most + 1) if channels % g == 0)


def normalization(kind, channels, name):
    """A normalization layer for `channels` feature maps, or `None`."""
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "group":
        return layers.GroupNormalization(groups=group_count(channels), name=name)
    if kind == "instance":
        return layers.InstanceNormalization(name=name)
    if kind == "layer":
        return keras.layers.LayerNormalization(name=name)
    return None


def _conv_block(x, filters, kind, name):
    x = keras.layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=kind == "none",
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    norm = normalization(kind, filters, f"{name}_norm")
    if norm is not None:
        x = norm(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def augmentation(strength, channels, seed):
    """The augmentation layers for `strength` (`[]` for `"none"`)."""
    if strength == "none":
        return []
    spec = _AUGMENT[strength]
    colour = channels == 3
    return [
        augment.RandomAffine(
            horizontal_flip=colour,  # digits and letters must not be mirrored
            rotation=spec["rotation"],
            zoom=spec["zoom"],
            translation=spec["translation"],
            fill_mode="reflect" if colour else "constant",
            seed=seed,
            name="augment_affine",
        ),
        augment.RandomPhotometric(
            brightness=spec["brightness"],
            contrast=spec["contrast"],
            value_range=(0, 255),
            seed=None if seed is None else seed + 1,
            name="augment_photometric",
        ),
    ]


def build(
    input_shape, num_classes, normalization_kind, augment_strength, dropout, seed
):
    """A Functional CNN: augmentation, rescaling, conv stages, softmax.

    One stage (two 3x3 convolutions, each followed by the normalization and
    ReLU, then 2x2 max pooling) per halving from the image side down to 4,
    between 1 and 4 stages; filters 32, 64, 128, 256; then one more
    convolution, global average pooling, dropout and a softmax classifier.
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for layer in augmentation(augment_strength, input_shape[-1], seed):
        x = layer(x)
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    side = min(input_shape[0], input_shape[1])
    stages = min(max(int(math.log2(side / 4)), 1), 4)
    filters = 32
    for stage in range(stages):
        x = _conv_block(x, filters, normalization_kind, f"stage{stage}_a")
        x = _conv_block(x, filters, normalization_kind, f"stage{stage}_b")
        x = keras.layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
        filters *= 2
    x = _conv_block(x, filters, normalization_kind, "head")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(
        x
    )
    return keras.Model(inputs, outputs, name="keras_tricks_cnn")


def optimizer(name, learning_rate):
    """Keras's `adam`, `adamw`, `sgd` (momentum 0.9) or a keras_tricks optimizer."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate)
    return optimizers.get(name, learning_rate=learning_rate)


def range_test_bounds(name):
    """`(min, max)` learning rates of the range test for an optimizer."""
    return (1e-4, 10.0) if name == "sgd" else (1e-5, 1.0)


def fallback_learning_rate(name):
    """The rate used when the range test finds no fall of the loss."""
    return 3e-2 if name == "sgd" else 3e-3


def compile_model(model, optimizer_name, learning_rate):
    model.compile(
        optimizer=optimizer(optimizer_name, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
