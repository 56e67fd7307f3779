"""keras_tricks.tuning's search-space functions, eagerly, on a bare HyperParameters."""

import math

import keras
import numpy as np
import pytest

from keras_tricks import callbacks, layers, optimizers, tuning

keras_tuner = pytest.importorskip("keras_tuner")


def _hp(**fixed):
    hp = keras_tuner.HyperParameters()
    for name, value in fixed.items():
        hp.Fixed(name, value)
    return hp


def _space(hp):
    return {p.name: p for p in hp.space}


# optimizer ----------------------------------------------------------------


def test_optimizer_default_choices_are_keras_three_and_all_of_ours():
    hp = _hp()
    tuning.optimizer(hp)
    values = _space(hp)["optimizer"].values
    assert values == ["adam", "adamw", "sgd", *optimizers.list_optimizers()]


@pytest.mark.parametrize(
    "choice", ["adam", "adamw", "sgd", *optimizers.list_optimizers()]
)
def test_optimizer_builds_each_choice_with_its_drawn_arguments(choice):
    hp = _hp(optimizer=choice)
    opt = tuning.optimizer(
        hp, choices=["adam", "adamw", "sgd", *optimizers.list_optimizers()]
    )
    assert type(opt) is type(optimizers.get(choice))
    assert float(opt.learning_rate) == pytest.approx(hp.get(f"{choice}_learning_rate"))
    space = _space(hp)
    rate = space[f"{choice}_learning_rate"]
    assert rate.sampling == "log"
    expected = (1e-3, 1.0) if choice == "sgd" else (1e-4, 1e-2)
    assert (rate.min_value, rate.max_value) == expected
    if choice == "sgd":
        assert opt.momentum == hp.get("sgd_momentum") == 0.9
        assert (space["sgd_momentum"].min_value, space["sgd_momentum"].max_value) == (
            0.8,
            0.99,
        )
    else:
        assert opt.beta_2 == hp.get(f"{choice}_beta_2") == 0.999
        assert opt.epsilon == hp.get(f"{choice}_epsilon")
        low = 1e-16 if "adabelief" in choice else 1e-8
        assert space[f"{choice}_epsilon"].min_value == low
    if choice == "adamw":
        assert opt.weight_decay == hp.get("adamw_weight_decay")
        assert space["adamw_weight_decay"].sampling == "log"
    if choice == "angulargrad":
        assert opt.method == hp.get("angulargrad_method")


def test_optimizer_arguments_live_under_conditional_scopes():
    hp = _hp(optimizer="radam")
    tuning.optimizer(hp, choices=["sgd", "radam"])
    assert hp.is_active("radam_learning_rate")
    assert not hp.is_active("sgd_learning_rate")
    assert not hp.is_active("sgd_momentum")
    conditions = _space(hp)["sgd_momentum"].conditions
    assert [(c.name, c.values) for c in conditions] == [("optimizer", ["sgd"])]


def test_optimizer_takes_the_range_test_bounds():
    hp = _hp()
    tuning.optimizer(hp, choices=["sgd", "adabelief"], learning_rate_range=(0.02, 0.5))
    for name in ("sgd_learning_rate", "adabelief_learning_rate"):
        rate = _space(hp)[name]
        assert (rate.min_value, rate.max_value) == (0.02, 0.5)
        assert 0.02 <= rate.default <= 0.5


@pytest.mark.parametrize(
    "bounds", [(0.1, 0.01), (0.0, 1.0), (1e-3, math.inf), (1e-3,), "ab"]
)
def test_optimizer_refuses_bad_learning_rate_range(bounds):
    with pytest.raises(
        ValueError, match=r"`learning_rate_range` must be a pair .*Received"
    ):
        tuning.optimizer(_hp(), learning_rate_range=bounds)


@pytest.mark.parametrize(
    "choices", [["adam", "nope"], [], "adam", ["adam", "adam"], [3]]
)
def test_optimizer_refuses_bad_choices(choices):
    with pytest.raises(ValueError, match=r"`choices` must .*Received: choices="):
        tuning.optimizer(_hp(), choices=choices)


