"""The linear scaling rule of Goyal et al. (2017)."""

import numbers

import keras

from keras_tricks._checks import FLOAT32_MAX, check_int, check_learning_rate


def scale_learning_rate(base_learning_rate, batch_size, base_batch_size=256):
    """Linear scaling rule: the learning rate for a batch of `batch_size`.

    When the minibatch is multiplied by `k`, multiply the learning rate by `k`:
    `base_learning_rate * batch_size / base_batch_size`. Pair a large scaled
    rate with `Warmup`.

    Args:
        base_learning_rate: float, `> 0`, the rate that works for
            `base_batch_size`.
        batch_size: int, `> 0`, the global batch size you train with.
        base_batch_size: int, `> 0`, the batch `base_learning_rate` was tuned
            for. Defaults to `256` (Goyal et al.'s `0.1 * batch / 256`).

    Returns:
        The scaled learning rate, a Python float.

    Example:
    >>> keras_tricks.schedules.scale_learning_rate(0.1, batch_size=8192)
    3.2

    Reference:
    - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677)
    """
    base = check_learning_rate(
        "base_learning_rate", base_learning_rate, allow_zero=False
    )
    batch_size = check_int("batch_size", batch_size, minimum=1)
    base_batch_size = check_int("base_batch_size", base_batch_size, minimum=1)
    scaled = base * batch_size / base_batch_size
    if not scaled <= FLOAT32_MAX:
        raise ValueError(
            f"`base_learning_rate` * batch_size / base_batch_size must be at most "
            f"{FLOAT32_MAX:.7g}, the largest float32. Received: "
            f"base_learning_rate={base_learning_rate!r}, batch_size={batch_size!r}, "
            f"base_batch_size={base_batch_size!r}"
        )
    return scaled


def global_batch_size(per_replica_batch_size, strategy=None):
    """The global batch: `per_replica_batch_size * strategy.num_replicas_in_sync`.

    Args:
        per_replica_batch_size: int, `> 0`, examples each replica sees per step.
        strategy: a `tf.distribute.Strategy`, or `None` for the active one
            (`tf.distribute.get_strategy()`, one replica outside any scope).
            On other backends than TensorFlow, `None` counts the devices of
            the active `keras.distribution` (one when none is set).
            Defaults to `None`.

    Returns:
        The global batch size, an int.

    Example:
    >>> keras_tricks.schedules.global_batch_size(64)
    64
    """
    per_replica = check_int("per_replica_batch_size", per_replica_batch_size, minimum=1)
    return per_replica * _num_replicas(strategy)


def scale_learning_rate_for_strategy(
    base_learning_rate, per_replica_batch_size, base_batch_size=256, strategy=None
):
    """Linear scaling rule with the global batch read from the distribution strategy.

    Under `MirroredStrategy` on `n` devices, each replica sees
    `per_replica_batch_size` examples and the global batch is `n` times that;
    the rate scales with the global batch.

    Args:
        base_learning_rate: float, `> 0`, the rate that works for
            `base_batch_size`.
        per_replica_batch_size: int, `> 0`, examples each replica sees per step.
        base_batch_size: int, `> 0`. Defaults to `256`.
        strategy: a `tf.distribute.Strategy`, or `None` for the active one.
            Defaults to `None`.

    Returns:
        The scaled learning rate, a Python float.

    Example:
    >>> strategy = tf.distribute.MirroredStrategy()
    >>> with strategy.scope():
    ...     lr = keras_tricks.schedules.scale_learning_rate_for_strategy(0.1, 128)

    Reference:
    - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677)
    """
    batch = global_batch_size(per_replica_batch_size, strategy)
    return scale_learning_rate(base_learning_rate, batch, base_batch_size)


def _num_replicas(strategy):
    if strategy is not None:
        replicas = getattr(strategy, "num_replicas_in_sync", None)
        if isinstance(replicas, bool) or not isinstance(replicas, numbers.Integral):
            raise TypeError(
                "`strategy` must be a tf.distribute.Strategy (an object with an "
                "integer `num_replicas_in_sync`) or None. "
                f"Received: strategy={strategy!r}"
            )
        return int(replicas)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return int(tf.distribute.get_strategy().num_replicas_in_sync)
    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    return int(distribution.device_mesh.devices.size)
