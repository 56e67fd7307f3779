"""Numbers: fused transforms against float64 NumPy references, and parameter
distributions."""

import math

import keras
import numpy as np
import pytest

from keras_tricks import augment
from keras_tricks.augment import _kernels

N = 4000  # draws for the distribution checks; 4 sigma of a fraction is ~0.03


def _zero_affine(batch=1, **values):
    t = {
        k: np.zeros(batch, "float32")
        for k in (
            "flip_horizontal", "flip_vertical", "rotation", "translation_x",
            "translation_y", "shear_x", "shear_y", "perspective_x", "perspective_y",
        )
    }  # fmt: skip
    t["zoom"] = np.ones(batch, "float32")
    t.update({k: np.asarray(v, "float32").reshape(batch) for k, v in values.items()})
    return t


def _numpy_affine(image, rotation, zoom, tx, ty, flip_h):
    """Float64 reference: inverse-map every output pixel, bilinear, reflect fill.

    Forward map about the centre c: out = R(rotation) S(zoom) F x + c + t
    (Hartley & Zisserman, ch. 2); sample the input at the inverse image.
    """
    h, w, _ = image.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    a = math.radians(rotation)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    forward = rot @ np.diag([zoom, zoom]) @ np.diag([-1.0 if flip_h else 1.0, 1.0])
    inv = np.linalg.inv(forward)
    ys, xs = np.mgrid[0:h, 0:w].astype("float64")
    d = np.stack([xs - cx - tx * w, ys - cy - ty * h])
    sx, sy = np.tensordot(inv, d, axes=1)
    sx, sy = sx + cx, sy + cy

    def reflect(v, n):  # TF's "reflect": (d c b a | a b c d | d c b a)
        period = 2 * n
        v = np.mod(v + 0.5, period) - 0.5
        return np.where(v > n - 0.5, period - 1 - v, v)

    sx, sy = reflect(sx, w), reflect(sy, h)
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    out = 0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi = np.clip(x0 + dx, 0, w - 1).astype(int)
            yi = np.clip(y0 + dy, 0, h - 1).astype(int)
            out = out + (wy * wx)[..., None] * image[yi, xi]
    return out


def _smooth_image(size=16):
    ys, xs = np.mgrid[0:size, 0:size] / size
    return np.stack(
        [np.sin(2 * xs + ys), np.cos(3 * ys - xs), xs * ys], axis=-1
    ).astype("float32")


def test_rotation_by_90_and_flip_lands_exactly():
    image = np.arange(16 * 16 * 2, dtype="float32").reshape(1, 16, 16, 2)
    layer = augment.RandomAffine()
    rotated = np.asarray(layer.transform_images(image, _zero_affine(rotation=90)))
    np.testing.assert_allclose(rotated[0], np.rot90(image[0]), atol=1e-3)
    both = _zero_affine(rotation=90, flip_horizontal=1, flip_vertical=1)
    out = np.asarray(layer.transform_images(image, both))
    # Flip both axes = rotate by 180, so the total is a 270 degree rotation.
    np.testing.assert_allclose(out[0], np.rot90(image[0], 3), atol=1e-3)
    flipped = np.asarray(layer.transform_images(image, _zero_affine(flip_horizontal=1)))
    np.testing.assert_array_equal(flipped[0], image[0, :, ::-1])


def test_integer_translation_moves_pixels_exactly():
    image = np.random.default_rng(0).uniform(size=(1, 16, 16, 3)).astype("float32")
    layer = augment.RandomAffine(fill_mode="constant")
    # 0.25 * 16 = 4 pixels right, -0.125 * 16 = 2 pixels up.
    out = np.asarray(
        layer.transform_images(
            image, _zero_affine(translation_x=0.25, translation_y=-0.125)
        )
    )
    np.testing.assert_array_equal(out[0, :14, 4:], image[0, 2:, :12])
    np.testing.assert_array_equal(out[0, :, :4], 0)


