"""Pruning inside the training loop: MirroredStrategy, BackupAndRestore, Keras Tuner."""

import warnings

import keras
import numpy as np
import pytest

from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import PolynomialDecay, prune_low_magnitude
from tests.helpers.callbacks import Interrupt
from tests.pruning._helpers import expected_zeros, masks_and_weights, wrappers


def _model():
    keras.utils.set_random_seed(7)
    base = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(12, activation="relu"),
            keras.layers.Dense(3),
        ]
    )
    schedule = PolynomialDecay(0.0, 0.75, begin_step=0, end_step=8, frequency=2)
    pruned = prune_low_magnitude(base, schedule)
    pruned.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    return pruned


def _data():
    rng = np.random.default_rng(8)
    return rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 3)).astype(
        "float32"
    )


def test_mirrored_strategy_masks_identical_and_equal_to_single_device(strategy):
    x, y = _data()
    single = _model()
    single.fit(
        x, y, batch_size=8, epochs=3, shuffle=False, callbacks=[Pruning()], verbose=0
    )
    with strategy.scope():
        mirrored = _model()
    mirrored.fit(
        x, y, batch_size=8, epochs=3, shuffle=False, callbacks=[Pruning()], verbose=0
    )
    for wrapper in wrappers(mirrored):
        for variable, mask in wrapper._mask_pairs():
            masks = strategy.experimental_local_results(mask.value)
            values = strategy.experimental_local_results(variable.value)
            assert len(masks) == 2
            np.testing.assert_array_equal(masks[0].numpy(), masks[1].numpy())
            np.testing.assert_array_equal(values[0].numpy(), values[1].numpy())
    for (m1, w1), (m2, w2) in zip(
        masks_and_weights(single), masks_and_weights(mirrored), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
        assert (m2 == 0).sum() == expected_zeros(m2.size, 0.75)
        np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)


@pytest.mark.backends
def test_backup_and_restore_resumes_at_the_same_schedule_position(tmp_path):
    x, y = _data()
    # 4 steps per epoch; the schedule prunes at steps 0, 2, 4, 6, 8.
    reference = _model()
    reference.fit(
        x, y, batch_size=8, epochs=3, shuffle=False, callbacks=[Pruning()], verbose=0
    )

    resumed = _model()
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        resumed.fit(
            x,
            y,
            batch_size=8,
            epochs=3,
            shuffle=False,
            verbose=0,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup),
                Pruning(),
                Interrupt(1, 2),
            ],
        )
    # Interrupted in epoch 1 (after pruning step 6): the backup holds epoch 0.
    fresh = _model()
    assert int(fresh.optimizer.iterations) == 0
    fresh.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup), Pruning()],
    )
    assert int(fresh.optimizer.iterations) == int(reference.optimizer.iterations) == 12
    for (m1, w1), (m2, w2) in zip(
        masks_and_weights(reference), masks_and_weights(fresh), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_allclose(w1, w2, rtol=1e-6, atol=1e-7)


def test_inside_a_keras_tuner_search(tmp_path):
    keras_tuner = pytest.importorskip("keras_tuner")
    x, y = _data()

    def build(hp):
        units = hp.Choice("units", [4, 8])
        base = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(3),
            ]
        )
        schedule = PolynomialDecay(0.0, 0.5, begin_step=0, end_step=2, frequency=2)
        model = prune_low_magnitude(base, schedule)
        model.compile(keras.optimizers.Adam(0.01), "mse")
        # Built now, so that get_best_models restores its state with the weights
        # (Keras loads optimizer variables only into a built optimizer).
        model.optimizer.build(model.trainable_variables)
        return model

    tuner = keras_tuner.RandomSearch(
        build,
        objective="val_loss",
        max_trials=2,
        directory=str(tmp_path),
        project_name="pruning",
        seed=1,
        overwrite=True,
    )
    tuner.search(
        x,
        y,
        validation_split=0.25,
        epochs=1,
        batch_size=8,
        callbacks=[Pruning()],
        verbose=0,
    )
    assert len(tuner.oracle.trials) == 2
    with warnings.catch_warnings():
        # no "Skipping variable loading for optimizer"
        warnings.filterwarnings("error", message="Skipping variable loading")
        best = tuner.get_best_models(1)[0]
    assert wrappers(best)
    for mask, value in masks_and_weights(best):
        assert (mask == 0).sum() == expected_zeros(mask.size, 0.5)
        assert np.all(value[mask == 0] == 0.0)
    assert "tf_keras" not in {m.split(".")[0] for m in __import__("sys").modules}
