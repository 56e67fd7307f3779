"""The launcher of tests/distribute: bounded waits, and no process left behind.

Backend-neutral: the worker here starts no TensorFlow.
"""

import json
import os
import signal

import pytest

from tests.distribute import _cluster


def test_free_ports_are_distinct():
    ports = _cluster.free_ports(2)
    assert len(set(ports)) == 2 and all(0 < p < 65536 for p in ports)


def test_a_hung_worker_is_killed_with_its_children(cluster, tmp_path):
    pid_file = str(tmp_path / "pids.json")
    worker = cluster.start("--spawn-and-sleep", pid_file, name="hung")
    cluster.wait_for_file(pid_file, [worker], timeout=60)
    with open(pid_file) as f:
        worker_pid, grandchild_pid = json.load(f)
    assert worker_pid == worker.pid and _cluster.alive(grandchild_pid)
    with pytest.raises(_cluster.WorkerFailed, match="timed out after 1 s"):
        cluster.wait([worker], timeout=1)  # a hang guard that fires
    assert worker.returncode == -signal.SIGKILL
    # The grandchild was in the worker's process group: it went with it.
    assert _cluster.wait_gone([worker_pid, grandchild_pid]) == []
    assert _cluster.group_members(worker.pid) == []


def test_a_failing_worker_fails_the_wait_with_its_log(cluster, tmp_path):
    worker = cluster.start("--index", "0", "--ports", "not-a-port", name="bad")
    with pytest.raises(_cluster.WorkerFailed, match=r"bad exited 1:(.|\n)*ValueError"):
        cluster.wait([worker], timeout=120)


def test_no_worker_process_outlives_the_tests():
    assert _cluster.wait_gone(_cluster.worker_processes_of(os.getpid())) == []