def test_fused_equals_numpy_reference_and_composition():
    image = _smooth_image()[None]
    params = dict(
        rotation=17.0,
        zoom=1.1,
        translation_x=0.06,
        translation_y=-0.03,
        flip_horizontal=1,
    )
    layer = augment.RandomAffine(fill_mode="reflect")
    fused = np.asarray(layer.transform_images(image, _zero_affine(**params)))[0]
    reference = _numpy_affine(image[0].astype("float64"), 17.0, 1.1, 0.06, -0.03, True)
    np.testing.assert_allclose(fused, reference, atol=1e-4)
    # The same policy as separate resamples (flip, zoom, rotate, translate)
    # agrees to interpolation tolerance away from the borders.
    x = image
    for step in (
        dict(flip_horizontal=1),
        dict(zoom=1.1),
        dict(rotation=17.0),
        dict(translation_x=0.06, translation_y=-0.03),
    ):
        x = np.asarray(layer.transform_images(x, _zero_affine(**step)))
    np.testing.assert_allclose(x[0, 3:-3, 3:-3], fused[3:-3, 3:-3], atol=0.05)


def _numpy_projective(image, matrix):
    """Float64 reference: output pixel (x, y) reads the input at M (x, y, 1), divided
    by its third coordinate (Hartley & Zisserman, ch. 2); bilinear, zero outside."""
    h, w, _ = image.shape
    ys, xs = np.mgrid[0:h, 0:w].astype("float64")
    src = np.tensordot(
        matrix.astype("float64"), np.stack([xs, ys, np.ones_like(xs)]), axes=1
    )
    sx, sy = src[0] / src[2], src[1] / src[2]
    x0, y0 = np.floor(sx), np.floor(sy)
    out = 0
    for dy, wy in ((0, 1 - (sy - y0)), (1, sy - y0)):
        for dx, wx in ((0, 1 - (sx - x0)), (1, sx - x0)):
            xi, yi = (x0 + dx).astype(int), (y0 + dy).astype(int)
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            pixels = (
                image[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * inside[..., None]
            )
            out = out + (wy * wx)[..., None] * pixels
    return out


@pytest.mark.backends
def test_perspective_is_applied_on_every_backend():
    # keras.ops.image.affine_transform drops the projective terms on JAX and
    # PyTorch, where RandomAffine(perspective=...) used to be a plain affine warp.
    image = _smooth_image()[None]
    layer = augment.RandomAffine(fill_mode="constant")
    t = _zero_affine(perspective_x=0.2, perspective_y=-0.15, rotation=10.0)
    out = np.asarray(keras.ops.convert_to_numpy(layer.transform_images(image, t)))[0]
    matrix = np.asarray(
        keras.ops.convert_to_numpy(layer.transform_matrices(t, 16, 16))
    )[0]
    assert abs(matrix[2, 0]) > 0.01 and abs(matrix[2, 1]) > 0.01  # a projective map
    np.testing.assert_allclose(out, _numpy_projective(image[0], matrix), atol=1e-4)


def test_matrix_equals_product_of_single_matrices():
    layer = augment.RandomAffine()
    params = dict(
        rotation=25.0, zoom=0.9, shear_x=5.0, translation_x=0.1, flip_vertical=1
    )
    fused = np.asarray(layer.transform_matrices(_zero_affine(**params), 16, 16))[0]
    # Output->input maps: the inverse of translate@rotate@shear@zoom@flip.
    order = [
        dict(flip_vertical=1),
        dict(zoom=0.9),
        dict(shear_x=5.0),
        dict(rotation=25.0),
        dict(translation_x=0.1),
    ]
    product = np.eye(3)
    for step in order:
        product = (
            product
            @ np.asarray(layer.transform_matrices(_zero_affine(**step), 16, 16))[0]
        )
    np.testing.assert_allclose(fused, product, atol=1e-5)


def test_affine_parameter_distributions():
    layer = augment.RandomAffine(
        horizontal_flip=True,
        rotation=(-10, 30),
        zoom=(0.8, 1.2),
        translation=0.1,
        seed=0,
    )
    t = {
        k: np.asarray(v)
        for k, v in layer.get_random_transformation(
            np.zeros((N, 2, 2, 1), "float32")
        ).items()
    }
    assert abs(t["flip_horizontal"].mean() - 0.5) < 4 * math.sqrt(0.25 / N)
    assert t["flip_vertical"].max() == 0
    for key, (lo, hi) in {
        "rotation": (-10, 30),
        "zoom": (0.8, 1.2),
        "translation_x": (-0.1, 0.1),
    }.items():
        v = t[key]
        assert lo <= v.min() and v.max() <= hi
        # Uniform: mean (lo+hi)/2, variance (hi-lo)^2/12.
        assert abs(v.mean() - (lo + hi) / 2) < 4 * (hi - lo) / math.sqrt(12 * N)
        assert abs(v.var() / ((hi - lo) ** 2 / 12) - 1) < 0.1


def test_resized_crop_area_and_ratio_in_range():
    layer = augment.RandomResizedCrop(8, 8, scale=(0.2, 0.6), ratio=(0.5, 2.0), seed=0)
    # A square image, so that the crops that do not fit (and are redrawn) are
    # as often wide as tall and the log ratio stays symmetric about 0.
    t = {
        k: np.asarray(v)
        for k, v in layer.get_random_transformation(
            np.zeros((N, 40, 40, 1), "float32")
        ).items()
    }
    area = t["crop_height"] * t["crop_width"] / (40 * 40)
    assert area.min() >= 0.2 - 1e-5 and area.max() <= 0.6 + 1e-5
    log_ratio = np.log(t["crop_width"] / t["crop_height"])
    assert (
        log_ratio.min() >= math.log(0.5) - 1e-5
        and log_ratio.max() <= math.log(2.0) + 1e-5
    )
    assert abs(log_ratio.mean()) < 0.05  # log-uniform, symmetric about 0
    assert (t["left"] >= 0).all() and (t["left"] + t["crop_width"] <= 40 + 1e-4).all()
    assert (t["top"] >= 0).all() and (t["top"] + t["crop_height"] <= 40 + 1e-4).all()


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_crop_kernel_tensorflow_equals_reference(interpolation):
    # ImageProjectiveTransformV3 against keras.ops.image.map_coordinates at
    # the same sampling points, on whatever backend runs the reference.
    x = np.random.default_rng(0).uniform(size=(4, 16, 20, 3)).astype("float32")
    layer = augment.RandomResizedCrop(12, 10, seed=0)
    t = layer.get_random_transformation(x)
    transforms = layer.transform_matrices(t)
    args = (x, np.asarray(transforms), 12, 10, interpolation)
    fast = _numpy(_kernels.crop_resample_tensorflow(*args))
    reference = _numpy(_kernels.crop_resample_reference(*args))
    np.testing.assert_allclose(fast, reference, atol=1e-5)


def _affine_transforms(shape, seed=2):
    """(B, 8) transforms with every RandomAffine parameter on, so points land outside on
    all sides."""
    layer = augment.RandomAffine(
        horizontal_flip=True,
        vertical_flip=True,
        rotation=40,
        zoom=(0.5, 1.6),
        translation=0.3,
        shear=20,
        perspective=0.3,
        seed=seed,
    )
    t = layer.get_random_transformation(np.zeros(shape, "float32"))
    matrices = _numpy(layer.transform_matrices(t, shape[1], shape[2]))
    return matrices.reshape(-1, 9)[:, :8]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("shape", [(4, 15, 21, 3), (2, 1, 9, 2)])
def test_projective_kernel_tensorflow_equals_reference(interpolation, fill_mode, shape):
    # The XLA kernel against keras.ops.image.affine_transform.
    x = np.random.default_rng(0).uniform(0, 255, size=shape).astype("float32")
    args = (x, _affine_transforms(shape), interpolation, fill_mode, 7.0)
    fast = _numpy(_kernels.projective_resample_tensorflow(*args))
    reference = _numpy(_kernels.projective_resample_reference(*args))
    np.testing.assert_allclose(fast, reference, atol=1e-3)


@pytest.mark.parametrize("diagonal", [True, False])
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("keep", [None, [True, False, True]])
def test_colour_kernel_tensorflow_equals_reference(diagonal, clip, keep):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, size=(3, 5, 6, 3)).astype("float32")
    linear = rng.uniform(0.5, 1.5, size=(3, 3) if diagonal else (3, 3, 3)).astype(
        "float32"
    )
    offset = rng.uniform(-40, 40, size=(3, 3)).astype("float32")
    keep = None if keep is None else np.asarray(keep)
    args = (x, linear, offset, 0.0, 255.0, diagonal, clip, keep)
    fast = _numpy(_kernels.colour_transform_tensorflow(*args))
    reference = _numpy(_kernels.colour_transform_reference(*args))
    np.testing.assert_allclose(fast, reference, rtol=1e-6, atol=1e-3)
    if keep is not None:  # the images left out come back as they were
        np.testing.assert_array_equal(fast[1], x[1])


