"""`keras_tricks.optimizers.get` resolves Keras's own names too.

One string covers every optimizer.
"""

import keras
import pytest

from keras_tricks import optimizers


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", keras.optimizers.Adam),
        ("AdamW", keras.optimizers.AdamW),
        ("adamw", keras.optimizers.AdamW),
        ("sgd", keras.optimizers.SGD),
        ("rmsprop", keras.optimizers.RMSprop),
        ("rms_prop", keras.optimizers.RMSprop),
        ("Nadam", keras.optimizers.Nadam),
        ("lion", keras.optimizers.Lion),
    ],
)
def test_get_resolves_keras_names(name, cls):
    assert type(optimizers.get(name)) is cls


def test_get_passes_arguments_to_keras_optimizers():
    sgd = optimizers.get("sgd", learning_rate=0.5, momentum=0.8, nesterov=True)
    assert float(sgd.learning_rate) == 0.5 and sgd.momentum == 0.8 and sgd.nesterov


def test_ours_keep_their_names_and_list_optimizers_lists_only_ours():
    assert type(optimizers.get("RAdam")) is optimizers.RAdam
    assert "adam" not in optimizers.list_optimizers()
    assert "adaminject" in optimizers.list_optimizers()


@pytest.mark.parametrize("name", ["adamx", "", "loss_scale_optimizer", "optimizer"])
def test_get_unknown_name_lists_ours_and_keras(name):
    with pytest.raises(
        ValueError,
        match=rf"`identifier` must be one of 'adabelief'.*'adam'.*'sgd'.*"
        rf"Received: identifier='{name}'",
    ):
        optimizers.get(name)
