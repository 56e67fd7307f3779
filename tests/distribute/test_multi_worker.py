"""Two workers on this machine train with `MultiWorkerMirroredStrategy`.

The job (tests/distribute/_job.py) uses keras_tricks layers, optimizer, LR
callback, pruning and augmentation. Each worker is a separate process
(tests/distribute/worker.py, `TF_CONFIG` on 127.0.0.1 with ports picked at
run time); the single-process reference runs the same job in this process
under a `MirroredStrategy` over the two logical CPU devices of
tests/conftest.py, on the same global batches split the same way.

Every wait is bounded (a hang guard, not a timing assertion) and every worker
runs in its own process group, which the `cluster` fixture
(tests/distribute/conftest.py) kills in its teardown; the teardown then checks
that no worker process is left.
"""

import json
import os
import signal

import numpy as np
import pytest

from tests.distribute import _cluster, _job
from tests.helpers.bounded import bounded

pytestmark = pytest.mark.tf_only

# Hang guards for a whole two-worker run (TensorFlow's import included) on a
# slow, shared CI machine.
RUN_TIMEOUT_S = 300
# The worker killed in the fault test stops when 7 steps are done (its peer
# then waits in the 8th step's all-reduce). The last backup of both workers is
# that of step 6 (save_freq=2), in the middle of epoch 1 (4 steps per epoch),
# so the restarted job resumes mid-epoch and trains step 6 again.
KILL_AT_STEP = 7
RESTORED_STEP = 6


@pytest.fixture(scope="module")
def reference(strategy, tmp_path_factory):
    """The uninterrupted job in this process, under `MirroredStrategy` (2 replicas)."""
    out = str(tmp_path_factory.mktemp("reference"))
    start = bounded(lambda: _job.train(strategy, out), seconds=RUN_TIMEOUT_S)
    assert start == 0
    return _job.read_state(out)


def _start_job(cluster, tmp_path, run, backup=False, hang=None):
    """Start both workers of one run; `[worker_0, worker_1]`."""
    ports = ",".join(map(str, _cluster.free_ports(2)))
    processes = []
    for index in range(2):
        args = [
            "--index",
            index,
            "--ports",
            ports,
            "--out",
            tmp_path / run / f"worker_{index}",
        ]
        if backup:
            # Keras 3's BackupAndRestore writes from every worker: one folder each.
            args += ["--backup", tmp_path / "backup" / f"worker_{index}"]
        if hang is not None and index == hang:
            args += [
                "--hang-at-step",
                KILL_AT_STEP,
                "--marker",
                tmp_path / "at_kill_step",
            ]
        processes.append(cluster.start(*args, name=f"{run}_worker_{index}"))
    return processes


def _assert_same_state(result, expected, rtol=1e-5, atol=1e-6):
    weights, slots, state = result
    want_weights, want_slots, want_state = expected
    assert sorted(weights) == sorted(want_weights)
    assert sorted(slots) == sorted(want_slots)
    for name in want_weights:
        np.testing.assert_allclose(
            weights[name], want_weights[name], rtol, atol, err_msg=name
        )
    for name in want_slots:  # iterations, AdaBelief's moments, the learning rate
        np.testing.assert_allclose(
            slots[name], want_slots[name], rtol, atol, err_msg=name
        )
    assert state["iterations"] == want_state["iterations"] == _job.TOTAL_STEPS
    np.testing.assert_allclose(
        state["learning_rate"], want_state["learning_rate"], rtol
    )
    masks = [name for name in want_weights if "mask" in name]
    assert masks, sorted(want_weights)
    for name in masks:  # the same entries pruned, to the schedule's final sparsity
        np.testing.assert_array_equal(weights[name], want_weights[name], err_msg=name)
        assert np.mean(weights[name] == 0) == 0.5


def test_the_reference_trains_every_keras_tricks_part(reference):
    weights, slots, state = reference
    assert state["iterations"] == _job.TOTAL_STEPS
    mask = [w for name, w in weights.items() if "mask" in name]
    assert (
        len(mask) == 1 and np.mean(mask[0] == 0) == 0.5
    )  # PolynomialDecay's final 0.5
    assert [
        name for name in weights if name.endswith("initialized")
    ]  # WeightNormalization
    initialized = [w for name, w in weights.items() if name.endswith("initialized")]
    assert float(initialized[0]) == 1.0  # its data init ran
    # WarmupLR over CyclicalLearningRate: the rate the last step used.
    schedule = _job.learning_rate_callback().schedule
    expected = float(schedule(_job.TOTAL_STEPS - 1))
    np.testing.assert_allclose(state["learning_rate"], expected, rtol=1e-6)
    assert any("momentum" in name or "belief" in name for name in slots), sorted(slots)


def test_two_workers_match_one_process(cluster, reference, tmp_path):
    workers = _start_job(cluster, tmp_path, "run")
    cluster.wait(workers, timeout=RUN_TIMEOUT_S)
    first = _job.read_state(str(tmp_path / "run" / "worker_0"))
    second = _job.read_state(str(tmp_path / "run" / "worker_1"))
    for name in first[0]:  # the workers hold the very same weights
        np.testing.assert_array_equal(first[0][name], second[0][name], err_msg=name)
    for result in (first, second):
        assert result[2]["start_step"] == 0
        _assert_same_state(result, reference)


def test_a_killed_worker_resumes_to_the_uninterrupted_state(
    cluster, reference, tmp_path
):
    workers = _start_job(cluster, tmp_path, "interrupted", backup=True, hang=1)
    cluster.wait_for_file(
        str(tmp_path / "at_kill_step"), workers, timeout=RUN_TIMEOUT_S
    )
    os.kill(workers[1].pid, signal.SIGKILL)
    assert workers[1].wait(timeout=30) == -signal.SIGKILL
    # The job restarts: the surviving worker, stuck waiting for its peer, goes too.
    cluster.kill([workers[0]])
    for index in range(2):
        with open(
            tmp_path / "backup" / f"worker_{index}" / "training_metadata.json"
        ) as f:
            assert json.load(f)["epoch"] == RESTORED_STEP // _job.STEPS_PER_EPOCH
    assert not os.path.exists(
        tmp_path / "interrupted" / "worker_0"
    )  # it never finished

    workers = _start_job(cluster, tmp_path, "restarted", backup=True)
    cluster.wait(workers, timeout=RUN_TIMEOUT_S)
    for index in range(2):
        result = _job.read_state(str(tmp_path / "restarted" / f"worker_{index}"))
        assert result[2]["start_step"] == RESTORED_STEP  # resumed mid-epoch, not from 0
        _assert_same_state(result, reference)
