"""Test session setup.

The CPU is split into two logical devices before TensorFlow runs anything, so
that every test can train under ``tf.distribute.MirroredStrategy`` with two
replicas on any machine, GPU or not.

The suite runs on the backend ``KERAS_BACKEND`` names (TensorFlow when unset).
TensorFlow is imported on every backend, since ``tf.data`` pipelines are how
users feed data everywhere. On JAX and PyTorch, tests marked ``tf_only`` and
tests that take the ``strategy`` fixture are skipped with their reason; the
tests marked ``backends`` are the focused subset that CI also runs on JAX and
PyTorch (see README.md).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_CPUS = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _CPUS[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)

import keras  # noqa: E402
import pytest  # noqa: E402

import keras_tricks  # noqa: E402, F401  (registers every public class)

BACKEND = keras.backend.backend()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tf_only: needs the TensorFlow backend (skipped on JAX and PyTorch)"
    )
    config.addinivalue_line(
        "markers", "backends: also run in CI under KERAS_BACKEND=jax and =torch"
    )


def pytest_report_header(config):
    return f"keras backend: {BACKEND}"


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"needs the TensorFlow backend (running {BACKEND})")
    for item in items:
        if "tf_only" in item.keywords or "strategy" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def strategy():
    """A ``MirroredStrategy`` over the two logical CPU devices.

    One strategy serves the whole session: a fresh ``MirroredStrategy`` per test
    reuses the collective keys of the last one, and TensorFlow then matches an
    all-reduce of this test against the cached shapes of an earlier test's
    ("Shape mismatch in the collective instance").
    """
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, devices
    return tf.distribute.MirroredStrategy(devices)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Every test starts from float32 and a known seed, whatever ran before."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")
