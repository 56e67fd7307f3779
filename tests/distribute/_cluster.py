"""Start worker processes with bounded waits, and leave none behind.

Every worker runs in a session (process group) of its own, so that killing
the group also kills whatever the worker started. `Cluster` remembers every
group it started; `Cluster.close()` kills them all with SIGKILL and reaps
them, and the `cluster` fixture calls it in its teardown whatever the test
did.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def free_ports(count):
    """`count` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def alive(pid):
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _live_processes():
    """`(pid, fields)` of every live process, `fields` its /proc stat after the
    command name: state, parent id, process group id, ..."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z":
            yield int(entry), fields


def group_members(pgid):
    """Ids of the live processes in process group `pgid`."""
    return [pid for pid, fields in _live_processes() if int(fields[2]) == pgid]


def wait_gone(pids, timeout=30):
    """Wait (bounded) until none of `pids` is alive; the ids still alive.

    A killed process whose parent died too is reaped by init, a moment later.
    """
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [pid for pid in left if alive(pid)]
    return left


def worker_processes_of(parent):
    """Ids of the live child processes of `parent` that run worker.py."""
    found = []
    for pid, fields in _live_processes():
        if int(fields[1]) != parent:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"worker.py" in command:
            found.append(pid)
    return found


class WorkerFailed(AssertionError):
    pass


class Cluster:
    """The worker processes of one test."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.processes = []

    def start(self, *args, name):
        """Start `worker.py *args` in a new session; its output goes to `<name>.log`."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        env["KERAS_BACKEND"] = "tensorflow"
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        env.pop("TF_CONFIG", None)
        log = open(os.path.join(self.log_dir, f"{name}.log"), "w")
        process = subprocess.Popen(
            [sys.executable, WORKER, *map(str, args)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        process.name = name
        self.processes.append(process)
        return process

    def log(self, process, chars=4000):
        with open(os.path.join(self.log_dir, f"{process.name}.log")) as f:
            return f.read()[-chars:]

    def wait(self, processes, timeout):
        """Wait for every one of `processes` to exit 0 within `timeout` seconds.

        A worker that fails, or a timeout, kills all of them (a worker whose
        peer died would otherwise wait for it) and raises with their logs.
        """
        deadline = time.monotonic() + timeout
        pending = list(processes)
        while pending:
            for process in list(pending):
                code = process.poll()
                if code is None:
                    continue
                pending.remove(process)
                if code != 0:
                    self.kill(processes)
                    raise WorkerFailed(
                        f"{process.name} exited {code}:\n{self.log(process)}"
                    )
            if pending and time.monotonic() > deadline:
                self.kill(processes)
                logs = "\n".join(f"--- {p.name}:\n{self.log(p)}" for p in pending)
                raise WorkerFailed(
                    f"timed out after {timeout} s (a hang guard):\n{logs}"
                )
            time.sleep(0.2)

    def wait_for_file(self, path, processes, timeout):
        """Wait until `path` exists; fail if a worker exits first or on timeout."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            for process in processes:
                if process.poll() is not None:
                    self.kill(processes)
                    raise WorkerFailed(
                        f"{process.name} exited {process.returncode} before {path}:\n"
                        f"{self.log(process)}"
                    )
            if time.monotonic() > deadline:
                self.kill(processes)
                raise WorkerFailed(f"no {path} after {timeout} s (a hang guard)")
            time.sleep(0.2)

    def kill(self, processes):
        """SIGKILL each process's whole group and reap the process."""
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in processes:
            process.wait(timeout=30)

    def close(self):
        """Kill every group this cluster started; the ids of any process left alive."""
        self.kill(self.processes)
        deadline = time.monotonic() + 30
        left = [pid for p in self.processes for pid in group_members(p.pid)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [pid for p in self.processes for pid in group_members(p.pid)]
        return left