# normalization ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (64, [8, 16, 32]),
        (16, [8, 16]),
        (48, [8, 12, 16, 24]),
        (4, [4]),
        (7, [7]),
        (128, [8, 16, 32]),
    ],
)
def test_group_counts_are_divisors_from_8_to_32(channels, expected):
    assert tuning.group_counts(channels) == expected


def test_group_counts_refuses_bad_input():
    with pytest.raises(
        ValueError, match=r"`channels` must be an int > 0\. Received: channels=0"
    ):
        tuning.group_counts(0)
    with pytest.raises(
        ValueError, match=r"`max_groups` must be >= min_groups=8\. Received"
    ):
        tuning.group_counts(16, max_groups=4)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("batch", keras.layers.BatchNormalization),
        ("group", layers.GroupNormalization),
        ("instance", layers.InstanceNormalization),
        ("layer", keras.layers.LayerNormalization),
    ],
)
def test_normalization_kinds(kind, cls):
    hp = _hp(normalization=kind)
    layer = tuning.normalization(hp, channels=64)
    assert type(layer) is cls
    assert layer(np.ones((2, 4, 4, 64), "float32")).shape == (2, 4, 4, 64)


def test_normalization_groups_default_32_and_divide_the_channels():
    hp = _hp(normalization="group")
    assert tuning.normalization(hp, channels=64).groups == 32
    assert _space(hp)["normalization_groups"].values == [8, 16, 32]
    hp = _hp(normalization="group")
    assert tuning.normalization(hp, channels=24).groups == 24


def test_normalization_refuses_groups_declared_for_other_channels():
    hp = _hp(normalization="group")
    tuning.normalization(hp, channels=16)  # declares groups in [8, 16]
    hp.values["normalization_groups"] = 16
    with pytest.raises(
        ValueError, match=r"`groups_name` must be distinct .*Received: groups_name"
    ):
        tuning.normalization(hp, channels=24)
    assert tuning.normalization(hp, channels=24, groups_name="g24").groups == 24


def test_normalization_refuses_unknown_kind():
    with pytest.raises(
        ValueError, match=r"`choices` must be one of .*Received: choices='weight'"
    ):
        tuning.normalization(_hp(), 8, choices=["batch", "weight"])


# dropout, DropConnect ---------------------------------------------------------


def test_dropout_range_and_default():
    hp = _hp()
    layer = tuning.dropout(hp)
    assert isinstance(layer, keras.layers.Dropout) and layer.rate == 0.5
    rate = _space(hp)["dropout"]
    assert (rate.min_value, rate.max_value, rate.step) == (0.2, 0.5, 0.1)


def test_drop_connect_wraps_the_layer():
    hp = _hp()
    dense = keras.layers.Dense(3)
    layer = tuning.drop_connect(hp, dense)
    assert isinstance(layer, layers.DropConnect) and layer.layer is dense
    assert layer.rate == 0.5
    rate = _space(hp)["drop_connect"]
    assert (rate.min_value, rate.max_value) == (0.1, 0.5)


def test_dropout_refuses_bad_range():
    with pytest.raises(
        ValueError,
        match=r"`max_value` must be > min_value=0\.4\. Received: max_value=0\.3",
    ):
        tuning.dropout(_hp(), min_value=0.4, max_value=0.3)
    with pytest.raises(
        ValueError, match=r"`min_value` must be a float in \[0, 1\)\. Received"
    ):
        tuning.dropout(_hp(), min_value=1.5)


# augmentation ---------------------------------------------------------------


def test_augmentation_strength_zero_is_the_identity_and_one_changes_images():
    images = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 1)).astype("float32")
    still = tuning.augmentation(_hp(augmentation_strength=0.0), seed=1)
    np.testing.assert_allclose(still(images, training=True), images, atol=1e-3)
    strong = tuning.augmentation(_hp(augmentation_strength=1.0), seed=1)
    assert [type(s).__name__ for s in strong.layers] == [
        "RandomAffine",
        "RandomPhotometric",
    ]
    assert strong.layers[0].rotation == 30.0
    assert not np.allclose(strong(images, training=True), images, atol=1e-3)
    np.testing.assert_allclose(strong(images, training=False), images)


