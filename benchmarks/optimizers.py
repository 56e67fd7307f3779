"""Time `apply_gradients` of each keras_tricks optimizer against Keras's Adam.

One run, one model of about 5M float32 parameters (a few large Dense-sized
kernels), each optimizer's step inside one `tf.function`, timed in both modes
Keras's `fit` uses: XLA (`jit_compile="auto"` on a GPU) and plain graphs (its
default on CPU-only machines and under `tf.distribute`). After a warmup, the
optimizers are timed in interleaved rounds of three steps (a shared machine's
load then weighs on all alike); the median step is reported, with the median
over the rounds of the ratio to Adam within a round, the bytes each step must
move (every state tensor read and written, the variable read and written, the
gradient read), the floor that the machine's measured copy bandwidth puts under
that, and, under XLA, the bytes the compiled step actually reads and writes
pass by pass (counted on its optimized HLO), with their ratio to Adam's: XLA
on the CPU writes one output per pass, so that plan, not the bytes the
equations need, is what the time follows. In plain graphs every op is a pass.

    python3 benchmarks/optimizers.py [--steps 30] [--mode both|xla|graph]
    python3 benchmarks/optimizers.py --plan   # XLA MB and passes only, no timing

`--plan` prints, for each optimizer, only what its compiled step reads and
writes and how many passes (entry instructions that move data) it makes: both
are read off the optimized HLO, so they do not depend on the machine's load,
and are what to compare before and after a change to an optimizer's code.
"""

import argparse
import math
import os
import re
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_tricks import optimizers  # noqa: E402

SHAPES = [(2048, 2048), (1024, 768), (768,), (768, 10)]
# Full-size tensors read once more by a pass the update cannot fuse into.
EXTRA_READS = {"AngularGrad": 3}


_SHAPE = re.compile(r"\b(pred|[a-z]+\d+)\[([\d,]*)\]")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%(\S+) = (.+?) ([\w-]+)\((.*)$")
_WIDTH = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "f16": 2, "bf16": 2}
_FREE = {"parameter", "constant", "bitcast", "tuple", "get-tuple-element"}


def _bytes(shape):
    """Bytes of an HLO shape string (a tuple's elements summed)."""
    return sum(
        _WIDTH.get(dtype, 8 if dtype.endswith("64") else 4)
        * math.prod(int(d) for d in dims.split(",") if d)
        for dtype, dims in _SHAPE.findall(shape)
    )


def _parse(hlo):
    """`{computation: [(name, shape, opcode, operands, rest), ...]}` and the entry's
    name."""
    computations, entry, current = {}, None, None
    for line in hlo.splitlines():
        header = re.match(r"^(ENTRY )?%(\S+) \(", line)
        if header:
            current = computations.setdefault(header.group(2), [])
            entry = header.group(2) if header.group(1) else entry
            continue
        match = _INSTRUCTION.match(line)
        if match and current is not None:
            name, shape, opcode, rest = match.groups()
            operands = re.findall(r"%([\w.\-]+)", rest.split("), ")[0])
            current.append((name, shape, opcode, operands, rest))
    return computations, entry


def _read_of_parameter(body, index, full):
    """Bytes a fused computation reads of its parameter `index`: all, or its slices."""
    name = next(
        n
        for n, _, op, _, rest in body
        if op == "parameter" and rest.startswith(f"{index})")
    )
    users = [(shape, op) for _, shape, op, operands, _ in body if name in operands]
    if users and all(op in ("slice", "dynamic-slice") for _, op in users):
        return sum(_bytes(shape) for shape, _ in users)
    return full


def planned_traffic(hlo, passes=False):
    """Bytes the compiled step reads and writes, pass by pass, from optimized HLO.

    Every instruction of the entry computation (fusions, copies, reductions)
    counts its output as written and its operands as read, except that a
    fusion operand which the fused computation only slices counts as the slice.
    With `passes`, returns `(bytes, number of those instructions)`.
    """
    computations, entry = _parse(hlo)
    shapes = {n: shape for body in computations.values() for n, shape, *_ in body}
    total = 0
    count = 0
    for _, shape, opcode, operands, rest in computations[entry]:
        if opcode in _FREE:
            continue
        count += 1
        total += _bytes(shape)
        called = re.search(r"calls=%([\w.\-]+)", rest)
        body = (
            computations.get(called.group(1)) if opcode == "fusion" and called else None
        )
        for index, operand in enumerate(operands):
            full = _bytes(shapes.get(operand, ""))
            total += _read_of_parameter(body, index, full) if body else full
    return (total, count) if passes else total


def copy_bandwidth(jit):
    """Bytes per second of `v.assign(x + 0)` on a 64 MiB array (read + write)."""
    x = tf.random.normal([16 * 1024 * 1024])
    target = tf.Variable(tf.zeros_like(x))
    copy = tf.function(lambda: target.assign(x + 0.0)[0], jit_compile=jit)
    for _ in range(3):
        copy().numpy()
    times = []
    for _ in range(20):
        start = time.perf_counter()
        copy().numpy()
        times.append(time.perf_counter() - start)
    return 2 * x.shape[0] * 4 / np.median(times)


