"""RandomApply: apply a layer to a random subset of the images."""

import keras

from keras_tricks import _checks, _serialization
from keras_tricks.augment import _base, _composition
from keras_tricks.augment._ops import ops


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomApply(_base.DataPipelineLayer):
    """Apply `layer` to each image with probability `rate`, else pass it through.

    The decision is drawn per image. `layer` runs on the whole batch and its
    output is kept only for the chosen images, so its cost does not shrink
    with `rate`. The wrapped layer is saved as a nested Keras object.

    Labels, masks and boxes: the wrapped layer's output dict is selected per
    image entry by entry, so whatever `layer` does to them is kept for the
    chosen images and undone for the others.

    Args:
        layer: a Keras layer whose output has the shape of its input.
        rate: float in `[0, 1]`, the probability of applying `layer`.
            Defaults to `0.5`.
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
    >>> layer = keras_tricks.augment.RandomApply(
    ...     keras_tricks.augment.RandomGaussianNoise(0.1), rate=0.3, seed=0)
    >>> layer(np.zeros((2, 4, 4, 3), "float32")).shape
    (2, 4, 4, 3)

    Reference:
    - [torchvision RandomApply (behaviour)](https://pytorch.org/vision/stable/generated/torchvision.transforms.RandomApply.html)
    """

    def __init__(self, layer, rate=0.5, seed=None, **kwargs):
        if isinstance(layer, dict):
            layer = _composition.deserialize(layer)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                f"`layer` must be a Keras layer. Received: layer={layer!r}"
            )
        _checks.check_probability("rate", rate)
        super().__init__(seed=seed, **kwargs)
        self.layer = layer
        self.rate = rate

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)

    def call(self, inputs, training=True):
        batch, batched = _composition.batch_size(inputs)
        inputs = _composition.images_in(inputs, self.compute_dtype)
        if not training:
            return inputs
        outputs = self.layer(inputs, training=True)
        chosen = ops.random.uniform((batch,), seed=self._random_seed()) < self.rate
        return _composition.select(
            chosen, outputs, inputs, batched, self.layer, "layer", "layer"
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": _serialization.nested_config(self.layer),
                "rate": self.rate,
                "seed": self.seed,
            }
        )
        return config
