"""The `cluster` fixture: worker processes that never outlive their test."""

import os

import pytest

from tests.distribute import _cluster


@pytest.fixture
def cluster(tmp_path):
    """A `_cluster.Cluster` whose process groups are all killed after the test.

    The teardown fails the test if any process of those groups, or any
    worker.py child of this pytest process, is still alive afterwards.
    """
    cluster = _cluster.Cluster(str(tmp_path))
    try:
        yield cluster
    finally:
        left = cluster.close()
        assert left == [], f"worker processes left running: {left}"
        assert _cluster.wait_gone(_cluster.worker_processes_of(os.getpid())) == []