def compiled_step_hlo(make):
    """The optimized HLO of one XLA-compiled `apply_gradients` of `make()`."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    grads = [tf.constant(rng.normal(size=s).astype("float32") * 1e-2) for s in SHAPES]
    optimizer = make()
    optimizer.build(variables)

    @tf.function(jit_compile=True)
    def step():
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    return step.experimental_get_compiler_ir()(stage="optimized_hlo")


def report_plan(candidates):
    """Print each candidate's XLA MB per step and passes, with the ratio to Adam's."""
    plans = [
        planned_traffic(compiled_step_hlo(make), passes=True) for _, make in candidates
    ]
    print(f"{'optimizer':<16} {'XLA MB':>8} {'x Adam':>7} {'passes':>7}")
    for (name, _), (planned, count) in zip(candidates, plans, strict=True):
        print(
            f"{name:<16} {planned / 1e6:8.1f} {planned / plans[0][0]:7.2f} {count:7d}"
        )


def prepare(make, jit):
    """Build `make()` on fresh variables.

    Returns its step (run and waited for), the bytes its equations must move,
    the bytes its compiled step moves (under XLA; else `None`) and the number
    of parameters.
    """
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    grads = [tf.constant(rng.normal(size=s).astype("float32") * 1e-2) for s in SHAPES]
    optimizer = make()
    optimizer.build(variables)

    @tf.function(jit_compile=jit)
    def step():
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    def run():
        step()
        variables[0].value.numpy()[0, 0]  # wait for the step to finish

    for _ in range(3):
        run()
    n = sum(int(np.prod(s)) for s in SHAPES)
    # Every optimizer variable but the scalar step counter and learning rate.
    state = sum(int(np.prod(v.shape)) * 4 for v in optimizer.variables if v.shape)
    # State read and written, variable read and written, gradient read.
    bytes_moved = 2 * state + 3 * 4 * n
    # AngularGrad decides per tensor whether its angle state moves, which needs
    # a full pass over g, g_prev and min_tangent before the update can start.
    bytes_moved += EXTRA_READS.get(type(optimizer).__name__, 0) * 4 * n
    planned = None
    if jit:
        planned = planned_traffic(
            step.experimental_get_compiler_ir()(stage="optimized_hlo")
        )
    return run, bytes_moved, planned, n


def time_all(runs, steps, per_round=3):
    """Median step time of each run, and its median ratio to the first run.

    On a shared machine the load drifts. Every optimizer is timed a few steps
    at a time, round after round, and its ratio to the first run (Adam) is
    taken within each round, between steps timed moments apart; the median
    over the rounds is reported.
    """
    rounds = max(1, steps // per_round)
    times = [[] for _ in runs]
    round_medians = [[] for _ in runs]
    for _ in range(rounds):
        for i, run in enumerate(runs):
            current = []
            for _ in range(per_round):
                start = time.perf_counter()
                run()
                current.append(time.perf_counter() - start)
            times[i].extend(current)
            round_medians[i].append(np.median(current))
    anchor = np.array(round_medians[0])
    ratios = [float(np.median(np.array(r) / anchor)) for r in round_medians]
    return [float(np.median(t)) for t in times], ratios


def report(candidates, jit, steps, bandwidth):
    """Time every candidate in one mode (XLA or plain graphs) and print the table."""
    prepared = [prepare(make, jit) for _, make in candidates]
    seconds, ratios = time_all([p[0] for p in prepared], steps)
    adam_planned = prepared[0][2]
    mode = "XLA (jit_compile=True)" if jit else "plain graphs (jit_compile=False)"
    print(f"\n{mode}, {prepared[0][3]:,} parameters, {steps} steps")
    print(
        f"{'optimizer':<16} {'ms/step':>8} {'x Adam':>7} {'MB/step':>8} "
        f"{'floor ms':>8} {'x floor':>7} {'XLA MB':>7} {'XLA x Adam':>10}"
    )
    for (name, _), t, ratio, (_, needed, planned, _) in zip(
        candidates, seconds, ratios, prepared, strict=True
    ):
        floor = needed / bandwidth
        if planned is None:
            plan = f"{'-':>7} {'-':>10}"
        else:
            plan = f"{planned / 1e6:7.1f} {planned / adam_planned:10.2f}"
        print(
            f"{name:<16} {t * 1e3:8.2f} {ratio:7.2f} "
            f"{needed / 1e6:8.1f} {floor * 1e3:8.2f} {t / floor:7.2f} {plan}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--mode",
        choices=("both", "xla", "graph"),
        default="both",
        help="XLA (fit's default on a GPU), plain graphs (fit's default on "
        "CPU-only machines and under tf.distribute), or both",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print only the compiled steps' XLA MB and passes (no timing)",
    )
    args = parser.parse_args()
    classes = [type(optimizers.get(name)) for name in optimizers.list_optimizers()]
    candidates = [("keras Adam", keras.optimizers.Adam)] + [
        (cls.__name__, cls) for cls in classes
    ]
    if args.plan:
        report_plan(candidates)
        return
    # Under plain graphs grappler drops the `+ 0` and nothing is copied, so the
    # floor is always measured under XLA: it is a property of the machine.
    bandwidth = copy_bandwidth(True)
    print(f"copy bandwidth: {bandwidth / 1e9:.1f} GB/s")
    print(
        "MB/step: what the update must read and write; floor: that at the copy"
        " bandwidth; XLA MB: what the compiled step reads and writes, pass by pass"
    )
    for jit in {"both": (True, False), "xla": (True,), "graph": (False,)}[args.mode]:
        report(candidates, jit, args.steps, bandwidth)


if __name__ == "__main__":
    main()
