"""RandomChoice: apply one layer, picked at random per image, from a list."""

import keras

from keras_tricks import _serialization
from keras_tricks.augment import _base, _composition
from keras_tricks.augment._ops import ops


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomChoice(_base.DataPipelineLayer):
    """Apply to each image one of `layers`, chosen uniformly at random per image.

    Every layer runs on the whole batch and each image keeps the output of
    its own choice, so the cost is the sum of the layers' costs. The layers
    are saved as nested Keras objects.

    Labels, masks and boxes are selected per image with the images, so each
    image gets what its chosen layer did to them.

    Args:
        layers: list of at least one Keras layer, each with output shaped like
            its input.
        seed: int, random seed. Defaults to `None`.

    Call arguments:
        inputs: an image, a batch, or a dict with an `images` entry.
        training: bool; when false the input is returned unchanged (its
            images in the compute dtype). Defaults to `True`.

    Returns:
        The images in the layer's compute dtype (float32 for `uint8` input),
        in training and at inference alike; other dict entries keep their
        dtype.

    Example:
    >>> layer = keras_tricks.augment.RandomChoice([
    ...     keras_tricks.augment.RandomGaussianNoise(0.1),
    ...     keras_tricks.augment.RandomColorCast(0.1)], seed=0)
    >>> layer(np.zeros((2, 4, 4, 3), "float32")).shape
    (2, 4, 4, 3)

    Reference:
    - [torchvision RandomChoice (behaviour)](https://pytorch.org/vision/stable/generated/torchvision.transforms.RandomChoice.html)
    """

    def __init__(self, layers, seed=None, **kwargs):
        if not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError(
                "`layers` must be a non-empty list of Keras layers. "
                f"Received: layers={layers!r}"
            )
        layers = [
            _composition.deserialize(layer) if isinstance(layer, dict) else layer
            for layer in layers
        ]
        for layer in layers:
            if not isinstance(layer, keras.layers.Layer):
                raise ValueError(
                    "`layers` must be a non-empty list of Keras layers. "
                    f"Received: layers={layers!r}"
                )
        super().__init__(seed=seed, **kwargs)
        self.layers = list(layers)

    def build(self, input_shape):
        for layer in self.layers:
            if not layer.built:
                layer.build(input_shape)

    def call(self, inputs, training=True):
        batch, batched = _composition.batch_size(inputs)
        inputs = _composition.images_in(inputs, self.compute_dtype)
        if not training:
            return inputs
        u = ops.random.uniform((batch,), seed=self._random_seed())
        index = ops.minimum(
            ops.cast(ops.floor(u * len(self.layers)), "int32"), len(self.layers) - 1
        )
        result = inputs
        for i, layer in enumerate(self.layers):
            result = _composition.select(
                index == i,
                layer(inputs, training=True),
                result,
                batched,
                layer,
                "layers",
                f"layers[{i}]",
            )
        return result

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layers": [
                    _serialization.nested_config(layer) for layer in self.layers
                ],
                "seed": self.seed,
            }
        )
        return config