@pytest.mark.tf_only  # the TensorFlow backend is where the layers pick the TF kernels
@pytest.mark.parametrize(
    "name, kwargs",
    [
        # diagonal colour matrix
        ("RandomPhotometric", {"brightness": 0.3, "contrast": 0.5}),
        ("RandomPhotometric", {"saturation": 0.5, "hue": 0.2, "color_cast": 0.1,
                               "contrast": 0.3}),
        ("RandomPhotometric", {"brightness": 0.3, "contrast": 0.5, "gamma": 0.5,
                               "random_order": True}),
        ("RandomAffine", {"rotation": 40, "zoom": 0.3, "shear": 10,
                          "perspective": 0.2}),
        ("RandomResizedCrop", {"height": 5, "width": 4}),
    ],
)  # fmt: skip
def test_layers_give_the_same_numbers_on_either_kernel(name, kwargs, monkeypatch):
    # The one switch (_kernels.use_tensorflow) turned off: the whole layer,
    # around its kernel, gives the numbers of the keras.ops reference path.
    x = np.random.default_rng(0).uniform(0, 255, size=(5, 6, 7, 3)).astype("float32")
    layer = getattr(augment, name)(seed=1, **kwargs)
    t = layer.get_random_transformation(x)
    fast = _numpy(layer.transform_images(x, t))
    monkeypatch.setattr(_kernels, "use_tensorflow", lambda: False)
    reference = _numpy(layer.transform_images(x, t))
    if fast.shape == x.shape:
        assert np.abs(fast - x).max() > 1  # the layer did something
    np.testing.assert_allclose(fast, reference, atol=1e-3)