# schedules --------------------------------------------------------------------


def test_warmup_epochs_times_steps():
    hp = _hp(warmup_epochs=2)
    callback = tuning.warmup(hp, 0.1, steps_per_epoch=7)
    assert isinstance(callback, callbacks.WarmupLR)
    assert callback.schedule.warmup_steps == 14
    assert callback.schedule.learning_rate == 0.1
    assert tuning.warmup(_hp(warmup_epochs=0), 0.1, 7) is None
    hp = _hp()
    tuning.warmup(hp, 0.1, 7)
    epochs = _space(hp)["warmup_epochs"]
    assert (epochs.min_value, epochs.max_value, epochs.default) == (0, 5, 5)


def test_warmup_refuses_bad_steps():
    with pytest.raises(
        ValueError,
        match=r"`steps_per_epoch` must be an int > 0\. Received: steps_per_epoch=0",
    ):
        tuning.warmup(_hp(), 0.1, 0)


def test_cyclical_bounds_and_step_size():
    hp = _hp(cyclical_step_epochs=4, cyclical_ratio=4)
    callback = tuning.cyclical_learning_rate(hp, 0.2, steps_per_epoch=10)
    assert isinstance(callback, callbacks.CyclicalLR)
    schedule = callback.schedule
    assert (schedule.base_learning_rate, schedule.max_learning_rate) == (0.05, 0.2)
    assert schedule.step_size == 40
    steps = _space(hp)
    assert (steps["cyclical_mode"].values) == ["triangular", "triangular2"]


def test_batch_size_and_linear_learning_rate():
    hp = _hp()
    batch, rate = tuning.batch_size_and_learning_rate(hp, 0.1)
    assert (batch, rate) == (32, pytest.approx(0.1 * 32 / 256))
    assert _space(hp)["batch_size"].values == [16, 32, 64, 128, 256]
    hp = _hp(batch_size=64)
    assert tuning.batch_size_and_learning_rate(hp, 1e-3, base_batch_size=32) == (
        64,
        pytest.approx(2e-3),
    )
    with pytest.raises(
        ValueError,
        match=r"`choices` must hold powers of two\. Received: choices=\[16, 24\]",
    ):
        tuning.batch_size_and_learning_rate(_hp(), 0.1, choices=[16, 24])


# the HyperModel -------------------------------------------------------------


def test_hypermodel_build_compiles_with_a_built_optimizer():
    hypermodel = tuning.ImageClassifierHyperModel((8, 8, 1), 10, max_blocks=2)
    hp = _hp(normalization="group", blocks=2, optimizer="sgd", batch_size=64)
    model = hypermodel.build(hp)
    # Built, so the tuner's `load_weights` restores its slots (no
    # "Skipping variable loading for optimizer").
    assert model.optimizer.built
    assert len(model.optimizer.variables) > 2
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    # Scaled by the linear rule from the base batch of 32.
    assert float(model.optimizer.learning_rate) == pytest.approx(
        hp.get("sgd_learning_rate") * 64 / 32
    )
    norms = [x for x in model.layers if isinstance(x, layers.GroupNormalization)]
    assert [n.groups for n in norms] == [16, 32]
    assert model.output_shape == (None, 10)


def test_hypermodel_with_every_trick_round_trips_through_keras_file(tmp_path):
    hypermodel = tuning.ImageClassifierHyperModel((8, 8, 1), 10, seed=1)
    hp = _hp(normalization="instance", drop_connect=True, optimizer="adabeliefinject")
    model = hypermodel.build(hp)
    assert [type(x).__name__ for x in model.layers[1].layers] == [
        "RandomAffine",
        "RandomPhotometric",
    ]
    assert isinstance(model.layers[-1], layers.DropConnect)
    images = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 1)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is optimizers.AdaBeliefInject
    np.testing.assert_allclose(loaded(images), model(images), rtol=1e-5, atol=1e-6)


