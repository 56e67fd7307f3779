"""The private base class every augmentation layer in ``keras_tricks.augment`` shares.

It does what Keras's own image preprocessing layers do around the maths, with
public API only: one ``keras.random.SeedGenerator`` per layer, the identity
when ``training`` is false, single images (rank 3) and batches (rank 4), both
data formats, and dict inputs ``{"images": ..., "segmentation_masks": ...,
"labels": ...}``. A subclass writes three methods, all on float32 batches in
``channels_last`` order: ``_draw(batch, height, width, channels)`` returns a dict
of per-image random parameters, ``_apply(images, transformation)`` transforms
images and, for a layer that moves pixels (``_GEOMETRIC = True``),
``_apply_masks(masks, transformation)`` moves segmentation masks the same way.

What every layer shares, whatever the subclass:

- the images come out in the layer's compute dtype (float32, or float16 under
  ``mixed_float16``) in training and at inference alike, whatever their input
  dtype (``uint8`` images included), as Keras's image layers do;
- height and width may be unknown (``None`` in a model, or a ``tf.data`` map
  over images of different sizes): every size is read from ``ops.shape``;
- segmentation masks may be ``(B, H, W, 1)`` or ``(B, H, W)`` (one axis fewer
  than the images, as Keras's layers accept) and come back in their own rank
  and dtype; masks whose batch, height or width differ from the images' are
  refused with a ``ValueError`` when the shapes are known, and by a runtime
  assertion (TensorFlow) when they are not.
"""

import keras

from keras_tricks import _checks
from keras_tricks.augment import _ops
from keras_tricks.augment._ops import ops

IMAGES = "images"
MASKS = "segmentation_masks"
BOXES = "bounding_boxes"


def check_value_range(value_range):
    low, high = _checks.check_pair("value_range", value_range)
    if low >= high:
        raise ValueError(
            "`value_range` must be (min, max) with min < max. "
            f"Received: value_range={value_range!r}"
        )
    return low, high


def check_factor(name, value, high, high_closed=True):
    """A non-negative magnitude, e.g. ``contrast=0.2``, bounded above by ``high``."""
    return _checks.check_range(name, value, 0.0, high, high_closed=high_closed)


def check_images_shape(shape, channels=None):
    """Refuse anything that is not a single image or a batch of images."""
    if len(shape) not in (3, 4):
        raise ValueError(
            "`inputs` must be a single image (rank 3) or a batch of images "
            f"(rank 4). Received: inputs.shape={tuple(shape)}"
        )
    return shape


def _spatial_axes(rank, data_format):
    """Positions of (height, width) in an image tensor of this rank."""
    first = rank - 3 if data_format == "channels_last" else rank - 2
    return first, first + 1


def assert_dims_equal(first, second, pairs, message):
    """Require ``first.shape[i] == second.shape[j]`` for every ``(i, j)`` in ``pairs``.

    Where both sizes are known the check is made now and fails with a
    ``ValueError``; where one is unknown (a ``tf.data`` map, a ``None`` axis
    in a model) a TensorFlow assertion checks it when the graph runs, and
    ``second`` is returned tied to it. Other backends trace with known shapes
    (and in a ``tf.data`` map the layers compute with TensorFlow on any backend).
    """
    unknown = []
    for i, j in pairs:
        a, b = first.shape[i], second.shape[j]
        if a is not None and b is not None:
            if a != b:
                raise ValueError(message)
        else:
            unknown.append((i, j))
    if not unknown or not _ops.uses_tensorflow():
        return second
    import tensorflow as tf

    a = tf.shape(first)
    b = tf.shape(second)
    assertion = tf.debugging.assert_equal(
        tf.stack([a[i] for i, _ in unknown]),
        tf.stack([b[j] for _, j in unknown]),
        message=message,
    )
    with tf.control_dependencies([assertion]):
        return tf.identity(second)


def split(data):
    """``data`` -> ``(dict or None, images)``: a dict input's copy and its images, or
    ``(None, data)``.

    What other modules of ``keras_tricks.augment`` may use to read a layer's
    input: a dict must have an ``images`` entry (``ValueError`` otherwise).
    """
    if isinstance(data, dict):
        if IMAGES not in data:
            raise ValueError(
                "A dict input needs an `images` entry. "
                f"Received: inputs.keys()={sorted(data)}"
            )
        return dict(data), data[IMAGES]
    return None, data


class DataPipelineLayer(keras.layers.Layer):
    """A random layer that also runs in a ``tf.data`` pipeline on every backend.

    Called in a TensorFlow graph while Keras runs JAX or PyTorch (a
    ``tf.data`` ``map``), it computes its ``call`` with TensorFlow's ops
    (see ``_ops``) and draws from a TensorFlow copy of its seed state;
    everywhere else it is a plain Keras layer. Subclasses draw random
    numbers with ``seed=self._random_seed()``.
    """

    def __init__(self, seed=None, **kwargs):
        if seed is not None:
            seed = _checks.check_int("seed", seed)
        super().__init__(**kwargs)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)
        self._tensorflow_seed = _ops.TensorFlowSeed(seed)

    def __call__(self, inputs, *args, **kwargs):
        if not _ops.in_foreign_tensorflow_graph(keras.tree.flatten(inputs)[0]):
            return super().__call__(inputs, *args, **kwargs)
        with _ops.tensorflow_scope():
            # Keras's __call__ would convert the inputs to the backend's
            # tensors, which a TensorFlow graph cannot hold: call directly.
            inputs = keras.tree.map_structure(ops.convert_to_tensor, inputs)
            return self.call(inputs, *args, **kwargs)

    def _random_seed(self):
        """The seed generator for this call: a TensorFlow one inside ``tf.data`` on
        other backends."""
        if _ops.uses_tensorflow() and keras.backend.backend() != "tensorflow":
            return self._tensorflow_seed.generator()
        return self._seed_generator