def test_resized_crop_is_a_crop_of_the_image():
    x = np.arange(16 * 16, dtype="float32").reshape(1, 16, 16, 1)
    layer = augment.RandomResizedCrop(4, 8)
    t = {
        "top": np.array([2.0]),
        "left": np.array([6.0]),
        "crop_height": np.array([4.0]),
        "crop_width": np.array([8.0]),
    }
    np.testing.assert_allclose(
        np.asarray(layer.transform_images(x, t))[0], x[0, 2:6, 6:14], atol=1e-4
    )


def _numpy_photometric(x, t, low, high):
    """Float64 reference of the fixed-order chain (brightness, contrast,
    saturation, hue, colour cast, gamma), clipped at the end (SSD, Liu et al. 2016,
    photometric distortion; hue as a YIQ rotation)."""
    x = x.astype("float64")
    x = x + t["brightness"][:, None, None, None]
    m = x.mean(axis=(1, 2), keepdims=True)
    x = (x - m) * t["contrast"][:, None, None, None] + m
    gray = x @ np.array([0.299, 0.587, 0.114])
    s = t["saturation"][:, None, None, None]
    x = gray[..., None] + s * (x - gray[..., None])
    yiq = np.array(
        [
            [0.299, 0.587, 0.114],
            [0.595716, -0.274453, -0.321263],
            [0.211456, -0.522591, 0.311135],
        ]
    )
    out = []
    for img, h in zip(x, t["hue"], strict=True):
        a = 2 * math.pi * h
        r = np.array(
            [[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]]
        )
        out.append(img @ (np.linalg.inv(yiq) @ r @ yiq).T)
    x = np.stack(out) + t["color_cast"][:, None, None, :]
    x = np.clip((x - low) / (high - low), 0, 1) ** t["gamma"][:, None, None, None]
    return np.clip(low + (high - low) * x, low, high)


def test_photometric_equals_numpy_chain():
    x = _smooth_image()[None].repeat(6, 0) * 0.4 + 0.5
    layer = augment.RandomPhotometric(
        brightness=0.1,
        contrast=0.3,
        saturation=0.4,
        hue=0.1,
        color_cast=0.05,
        gamma=0.3,
        value_range=(0, 1),
        seed=4,
    )
    t = {k: np.asarray(v) for k, v in layer.get_random_transformation(x).items()}
    out = np.asarray(layer.transform_images(x, t))
    np.testing.assert_allclose(out, _numpy_photometric(x, t, 0.0, 1.0), atol=1e-5)


