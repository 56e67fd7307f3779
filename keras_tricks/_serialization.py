"""Serializing a layer nested inside one of ours (a wrapper's or a policy's)."""

import keras


def nested_config(layer):
    """``layer`` serialized without its ``build_config``.

    Keras adds a layer's ``build_config`` to its serialized form once it is
    built, so a config that embeds it would change on ``build`` and would not
    round-trip before and after. The layers that nest others build them
    themselves, so the shape is not needed.
    """
    config = dict(keras.saving.serialize_keras_object(layer))
    config.pop("build_config", None)
    return config
