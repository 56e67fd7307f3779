"""Callbacks shared by the tests."""

import keras


class Interrupt(keras.callbacks.Callback):
    """Kills a `fit` at a given (epoch, batch), as a crash would."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("interrupted")