class AugmentationLayer(DataPipelineLayer):
    """Shared plumbing; not public. See the module docstring."""

    _GEOMETRIC = False

    def __init__(self, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if data_format is None:
            data_format = keras.config.image_data_format()
        _checks.check_choice(
            "data_format", data_format, ("channels_last", "channels_first")
        )
        self.data_format = data_format
        self.supports_masking = False

    # -- layout helpers -------------------------------------------------------
    def _to_batch(self, images):
        """Rank 3 or 4, either format -> (float32 NHWC batch, undo function)."""
        check_images_shape(images.shape)
        single = len(images.shape) == 3
        dtype = images.dtype
        x = ops.cast(images, "float32")
        if single:
            x = ops.expand_dims(x, 0)
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 2, 3, 1))

        def undo(y, out_dtype=None):
            if self.data_format == "channels_first":
                y = ops.transpose(y, (0, 3, 1, 2))
            if single:
                y = ops.squeeze(y, 0)
            return ops.cast(y, out_dtype or dtype)

        return x, undo

    def _check_boxes(self, data):
        if self._GEOMETRIC and data is not None and BOXES in data:
            raise ValueError(
                f"{type(self).__name__} moves pixels and does not transform "
                "bounding boxes; drop them or use a layer that supports them. "
                f"Received: inputs.keys()={sorted(data)}"
            )

    # -- public methods -------------------------------------------------------
    def get_random_transformation(self, data):
        """Draw the per-image random parameters for one call.

        Args:
            data: a single image, a batch, or a dict with an ``images`` entry,
                as the layer takes it.

        Returns:
            A dict of tensors whose first axis runs over the images.
        """
        _, images = split(data)
        x, _ = self._to_batch(ops.convert_to_tensor(images))
        shape = ops.shape(x)
        return self._draw(shape[0], shape[1], shape[2], x.shape[-1])

    def transform_images(self, images, transformation):
        """Apply a transformation drawn by ``get_random_transformation``."""
        x, undo = self._to_batch(ops.convert_to_tensor(images))
        return undo(self._apply(x, transformation), self.compute_dtype)

    # -- Keras layer API ------------------------------------------------------
    def call(self, inputs, training=True):
        data, images = split(inputs)
        self._check_boxes(data)
        check_images_shape(images.shape)
        masks = None
        if data is not None and MASKS in data:
            masks = self._check_masks(images, data[MASKS])
        if training:
            images, masks = self._training(images, masks)
        else:
            images, masks = self._inference(images, masks)
        if data is None:
            return images
        data[IMAGES] = images
        if masks is not None:
            data[MASKS] = masks
        return data

    def _training(self, images, masks):
        """Training: (images, masks) -> augmented images in the compute dtype, masks."""
        x, undo = self._to_batch(images)
        self._check_channels(x.shape[-1])
        shape = ops.shape(x)
        transformation = self._draw(shape[0], shape[1], shape[2], x.shape[-1])
        out = undo(self._apply(x, transformation), self.compute_dtype)
        if self._GEOMETRIC and masks is not None:
            masks = self._with_mask_channel(
                masks, images, lambda m: self._move_masks(m, transformation)
            )
        return out, masks

    def _move_masks(self, masks, transformation):
        m, undo = self._to_batch(masks)
        return undo(self._apply_masks(m, transformation))

    def _inference(self, images, masks):
        """Inference: the images unchanged but in the compute dtype, the masks as
        given."""
        return ops.cast(images, self.compute_dtype), masks

    def _with_mask_channel(self, masks, images, function):
        """Run ``function`` on masks with a channel axis; a ``(B, H, W)`` mask gets
        one."""
        if len(masks.shape) == len(images.shape):
            return function(masks)
        axis = -1 if self.data_format == "channels_last" else -3
        return ops.squeeze(function(ops.expand_dims(masks, axis)), axis)

    def _check_masks(self, images, masks):
        """Masks must match the images' batch, height and width (see the module
        docstring)."""
        masks = ops.convert_to_tensor(masks)
        rank, mask_rank = len(images.shape), len(masks.shape)
        received = (
            f"Received: images.shape={tuple(images.shape)}, "
            f"segmentation_masks.shape={tuple(masks.shape)}"
        )
        if mask_rank not in (rank, rank - 1):
            raise ValueError(
                "`segmentation_masks` must have the rank of `images` (with a channel "
                "axis) or one less (without). " + received
            )
        image_axes = _spatial_axes(rank, self.data_format)
        if mask_rank == rank:
            mask_axes = _spatial_axes(rank, self.data_format)
        else:  # no channel axis: height and width are the last two axes
            mask_axes = (mask_rank - 2, mask_rank - 1)
        pairs = list(zip(image_axes, mask_axes, strict=True))
        if rank == 4:
            pairs.insert(0, (0, 0))
        return assert_dims_equal(
            images,
            masks,
            pairs,
            "`segmentation_masks` must have the batch size, height and width of "
            "`images`. " + received,
        )

    def _check_channels(self, channels):
        pass

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "seed": self.seed})
        return config
