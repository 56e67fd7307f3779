"""What other keras_tricks subpackages may use from ``keras_tricks.layers``.

Other subpackages (pruning, for one) import this module, never the layers'
private attributes or modules. It holds only what they need to know about
our layers:

- :func:`normalization_groups`: how many groups a built normalization layer
  of ours splits its channels into (one channel per group means each
  channel is normalized alone, so removing a channel changes no other).
"""

from keras_tricks import _checks
from keras_tricks.layers._grouped_normalization import GroupedNormalization


def normalization_groups(layer):
    """The number of channel groups a built normalization layer of ours uses.

    Args:
        layer: any Keras layer.

    Returns:
        For a built ``keras_tricks.layers.GroupNormalization`` or
        ``InstanceNormalization`` (or a subclass of either), the int number
        of groups its channel axis is split into (the channel count for
        ``InstanceNormalization`` and for ``GroupNormalization(groups=-1)``,
        so ``groups == channels`` means every channel is normalized alone).
        ``None`` for any other layer, Keras's own ``GroupNormalization``
        included.

    Raises:
        ValueError: ``layer`` is one of ours but not built yet (its group
            count depends on the channel count it is built for).
    """
    if not isinstance(layer, GroupedNormalization):
        return None
    if not layer.built:
        _checks.fail(
            "layer",
            layer.name,
            "must be built to know its number of groups (they depend on the "
            "channel count)",
        )
    return int(layer._groups)