def test_a_tuner_builds_the_hypermodel_once_to_see_its_space(tmp_path):
    # Keras Tuner rebuilds a model until it has seen each conditional scope
    # active: 92 builds of this one before `branch`.
    builds = []

    class Counting(tuning.ImageClassifierHyperModel):
        def build(self, hp):
            builds.append(1)
            return super().build(hp)

    tuner = keras_tuner.RandomSearch(
        Counting((8, 8, 1), 10),
        objective="val_loss",
        max_trials=1,
        directory=str(tmp_path),
        overwrite=True,
    )
    assert len(builds) == 1
    names = {p.name for p in tuner.oracle.get_space().space}
    assert {
        "sgd_momentum",
        "radam_beta_2",
        "normalization_groups",
        "warmup_epochs",
        "cyclical_step_epochs",
        "drop_connect_rate",
        "batch_size",
    } <= names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"input_shape": (8, 8)},
            r"`input_shape` must be `\(height, width, channels\)`",
        ),
        (
            {"num_classes": 1},
            r"`num_classes` must be an int >= 2\. Received: num_classes=1",
        ),
        ({"optimizers": ["adamx"]}, r"`choices` must hold names"),
        ({"augment": "yes"}, r"`augment` must be a bool\. Received: augment='yes'"),
    ],
)
def test_hypermodel_refuses_bad_arguments(kwargs, message):
    arguments = {"input_shape": (8, 8, 1), "num_classes": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        tuning.ImageClassifierHyperModel(**arguments)


@pytest.mark.parametrize("schedule", ["warmup", "cyclical"])
def test_hypermodel_fit_applies_batch_size_and_schedule(schedule):
    import tensorflow as tf

    hypermodel = tuning.ImageClassifierHyperModel((8, 8, 1), 10, augment=False, seed=0)
    hp = _hp(
        batch_size=16,
        learning_rate_schedule=schedule,
        optimizer="sgd",
        warmup_epochs=2,
        cyclical_step_epochs=2,
        cyclical_ratio=4,
    )
    model = hypermodel.build(hp)
    rate = hp.get("sgd_learning_rate") * 16 / 32
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 8, 8, 1)).astype("uint8")
    y = rng.integers(0, 10, 64)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))  # unbatched: fit batches it
    hypermodel.fit(hp, model, dataset, epochs=1, verbose=0)
    # 64 examples in batches of 16: 4 steps, a quarter of the schedule's way
    # up (warmup over 2 epochs of 4 steps; cycle half-length 2 epochs).
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    reached = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    if schedule == "warmup":
        assert reached == pytest.approx(rate * 3 / 8, rel=1e-5)
    else:
        assert rate / 4 < reached < rate


@pytest.mark.parametrize("choice", ["adam", "adaminject"])
def test_rebuilt_model_loads_a_checkpoint_with_its_optimizer_state(tmp_path, choice):
    # What `tuner.get_best_models()` does: build(hp) again, then load_weights.
    # The issue's warning: "Skipping variable loading for optimizer
    # 'adam_inject', because it has 2 variables whereas the saved optimizer
    # has 20 variables".
    import warnings

    hypermodel = tuning.ImageClassifierHyperModel((8, 8, 1), 10, augment=False)
    hp = _hp(optimizer=choice, batch_size=16)
    model = hypermodel.build(hp)
    rng = np.random.default_rng(0)
    model.fit(
        rng.uniform(0, 255, (32, 8, 8, 1)),
        rng.integers(0, 10, 32),
        batch_size=16,
        verbose=0,
    )
    path = str(tmp_path / "checkpoint.weights.h5")
    model.save_weights(path)
    rebuilt = hypermodel.build(hp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt.load_weights(path)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert len(rebuilt.optimizer.variables) == len(model.optimizer.variables) > 2
    for loaded, saved in zip(
        rebuilt.optimizer.variables, model.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(saved)
        )
