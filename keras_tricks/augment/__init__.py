"""keras_tricks.augment: image augmentation as Keras preprocessing layers.

`RandomAffine` and `RandomPhotometric` run a whole geometric or photometric
policy in one pass per image; the other layers fill what Keras 3 lacks.
"""

from keras_tricks.augment._random_affine import RandomAffine
from keras_tricks.augment._random_apply import RandomApply
from keras_tricks.augment._random_choice import RandomChoice
from keras_tricks.augment._random_color_cast import RandomColorCast
from keras_tricks.augment._random_gaussian_noise import RandomGaussianNoise
from keras_tricks.augment._random_photometric import RandomPhotometric
from keras_tricks.augment._random_resized_crop import RandomResizedCrop
from keras_tricks.augment._random_salt_and_pepper import RandomSaltAndPepper

__all__ = [
    "RandomAffine",
    "RandomApply",
    "RandomChoice",
    "RandomColorCast",
    "RandomGaussianNoise",
    "RandomPhotometric",
    "RandomResizedCrop",
    "RandomSaltAndPepper",
]
