"""Draw a grid of augmented versions of a real photograph for each augment layer.

Run from the repository root: ``python3 docs/gallery/make_gallery.py``. It writes
one PNG per layer into ``docs/gallery/`` (scikit-learn's ``china.jpg``,
downscaled to 160x160; no network needed).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402

from keras_tricks import augment  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE, COLUMNS, ROWS = 160, 4, 2

LAYERS = {
    "random_affine": augment.RandomAffine(
        horizontal_flip=True, rotation=20, zoom=0.2, translation=0.1, shear=10,
        perspective=0.1, seed=0,
    ),
    "random_photometric": augment.RandomPhotometric(
        brightness=0.15, contrast=0.3, saturation=0.5, hue=0.08, gamma=0.3,
        probability=0.7, random_order=True, seed=0,
    ),
    "random_resized_crop": augment.RandomResizedCrop(SIZE, SIZE, seed=0),
    "random_color_cast": augment.RandomColorCast(0.15, seed=0),
    "random_gaussian_noise": augment.RandomGaussianNoise(0.08, seed=0),
    "random_salt_and_pepper": augment.RandomSaltAndPepper(rate=0.05, seed=0),
    "random_apply": augment.RandomApply(
        augment.RandomAffine(rotation=30, seed=1), rate=0.5, seed=0
    ),
    "random_choice": augment.RandomChoice(
        [augment.RandomAffine(horizontal_flip=True, seed=1),
         augment.RandomColorCast(0.2, seed=2),
         augment.RandomGaussianNoise(0.1, seed=3)],
        seed=0,
    ),
}  # fmt: skip


def photograph():
    image = load_sample_image("china.jpg").astype("float32")
    side = min(image.shape[:2])
    image = image[:side, (image.shape[1] - side) // 2 :][:, :side]
    return keras.ops.convert_to_numpy(keras.ops.image.resize(image, (SIZE, SIZE)))


def main():
    image = photograph()
    batch = np.repeat(image[None], COLUMNS * ROWS, axis=0)
    for name, layer in LAYERS.items():
        out = np.clip(keras.ops.convert_to_numpy(layer(batch)), 0, 255).astype("uint8")
        fig, axes = plt.subplots(
            ROWS, COLUMNS, figsize=(COLUMNS * 1.6, ROWS * 1.6), dpi=80
        )
        for ax, picture in zip(axes.ravel(), out, strict=True):
            ax.imshow(picture)
            ax.axis("off")
        fig.suptitle(type(layer).__name__, fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(HERE, f"{name}.png"))
        plt.close(fig)


if __name__ == "__main__":
    main()
