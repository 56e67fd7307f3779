"""One worker of the two-worker job of tests/distribute (run as a script).

    python tests/distribute/worker.py --index 0 --ports 41001,41002 --out DIR
        [--backup DIR] [--hang-at-step N --marker FILE]

It sets `TF_CONFIG` (both workers on 127.0.0.1), keeps TensorFlow to its one CPU
device and one intra-op thread, creates a `MultiWorkerMirroredStrategy` before
anything else touches TensorFlow, and runs `_job.train`, which writes the
worker's final weights, optimizer variables and state into `--out`.

Set `MW_DEBUG=1` for Keras tracebacks that are not filtered.

`--spawn-and-sleep FILE` is the hang self-test of the launcher: it starts a
child process that sleeps, writes both process ids into FILE, and sleeps
itself; no TensorFlow is imported.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--ports", default="")
    parser.add_argument("--out")
    parser.add_argument("--backup")
    parser.add_argument("--hang-at-step", type=int)
    parser.add_argument("--marker")
    parser.add_argument("--spawn-and-sleep")
    return parser.parse_args(argv)


def spawn_and_sleep(pid_file):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(pid_file, "w") as f:
        json.dump([os.getpid(), child.pid], f)
    time.sleep(300)


def tf_config(index, ports):
    """The `TF_CONFIG` of worker `index` of a cluster on 127.0.0.1 `ports`."""
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
    )


def keras_compatible_reduce(strategy):
    """Make `strategy.reduce` take what Keras 3's `fit()` gives it.

    Two workarounds for keras-team/keras#20585 (Keras 3.15, TF 2.21: `fit()`
    under `MultiWorkerMirroredStrategy` fails before its first step):

    - before its first step, `fit()` reduces one whole `(x, y)` batch (to
      read its shapes) with `strategy.reduce("MEAN", batch, axis=None)`;
      `MultiWorkerMirroredStrategy.reduce` takes one value, not a nest
      ("Attempt to convert a value (PerReplica...) with an unsupported type");
    - after every step it averages the scalar loss over the replicas with
      `strategy.reduce("MEAN", loss, axis=0)`, and a scalar has no axis 0
      ("Invalid reduction dimension 0 for input with 0 dimensions").

    So each value of a nest is reduced on its own, and a scalar over the
    replicas only (`axis=None`). Returns `strategy`.
    """
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_one(reduce_op, value, axis):
        if (
            axis is not None
            and strategy.experimental_local_results(value)[0].shape.rank == 0
        ):
            axis = None
        return reduce(reduce_op, value, axis=axis)

    def reduce_nest(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda v: reduce_one(reduce_op, v, axis), value)

    strategy.reduce = reduce_nest
    return strategy


def main(argv=None):
    args = _parse(argv)
    if args.spawn_and_sleep:
        spawn_and_sleep(args.spawn_and_sleep)
        return
    ports = [int(p) for p in args.ports.split(",")]
    os.environ["TF_CONFIG"] = tf_config(args.index, ports)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, ROOT)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    strategy = keras_compatible_reduce(tf.distribute.MultiWorkerMirroredStrategy())
    if os.environ.get("MW_DEBUG"):
        import keras

        keras.config.disable_traceback_filtering()

    from tests.distribute import _job

    start = _job.train(
        strategy,
        args.out,
        backup_dir=args.backup,
        hang_at_step=args.hang_at_step,
        marker=args.marker,
    )
    print(
        f"worker {args.index}: trained from step {start} to {_job.TOTAL_STEPS}",
        flush=True,
    )


if __name__ == "__main__":
    main()