@pytest.mark.parametrize("random_order", [False, True])
def test_photometric_stays_in_value_range_and_probabilities(random_order):
    x = (
        np.random.default_rng(1)
        .uniform(-1, 1, size=(N // 8, 4, 4, 3))
        .astype("float32")
    )
    layer = augment.RandomPhotometric(
        brightness=0.5,
        contrast=0.9,
        saturation=0.9,
        hue=0.5,
        color_cast=0.5,
        gamma=0.9,
        probability={"brightness": 0.3, "hue": 0.8},
        random_order=random_order,
        value_range=(-1, 1),
        seed=5,
    )
    out = np.asarray(layer(x))
    assert out.min() >= -1 and out.max() <= 1
    t = {
        k: np.asarray(v)
        for k, v in layer.get_random_transformation(
            np.zeros((N, 2, 2, 3), "float32")
        ).items()
    }
    sigma = 4 * math.sqrt(0.25 / N)
    assert abs((t["brightness"] != 0).mean() - 0.3) < sigma
    assert abs((t["hue"] != 0).mean() - 0.8) < sigma
    assert (t["contrast"] != 1).mean() == 1.0
    assert t["contrast"].min() >= 0.1 and t["contrast"].max() <= 1.9
    orders = t["order"]
    assert (np.sort(orders, axis=1) == np.arange(6)).all()
    if random_order:
        # Each operation sits in each slot about 1/6 of the time.
        assert abs((orders[:, 0] == 5).mean() - 1 / 6) < 4 * math.sqrt(5 / 36 / N)
    else:
        assert (orders == np.arange(6)).all()


def test_random_order_matches_a_numpy_chain_in_that_order():
    x = _smooth_image()[None].repeat(3, 0) * 0.4 + 0.5
    layer = augment.RandomPhotometric(
        brightness=0.2,
        contrast=0.5,
        gamma=0.5,
        random_order=True,
        value_range=(0, 1),
        seed=3,
    )
    t = {k: np.asarray(v) for k, v in layer.get_random_transformation(x).items()}
    out = np.asarray(layer.transform_images(x, t))
    for i in range(3):
        y = x[i].astype("float64")
        for op in np.argsort(t["order"][i]):
            name = (
                "brightness",
                "contrast",
                "saturation",
                "hue",
                "color_cast",
                "gamma",
            )[op]
            if name == "brightness":
                y = y + t["brightness"][i]
            elif name == "contrast":
                m = y.mean(axis=(0, 1))
                y = (y - m) * t["contrast"][i] + m
            elif name == "gamma":
                y = np.clip(y, 0, 1) ** t["gamma"][i]
        np.testing.assert_allclose(out[i], np.clip(y, 0, 1), atol=1e-5)


def test_noise_layers_statistics():
    x = np.full((64, 16, 16, 3), 0.5, "float32")
    noisy = np.asarray(augment.RandomGaussianNoise(0.05, value_range=(0, 1), seed=0)(x))
    assert abs((noisy - 0.5).std() - 0.05) < 0.002
    salted = np.asarray(
        augment.RandomSaltAndPepper(
            rate=0.2, salt_ratio=0.25, value_range=(0, 1), seed=0
        )(x)
    )
    assert abs((salted[..., 0] == 1).mean() - 0.05) < 0.005
    assert abs((salted[..., 0] == 0).mean() - 0.15) < 0.01
    assert ((salted == 0.5).all(-1) | (salted != 0.5).all(-1)).all()
    cast = np.asarray(
        augment.RandomColorCast(0.1, probability=0.5, value_range=(0, 1), seed=0)(x)
    )
    changed = (np.abs(cast - 0.5) > 0).any(axis=(1, 2, 3))
    assert 0.3 < changed.mean() < 0.7
    assert np.abs(cast - 0.5).max() <= 0.1 + 1e-6
    assert np.allclose(cast, cast[:, :1, :1])  # one shift per image and channel


def test_random_apply_rate_and_random_choice_split():
    x = np.full((N // 4, 2, 2, 3), 0.5, "float32")
    apply = augment.RandomApply(
        augment.RandomColorCast(0.2, value_range=(0, 1), seed=1), rate=0.3, seed=2
    )
    changed = (np.asarray(apply(x)) != 0.5).any(axis=(1, 2, 3))
    assert abs(changed.mean() - 0.3) < 4 * math.sqrt(0.21 / len(x))
    choice = augment.RandomChoice(
        [
            augment.RandomColorCast(0.2, value_range=(0, 1), seed=1),
            augment.RandomSaltAndPepper(
                rate=1.0, salt_ratio=1.0, value_range=(0, 1), seed=1
            ),
        ],
        seed=3,
    )
    out = np.asarray(choice(x))
    salted = (out == 1).all(axis=(1, 2, 3))
    assert abs(salted.mean() - 0.5) < 4 * math.sqrt(0.25 / len(x))
    keras.backend.clear_session()
