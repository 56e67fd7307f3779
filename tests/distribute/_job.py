"""One small training job, run the same way by every process of the multi-worker tests.

The job trains a tiny image classifier that uses keras_tricks throughout:
`PruneLowMagnitude` on a `Conv2D` (driven by the `Pruning` callback),
`GroupNormalization`, `WeightNormalization` with data-dependent init (its
statistics all-reduced over the global batch), the `AdaBelief` optimizer and
the `WarmupLR` callback in front of a `CyclicalLearningRate` schedule whose
peak comes from the linear scaling rule. `RandomAffine` and
`RandomPhotometric` augment the images in a `tf.data` pipeline.

`train(strategy, ...)` runs it under any strategy: a `MultiWorkerMirroredStrategy`
in each worker process (tests/distribute/worker.py), or a `MirroredStrategy`
over two logical CPU devices in the pytest process (the single-process
reference). Both see the same global batches, split the same way: the first
half of every global batch goes to replica 0 (worker 0), the second half to
replica 1 (worker 1).

Two things make a run restored by `keras.callbacks.BackupAndRestore` equal an
uninterrupted one, step for step:

- The data is a function of the global step. The augmented stream is drawn
  once, in step order, by a single pass of one `tf.data` iterator over fresh
  layers with fixed seeds (`augmented_batches`), and a run that starts at
  step `s` (a restored one) trains on batches `s, s + 1, ...` of that stream.
  Mapping a seeded augmentation layer inside the training pipeline itself is
  not reproducible under a strategy: `fit()` first pulls one batch through a
  throw-away iterator (to build the model), and how many elements that
  iterator's prefetch augmented, advancing the layer's `SeedGenerator`, is a
  matter of timing; a restarted process would also start the generator
  again from its seed.
- Keras 3's `BackupAndRestore` restores the weights and the optimizer
  (`iterations` included) but only the *epoch* of a mid-epoch checkpoint:
  `fit()` then runs that whole epoch again. So the job restores before
  `fit()`, reads the step from `optimizer.iterations`, feeds the batches from
  that step on, and stops at `TOTAL_STEPS` (`StopAtStep`). The LR callback
  and `Pruning` read their position from `optimizer.iterations`, so they
  continue exactly.
"""

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

import keras_tricks

GLOBAL_BATCH = 8
STEPS_PER_EPOCH = 4
EPOCHS = 3
TOTAL_STEPS = STEPS_PER_EPOCH * EPOCHS
# BackupAndRestore's save_freq, in steps: saves after steps 2, 4, 6, ...
SAVE_EVERY = 2
IMAGE_SHAPE = (8, 8, 1)
CLASSES = 4
SEED = 2024


def augmented_batches():
    """`(images, labels)`: `TOTAL_STEPS` global batches, augmented, as NumPy.

    `images` has shape `(TOTAL_STEPS, GLOBAL_BATCH, 8, 8, 1)`, floats in
    `[0, 1]`. The same in every process: fixed data, fresh layers with fixed
    seeds, one sequential pass.
    """
    rng = np.random.default_rng(SEED)
    count = TOTAL_STEPS * GLOBAL_BATCH
    images = rng.integers(0, 256, size=(count, *IMAGE_SHAPE), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, size=(count,), dtype=np.int64)
    affine = keras_tricks.augment.RandomAffine(
        horizontal_flip=True, rotation=0.1, translation=0.1, seed=SEED + 1
    )
    photometric = keras_tricks.augment.RandomPhotometric(
        brightness=0.2, contrast=0.2, value_range=(0, 255), seed=SEED + 2
    )

    def augment(x, y):
        x = photometric(affine(x, training=True), training=True)
        return x / 255.0, y

    pipeline = tf.data.Dataset.from_tensor_slices((images, labels))
    pipeline = pipeline.batch(GLOBAL_BATCH).map(
        augment
    )  # sequential: draws in step order
    batches = list(pipeline.as_numpy_iterator())
    return np.stack([x for x, _ in batches]), np.stack([y for _, y in batches])


def training_dataset(batches, start_step):
    """Global batches `start_step, ..., TOTAL_STEPS - 1`, sharded by data.

    `fit()` splits each global batch over the replicas: with
    `AutoShardPolicy.DATA` every worker reads the whole dataset and keeps its
    own part of each global batch.
    """
    images, labels = batches
    images = images[start_step:].reshape(-1, *IMAGE_SHAPE)
    labels = labels[start_step:].reshape(-1)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(GLOBAL_BATCH)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def pruning_schedule():
    return keras_tricks.pruning.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=0.5, begin_step=2, end_step=10, frequency=2
    )


