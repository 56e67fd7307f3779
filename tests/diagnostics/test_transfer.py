"""FineTuneOptimizer and plan_transfer_learning."""

import keras
import numpy as np
import pytest

from keras_tricks import diagnostics
from tests.diagnostics._models import digits

G_HEAD = np.array([[0.1, -0.2], [0.3, 0.05]])
G_BODY = np.array([[0.02, -0.4], [0.2, 0.1]])


def _numpy_adam(w, g, lr, steps, b1=0.9, b2=0.999, eps=1e-7):
    """Kingma & Ba, 2015 (arXiv 1412.6980), Keras's epsilon placement, float64."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def _variables():
    body = keras.layers.Dense(2, use_bias=False, name="body", kernel_initializer="ones")
    head = keras.layers.Dense(2, use_bias=False, name="head", kernel_initializer="ones")
    body.build((None, 2))
    head.build((None, 2))
    return head.kernel, body.kernel


@pytest.mark.backends
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_head_at_lr_body_at_a_tenth(name):
    lr, steps = 0.05, 3
    head, body = _variables()
    inner = keras.optimizers.SGD(lr) if name == "sgd" else keras.optimizers.Adam(lr)
    optimizer = diagnostics.FineTuneOptimizer(inner, fine_tune_layers=["body"])
    # Tensors, not NumPy arrays: Keras's PyTorch optimizers take tensors only.
    grads = [keras.ops.convert_to_tensor(g, "float32") for g in (G_HEAD, G_BODY)]
    for _ in range(steps):
        optimizer.apply(grads, [head, body])
    ones = np.ones((2, 2))
    if name == "sgd":
        expected_head = ones - steps * lr * G_HEAD
        expected_body = ones - steps * lr / 10 * G_BODY
    else:
        expected_head = _numpy_adam(ones, G_HEAD, lr, steps)
        expected_body = _numpy_adam(ones, G_BODY, lr / 10, steps)
        # Scaling Adam's gradients by 0.1 would leave the step unchanged.
        scaled = ones - _numpy_adam(ones, 0.1 * G_BODY, lr, steps)
        np.testing.assert_allclose(
            scaled, ones - _numpy_adam(ones, G_BODY, lr, steps), rtol=1e-2
        )
        assert not np.allclose(scaled, ones - expected_body, rtol=0.5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(head), expected_head, rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(body), expected_body, rtol=1e-5
    )
    assert int(optimizer.iterations) == steps


def _pretrained():
    inputs = keras.Input((64,))
    h = keras.layers.Dense(16, activation="relu", name="conv1")(inputs)
    h = keras.layers.Dense(16, activation="relu", name="conv2")(h)
    h = keras.layers.Dense(16, activation="relu", name="fc")(h)
    return keras.Model(inputs, keras.layers.Dense(10, name="new_head")(h))


@pytest.mark.parametrize(
    "data_size, similarity, tuned, frozen",
    [
        ("little", "similar", [], ["conv1", "conv2", "fc"]),
        ("much", "similar", ["conv2", "fc"], ["conv1"]),
        ("much", "different", ["conv2", "fc"], ["conv1"]),
        ("little", "different", [], ["conv1", "conv2", "fc"]),
    ],
)
@pytest.mark.backends
def test_plan_follows_the_table(data_size, similarity, tuned, frozen):
    model = _pretrained()
    plan = diagnostics.plan_transfer_learning(
        model, 1, data_size, similarity, keras.optimizers.Adam(1e-3), many_fraction=0.6
    )
    assert plan.head_layers == ["new_head"]
    assert plan.fine_tune_layers == tuned and plan.frozen_layers == frozen
    assert [layer.trainable for layer in model.layers[1:]] == [
        n not in frozen for n in ["conv1", "conv2", "fc", "new_head"]
    ]
    assert plan.optimizer.body_optimizer.get_config()["learning_rate"] == pytest.approx(
        1e-4
    )


@pytest.mark.backends
def test_fit_save_and_load(tmp_path):
    x, y = digits()
    model = _pretrained()
    plan = diagnostics.plan_transfer_learning(
        model, 1, "much", "similar", keras.optimizers.Adam(1e-3)
    )
    model.compile(
        plan.optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    frozen = np.array(model.get_layer("conv1").kernel)
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    np.testing.assert_array_equal(np.array(model.get_layer("conv1").kernel), frozen)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, diagnostics.FineTuneOptimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    np.testing.assert_allclose(
        loaded.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), rtol=1e-6
    )


def test_bad_arguments():
    model = _pretrained()
    adam = keras.optimizers.Adam(1e-3)
    with pytest.raises(
        ValueError, match=r"`data_size` must be one of .*Received: data_size='lots'"
    ):
        diagnostics.plan_transfer_learning(model, 1, "lots", "similar", adam)
    with pytest.raises(ValueError, match=r"`similarity` must be one of"):
        diagnostics.plan_transfer_learning(model, 1, "much", "same", adam)
    with pytest.raises(ValueError, match=r"`head_layers` must leave pretrained layers"):
        diagnostics.plan_transfer_learning(model, 4, "much", "similar", adam)
    with pytest.raises(
        ValueError, match=r"`head_layers` must be an int or a list of names"
    ):
        diagnostics.plan_transfer_learning(model, ["nope"], "much", "similar", adam)
    with pytest.raises(ValueError, match=r"`few_layers` must be an integer >= 1"):
        diagnostics.plan_transfer_learning(
            model, 1, "much", "similar", adam, few_layers=0
        )
    with pytest.raises(ValueError, match=r"`many_fraction` must be in"):
        diagnostics.plan_transfer_learning(
            model, 1, "much", "similar", adam, many_fraction=0
        )
    with pytest.raises(ValueError, match=r"`multiplier` must be in \(0.0, 1.0\]"):
        diagnostics.FineTuneOptimizer(adam, ["conv1"], multiplier=2.0)
    with pytest.raises(
        ValueError, match=r"`fine_tune_layers` must be a list of layer names"
    ):
        diagnostics.FineTuneOptimizer(adam, "conv1")
    with pytest.raises(
        ValueError, match=r"`optimizer` must be a keras.optimizers.Optimizer"
    ):
        diagnostics.FineTuneOptimizer(3, ["conv1"])
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.9)
    with pytest.raises(
        ValueError, match=r"`optimizer` must have a float learning rate"
    ):
        diagnostics.FineTuneOptimizer(keras.optimizers.Adam(schedule), ["conv1"])
    with pytest.raises(ValueError, match=r"takes no base optimizer arguments"):
        diagnostics.FineTuneOptimizer(adam, ["conv1"], weight_decay=0.1)