def build_model():
    """The model, with weights drawn from `SEED` (call it inside the strategy's
    scope)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(IMAGE_SHAPE)
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")
    x = keras_tricks.pruning.prune_low_magnitude(conv, pruning_schedule())(inputs)
    x = keras_tricks.layers.GroupNormalization(groups=2, name="group_norm")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(CLASSES, name="head")
    outputs = keras_tricks.layers.WeightNormalization(dense, data_init=True, name="wn")(
        x
    )
    model = keras.Model(inputs, outputs, name="job")
    model.compile(
        optimizer=keras_tricks.optimizers.AdaBelief(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def learning_rate_callback():
    """Warmup for 3 steps to a cyclical rate whose peak follows the global batch."""
    peak = keras_tricks.schedules.scale_learning_rate(
        0.05, GLOBAL_BATCH, base_batch_size=4
    )
    cyclical = keras_tricks.schedules.CyclicalLearningRate(peak / 10, peak, step_size=3)
    return keras_tricks.callbacks.WarmupLR(cyclical, warmup_steps=3)


class StopAtStep(keras.callbacks.Callback):
    """Stop `fit()` once `optimizer.iterations` reaches `total_steps`."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.total_steps:
            self.model.stop_training = True


class HangAtStep(keras.callbacks.Callback):
    """When `step` steps are done, write `marker` and block (until killed).

    The test waits for the marker, then kills this worker with SIGKILL: the
    kill lands at a known step, whose last backup (every `SAVE_EVERY` steps)
    is known too.
    """

    def __init__(self, step, marker, seconds=300):
        super().__init__()
        self.step = step
        self.marker = marker
        self.seconds = seconds

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            with open(self.marker, "w") as f:
                f.write(str(self.step))
            time.sleep(self.seconds)  # bounded: the test's own timeout kills us first


def train(strategy, out_dir, backup_dir=None, hang_at_step=None, marker=None):
    """Run the job under `strategy` and write its final state into `out_dir`.

    With `backup_dir`, training is backed up every `SAVE_EVERY` steps and a
    backup found there is restored first. Returns the step training started at.
    """
    batches = augmented_batches()
    with strategy.scope():
        model = build_model()
        callbacks = []
        if backup_dir is not None:
            backup = keras.callbacks.BackupAndRestore(backup_dir, save_freq=SAVE_EVERY)
            # Restore now (fit() restores again, the same state): the data of
            # a restored run starts at the restored step.
            backup.set_model(model)
            backup.on_train_begin()
            callbacks.append(backup)
        start = int(model.optimizer.iterations.numpy())
    if hang_at_step is not None:
        callbacks.insert(0, HangAtStep(hang_at_step, marker))
    callbacks += [
        learning_rate_callback(),
        keras_tricks.callbacks.Pruning(),
        StopAtStep(TOTAL_STEPS),
    ]
    model.fit(
        training_dataset(batches, start),
        epochs=EPOCHS,
        steps_per_epoch=STEPS_PER_EPOCH,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    )
    write_state(model, out_dir, start)
    return start


def write_state(model, out_dir, start):
    """`weights.npz` (model variables), `optimizer.npz` and `state.json`."""
    os.makedirs(out_dir, exist_ok=True)
    np.savez(
        os.path.join(out_dir, "weights.npz"),
        **{v.path: keras.ops.convert_to_numpy(v) for v in model.variables},
    )
    optimizer = model.optimizer
    np.savez(
        os.path.join(out_dir, "optimizer.npz"),
        **{v.path: keras.ops.convert_to_numpy(v) for v in optimizer.variables},
    )
    state = {
        "start_step": start,
        "iterations": int(keras.ops.convert_to_numpy(optimizer.iterations)),
        "learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
    }
    with open(os.path.join(out_dir, "state.json"), "w") as f:
        json.dump(state, f)


def read_state(out_dir):
    """`(weights, optimizer_variables, state)` as written by `write_state`."""
    with np.load(os.path.join(out_dir, "weights.npz")) as f:
        weights = dict(f)
    with np.load(os.path.join(out_dir, "optimizer.npz")) as f:
        slots = dict(f)
    with open(os.path.join(out_dir, "state.json")) as f:
        state = json.load(f)
    return weights, slots, state
